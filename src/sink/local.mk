# src/sink build fragment
