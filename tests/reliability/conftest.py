"""Reliability fixtures: the paper exchange in the test's own event loop, a real SQLite ledger,
configs that reach the exchange only through a binance venue's `urls`, and fake time."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bot.config import Config, parse_config
from bot.ledger import Ledger
from bot.ledger.queries import TransferFilter, list_transfers
from bot.ledger.store import TransferRecord, utc_now
from bot.paper import PAPER_API_KEY, PAPER_SECRET, PaperExchange, PaperState, StateStore
from bot.runtime.retry import Timing
from tests.integration.conftest import ETH_HEDGE, KEY_ENV, SECRET_ENV, live_venue
from tests.integration.conftest import bot as bot  # the real CLI in-process (a fixture)


class FakeTime:
    """A monotonic clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def monotonic(self) -> float:
        return self.now

    def timing(self) -> Timing:
        import random

        return Timing(sleep=self.sleep, monotonic=self.monotonic, rng=random.Random(7))


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
async def paper(tmp_path: Path) -> AsyncIterator[PaperExchange]:
    async with PaperExchange(StateStore(tmp_path / "paper.json"), test_hooks=True) as running:
        yield running


@pytest.fixture
def venue_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, PAPER_API_KEY)
    monkeypatch.setenv(SECRET_ENV, PAPER_SECRET)


def make_config(
    base_url: str,
    tmp_path: Path,
    *,
    timeout_ms: int = 400,
    settle_window: int = 0,
    **transfers: Any,
) -> Config:
    raw = {
        "ledger": {"url": "sqlite:///ledger.sqlite"},
        "transfers": {
            "safety": "0.99",
            "min_amount": "10",
            "settle_window_seconds": settle_window,
            **transfers,
        },
        "retry": {
            "attempts": 4,
            "deadline_seconds": 30,
            "initial_backoff_seconds": 0.5,
            "max_backoff_seconds": 4,
        },
        "venues": {
            "binance": live_venue(base_url, ccxt={"enableRateLimit": False, "timeout": timeout_ms})
        },
        "hedges": {"eth": ETH_HEDGE},
    }
    return parse_config(raw, base_dir=tmp_path)


@pytest.fixture
def config(paper: PaperExchange, tmp_path: Path, venue_env: None) -> Config:
    return make_config(paper.base_url, tmp_path)


@pytest.fixture
def ledger(config: Config) -> Ledger:
    opened = Ledger.open(config.ledger_url)
    yield opened
    opened.close()


def rows(ledger: Ledger) -> list[TransferRecord]:
    return list_transfers(ledger, TransferFilter())


def history(paper: PaperExchange) -> list[tuple[str, Decimal]]:
    return [(t.type, t.amount) for t in paper.state.transfers]


def later(minutes: float) -> Callable[[], datetime]:
    """A wall clock `minutes` ahead: the settle window has passed for what exists now."""
    return lambda: utc_now() + timedelta(minutes=minutes)


def edit_state(paper: PaperExchange, change: Callable[[PaperState], PaperState]) -> None:
    paper.store.commit(change(paper.store.state))


def set_usdm_wallet(paper: PaperExchange, wallet: str) -> None:
    def change(state: PaperState) -> PaperState:
        usdm = dict(state.usdm)
        usdm["USDT"] = dataclasses.replace(usdm["USDT"], wallet_balance=Decimal(wallet))
        return dataclasses.replace(state, usdm=usdm)

    edit_state(paper, change)


def assert_ledger_matches_exchange(ledger: Ledger, paper: PaperExchange) -> None:
    """Every exchange transfer has exactly one confirmed row, and every confirmed row has its
    exchange transfer with the same asset and amount."""
    exchange = {str(t.tran_id): t for t in paper.state.transfers}
    confirmed = [r for r in rows(ledger) if r.status.value == "confirmed"]
    by_id = {r.exchange_id: r for r in confirmed}
    assert len(by_id) == len(confirmed), "two confirmed rows claim one exchange transfer"
    assert set(by_id) == set(exchange), (sorted(by_id), sorted(exchange))
    for tran_id, transfer in exchange.items():
        assert by_id[tran_id].amount == transfer.amount
        assert by_id[tran_id].asset == transfer.asset
