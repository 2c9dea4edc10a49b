# src/ta/indicators.mk build fragment
