"""A bot `config.yaml` whose `okx` venue is the OKX fake (README "Configuration": keys through
`api_key_env` / `secret_env` / `password_env` for the passphrase, ccxt's REST root through
`urls: {rest: ...}`), with one hedge on the trading account (18) that tops up from, and sweeps
to, the funding account (6, `reserve_wallet: funding`) by the account's own `mgnRatio`."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tests.fakes.config_file import write_fake_config

KEY_ENV = "FAKE_OKX_API_KEY"
SECRET_ENV = "FAKE_OKX_API_SECRET"
PASSWORD_ENV = "FAKE_OKX_PASSPHRASE"

#: mgnRatio: higher is safer, 1 is liquidation; the fake's default account is at about 22.6
#: (adjEq 38600 / mmr 1705 with its 0.5 BTC and USDT 10000, BTC 62000)
HEDGES: dict[str, dict[str, Any]] = {
    "btc_okx": {
        "spot": "BTC/USDT",
        "perp": "BTC/USDT:USDT",
        "reserve_wallet": "funding",
        "target": {"mgnRatio": "8"},
        "band": ["5", "12"],
        "spot_reserve": "0",
    },
}


def venue_config(base_url: str, *, timeout_ms: int = 3000, **overrides: Any) -> dict[str, Any]:
    return {
        "exchange": "okx",
        "api_key_env": KEY_ENV,
        "secret_env": SECRET_ENV,
        "password_env": PASSWORD_ENV,
        "urls": {"rest": base_url},
        "ccxt": {
            "enableRateLimit": False,
            "timeout": timeout_ms,
            "options": {"fetchMarkets": {"types": ["spot", "swap"]}},
        },
        "websocket": False,  # the fake serves REST only
        **overrides,
    }


def write_okx_config(
    folder: Path,
    base_url: str,
    *,
    hedges: Mapping[str, Mapping[str, Any]] | None = None,
    timeout_ms: int = 3000,
    venue: str = "okx",
    **extra: Any,
) -> Path:
    """Write `folder/config.yaml` for a venue named `venue` on the fake at `base_url` with
    `hedges` (default: `HEDGES`; each gets `venue:` set). `extra` top-level keys (e.g.
    `transfers=`, `retry=`) replace the defaults. Returns the file's path."""
    section = venue_config(base_url, timeout_ms=timeout_ms)
    return write_fake_config(folder, venue, section, HEDGES if hedges is None else hedges, **extra)
