"""A stop request (the first SIGTERM to `bot run`) and an isolated hedge's two-leg move: it
never falls between the legs. Asked to stop after the first leg, the second is still sent, so
no collateral is left outside the position; asked before the move, neither leg is sent."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal as D
from pathlib import Path

import pytest

from bot.config import load_config
from bot.cycle.rebalance import rebalance
from bot.ledger import Ledger
from bot.ledger.margin_queries import moves
from bot.model import TransferStatus
from bot.paper import PaperExchangeThread
from bot.runtime import failpoints
from bot.runtime.stopping import StopRequest
from bot.transfers.margin_legs import half_done_moves
from tests.integration.conftest import live_venue
from tests.isolated.helpers import ETH_ISOLATED, isolated_wallet, make_isolated, margin_history

#: isolated wallet, cross wallet left: 3000 / 15000 is under the band (top up 4500);
#: 16000 / 15000 is far above it (reduce 8500, then move it back to spot)
ACCOUNTS = {"top_up": ("3000", "500"), "return": ("16000", "0")}


@pytest.fixture(autouse=True)
def _disarm() -> None:
    failpoints.disarm_all()


@pytest.mark.parametrize("direction", ["top_up", "return"])
async def test_asked_to_stop_after_the_first_leg_the_second_is_still_sent(
    paper: PaperExchangeThread,
    venue_env: None,
    write_config: Callable[..., Path],
    direction: str,
) -> None:
    wallet, cross = ACCOUNTS[direction]
    make_isolated(paper, "ETHUSDT", isolated_wallet=wallet, cross_left=cross)
    config = load_config(
        write_config({"binance": live_venue(paper.base_url)}, {"eth": ETH_ISOLATED})
    )
    ledger = Ledger.open(config.ledger_url)
    stop = StopRequest()
    failpoints.arm(failpoints.BETWEEN_LEGS, lambda: stop.request("SIGTERM"))
    try:
        result = await rebalance(config, ledger, dry_run=False, stop=stop)
        assert stop.requested  # the legs ran through the point the stop came at
        (move,) = moves(ledger)
        assert half_done_moves(ledger) == []
    finally:
        ledger.close()
    (transfer,) = result.transfers
    assert transfer.status is TransferStatus.CONFIRMED
    (booked,) = paper.state.transfers
    (change,) = margin_history(paper)
    if direction == "top_up":  # spot -> futures wallet, then into the position
        assert booked.type == "MAIN_UMFUTURE" and change == ("ETHUSDT", 1, booked.amount)
        assert isolated_wallet(paper, "ETHUSDT") == D(wallet) + booked.amount
    else:  # out of the position, then futures wallet -> spot
        assert change == ("ETHUSDT", 2, D("8500"))
        assert booked.type == "UMFUTURE_MAIN" and booked.amount == transfer.amount
    assert move.move.direction == direction
    assert not result.failed


async def test_asked_to_stop_before_the_move_neither_leg_is_sent(
    paper: PaperExchangeThread, venue_env: None, write_config: Callable[..., Path]
) -> None:
    make_isolated(paper, "ETHUSDT", isolated_wallet="16000", cross_left="0")
    config = load_config(
        write_config({"binance": live_venue(paper.base_url)}, {"eth": ETH_ISOLATED})
    )
    ledger = Ledger.open(config.ledger_url)
    stop = StopRequest()
    stop.request("SIGTERM")
    try:
        result = await rebalance(config, ledger, dry_run=False, stop=stop)
        assert moves(ledger) == [] and half_done_moves(ledger) == []
    finally:
        ledger.close()
    (row,) = result.transfers
    assert row.status is TransferStatus.FAILED and row.attempts == 0
    assert row.error == "not attempted: bot run is stopping (SIGTERM)"
    assert paper.state.transfers == () and margin_history(paper) == []
    assert isolated_wallet(paper, "ETHUSDT") == D("16000")
