"""Hyperliquid: spot and perp wallets apart, USDC moved by `usdClassTransfer` (no client id)."""
