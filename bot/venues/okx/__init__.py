"""OKX (v5): ccxt's own `okx` class, adapted in `venue`."""
