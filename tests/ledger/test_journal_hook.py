"""The one journaling hook: a ledger transaction journals every row of a journaled table it
inserts or changes, on commit, without a word from the write site."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.audit.verify import verify_ledger
from bot.errors import LedgerError
from bot.ledger import Ledger
from bot.ledger.journal import ENTITIES
from bot.ledger.tables import JournalEntry, Run

AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    opened = Ledger.open(f"sqlite:///{tmp_path}/ledger.sqlite", lambda: AT, key=b"k" * 32)
    yield opened  # type: ignore[misc]
    opened.close()


def run_row(command: str) -> Run:
    return Run(command=command, dry_run=False, started_at=AT, status="running", config_digest="d")


def entries(ledger: Ledger) -> list[tuple[str, int, datetime, str]]:
    with ledger.engine.connect() as connection:
        rows = connection.execute(
            select(JournalEntry.entity, JournalEntry.entity_id, JournalEntry.at, JournalEntry.body)
            .where(JournalEntry.entity != "chain")
            .order_by(JournalEntry.seq)
        ).all()
    return [tuple(row) for row in rows]  # type: ignore[misc]


def test_a_written_row_is_journaled_once_at_its_content_as_committed(ledger: Ledger) -> None:
    written_at = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    with ledger._transaction(written_at) as session:
        row = run_row("rebalance")
        session.add(row)
        session.flush()  # inserted...
        row.status = "ok"  # ...then changed in the same transaction: one entry, as committed

    [(entity, entity_id, at, body)] = entries(ledger)
    assert (entity, entity_id, at) == ("run", row.id, written_at)
    assert '"status":"ok"' in body
    assert verify_ledger(ledger).ok


def test_rows_are_journaled_in_the_order_they_were_first_touched(ledger: Ledger) -> None:
    with ledger._transaction(AT) as session:
        first, second = run_row("first"), run_row("second")
        session.add_all([first, second])
    with ledger._transaction(AT) as session:
        third = run_row("third")  # made first...
        again = session.get_one(Run, second.id)
        again.status = "ok"  # ...then an older row changed, before the new one is added
        session.add(third)
        session.get_one(Run, first.id).status = "failed"

    assert [(e[0], e[1]) for e in entries(ledger)] == [
        ("run", first.id),
        ("run", second.id),
        ("run", third.id),
        ("run", second.id),
        ("run", first.id),
    ]
    assert verify_ledger(ledger).ok


def test_a_row_only_read_is_not_journaled(ledger: Ledger) -> None:
    with ledger._transaction(AT) as session:
        session.add(run_row("rebalance"))
    with ledger._transaction(AT) as session:
        session.scalars(select(Run)).all()

    assert len(entries(ledger)) == 1


def test_an_insert_undone_by_its_savepoint_is_not_journaled(ledger: Ledger) -> None:
    with ledger._transaction(AT) as session:
        kept = run_row("kept")
        session.add(kept)
        savepoint = session.begin_nested()
        session.add(run_row("undone"))
        session.flush()
        savepoint.rollback()

    assert [(e[0], e[1]) for e in entries(ledger)] == [("run", kept.id)]
    assert verify_ledger(ledger).ok


def test_a_journaled_write_without_its_time_is_refused(ledger: Ledger) -> None:
    with pytest.raises(LedgerError, match="without its time"), ledger._transaction() as session:
        session.add(run_row("rebalance"))

    with ledger._sessions() as session:
        assert session.scalars(select(Run)).all() == []  # nothing committed


def test_every_journaled_table_is_journaled_by_the_hook_alone() -> None:
    """The registry is the one place: the hook listens to each of its tables' rows."""
    from sqlalchemy import event

    from bot.ledger import journal

    for model in ENTITIES.values():
        assert event.contains(model, "init", journal._touched), model.__name__
