# src/source build fragment
