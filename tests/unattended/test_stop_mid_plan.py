"""SIGTERM to `bot run` while the first transfer of a plan of two is on the wire: that transfer
finishes its call and its ledger write, the second is never sent (recorded not attempted), and
`bot run` stops cleanly. In-process, with a real signal: the failpoint just before the send
delivers SIGTERM to this process, so the signal is handled while the call is in flight (the
paper exchange answers every request late), never before it or after it. Then the places
between the attempts of one transfer (a retry, a smaller intent), and `bot rebalance`'s Ctrl-C."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable, Iterator
from decimal import Decimal as D
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from bot.cli.cycle_commands import until_second_signal
from bot.config import Config
from bot.cycle.rebalance import rebalance, reconcile
from bot.ledger import Ledger
from bot.ledger.queries import TransferFilter, list_transfers
from bot.ledger.tables import JobRun, Run
from bot.model import TransferStatus
from bot.paper import PaperExchangeThread
from bot.runtime import failpoints
from bot.runtime.retry import Timing
from bot.runtime.stopping import StopRequest
from bot.scheduler import run_forever
from tests.integration.conftest import Invocation
from tests.unattended.conftest import ETH_HEDGE, live_venue, make_config
from tests.waiting import until

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


@pytest.fixture
def one_hedge(tmp_path: Path, paper: PaperExchangeThread, venue_env: None) -> Config:
    return make_config(tmp_path, {"binance": live_venue(paper.base_url)})


@pytest.mark.parametrize("when", ["before the answer", "during the backoff"])
async def test_a_retry_is_not_sent_once_a_stop_is_requested(
    one_hedge: Config, paper: PaperExchangeThread, when: str
) -> None:
    """429: nothing reached the venue's books, so the intent would be sent again after a
    backoff; asked to stop, it is failed instead, and the venue never sees it again."""
    stop = StopRequest()
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        # only the transfer's backoff, after the 429: a read that timed out on a busy machine
        # is retried after a backoff too, and a stop asked for then would stop the cycle
        # before its transfer instead of during the transfer's backoff
        if paper.faults.fired.get("http_429"):
            sleeps.append(seconds)
            stop.request("SIGTERM")

    if when == "before the answer":
        failpoints.arm(failpoints.AFTER_INTENT_COMMIT, lambda: stop.request("SIGTERM"))
    paper.faults.add("http_429")
    ledger = Ledger.open(one_hedge.ledger_url)
    try:
        result = await rebalance(
            one_hedge, ledger, dry_run=False, timing=Timing(sleep=sleep), stop=stop
        )
    finally:
        ledger.close()
    (row,) = result.transfers
    assert row.status is TransferStatus.FAILED and row.attempts == 1
    assert row.error is not None and row.error.endswith("; not tried again: SIGTERM asked to stop")
    assert paper.faults.fired["http_429"] == 1 and paper.state.transfers == ()
    assert len(sleeps) == (0 if when == "before the answer" else 1)
    assert result.failed


async def test_a_smaller_intent_is_not_started_once_a_stop_is_requested(
    one_hedge: Config, paper: PaperExchangeThread
) -> None:
    """A definite refusal (-5013) would be followed by a smaller new intent: asked to stop
    while the first was on the wire, the smaller one is recorded not attempted."""
    stop = StopRequest()
    failpoints.arm(failpoints.AFTER_INTENT_COMMIT, lambda: stop.request("SIGTERM"))
    paper.faults.add("error", status=400, code=-5013)
    ledger = Ledger.open(one_hedge.ledger_url)
    try:
        result = await rebalance(one_hedge, ledger, dry_run=False, stop=stop)
    finally:
        ledger.close()
    refused, smaller = result.transfers
    assert refused.status is TransferStatus.FAILED and "-5013" in (refused.error or "")
    assert smaller.status is TransferStatus.FAILED and smaller.replaces_id == refused.id
    assert smaller.error == "not attempted: bot run is stopping (SIGTERM)"
    assert smaller.attempts == 0
    assert paper.state.transfers == ()


def test_ctrl_c_in_bot_rebalance_finishes_the_send_in_flight_and_exits_130(
    config: Config, paper: PaperExchangeThread, tmp_path: Path, bot: Callable[..., Invocation]
) -> None:
    """The one-shot command keeps `bot run`'s contract: the first SIGINT stops the plan after
    the transfer in flight, whose answer is recorded."""
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config.model_dump(mode="json", exclude_unset=True)))
    paper.faults.latency = 0.3
    failpoints.arm(failpoints.AFTER_INTENT_COMMIT, lambda: os.kill(os.getpid(), signal.SIGINT))

    result = bot("rebalance", config=path)

    assert result.exit_code == 130, result.stdout + result.stderr
    assert "bot rebalance: stopping (SIGINT)" in result.stderr
    rows = bot("ledger", "list", "--json", config=path).json()
    assert [row["status"] for row in rows] == ["confirmed", "failed"]
    assert rows[1]["error"] == "not attempted: bot rebalance is stopping (SIGINT)"
    (booked,) = paper.state.transfers
    assert str(booked.tran_id) == rows[0]["exchange_id"]


def test_a_second_signal_stops_at_once() -> None:
    """What was in flight is left to reconciliation: the work is cancelled, as Ctrl-C is."""
    stop = StopRequest("bot rebalance")
    reached: list[str] = []

    async def work() -> None:
        os.kill(os.getpid(), signal.SIGINT)
        # the first is handled: a stop request, nothing cancelled
        await until(lambda: stop.requested, "the first SIGINT to be a stop request")
        reached.append("after the first")
        os.kill(os.getpid(), signal.SIGINT)
        await asyncio.sleep(60)
        reached.append("after the second")

    with pytest.raises(KeyboardInterrupt):
        asyncio.run(until_second_signal(stop, work))
    assert stop.requested and stop.reason == "SIGINT"
    assert reached == ["after the first"]
