# src/sink/kafka.mk build fragment
