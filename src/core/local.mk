# src/core build fragment
