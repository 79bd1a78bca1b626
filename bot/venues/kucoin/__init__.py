"""KuCoin (spot and futures): ccxt's own `kucoin` and `kucoinfutures` classes, adapted in
`venue`."""
