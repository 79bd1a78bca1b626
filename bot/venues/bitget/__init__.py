"""Bitget: ccxt's own `bitget` class, adapted in `venue`."""
