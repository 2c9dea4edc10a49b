# src/ta build fragment
