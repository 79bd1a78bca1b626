"""Fixtures: a paper exchange on an ephemeral loopback port and the real ccxt binance client."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import ccxt.async_support as ccxt_async
import ccxt.pro as ccxtpro
import pytest

from bot.paper import PAPER_API_KEY, PAPER_SECRET, PaperExchange, StateStore, binance_urls
from tests.fakes.loopback import on_loopback

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ccxt-static"


def make_client(base_url: str, **config: Any) -> ccxt_async.binance:
    """The unmodified ccxt client, only its API URLs pointed at the paper exchange. Rate limiting
    is off so the suite stays fast (ccxt would otherwise pace sapi calls by their weight)."""
    settings: dict[str, Any] = {
        "apiKey": PAPER_API_KEY,
        "secret": PAPER_SECRET,
        "enableRateLimit": False,
        "timeout": 5000,
    }
    settings.update(config)
    client = ccxt_async.binance(settings)
    client.urls["api"] = binance_urls(base_url, client.urls["api"])
    on_loopback(client)
    return client


def make_pro_client(base_url: str, **config: Any) -> ccxtpro.binance:
    """The unmodified ccxt.pro client, REST and WebSocket URLs pointed at the paper exchange."""
    settings: dict[str, Any] = {
        "apiKey": PAPER_API_KEY,
        "secret": PAPER_SECRET,
        "enableRateLimit": False,
        "timeout": 5000,
    }
    settings.update(config)
    client = ccxtpro.binance(settings)
    client.urls["api"] = binance_urls(base_url, client.urls["api"], ws=True)
    on_loopback(client)
    return client


@pytest.fixture
def state_path(tmp_path: Path) -> Path:
    return tmp_path / "paper-state.json"


@pytest.fixture
async def exchange(state_path: Path) -> AsyncIterator[PaperExchange]:
    async with PaperExchange(StateStore(state_path)) as running:
        yield running


@pytest.fixture
async def hooked_exchange(state_path: Path) -> AsyncIterator[PaperExchange]:
    async with PaperExchange(StateStore(state_path), test_hooks=True) as running:
        yield running


@asynccontextmanager
async def closing_factory(make: Callable[..., Any]) -> AsyncIterator[Callable[..., Any]]:
    """`make` (a client builder), whose clients are all closed when the block ends."""
    clients: list[Any] = []

    def factory(base_url: str, **config: Any) -> Any:
        client = make(base_url, **config)
        clients.append(client)
        return client

    yield factory
    for client in clients:
        await client.close()


@pytest.fixture
async def client_factory() -> AsyncIterator[Callable[..., ccxt_async.binance]]:
    async with closing_factory(make_client) as factory:
        yield factory


@pytest.fixture
async def client(
    exchange: PaperExchange, client_factory: Callable[..., ccxt_async.binance]
) -> ccxt_async.binance:
    return client_factory(exchange.base_url)


@pytest.fixture(scope="session")
def response_fixtures() -> dict[str, Any]:
    """ccxt's own recorded Binance responses and their parsed forms (ccxt static tests)."""
    with (FIXTURES / "binance_response_fixtures.json").open(encoding="utf-8") as handle:
        return json.load(handle)["methods"]


@pytest.fixture
async def pro_factory() -> AsyncIterator[Callable[..., ccxtpro.binance]]:
    """ccxt.pro clients pointed at a paper exchange, closed after the test."""
    async with closing_factory(make_pro_client) as factory:
        yield factory
