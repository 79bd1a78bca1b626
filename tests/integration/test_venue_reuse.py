"""Clients and markets are not rebuilt per cycle: a long-lived `OpenVenues` loads markets once,
one-shot commands reuse markets from disk, only the market families the hedges use are loaded,
and nothing but the transfer follows the fresh read at the exchange."""

from __future__ import annotations

import gc
import json
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from bot.bootstrap import venue_pool
from bot.config import Config, parse_config
from bot.cycle.rebalance import rebalance
from bot.guard.check import guard
from bot.ledger import Ledger
from bot.ledger.tables import Transfer
from bot.model import TransferStatus
from bot.paper import PAPER_API_KEY, PAPER_SECRET, PaperExchange, StateStore
from bot.venues.session import OpenVenues, markets_cache, open_venues
from tests.integration.conftest import ETH_HEDGE, KEY_ENV, SECRET_ENV, live_venue

EXCHANGE_INFO = {"/api/v3/exchangeInfo", "/fapi/v1/exchangeInfo", "/dapi/v1/exchangeInfo"}
TRANSFER = "/sapi/v1/asset/transfer"
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


STATE_READS = {
    "/api/v3/account",
    "/fapi/v3/account",
    "/fapi/v3/positionRisk",
    "/fapi/v1/premiumIndex",
}
DANGER_MARK = Decimal("3700")  # the default hedge's margin ratio falls to about 0.16


def transfer_row(ledger: Ledger, transfer_id: int) -> Transfer:
    with Session(ledger.engine) as session:
        return session.get_one(Transfer, transfer_id)


def requests_to_the_send(paper: PaperExchange) -> list[str]:
    """The requests from the first one up to the (one) transfer, in order."""
    loaded = paths(paper)
    assert loaded.count(TRANSFER) == 1, loaded
    return loaded[: loaded.index(TRANSFER) + 1]


async def test_a_guard_top_up_is_one_read_then_the_send(
    paper: PaperExchange, config: Config
) -> None:
    ledger = Ledger.open(config.ledger_url)
    async with OpenVenues(config, dry_run=False) as pool:
        await guard(config, ledger, venues=pool)  # the hedge is not in danger: a read, no cycle
        assert TRANSFER not in paths(paper)
        paper.requests.clear()
        paper.set_mark_price("ETHUSDT", DANGER_MARK)
        result = await guard(config, ledger, venues=pool)
    assert result.cycle is not None and not result.cycle.failed
    path = requests_to_the_send(paper)
    # the poll's read (four reads at once) is the cycle's read and the send's: nothing else
    assert sorted(path[:-1]) == sorted(STATE_READS), path
    (row,) = [t for t in result.cycle.transfers if t.status is TransferStatus.CONFIRMED]
    assert json.loads(transfer_row(ledger, row.id).inputs)["read"] == "cycle"


async def test_a_read_older_than_fresh_read_seconds_is_read_again_before_the_send(
    paper: PaperExchange, config: Config, tmp_path: Path
) -> None:
    """(`config` puts the paper keys in the environment; this test's config differs.)"""
    raw = {
        "ledger": {"url": "sqlite:///ledger.sqlite"},
        "transfers": {"fresh_read_seconds": "0"},  # no read is young enough
        "venues": {"binance": live_venue(paper.base_url, websocket=False)},
        "hedges": {"eth": ETH_HEDGE},
    }
    config = parse_config(raw, base_dir=tmp_path)
    ledger = Ledger.open(config.ledger_url)
    async with OpenVenues(config, dry_run=False) as pool:
        paper.requests.clear()
        result = await rebalance(config, ledger, dry_run=False, venues=pool)
    assert [t.status for t in result.transfers] == [TransferStatus.CONFIRMED]
    path = requests_to_the_send(paper)
    assert path[-2] == "/api/v3/account", path  # the source wallet, read again right before
    assert sorted(path[:-2]) == sorted(STATE_READS), path


async def test_intents_of_every_venue_are_committed_together_before_the_sends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, PAPER_API_KEY)
    monkeypatch.setenv(SECRET_ENV, PAPER_SECRET)
    async with (
        PaperExchange(StateStore(tmp_path / "a.json")) as first,
        PaperExchange(StateStore(tmp_path / "b.json")) as second,
    ):
        raw = {
            "ledger": {"url": "sqlite:///ledger.sqlite"},
            "venues": {
                "a": live_venue(first.base_url, websocket=False),
                "b": live_venue(second.base_url, websocket=False),
            },
            "hedges": {"eth_a": {**ETH_HEDGE, "venue": "a"}, "eth_b": {**ETH_HEDGE, "venue": "b"}},
        }
        config = parse_config(raw, base_dir=tmp_path)
        ledger = Ledger.open(config.ledger_url)
        result = await rebalance(config, ledger, dry_run=False)
    rows = [transfer_row(ledger, t.id) for t in result.transfers]
    assert [r.status for r in rows] == ["confirmed", "confirmed"]
    # one transaction: one commit time for both intents, before either venue's send
    assert len({r.created_at for r in rows}) == 1


async def test_bot_runs_pool_sets_its_markets_aside_from_full_collections_until_it_closes(
    paper: PaperExchange, config: Config
) -> None:
    """`bot run`'s pool (bootstrap.venue_pool) freezes what is alive once its markets are
    loaded, and again after markets are loaded anew, so the garbage collector's full passes no
    longer walk them (at 20 venues a 170-210 ms pause every few cycles: bot.runtime.heap); a
    pool opened for other uses does not, and a closed pool gives them back."""
    assert gc.get_freeze_count() == 0
    async with OpenVenues(config, dry_run=True):
        assert gc.get_freeze_count() == 0
    async with venue_pool(config, dry_run=True) as pool:
        frozen = gc.get_freeze_count()
        assert frozen > 0
        pool.markets_max_age = 0  # every market is stale: the next cycle loads them anew
        full_passes: list[int] = []

        def seen(phase: str, info: dict[str, int]) -> None:
            if phase == "stop" and info["generation"] == 2:
                full_passes.append(info["collected"])

        gc.callbacks.append(seen)
        try:
            await pool.ready()
        finally:
            gc.callbacks.remove(seen)
        # the old markets were given back and collected, the new ones set aside
        assert full_passes and gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0
