# src/cmd build fragment
