"""A bot `config.yaml` whose `hyperliquid` venue is the Hyperliquid fake: the wallet's key and
address through `private_key_env` / `wallet_address_env`, ccxt's API root through `urls:
{public, private}`, and one ETH hedge (spot ETH/USDC, short ETH/USDC:USDC) judged by its margin
ratio, topped up from and swept to the spot wallet."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tests.fakes.config_file import write_fake_config

PRIVATE_KEY_ENV = "FAKE_HL_PRIVATE_KEY"
WALLET_ENV = "FAKE_HL_WALLET_ADDRESS"

#: the fake's default account: perp USDC 4000, short 5 ETH at 3000 (notional 15000): equity /
#: notional = 0.2667, inside [0.2, 0.4] around 0.3
HEDGES: dict[str, dict[str, Any]] = {
    "eth_hl": {
        "spot": "ETH/USDC",
        "perp": "ETH/USDC:USDC",
        "target_margin_ratio": "0.3",
        "band": ["0.2", "0.4"],
        "spot_reserve": "0",
    },
}


def venue_config(base_url: str, *, timeout_ms: int = 3000, **overrides: Any) -> dict[str, Any]:
    return {
        "exchange": "hyperliquid",
        "private_key_env": PRIVATE_KEY_ENV,
        "wallet_address_env": WALLET_ENV,
        "urls": {"public": base_url, "private": base_url},
        "ccxt": {"enableRateLimit": False, "timeout": timeout_ms},
        "websocket": False,
        **overrides,
    }


def write_hyperliquid_config(
    folder: Path,
    base_url: str,
    *,
    hedges: Mapping[str, Mapping[str, Any]] | None = None,
    timeout_ms: int = 3000,
    **extra: Any,
) -> Path:
    """Write `folder/config.yaml` for a `hyperliquid` venue on the fake at `base_url`."""
    section = venue_config(base_url, timeout_ms=timeout_ms)
    chosen = HEDGES if hedges is None else hedges
    return write_fake_config(folder, "hyperliquid", section, chosen, **extra)
