"""A half-done move is never hidden: a margin change whose answer was lost and that the venue's
history cannot tell from a look-alike stays open, is printed as half done, blocks new moves of
that perp, and the run exits 1 (needs attention)."""

from __future__ import annotations

import dataclasses

import pytest

from bot.ledger import Ledger
from bot.paper.model import MarginChange, MarketKind
from bot.runtime import failpoints
from bot.transfers.margin_legs import half_done_moves
from tests.integration.conftest import edit_state, live_venue
from tests.isolated.helpers import ETH_ISOLATED, make_isolated, margin_history

TRANSFERS = {"safety": "0.99", "min_amount": "10", "max_amount": None, "settle_window_seconds": 0}


@pytest.fixture(autouse=True)
def _disarm() -> None:
    yield
    failpoints.disarm_all()


def test_a_lost_margin_answer_with_a_look_alike_stays_half_done(
    paper, venue_env, write_config, bot, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    config = write_config(
        {"binance": live_venue(paper.base_url)}, {"eth": ETH_ISOLATED}, transfers=TRANSFERS
    )
    make_isolated(paper, "ETHUSDT", isolated_wallet="3000", cross_left="500")
    failpoints.arm(failpoints.AFTER_MARGIN_RESPONSE)
    with pytest.raises(failpoints.SimulatedCrash):
        bot("rebalance", config=config)
    ((_, _, added),) = margin_history(paper)

    def look_alike(state):  # type: ignore[no-untyped-def]
        # the same add, by hand, a moment later: the history cannot tell which is the bot's
        change = dataclasses.replace(state.margin_changes[0], time=state.margin_changes[0].time + 1)
        assert isinstance(change, MarginChange) and change.kind == MarketKind.LINEAR
        return dataclasses.replace(state, margin_changes=(*state.margin_changes, change))

    edit_state(paper, look_alike)
    again = bot("rebalance", config=config)
    assert again.exit_code == 1, again.stdout + again.stderr
    (line,) = [line for line in again.stdout.splitlines() if line.startswith("half done:")]
    assert f"{added:f} USDT moved spot -> linear but not yet added" in line
    assert len(margin_history(paper)) == 2  # nothing new was sent for the perp
    assert len(paper.state.transfers) == 1

    ledger = Ledger.open(f"sqlite:///{tmp_path}/data/ledger.sqlite")
    try:
        (half,) = half_done_moves(ledger)
        assert half.moved == added
    finally:
        ledger.close()


def test_an_unknown_first_leg_is_settled_then_the_move_finished(
    paper, venue_env, write_config, bot, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    config = write_config(
        {"binance": live_venue(paper.base_url)}, {"eth": ETH_ISOLATED}, transfers=TRANSFERS
    )
    make_isolated(paper, "ETHUSDT", isolated_wallet="3000", cross_left="500")
    paper.faults.add("http_500_after")  # the transfer is applied, its answer lost
    first = bot("rebalance", config=config)
    assert first.exit_code == 1, first.stdout + first.stderr
    (transfer,) = paper.state.transfers
    assert margin_history(paper) == []  # an unknown first leg: the second is not begun

    second = bot("rebalance", config=config)
    assert second.exit_code == 0, second.stdout + second.stderr
    assert paper.state.transfers == (transfer,)
    assert margin_history(paper) == [("ETHUSDT", 1, transfer.amount)]
    ledger = Ledger.open(f"sqlite:///{tmp_path}/data/ledger.sqlite")
    try:
        assert half_done_moves(ledger) == []
    finally:
        ledger.close()


def test_a_return_whose_transfer_back_finds_nothing_stays_half_done_until_sent(
    paper, venue_env, write_config, bot, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    config = write_config(
        {"binance": live_venue(paper.base_url)}, {"eth": ETH_ISOLATED}, transfers=TRANSFERS
    )
    make_isolated(paper, "ETHUSDT", isolated_wallet="16000", cross_left="0")
    # the futures wallet reads nothing transferable this run (the cycle's read and the fresh one)
    zero = [{"op": "set", "path": "assets.0.maxWithdrawAmount", "value": "0.00000000"}]
    paper.faults.add("override", method="GET", path="/fapi/v3/account", times=2, mutations=zero)
    first = bot("rebalance", config=config)
    assert first.exit_code == 1, first.stdout + first.stderr
    assert margin_history(paper) == [("ETHUSDT", 2, 8500)] and paper.state.transfers == ()
    (line,) = [line for line in first.stdout.splitlines() if line.startswith("half done:")]
    assert "8500 USDT taken out of ETH/USDT:USDT's isolated margin but not yet moved" in line
    status = bot("status", config=config)  # from the ledger alone: a person is needed
    assert status.exit_code == 1 and line in status.stdout, status.stdout

    second = bot("rebalance", config=config)
    assert second.exit_code == 0, second.stdout + second.stderr
    (back,) = paper.state.transfers
    assert back.type == "UMFUTURE_MAIN" and 8400 < back.amount <= 8500
    assert margin_history(paper) == [("ETHUSDT", 2, 8500)]  # the reduce is not repeated
