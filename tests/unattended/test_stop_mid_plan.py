"""SIGTERM to `bot run` while the first transfer of a plan of two is on the wire: that transfer
finishes its call and its ledger write, the second is never sent (recorded not attempted), and
`bot run` stops cleanly. In-process, with a real signal: the failpoint just before the send
delivers SIGTERM to this process, so the signal is handled while the call is in flight (the
paper exchange answers every request late), never before it or after it."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from decimal import Decimal as D
from pathlib import Path

import pytest
from sqlalchemy import select

from bot import failpoints
from bot.config import Config
from bot.cycle import rebalance, reconcile
from bot.ledger import Ledger
from bot.ledger.queries import TransferFilter, list_transfers
from bot.ledger.tables import JobRun, Run
from bot.model import TransferStatus
from bot.paper import PaperExchangeThread
from bot.scheduler import run_forever
from tests.unattended.conftest import ETH_HEDGE, live_venue, make_config

BTC_HEDGE = {
    **ETH_HEDGE,
    "spot": "BTC/USDT",
    "perp": "BTC/USD:BTC",
    "target_margin_ratio": "0.4",
    "band": ["0.3", "0.5"],
}


@pytest.fixture
def config(tmp_path: Path, paper: PaperExchangeThread, venue_env: None) -> Config:
    # USD-M: 4500 USDT against a 3000 USDT short at 0.5 target -> 3000 USDT spot -> linear;
    # COIN-M: 0.3 BTC against 0.5 BTC notional at 0.4 target -> 0.1 BTC inverse -> spot
    return make_config(
        tmp_path,
        {"binance": live_venue(paper.base_url)},
        hedges={"eth": ETH_HEDGE, "btc": BTC_HEDGE},
        transfers={"safety": "0.99", "min_amount": {"USDT": "10", "BTC": "0.001"}},
        schedule={
            "rebalance": {"every": "1h"},  # once, at start
            "snapshot": None,
            "reconcile": None,
            "report": None,
            "guard": None,
        },
    )


@pytest.fixture
def ledger(config: Config) -> Iterator[Ledger]:
    opened = Ledger.open(config.ledger_url)
    yield opened
    opened.close()


@pytest.fixture(autouse=True)
def _disarm() -> Iterator[None]:
    yield
    failpoints.disarm_all()


def sigterm_to_self() -> None:
    os.kill(os.getpid(), signal.SIGTERM)


async def test_sigterm_mid_plan_finishes_the_send_in_flight_and_sends_nothing_else(
    config: Config, ledger: Ledger, paper: PaperExchangeThread
) -> None:
    paper.faults.latency = 0.3  # every answer late: the first send is in flight at the signal
    # the executor reaches this point once per intent, right before calling transfer()
    failpoints.arm(failpoints.AFTER_INTENT_COMMIT, sigterm_to_self)
    lines: list[str] = []

    await run_forever(config, ledger, lines.append)  # returns: bot run exits 0

    assert any(line.startswith("stopping (SIGTERM)") for line in lines), lines
    assert lines[-1] == "stopped"
    first, second = list_transfers(ledger, TransferFilter())
    assert first.status is TransferStatus.CONFIRMED
    assert first.exchange_id is not None and first.amount is not None
    assert second.status is TransferStatus.FAILED
    assert second.error == "not attempted: bot run is stopping (SIGTERM)"
    assert second.attempts == 0 and second.amount is None
    # the exchange's own history proves it: the first transfer, and nothing after it
    (booked,) = paper.state.transfers
    assert (str(booked.tran_id), booked.amount) == (first.exchange_id, first.amount)
    with ledger._sessions() as session:
        runs = {(r.command, r.status) for r in session.scalars(select(Run))}
        jobs = {(j.kind, j.status) for j in session.scalars(select(JobRun))}
    assert runs == {("run", "failed")}  # its plan was not carried out: said, not hidden
    assert jobs == {("reconcile", "ok"), ("rebalance", "failed")}

    # the ledger agrees with the exchange: nothing open, nothing blocked, and the next
    # cycle sends what the stopped one did not
    paper.faults.latency = 0
    assert (await reconcile(config, ledger)).still_open == []
    again = await rebalance(config, ledger, dry_run=False)
    assert [t.status for t in again.transfers] == [TransferStatus.CONFIRMED]
    assert (again.transfers[0].asset, again.transfers[0].from_account) == (
        second.asset,
        second.from_account,
    )
    assert len(paper.state.transfers) == 2
    assert not again.blocked
    moved_btc = sum(t.amount for t in paper.state.transfers if t.asset == "BTC")
    assert moved_btc > D("0")
