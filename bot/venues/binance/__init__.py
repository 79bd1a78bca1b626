"""Binance (spot, USD-M `binanceusdm`, COIN-M `binancecoinm`): ccxt's own classes, adapted in
`venue` (its traits, error table, limits, and its answers decoded field by field)."""
