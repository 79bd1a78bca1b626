"""A bot `config.yaml` whose `coinswitch` venue is the CoinSwitch HFT fake (`surface: hft`,
keys through `api_key_env` / `secret_env`, every API section's URL through `urls:`), with one
ETH hedge whose short lives on the HFT account and tops up from, and sweeps back to, the
CoinSwitch wallet."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tests.fakes.coinswitch_hft_server import CoinSwitchHftServer
from tests.fakes.config_file import write_fake_config

KEY_ENV = "FAKE_COINSWITCH_API_KEY"
SECRET_ENV = "FAKE_COINSWITCH_SECRET"
VENUE = "coinswitch"

#: equity / short notional: the fake's account is at 774.1205 / 5273.2845 = 0.147
HEDGES: dict[str, dict[str, Any]] = {
    "eth_hft": {
        "spot": "ETH/USDT",
        "perp": "ETH/USDT:USDT",
        "target_margin_ratio": "0.5",
        "band": ["0.4", "0.6"],
        "spot_reserve": "0",
    },
}


def venue_config(
    fake: CoinSwitchHftServer, *, surface: str = "hft", timeout_ms: int = 1000
) -> dict[str, Any]:
    return {
        "exchange": "coinswitch",
        "surface": surface,
        "api_key_env": KEY_ENV,
        "secret_env": SECRET_ENV,
        "urls": fake.hft_urls(),
        "ccxt": {"enableRateLimit": False, "timeout": timeout_ms},
    }


def write_hft_config(
    folder: Path,
    fake: CoinSwitchHftServer,
    *,
    hedges: Mapping[str, Mapping[str, Any]] | None = None,
    surface: str = "hft",
    timeout_ms: int = 1000,
    **extra: Any,
) -> Path:
    """Write `folder/config.yaml` for the fake (`surface: futures` for the read-only mode)
    with `hedges` (default `HEDGES`); `extra` top-level keys replace the defaults."""
    section = venue_config(fake, surface=surface, timeout_ms=timeout_ms)
    return write_fake_config(folder, VENUE, section, HEDGES if hedges is None else hedges, **extra)
