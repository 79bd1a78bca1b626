"""A crash inside an isolated hedge's two-leg move, then a restart: the first leg stays done
once, the second is settled once (by the margin history, or sent after proof it never was),
and nothing is left half done.

The crash is an armed failpoint raising `SimulatedCrash` in-process: what was committed before
it stays, exactly as after a SIGKILL there (tests/reliability/test_crash.py kills a real
process once; one per case would cost a Python start and a ccxt import each)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.audit.verify import verify_ledger
from bot.ledger import Ledger
from bot.ledger.margin_queries import moves
from bot.model import TransferStatus
from bot.runtime import failpoints
from bot.transfers.margin_legs import half_done_moves
from tests.integration.conftest import live_venue
from tests.isolated.helpers import ETH_ISOLATED, isolated_wallet, make_isolated, margin_history

TRANSFERS = {"safety": "0.99", "min_amount": "10", "max_amount": None, "settle_window_seconds": 0}


@pytest.fixture(autouse=True)
def _disarm() -> Iterator[None]:
    yield
    failpoints.disarm_all()


@pytest.fixture
def config(paper, write_config) -> Path:  # type: ignore[no-untyped-def]
    venue = live_venue(paper.base_url, ccxt={"enableRateLimit": False, "timeout": 20000})
    return write_config({"binance": venue}, {"eth": ETH_ISOLATED}, transfers=TRANSFERS)


def _finish(bot, config: Path, tmp_path: Path) -> Ledger:  # type: ignore[no-untyped-def]
    """The restart, on the same ledger file."""
    restarted = bot("rebalance", config=config)
    assert restarted.exit_code == 0, restarted.stdout + restarted.stderr
    return Ledger.open(f"sqlite:///{tmp_path}/data/ledger.sqlite")


@pytest.mark.parametrize("point", failpoints.MARGIN_LEGS)
def test_top_up_crashed_between_or_inside_the_second_leg(
    paper, venue_env, bot, config, tmp_path, point
) -> None:  # type: ignore[no-untyped-def]
    make_isolated(paper, "ETHUSDT", isolated_wallet="3000", cross_left="500")
    failpoints.arm(point)
    with pytest.raises(failpoints.SimulatedCrash):
        bot("rebalance", config=config)
    (transfer,) = paper.state.transfers  # the first leg was made before the kill
    applied_before = len(paper.state.margin_changes)
    assert applied_before == (1 if point == failpoints.AFTER_MARGIN_RESPONSE else 0)
    if applied_before == 0:
        half = Ledger.open(f"sqlite:///{tmp_path}/data/ledger.sqlite")
        try:
            (stranded,) = half_done_moves(half)
            assert "not yet added to ETH/USDT:USDT's isolated margin" in stranded.message
        finally:
            half.close()

    ledger = _finish(bot, config, tmp_path)
    try:
        assert paper.state.transfers == (transfer,)  # the first leg once
        assert margin_history(paper) == [("ETHUSDT", 1, transfer.amount)]  # the second once
        assert isolated_wallet(paper, "ETHUSDT") == 3000 + transfer.amount
        (move,) = moves(ledger)
        assert move.transfer is not None and move.transfer.status is TransferStatus.CONFIRMED
        confirmed = [leg for leg in move.margin_legs if leg.status is TransferStatus.CONFIRMED]
        assert len(confirmed) == 1
        assert confirmed[0].settled_by == (
            "history" if point == failpoints.AFTER_MARGIN_RESPONSE else "answer"
        )
        assert all(leg.status.is_final for leg in move.margin_legs)
        assert half_done_moves(ledger) == []
        assert verify_ledger(ledger).ok
    finally:
        ledger.close()


def test_return_crashed_between_the_legs(paper, venue_env, bot, config, tmp_path) -> None:  # type: ignore[no-untyped-def]
    make_isolated(paper, "ETHUSDT", isolated_wallet="16000", cross_left="0")
    failpoints.arm(failpoints.BETWEEN_LEGS)
    with pytest.raises(failpoints.SimulatedCrash):
        bot("rebalance", config=config)
    assert margin_history(paper) == [("ETHUSDT", 2, 8500)]  # reduced; nothing moved yet
    assert paper.state.transfers == ()

    ledger = _finish(bot, config, tmp_path)
    try:
        assert margin_history(paper) == [("ETHUSDT", 2, 8500)]
        (back,) = paper.state.transfers
        assert back.type == "UMFUTURE_MAIN" and 8400 < back.amount <= 8500
        assert half_done_moves(ledger) == []
    finally:
        ledger.close()
