"""The margin-move tables (0007) on each backend: exact money, moves and attempts append-only,
a margin leg's outcome written once, never deleted."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal as D

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from bot.ledger import Ledger
from bot.ledger.margin_queries import moves, open_margin_legs
from bot.model import TransferStatus
from bot.transfers.margin_legs import half_done_moves
from tests.ledger.conftest import ledger_url
from tests.ledger.items import TOP_UP

__all__ = ["ledger_url"]


def test_a_move_and_its_legs_are_an_audit_trail(ledger_url: str) -> None:
    ledger = Ledger.open(ledger_url)
    try:
        run = ledger.start_run("rebalance", dry_run=False, config_digest="x")
        item = replace(TOP_UP, isolated_perp="ETH/USDT:USDT")
        move = ledger.record_margin_move(
            run,
            item,
            symbol="ETH/USDT:USDT",
            futures_account="linear",
            direction="top_up",
            dry_run=False,
        )
        figures = {**item.figures, "margin_move": str(move.id)}
        transfer = ledger.record_intent(
            run,
            item.__class__(**{**item.__dict__, "figures": figures}),
            amount=D("2999.99990001"),
            inputs={},
        )
        ledger.record_outcome(transfer.id, TransferStatus.CONFIRMED, exchange_id="41")
        (half,) = half_done_moves(ledger)  # the transfer is done, no margin leg yet
        assert half.moved == D("2999.99990001")

        leg = ledger.record_margin_intent(
            move.id, add=True, amount=D("2999.99990001"), inputs={}, dry_run=False
        )
        assert [o.id for o in open_margin_legs(ledger)] == [leg.id]
        done = ledger.record_margin_attempt(
            leg.id,
            amount=leg.amount,
            outcome="confirmed",
            started_at=datetime.now(UTC),
            status=TransferStatus.CONFIRMED,
        )
        assert (done.status, done.settled_by, done.attempts) == (
            TransferStatus.CONFIRMED,
            "answer",
            1,
        )
        (recorded,) = moves(ledger)
        assert recorded.margin_leg is not None and recorded.margin_leg.amount == D("2999.99990001")
        assert half_done_moves(ledger) == [] and open_margin_legs(ledger) == []

        for statement in (
            "UPDATE margin_moves SET planned_amount = 1",
            "DELETE FROM margin_moves",
            "UPDATE margin_leg_attempts SET amount = 1",
            "DELETE FROM margin_leg_attempts",
            "UPDATE margin_legs SET amount = 1",  # a final leg
            "DELETE FROM margin_legs",
        ):
            with pytest.raises(IntegrityError, match="ledger: "), ledger.engine.begin() as conn:
                conn.execute(text(statement))
    finally:
        ledger.close()
