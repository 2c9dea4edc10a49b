# src/state build fragment
