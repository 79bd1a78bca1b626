"""A venue transfer id that another ledger row already holds (a venue numbering its transfers
again from the start, e.g. a paper exchange whose state file was deleted): the outcome is
recorded `unknown` naming both rows, never raised. On both backends, through real migrations."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal as D

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session

from bot.ledger import Ledger, TransferRecord, store
from bot.ledger.queries import TransferFilter, list_transfers
from bot.ledger.tables import TransferAttempt
from bot.model import PlannedTransfer, Rule, TransferStatus

ITEM = PlannedTransfer(
    venue="paper",
    hedges=("eth",),
    asset="USDT",
    from_account="spot",
    to_account="linear",
    amount=D("3000"),
    rule=Rule.TOP_UP,
    reason="below band",
    figures={},
)
TRAN_ID = "100000001"  # the paper exchange's first tranId, again after every fresh start


def held_message(venue: str, exchange_id: str, transfer_id: int, holder_id: int) -> str:
    return (
        f"venue {venue} answered transfer id {exchange_id} for transfer {transfer_id}, which "
        f"transfer {holder_id} already holds; left unknown for reconciliation or an operator"
    )


@pytest.fixture
def ledger(ledger_url: str) -> Iterator[Ledger]:
    opened = Ledger.open(ledger_url)
    yield opened
    opened.close()


def rows(ledger: Ledger, *, without: int | None = None) -> dict[int, TransferRecord]:
    return {r.id: r for r in list_transfers(ledger, TransferFilter()) if r.id != without}


def attempts(ledger: Ledger, transfer_id: int) -> list[tuple[str, str | None, str | None]]:
    query = (
        select(TransferAttempt.outcome, TransferAttempt.exchange_id, TransferAttempt.error)
        .where(TransferAttempt.transfer_id == transfer_id)
        .order_by(TransferAttempt.number)
    )
    with Session(ledger.engine) as session:
        return [tuple(row) for row in session.execute(query)]


def confirmed_holder(ledger: Ledger, run: int) -> TransferRecord:
    holder = ledger.record_intent(run, ITEM, amount=D(3000), inputs={})
    return ledger.record_attempt(
        holder.id,
        amount=D(3000),
        outcome="confirmed",
        started_at=datetime.now(UTC),
        exchange_id=TRAN_ID,
        status=TransferStatus.CONFIRMED,
    )


# the ledger's write side ------------------------------------------------------------------


def test_a_confirmed_reply_with_a_held_id_is_left_unknown(ledger: Ledger) -> None:
    run = ledger.start_run("rebalance", dry_run=False, config_digest="x")
    holder = confirmed_holder(ledger, run)
    ledger.record_intent(run, ITEM, amount=D(5), status=TransferStatus.SKIPPED, inputs={})
    intent = ledger.record_intent(run, ITEM, amount=D(3000), inputs={})
    before = rows(ledger, without=intent.id)

    left = ledger.record_attempt(
        intent.id,
        amount=D(3000),
        outcome="confirmed",
        started_at=datetime.now(UTC),
        exchange_id=TRAN_ID,
        status=TransferStatus.CONFIRMED,
    )

    message = held_message("paper", TRAN_ID, intent.id, holder.id)
    assert (left.status, left.exchange_id, left.error) == (TransferStatus.UNKNOWN, None, message)
    assert ledger.get_transfer(intent.id) == left
    # the attempt keeps what the venue answered, for whoever settles it by hand
    assert attempts(ledger, intent.id) == [("confirmed", TRAN_ID, message)]
    assert rows(ledger, without=intent.id) == before
    assert ledger.verify().ok


def test_a_claim_between_the_check_and_the_write_is_caught(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The query before the write misses a claim made right after it (another process): the
    unique constraint refuses the write, and the same transaction records unknown instead."""
    run = ledger.start_run("rebalance", dry_run=False, config_digest="x")
    holder = confirmed_holder(ledger, run)
    intent = ledger.record_intent(run, ITEM, amount=D(3000), inputs={})
    before = rows(ledger, without=intent.id)
    looked_up: list[str] = []
    real_lookup = store._holder_of

    def claimed_after_the_check(session: Session, row: object, exchange_id: str) -> int | None:
        looked_up.append(exchange_id)
        return None if len(looked_up) == 1 else real_lookup(session, row, exchange_id)  # type: ignore[arg-type]

    monkeypatch.setattr(store, "_holder_of", claimed_after_the_check)
    left = ledger.record_attempt(
        intent.id,
        amount=D(3000),
        outcome="confirmed",
        started_at=datetime.now(UTC),
        exchange_id=TRAN_ID,
        status=TransferStatus.CONFIRMED,
    )

    assert looked_up == [TRAN_ID, TRAN_ID]  # checked, then asked again to name the holder
    message = held_message("paper", TRAN_ID, intent.id, holder.id)
    assert (left.status, left.exchange_id, left.error) == (TransferStatus.UNKNOWN, None, message)
    assert attempts(ledger, intent.id) == [("confirmed", TRAN_ID, message)]
    assert rows(ledger, without=intent.id) == before
    assert ledger.verify().ok


def test_a_concurrent_claim_on_postgresql_is_caught(ledger: Ledger, ledger_url: str) -> None:
    """A real race: another session claims the id, uncommitted, after our check; our write waits
    on the unique index, fails when that session commits, and is recorded unknown."""
    if ledger.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only: SQLite writers are serialized by BEGIN IMMEDIATE")
    run = ledger.start_run("rebalance", dry_run=False, config_digest="x")
    first = ledger.record_intent(run, ITEM, amount=D(3000), inputs={})
    second = ledger.record_intent(run, ITEM, amount=D(3000), inputs={})
    other = create_engine(ledger_url)
    try:
        with other.connect() as claimer, other.connect() as watcher:
            claim = claimer.begin()
            claimer.execute(
                text("UPDATE transfers SET exchange_id = :x WHERE id = :id"),
                {"x": TRAN_ID, "id": first.id},
            )
            with ThreadPoolExecutor(max_workers=1) as pool:
                pending = pool.submit(
                    ledger.record_outcome, second.id, TransferStatus.CONFIRMED, exchange_id=TRAN_ID
                )
                _wait_for_a_lock_wait(watcher, pending.done)
                claim.commit()
                left = pending.result(timeout=10)
    finally:
        other.dispose()
    assert (left.status, left.exchange_id) == (TransferStatus.UNKNOWN, None)
    assert left.error == held_message("paper", TRAN_ID, second.id, first.id)


def _wait_for_a_lock_wait(watcher, done) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not done():
        waiting = watcher.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        ).scalar()
        if waiting:
            return
        threading.Event().wait(0.02)
    raise AssertionError("the ledger's write never waited on the other session's claim")
