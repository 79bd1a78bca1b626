"""Bybit (v5, Unified Trading Account): ccxt's own `bybit` class, adapted in `venue`."""
