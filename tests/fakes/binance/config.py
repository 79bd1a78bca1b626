"""A bot `config.yaml` whose `binance` venue is the fake (README "Configuration": credentials
through `api_key_env` / `secret_env`, ccxt's REST URLs through `urls:` by key), with a hedge of
every kind: USD-M cross, USD-M isolated, COIN-M cross, COIN-M isolated (`margin_mode:`)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import ccxt

from tests.fakes.config_file import write_fake_config

KEY_ENV = "FAKE_BINANCE_API_KEY"
SECRET_ENV = "FAKE_BINANCE_API_SECRET"

_BAND = {"target_margin_ratio": "0.5", "band": ["0.4", "0.6"], "spot_reserve": "0"}

#: the fake's default account holds each of these at margin ratio 0.5 (`accounts.py`)
HEDGES: dict[str, dict[str, Any]] = {
    "eth_usdm_cross": {
        "spot": "ETH/USDT", "perp": "ETH/USDT:USDT", "margin_mode": "cross", **_BAND,
    },
    "sol_usdm_isolated": {
        "spot": "SOL/USDT", "perp": "SOL/USDT:USDT", "margin_mode": "isolated", **_BAND,
    },
    "btc_coinm_cross": {
        "spot": "BTC/USDT", "perp": "BTC/USD:BTC", "margin_mode": "cross", **_BAND,
    },
    "ada_coinm_isolated": {
        "spot": "ADA/USDT", "perp": "ADA/USD:ADA", "margin_mode": "isolated", **_BAND,
    },
}  # fmt: skip


def fake_urls(base_url: str) -> dict[str, str]:
    """Every REST entry of ccxt binance's `urls['api']`, same path, on the fake's host."""
    found = {}
    for key, url in ccxt.binance().urls["api"].items():
        if isinstance(url, str) and url.startswith("https://"):
            found[key] = base_url + urlsplit(url).path
    return found


def venue_config(base_url: str, *, timeout_ms: int = 3000, **overrides: Any) -> dict[str, Any]:
    return {
        "exchange": "binance",
        "api_key_env": KEY_ENV,
        "secret_env": SECRET_ENV,
        "urls": fake_urls(base_url),
        "ccxt": {"enableRateLimit": False, "timeout": timeout_ms},
        "websocket": False,  # the fake serves REST only
        **overrides,
    }


def write_binance_config(
    folder: Path,
    base_url: str,
    *,
    hedges: Mapping[str, Mapping[str, Any]] | None = None,
    timeout_ms: int = 3000,
    venue: str = "binance",
    portfolio_margin: bool = False,
    multi_assets: bool = False,
    **extra: Any,
) -> Path:
    """Write `folder/config.yaml` for a venue named `venue` on the fake at `base_url` with
    `hedges` (default: `HEDGES`, one of every kind; each gets `venue:` set). `extra` top-level
    keys (e.g. `transfers=`, `retry=`) replace the defaults. `portfolio_margin` asks for a
    Portfolio Margin account (ccxt's `options: {portfolioMargin: true}`), `multi_assets` a USD-M
    account in multi-assets mode (`options: {multiAssetsMargin: true}`). Returns the path."""
    section = venue_config(base_url, timeout_ms=timeout_ms)
    if portfolio_margin:
        section["ccxt"]["options"] = {"portfolioMargin": True}
    if multi_assets:
        section["ccxt"]["options"] = {"multiAssetsMargin": True}
    return write_fake_config(folder, venue, section, HEDGES if hedges is None else hedges, **extra)
