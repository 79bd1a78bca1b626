"""Clients and markets are not rebuilt per cycle: a long-lived `OpenVenues` loads markets once,
one-shot commands reuse markets from disk, only the market families the hedges use are loaded,
and nothing but the transfer follows the fresh read at the exchange."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.config import Config, parse_config
from bot.cycle.rebalance import rebalance
from bot.ledger import Ledger
from bot.paper import PAPER_API_KEY, PAPER_SECRET, PaperExchange, StateStore
from bot.venues.session import OpenVenues, markets_cache, open_venues
from tests.integration.conftest import ETH_HEDGE, KEY_ENV, SECRET_ENV, live_venue

EXCHANGE_INFO = {"/api/v3/exchangeInfo", "/fapi/v1/exchangeInfo", "/dapi/v1/exchangeInfo"}
NEVER_NEEDED = {"/sapi/v1/capital/config/getall", "/sapi/v1/margin/allPairs"}


@pytest.fixture
async def paper(tmp_path: Path) -> AsyncIterator[PaperExchange]:
    async with PaperExchange(StateStore(tmp_path / "paper.json"), test_hooks=True) as running:
        yield running


@pytest.fixture
def config(paper: PaperExchange, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Config:
    monkeypatch.setenv(KEY_ENV, PAPER_API_KEY)
    monkeypatch.setenv(SECRET_ENV, PAPER_SECRET)
    raw = {
        "ledger": {"url": "sqlite:///ledger.sqlite"},
        "venues": {"binance": live_venue(paper.base_url, websocket=False)},
        "hedges": {"eth": ETH_HEDGE},
    }
    return parse_config(raw, base_dir=tmp_path)


def paths(paper: PaperExchange) -> list[str]:
    return [path for _, path, _ in paper.requests]


async def test_a_linear_hedge_loads_spot_and_usdm_markets_only(
    paper: PaperExchange, config: Config
) -> None:
    async with open_venues(config, dry_run=True, cache=False):
        pass
    loaded = paths(paper)
    assert {"/api/v3/exchangeInfo", "/fapi/v1/exchangeInfo"} <= set(loaded)
    assert "/dapi/v1/exchangeInfo" not in loaded
    assert not NEVER_NEEDED & set(loaded)


async def test_one_shot_commands_reuse_markets_from_disk(
    paper: PaperExchange, config: Config
) -> None:
    async with open_venues(config, dry_run=True):
        pass
    first = [p for p in paths(paper) if p in EXCHANGE_INFO]
    paper.requests.clear()
    async with open_venues(config, dry_run=True) as venues:
        assert "ETH/USDT:USDT" in venues["binance"].client.markets  # type: ignore[attr-defined]
    assert first and not EXCHANGE_INFO & set(paths(paper))


async def test_cached_markets_missing_a_hedge_market_are_loaded_again(
    paper: PaperExchange, config: Config
) -> None:
    async with open_venues(config, dry_run=True):
        pass
    (saved,) = (config.data_dir / "markets").glob("markets-*.json")
    body = json.loads(saved.read_text())
    del body["markets"]["ETH/USDT:USDT"]  # as if the perpetual were listed after the cache
    saved.write_text(json.dumps(body))
    paper.requests.clear()
    failures: dict[str, Exception] = {}
    async with open_venues(config, dry_run=True, failures=failures) as venues:
        assert "binance" in venues, failures
    assert "/fapi/v1/exchangeInfo" in paths(paper)
    assert markets_cache(config).load("binance", body["key"]) is not None


async def test_a_pool_loads_markets_once_for_many_cycles_and_sends_right_after_the_read(
    paper: PaperExchange, config: Config
) -> None:
    ledger = Ledger.open(config.ledger_url)
    async with OpenVenues(config, dry_run=False) as pool:
        for _ in range(3):
            result = await rebalance(config, ledger, dry_run=False, venues=pool)
            assert not result.venue_errors
    loaded = paths(paper)
    assert sum(p in EXCHANGE_INFO for p in loaded) == 2  # spot and USD-M, once
    assert loaded.count("/sapi/v1/asset/transfer") >= 1
    before_send = [loaded[i - 1] for i, p in enumerate(loaded) if p == "/sapi/v1/asset/transfer"]
    # the cycle's read, young, is the fresh read: a state read is the request right before
    # each send (no clock request, no second read of the spot wallet)
    state_reads = {
        "/api/v3/account",
        "/fapi/v3/account",
        "/fapi/v3/positionRisk",
        "/fapi/v1/premiumIndex",
    }
    assert set(before_send) <= state_reads, before_send
    assert "/api/v3/time" not in loaded  # the offset came with the funding read


async def test_a_dry_run_cycle_refuses_a_live_pool(paper: PaperExchange, config: Config) -> None:
    ledger = Ledger.open(config.ledger_url)
    async with OpenVenues(config, dry_run=False) as pool:
        with pytest.raises(ValueError, match="dry-run cycle"):
            await rebalance(config, ledger, dry_run=True, venues=pool)
