"""0009 on both backends: a venue halt is recorded once and ends final; a nothing-to-move
condition is one counted row, cleared final; both journaled; and a whole cycle against the
paper exchange with a standing -2015 and then an under-minimum top-up."""

from __future__ import annotations

import dataclasses
from decimal import Decimal as D

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from bot.audit.verify import verify_ledger
from bot.config import Config
from bot.cycle.rebalance import rebalance
from bot.ledger import Ledger
from bot.ledger.standing import RESUMED
from bot.model import TransferStatus
from bot.paper import PaperExchange
from bot.paper.model import SpotBalance
from bot.runtime.retry import Timing

KEY = ("binance", "USDT", "spot", "linear")


def halt(ledger: Ledger, error: str = "-2015 refused"):  # type: ignore[no-untyped-def]
    return ledger.record_halt(
        "binance",
        kind="fatal",
        code="-2015",
        error=error,
        hint="enable Universal Transfer",
        fingerprint="f" * 64,
        salt="0" * 32,
    )


def test_a_halt_is_recorded_once_and_ends_final(ledger: Ledger) -> None:
    first, created = halt(ledger)
    again, created_again = halt(ledger, "another refusal")
    assert (created, created_again, again.id, again.error) == (True, False, first.id, first.error)
    ended = ledger.end_halt("binance", state=RESUMED, by="alice", reason="key fixed")
    assert ended is not None and (ended.state, ended.ended_by) == ("resumed", "alice")
    assert (
        ledger.open_halts() == []
        and ledger.end_halt("binance", state=RESUMED, by="a", reason="r") is None
    )
    with pytest.raises(IntegrityError, match="never updated"), ledger.engine.begin() as conn:
        conn.execute(text("UPDATE venue_halts SET state = 'halted'"))
    with pytest.raises(IntegrityError, match="never deleted"), ledger.engine.begin() as conn:
        conn.execute(text("DELETE FROM venue_halts"))
    assert halt(ledger)[1] is True  # halted again later: a new row
    assert verify_ledger(ledger).ok


def test_nothing_to_move_is_one_counted_row_then_cleared_final(ledger: Ledger) -> None:
    for planned in ("3000", "3100.5"):
        ledger.stand_nothing_to_move(
            KEY, hedges="eth", rule="top_up", reason="nothing transferable", planned=D(planned)
        )
    (standing,) = ledger.open_nothing_to_move()
    assert (standing.count, standing.planned_amount) == (2, D("3100.5"))
    assert ledger.clear_nothing_to_move("binance", keep=[KEY]) == []
    assert (
        ledger.clear_nothing_to_move("binance", only=[("binance", "ETH", "spot", "linear")]) == []
    )
    assert ledger.clear_nothing_to_move("binance") == [KEY]
    with pytest.raises(IntegrityError, match="never updated"), ledger.engine.begin() as conn:
        conn.execute(text("UPDATE nothing_to_move SET count = 1"))
    with pytest.raises(IntegrityError, match="never deleted"), ledger.engine.begin() as conn:
        conn.execute(text("DELETE FROM nothing_to_move"))
    assert verify_ledger(ledger).ok


async def test_a_cycle_halts_once_then_stands_an_empty_move_on_each_backend(
    config: Config, paper: PaperExchange
) -> None:
    ledger = Ledger.open(config.ledger_url)
    timing = Timing(sleep=_no_sleep)
    try:
        paper.faults.add("error", status=401, code=-2015, times=None)
        for _ in range(3):
            result = await rebalance(config, ledger, dry_run=False, timing=timing)
            assert result.margin is not None and "binance" in result.margin.execution.halted
        assert paper.faults.fired["error"] == 1
        assert [t.status for t in _rows(ledger)] == [TransferStatus.FAILED]
        assert len(ledger.open_halts()) == 1
        ledger.end_halt("binance", state=RESUMED, by="alice", reason="permission enabled")
        paper.faults.clear()
        state = paper.store.state
        paper.store.commit(
            dataclasses.replace(state, spot={**state.spot, "USDT": SpotBalance(free=D("5"))})
        )
        for seen in (1, 2):
            result = await rebalance(config, ledger, dry_run=False, timing=timing)
            assert result.margin is not None
            assert [n.count for n in result.margin.execution.not_moved] == [seen]
        assert len(_rows(ledger)) == 1  # no new transfer row
        assert verify_ledger(ledger).ok
    finally:
        ledger.close()


async def _no_sleep(_: float) -> None:
    return None


def _rows(ledger: Ledger):  # type: ignore[no-untyped-def]
    from bot.ledger.queries import TransferFilter, list_transfers

    return list_transfers(ledger, TransferFilter())
