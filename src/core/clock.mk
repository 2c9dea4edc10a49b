# src/core/clock.mk build fragment
