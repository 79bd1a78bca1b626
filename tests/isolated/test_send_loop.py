"""An isolated position's margin change goes through the executor's own send loop
(`bot.transfers.send_loop`): a clock resync that fails ends the leg `failed` (never an exception
out of the move), a stop request during a backoff means no further attempt of a first leg while a
second leg finishes its move, and an unknown outcome is recorded `unknown` and never re-sent.
Against the paper exchange, through the real ccxt client."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from bot.config import Config, load_config
from bot.cycle.rebalance import CycleResult, rebalance
from bot.ledger import Ledger
from bot.ledger.margin_queries import moves
from bot.ledger.store import MarginLegRecord
from bot.model import TransferStatus
from bot.paper import PaperExchangeThread
from bot.runtime import failpoints
from bot.runtime.retry import Timing
from bot.runtime.stopping import StopRequest
from tests.integration.conftest import live_venue
from tests.isolated.helpers import ETH_ISOLATED, isolated_wallet, make_isolated, margin_history

MARGIN_PATH = "/fapi/v1/positionMargin"
TIME_PATHS = ("/api/v3/time", "/fapi/v1/time")
#: isolated wallet, cross wallet left: a top-up (transfer, then add) or a return (reduce, then
#: transfer), as in test_stop_between_legs
ACCOUNTS = {"top_up": ("3000", "500"), "return": ("16000", "0")}


@pytest.fixture(autouse=True)
def _disarm() -> Iterator[None]:
    yield
    failpoints.disarm_all()


def _config(
    paper: PaperExchangeThread, write_config: Callable[..., Path], direction: str
) -> Config:
    wallet, cross = ACCOUNTS[direction]
    make_isolated(paper, "ETHUSDT", isolated_wallet=wallet, cross_left=cross)
    return load_config(write_config({"binance": live_venue(paper.base_url)}, {"eth": ETH_ISOLATED}))


async def _rebalance(config: Config, **kw: Any) -> tuple[CycleResult, MarginLegRecord]:
    """One live cycle of the one isolated hedge: its result, and the move's one margin leg."""
    ledger = Ledger.open(config.ledger_url)
    try:
        result = await rebalance(config, ledger, dry_run=False, **kw)
        (move,) = moves(ledger)
    finally:
        ledger.close()
    (leg,) = move.margin_legs
    return result, leg


async def test_a_failed_clock_resync_records_the_leg_failed_and_raises_nothing(
    paper: PaperExchangeThread, venue_env: None, write_config: Callable[..., Path]
) -> None:
    config = _config(paper, write_config, "return")
    paper.faults.add("error", path=MARGIN_PATH, status=400, code=-1021)  # our clock is off

    def time_refused() -> None:  # the clock was measured before the read: only the resync
        for path in TIME_PATHS:
            paper.faults.add("error", method="GET", path=path, status=401, code=-2015, times=None)

    failpoints.arm(failpoints.AFTER_MARGIN_INTENT, time_refused)
    result, leg = await _rebalance(config)
    assert leg.status is TransferStatus.FAILED and leg.attempts == 1
    assert "-2015" in (leg.error or ""), leg.error
    assert result.venue_errors == {}  # recorded on the leg, not raised out of the move
    assert margin_history(paper) == [] and paper.state.transfers == ()
    assert result.margin is not None and any("reduce margin:" in s for s in result.margin.lines)


@pytest.mark.parametrize(
    ("direction", "sent_again"), [("return", False), ("top_up", True)], ids=["first", "second"]
)
async def test_a_stop_during_the_backoff_ends_a_first_leg_and_not_a_second(
    paper: PaperExchangeThread,
    venue_env: None,
    write_config: Callable[..., Path],
    direction: str,
    sent_again: bool,
) -> None:
    """429 on the margin change: nothing reached the venue's books. Asked to stop while
    waiting to send it again, a reduce (the move's first leg, nothing moved yet) is failed
    and not sent again; an add (the second leg, the collateral already moved) finishes."""
    config = _config(paper, write_config, direction)
    stop = StopRequest()
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        stop.request("SIGTERM")

    paper.faults.add("http_429", path=MARGIN_PATH)
    _, leg = await _rebalance(config, timing=Timing(sleep=sleep), stop=stop)
    assert len(sleeps) == 1 and paper.faults.fired["http_429"] == 1
    if sent_again:
        assert leg.status is TransferStatus.CONFIRMED and leg.attempts == 2
        assert margin_history(paper) == [("ETHUSDT", 1, leg.amount)]
        assert isolated_wallet(paper, "ETHUSDT") == D("3000") + leg.amount
    else:
        assert leg.status is TransferStatus.FAILED and leg.attempts == 1
        assert (leg.error or "").endswith("; not tried again: SIGTERM asked to stop")
        assert margin_history(paper) == [] and paper.state.transfers == ()


async def test_an_unknown_reduce_is_recorded_unknown_and_never_sent_again(
    paper: PaperExchangeThread, venue_env: None, write_config: Callable[..., Path]
) -> None:
    config = _config(paper, write_config, "return")
    paper.faults.add("http_500_after", path=MARGIN_PATH)  # applied, then 500
    result, leg = await _rebalance(config)
    assert leg.status is TransferStatus.UNKNOWN and leg.attempts == 1
    assert margin_history(paper) == [("ETHUSDT", 2, leg.amount)]  # applied once, not re-sent
    assert paper.state.transfers == ()  # the second leg waits for reconciliation
    assert result.failed  # an open leg is not a done run
