"""The ledger through real Alembic migrations, on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from bot.audit.verify import verify_ledger
from bot.ledger import Ledger, db
from bot.ledger.queries import TransferFilter, list_transfers, open_transfers
from bot.model import PlannedTransfer, TransferStatus
from tests.ledger.items import TOP_UP


def is_sqlite(ledger: Ledger) -> bool:
    return ledger.engine.dialect.name == "sqlite"


def test_migrations_upgrade_an_empty_database_to_head_and_back(ledger_url: str) -> None:
    engine = db.create_ledger_engine(ledger_url)
    db.upgrade(engine)
    assert db.current_revision(engine) == db.head_revision()
    tables = set(inspect(engine).get_table_names())
    assert {"runs", "transfers", "transfer_attempts", "journal", "balance_snapshots"} <= tables
    db.downgrade(engine, "base")
    assert db.current_revision(engine) is None
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    db.upgrade(engine)
    assert db.current_revision(engine) == db.head_revision()
    engine.dispose()


def test_sqlite_uses_a_rollback_journal_with_full_sync(ledger: Ledger) -> None:
    if not is_sqlite(ledger):
        pytest.skip("SQLite only")
    # not WAL: SQLite 3.40.1's WAL-reset bug needs two writers, and two bot processes on
    # different venues may share one ledger file
    with ledger.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "persist"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() > 0


def test_money_is_stored_exactly(ledger: Ledger) -> None:
    run = ledger.start_run("rebalance", dry_run=False, config_digest="x")
    amount = D("2970.12345678")
    ledger.record_intent(run, TOP_UP, amount=amount, inputs={"transferable": D("3000.1234567891")})
    type_of = "typeof" if is_sqlite(ledger) else "pg_typeof"
    with ledger.engine.connect() as conn:
        stored, kind = conn.exec_driver_sql(
            f"SELECT amount, {type_of}(amount) FROM transfers"
        ).one()
    # text on SQLite (its NUMERIC would be a float), NUMERIC on PostgreSQL: never a float
    assert (str(stored), str(kind)) in {("2970.12345678", "text")} or (
        D(str(stored)) == amount and str(kind) == "numeric"
    )
    (record,) = list_transfers(ledger, TransferFilter())
    assert record.amount == amount and isinstance(record.amount, D)


def test_final_rows_cannot_be_updated_or_deleted(ledger: Ledger) -> None:
    run = ledger.start_run("rebalance", dry_run=False, config_digest="x")
    intent = ledger.record_intent(run, TOP_UP, amount=D(3000), inputs={})
    assert intent.status is TransferStatus.PENDING
    assert [t.id for t in open_transfers(ledger)] == [intent.id]
    ledger.record_outcome(intent.id, TransferStatus.CONFIRMED, exchange_id="42")
    with pytest.raises(IntegrityError, match="never updated"):
        ledger.record_outcome(intent.id, TransferStatus.FAILED, error="late")
    with pytest.raises(IntegrityError, match="never deleted"), ledger.engine.begin() as conn:
        conn.execute(text("DELETE FROM transfers"))
    assert ledger.get_transfer(intent.id).status is TransferStatus.CONFIRMED


def test_an_exchange_id_is_claimed_by_one_row_only(ledger: Ledger) -> None:
    run = ledger.start_run("rebalance", dry_run=False, config_digest="x")
    first = ledger.record_intent(run, TOP_UP, amount=D(1), inputs={})
    second = ledger.record_intent(run, TOP_UP, amount=D(1), inputs={})
    ledger.record_outcome(first.id, TransferStatus.CONFIRMED, exchange_id="7")
    # the database refuses a second holder...
    with pytest.raises(IntegrityError), ledger.engine.begin() as conn:
        conn.execute(
            text("UPDATE transfers SET exchange_id = '7' WHERE id = :id"), {"id": second.id}
        )
    # ...and the ledger never asks it to: the row is left unknown, naming both rows
    left = ledger.record_outcome(second.id, TransferStatus.CONFIRMED, exchange_id="7")
    assert (left.status, left.exchange_id) == (TransferStatus.UNKNOWN, None)
    assert left.error == (
        f"venue paper answered transfer id 7 for transfer {second.id}, which transfer "
        f"{first.id} already holds; left unknown for reconciliation or an operator"
    )
    assert ledger.get_transfer(first.id).exchange_id == "7"
    assert verify_ledger(ledger).ok


def test_verify_detects_edits_behind_the_bots_back(ledger: Ledger) -> None:
    run = ledger.start_run("rebalance", dry_run=False, config_digest="x")
    intent = ledger.record_intent(run, TOP_UP, amount=D(3000), inputs={})
    ledger.record_attempt(
        intent.id, amount=D(3000), outcome="confirmed", started_at=datetime.now(UTC)
    )
    ledger.record_outcome(intent.id, TransferStatus.CONFIRMED, exchange_id="1")
    # the chain's start, the run, the intent, the attempt, the outcome
    assert verify_ledger(ledger).ok and verify_ledger(ledger).entries == 5

    # someone with write access to the database drops the guard and edits a final row
    on_table = "" if is_sqlite(ledger) else " ON transfers"
    with ledger.engine.begin() as conn:
        conn.exec_driver_sql(f"DROP TRIGGER transfers_final_immutable{on_table}")
        conn.execute(
            text("UPDATE transfers SET amount = '30000' WHERE id = :id"), {"id": intent.id}
        )
    report = verify_ledger(ledger)
    assert not report.ok
    assert any("differs from its journal entry" in p for p in report.problems)


def test_list_filters(ledger: Ledger) -> None:
    run = ledger.start_run("rebalance", dry_run=False, config_digest="x")
    a = ledger.record_intent(run, TOP_UP, amount=D(1), inputs={})
    ledger.record_outcome(a.id, TransferStatus.CONFIRMED, exchange_id="1")
    other = PlannedTransfer(**{**TOP_UP.__dict__, "venue": "binance"})
    ledger.record_intent(run, other, amount=D(2), status=TransferStatus.SKIPPED, inputs={})
    assert [r.venue for r in list_transfers(ledger, TransferFilter(venue="binance"))] == ["binance"]
    assert [
        r.id for r in list_transfers(ledger, TransferFilter(status=TransferStatus.CONFIRMED))
    ] == [a.id]
    future = datetime(2100, 1, 1, tzinfo=UTC)
    assert list_transfers(ledger, TransferFilter(since=future)) == []
    assert len(list_transfers(ledger, TransferFilter(limit=1))) == 1


def test_the_head_read_from_the_migration_files_is_alembics() -> None:
    """`db.head_revision` reads the files without Alembic (fast start-up); it must agree."""
    from alembic.script import ScriptDirectory

    from bot.ledger import db

    script = ScriptDirectory.from_config(db._alembic_config("sqlite://"))
    assert db.head_revision() == script.get_current_head()


def test_every_journaled_entity_name_fits_the_journal_column() -> None:
    """PostgreSQL refuses a longer name (SQLite would not say): a new entity must fit."""
    from bot.ledger.journal import ENTITIES, START
    from bot.ledger.tables import JournalEntry

    width = JournalEntry.__table__.c.entity.type.length
    assert all(len(name) <= width for name in [*ENTITIES, START])
