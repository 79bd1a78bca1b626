"""Protective-path fixtures: the independent Binance fake (`tests/fakes/binance_server.py`) in a
background thread, a bot config pointing a `binance` venue at it, and the real CLI; and the
integration suite's paper exchange, for the tests that run on both."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.fakes.binance.config import KEY_ENV, SECRET_ENV, write_binance_config
from tests.fakes.binance_server import API_KEY, SECRET, BinanceFake, BinanceFakeThread
from tests.integration.conftest import bot, paper, venue_env, write_config

__all__ = [
    "binance",
    "binance_async",
    "binance_config",
    "binance_env",
    "bot",
    "paper",
    "venue_env",
    "write_config",
]


@pytest.fixture
def binance() -> Iterator[BinanceFakeThread]:
    """The fake, running in its own thread: `.base_url`, `.account`, `.faults`, `.calls`."""
    with BinanceFakeThread() as running:
        yield running


@pytest.fixture
async def binance_async() -> AsyncIterator[BinanceFake]:
    """The fake on the test's own event loop (for tests that drive ccxt directly)."""
    async with BinanceFake() as running:
        yield running


@pytest.fixture
def binance_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fake's key and secret in the environment variables the config names."""
    monkeypatch.setenv(KEY_ENV, API_KEY)
    monkeypatch.setenv(SECRET_ENV, SECRET)


@pytest.fixture
def binance_config(binance: BinanceFakeThread, binance_env: None, tmp_path: Path) -> Path:
    """`config.yaml` with one hedge of every kind on the fake (`binance.config.HEDGES`)."""
    return write_binance_config(tmp_path, binance.base_url)
