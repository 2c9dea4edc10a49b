# etc build fragment
