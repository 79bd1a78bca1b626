"""A ledger written by the first release (unkeyed SHA-256 entries, runs not journaled) still
verifies after 0006 and takes a key; audit openings cannot write and work beside a writer."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import insert, select, text, update
from sqlalchemy.exc import DBAPIError

from bot.audit.verify import verify_ledger
from bot.errors import LedgerError
from bot.ledger import Ledger, db
from bot.ledger.journal import GENESIS_HASH, body_of, chain_hash
from bot.ledger.queries import TransferFilter, list_transfers
from bot.ledger.tables import JournalHead, Run, Transfer
from tests.audit.tampering import KEY, NOW, populate


def first_release_ledger(ledger_url: str) -> None:
    """A run and a transfer as the first release wrote them: the transfer journaled with an
    unkeyed hash (no `chain` column yet), the run not journaled at all."""
    engine = db.create_ledger_engine(ledger_url)
    db.upgrade(engine, "0004")
    with engine.begin() as conn:
        run_id = conn.execute(
            insert(Run).values(
                command="rebalance",
                dry_run=False,
                started_at=NOW,
                status="ok",
                config_digest="x",
            )
        ).inserted_primary_key[0]
        values = dict(
            run_id=run_id,
            client_id="c1",
            created_at=NOW,
            updated_at=NOW,
            venue="paper",
            hedges="eth",
            asset="USDT",
            from_account="spot",
            to_account="linear",
            rule="top_up",
            planned_amount=Decimal(3000),
            amount=None,
            status="skipped",
            reason="r",
            figures="{}",
            inputs="{}",
            dry_run=False,
        )
        conn.execute(insert(Transfer).values(**values))
        row = conn.execute(select(Transfer.__table__)).one()
        body = body_of(dict(row._mapping))
        digest = chain_hash(GENESIS_HASH, "transfer", row.id, body)
        conn.execute(
            text(
                "INSERT INTO journal (seq, at, entity, entity_id, body, prev_hash, hash) "
                "VALUES (1, :at, 'transfer', :id, :body, :prev, :hash)"
            ),
            {"at": NOW, "id": row.id, "body": body, "prev": GENESIS_HASH, "hash": digest},
        )
        conn.execute(update(JournalHead).values(seq=1, hash=digest))
    engine.dispose()


def test_a_first_release_ledger_verifies_and_then_takes_a_key(ledger_url: str) -> None:
    first_release_ledger(ledger_url)
    upgraded = Ledger.open(ledger_url)  # migrates; starts the unkeyed chain of 0006
    report = verify_ledger(upgraded)
    assert report.ok, report.problems
    assert (report.legacy_entries, report.uncovered_rows) == (1, 1)  # the run predates it
    upgraded.close()
    keyed = Ledger.open(ledger_url, key=KEY)
    populate(keyed)
    report = verify_ledger(keyed)
    assert report.ok, report.problems
    assert report.legacy_entries == 1 and report.keyed_entries > 0
    keyed.close()


def test_an_audit_opening_cannot_write(ledger: Ledger, ledger_url: str) -> None:
    populate(ledger)
    audit = Ledger.open_read_only(ledger_url)
    try:
        with pytest.raises(DBAPIError, match=r"(?i)read.?only"), audit.engine.begin() as conn:
            conn.execute(text("DELETE FROM runs"))
        with pytest.raises(DBAPIError, match=r"(?i)read.?only"):
            audit.start_run("rebalance", dry_run=False, config_digest="x")
        assert len(list_transfers(audit, TransferFilter())) == 1
    finally:
        audit.close()


def test_an_audit_reads_while_a_writer_holds_the_ledger(ledger: Ledger, ledger_url: str) -> None:
    populate(ledger)
    audit = Ledger.open_read_only(ledger_url)
    try:
        with ledger.engine.begin() as writer:  # SQLite: BEGIN IMMEDIATE, the write lock held
            writer.execute(
                insert(Run).values(
                    command="rebalance",
                    dry_run=False,
                    started_at=NOW,
                    status="running",
                    config_digest="x",
                )
            )
            report = verify_ledger(audit)  # the writer's uncommitted run is not seen
            assert report.ok, report.problems
            assert len(list_transfers(audit, TransferFilter())) == 1
            writer.rollback()
    finally:
        audit.close()


def test_an_audit_never_migrates(ledger_url: str) -> None:
    engine = db.create_ledger_engine(ledger_url)
    db.upgrade(engine, "0004")
    engine.dispose()
    with pytest.raises(LedgerError, match="run bot db upgrade first"):
        Ledger.open_read_only(ledger_url)
