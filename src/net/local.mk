# src/net build fragment
