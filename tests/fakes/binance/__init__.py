"""Helpers of `tests/fakes/binance_server.py`, an independent Binance fake written from Binance's
API documentation (markets, accounting, faults, a bot config pointing at it)."""
