# bench build fragment
