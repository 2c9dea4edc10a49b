# src/ctl build fragment
