"""Reading isolated moves costs what is still open, not the bot's whole history: `moves` asks a
constant number of queries however many moves there are, and `open_moves` (what each cycle and
`bot status` read) leaves out, for good, a move once it is settled."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal as D
from typing import Any

from sqlalchemy import event

from bot.ledger import Ledger
from bot.ledger.margin_queries import moves
from bot.ledger.store import MarginLegRecord, MarginMoveRecord
from bot.model import TransferStatus
from bot.transfers.half_done import half_done_moves, open_moves
from tests.ledger.conftest import ledger, ledger_url
from tests.ledger.items import TOP_UP

__all__ = ["ledger", "ledger_url"]

ITEM = replace(TOP_UP, isolated_perp="ETH/USDT:USDT")


def a_top_up(ledger: Ledger, run: int, *, legs: int) -> MarginMoveRecord:
    """A top-up with `legs` of its two legs done (0: none sent, 1: half done, 2: settled)."""
    move = ledger.record_margin_move(
        run,
        ITEM,
        symbol="ETH/USDT:USDT",
        futures_account="linear",
        direction="top_up",
        dry_run=False,
    )
    if legs == 0:
        return move
    figures = {**ITEM.figures, "margin_move": str(move.id)}
    transfer = ledger.record_intent(
        run, replace(ITEM, figures=figures), amount=D("100.5"), inputs={}
    )
    ledger.record_outcome(transfer.id, TransferStatus.CONFIRMED, exchange_id=f"t{move.id}")
    if legs == 2:
        confirm(ledger, add_margin(ledger, move.id))
    return move


def add_margin(ledger: Ledger, move_id: int) -> MarginLegRecord:
    """The move's margin leg, sent: pending until `confirm`."""
    return ledger.record_margin_intent(
        move_id, add=True, amount=D("100.5"), inputs={}, dry_run=False
    )


def confirm(ledger: Ledger, leg: MarginLegRecord) -> None:
    ledger.record_margin_attempt(
        leg.id,
        amount=leg.amount,
        outcome="confirmed",
        started_at=datetime.now(UTC),
        status=TransferStatus.CONFIRMED,
    )


@contextmanager
def statements(ledger: Ledger) -> Iterator[list[tuple[str, list[Any]]]]:
    """The SQL the ledger runs inside the block, each with its bound values."""
    seen: list[tuple[str, list[Any]]] = []

    def count(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        values = parameters.values() if isinstance(parameters, dict) else parameters or ()
        seen.append((" ".join(statement.split()), list(values)))

    event.listen(ledger.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(ledger.engine, "before_cursor_execute", count)


def test_reading_moves_asks_as_many_queries_for_forty_moves_as_for_two(ledger: Ledger) -> None:
    run = ledger.start_run("rebalance", dry_run=False, config_digest="x")
    for _ in range(2):
        a_top_up(ledger, run, legs=2)
    with statements(ledger) as few:
        assert len(moves(ledger)) == 2
    for _ in range(38):
        a_top_up(ledger, run, legs=2)
    with statements(ledger) as many:
        found = moves(ledger)
    assert len(found) == 40 and len(many) == len(few), many
    assert all(m.transfer and m.transfer.attempts == 0 for m in found)  # outcome, no attempt
    assert all(m.margin_leg and m.margin_leg.attempts == 1 for m in found)


def test_a_settled_move_is_left_out_for_good_and_an_open_one_is_kept(ledger: Ledger) -> None:
    run = ledger.start_run("rebalance", dry_run=False, config_digest="x")
    settled = [a_top_up(ledger, run, legs=2) for _ in range(5)]
    half = a_top_up(ledger, run, legs=1)
    unsent = a_top_up(ledger, run, legs=0)  # a crash before its first leg: nothing to finish
    assert [m.move.id for m in open_moves(ledger)] == [half.id]
    assert [h.move.id for h in half_done_moves(ledger)] == [half.id]

    # the half-done move is finished; a new one is left half done
    leg = add_margin(ledger, half.id)
    assert [m.move.id for m in open_moves(ledger)] == [half.id]  # its margin leg is open
    confirm(ledger, leg)
    later = a_top_up(ledger, run, legs=1)
    with statements(ledger) as asked:
        assert [m.move.id for m in open_moves(ledger)] == [later.id]
    assert lowest_leg_read(asked) == half.id  # last seen open: read once more, found settled
    with statements(ledger) as asked:
        assert [m.move.id for m in open_moves(ledger)] == [later.id]
    assert lowest_leg_read(asked) == later.id  # the settled history is not read again
    assert all(m.id < later.id for m in [*settled, unsent, half])
    assert [h.move.id for h in half_done_moves(ledger)] == [later.id]
    assert len(moves(ledger)) == 8  # the whole history is still there for an audit


def lowest_leg_read(asked: list[tuple[str, list[Any]]]) -> int:
    """The move id from which the margin legs were read (their one query's lower bound)."""
    (bound,) = [values for sql, values in asked if "FROM margin_legs WHERE" in sql]
    (lowest,) = bound
    return int(lowest)
