# src/replay build fragment
