# src/sink/encode.mk build fragment
