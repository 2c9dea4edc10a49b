# src/ta/bars.mk build fragment
