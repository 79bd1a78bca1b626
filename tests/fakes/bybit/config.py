"""A bot `config.yaml` whose `bybit` venue is the Bybit fake (README "Configuration": keys
through `api_key_env` / `secret_env`, ccxt's REST URLs through `urls:` by key), with one hedge
on the Unified Trading Account that tops up from, and sweeps to, the FUND wallet
(`reserve_wallet: funding`) by the account's own `accountMMRate`."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tests.fakes.config_file import write_fake_config

KEY_ENV = "FAKE_BYBIT_API_KEY"
SECRET_ENV = "FAKE_BYBIT_API_SECRET"
#: every REST entry of ccxt bybit's `urls['api']` the bot's client reads
APIS = ("spot", "futures", "v2", "public", "private")

#: accountMMRate: lower is safer, 1 is liquidation; the fake's default account is at 0.0441
#: (MM 1705 / margin balance 38600 with its 0.5 BTC and USDT 10000, BTC 62000)
HEDGES: dict[str, dict[str, Any]] = {
    "btc_bybit": {
        "spot": "BTC/USDT",
        "perp": "BTC/USDT:USDT",
        "reserve_wallet": "funding",
        "target": {"accountMMRate": "0.10"},
        "band": ["0.05", "0.15"],
        "spot_reserve": "0",
    },
}


def venue_config(base_url: str, *, timeout_ms: int = 3000, **overrides: Any) -> dict[str, Any]:
    return {
        "exchange": "bybit",
        "api_key_env": KEY_ENV,
        "secret_env": SECRET_ENV,
        "urls": dict.fromkeys(APIS, base_url),
        "ccxt": {
            "enableRateLimit": False,
            "timeout": timeout_ms,
            "options": {"fetchMarkets": {"types": ["spot", "linear"]}},
        },
        "websocket": False,  # the fake serves REST only
        **overrides,
    }


def write_bybit_config(
    folder: Path,
    base_url: str,
    *,
    hedges: Mapping[str, Mapping[str, Any]] | None = None,
    timeout_ms: int = 3000,
    venue: str = "bybit",
    **extra: Any,
) -> Path:
    """Write `folder/config.yaml` for a venue named `venue` on the fake at `base_url` with
    `hedges` (default: `HEDGES`; each gets `venue:` set). `extra` top-level keys (e.g.
    `transfers=`, `retry=`) replace the defaults. Returns the file's path."""
    section = venue_config(base_url, timeout_ms=timeout_ms)
    return write_fake_config(folder, venue, section, HEDGES if hedges is None else hedges, **extra)
