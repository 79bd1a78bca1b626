"""A hedged perpetual moved to another funding interval under a live short: the snapshot job of
`bot run` reads the interval from the paper exchange's `fundingInfo` (through ccxt), and the
change is told once, as a notice naming the hedge and both intervals."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path

import pytest

from bot.alerts.alerter import Alerter
from bot.alerts.channels import Channels
from bot.config import Config
from bot.funding.intervals import interval_changes, load_known
from bot.jobs.context import JobContext
from bot.ledger import Ledger
from bot.model import Funding, Position, State, VenueState
from bot.paper import PaperExchangeThread, PaperState
from bot.scheduler.runner import run_job
from tests.integration.conftest import edit_state
from tests.unattended.conftest import Hook, live_venue, make_config
from tests.waiting import until

PERP = "ETH/USDT:USDT"


@pytest.fixture
def config(tmp_path: Path, paper: PaperExchangeThread, venue_env: None, hook: Hook) -> Config:
    return make_config(
        tmp_path,
        {"binance": live_venue(paper.base_url)},
        alerts={"urls": [hook.url], "rate_limit": "0s"},
    )


@pytest.fixture
def ctx(config: Config) -> Iterator[JobContext]:
    ledger = Ledger.open(config.ledger_url)
    alerter = Alerter(ledger, Channels(config.alerts.urls), config.alerts)
    yield JobContext(config=config, ledger=ledger, alerter=alerter, say=lambda line: None)
    ledger.close()


def _set_interval(paper: PaperExchangeThread, symbol: str, hours: int) -> None:
    def change(state: PaperState) -> PaperState:
        funding = dict(state.funding)
        funding[symbol] = dataclasses.replace(funding[symbol], interval_hours=hours)
        return dataclasses.replace(state, funding=funding)

    edit_state(paper, change)


def _told(hook: Hook) -> list[str]:
    return [m for m in hook.messages() if "funding on" in m]


async def test_a_change_of_interval_under_a_live_hedge_is_told_once(
    ctx: JobContext, config: Config, paper: PaperExchangeThread, hook: Hook
) -> None:
    assert (await run_job("snapshot", ctx, None)) is not None
    assert load_known(config.data_dir) == {"binance": {PERP: 8 * 3600}}
    assert _told(hook) == []  # the first read only learns the intervals

    _set_interval(paper, "ETHUSDT", 4)
    # the intervals are kept an hour with the cached markets; a new hour reads them again
    shutil.rmtree(config.data_dir / "markets")
    await run_job("snapshot", ctx, None)
    await until(lambda: len(_told(hook)) == 1, "the interval change is told")
    (message,) = _told(hook)
    assert "binance: funding on ETH/USDT:USDT is now paid every 4h (was 8h)" in message
    assert "under hedge eth: 2190 payments a year" in message
    assert load_known(config.data_dir)["binance"][PERP] == 4 * 3600

    shutil.rmtree(config.data_dir / "markets")
    await run_job("snapshot", ctx, None)  # read again at 4h: nothing new to tell
    assert len(_told(hook)) == 1


NOW = datetime(2026, 12, 7, tzinfo=UTC)


def _read(interval_hours: int, contracts: str) -> State:
    position = Position(
        symbol=PERP,
        side="short",
        contracts=D(contracts),
        contract_size=D(1),
        notional=D(0),
        entry_price=None,
        mark_price=None,
        unrealized_pnl=D(0),
    )
    funding = Funding(
        symbol=PERP, rate=None, mark_price=None, interval=timedelta(hours=interval_hours)
    )
    venue = VenueState(
        venue="binance", read_at=NOW, positions={PERP: position}, funding={PERP: funding}
    )
    return State(read_at=NOW, venues={"binance": venue})


def test_a_flat_hedge_learns_the_new_interval_without_a_notice(config: Config) -> None:
    known = {"binance": {PERP: 8 * 3600}}
    changes, after = interval_changes(known, _read(1, "0"), config.hedges)
    assert changes == [] and after == {"binance": {PERP: 3600}}
    changes, _ = interval_changes(known, _read(1, "5"), config.hedges)
    assert [(c.hedges, c.before, c.after) for c in changes] == [
        (("eth",), timedelta(hours=8), timedelta(hours=1))
    ]
