"""Corrections (`Ledger.assign`, migration 0004) on SQLite and on PostgreSQL: an operator settles
an open transfer in one transaction, the correction is append-only and journalled, refusals
leave the ledger as it was, and a ledger from 0003 upgrades and still verifies."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.audit.verify import verify_ledger
from bot.config import Config
from bot.cycle.rebalance import rebalance
from bot.errors import CorrectionRefused
from bot.ledger import Ledger, db
from bot.ledger.queries import TransferFilter, corrections_of, list_transfers
from bot.ledger.tables import JournalEntry, TransferAttempt, TransferTotal
from bot.model import TransferStatus
from bot.paper import PaperExchange
from bot.runtime import failpoints
from bot.transfers.assign import assign
from tests.ledger.items import TOP_UP

NOW = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)


def unknown_row(ledger: Ledger, amount: D = D("3000")) -> int:
    """A transfer whose answer was lost: sent, outcome unknown."""
    run = ledger.start_run("rebalance", dry_run=False, config_digest="x")
    intent = ledger.record_intent(run, TOP_UP, amount=amount, inputs={"transferable": D("4500")})
    ledger.record_attempt(
        intent.id,
        amount=amount,
        outcome="unknown",
        started_at=NOW,
        error_kind="unknown",
        error="timed out after sending",
        status=TransferStatus.UNKNOWN,
    )
    return intent.id


def picture(ledger: Ledger) -> tuple[Any, ...]:
    """Everything a refused correction must leave as it was."""
    rows = [
        (r.id, r.status, r.exchange_id, r.attempts, r.error)
        for r in list_transfers(ledger, TransferFilter())
    ]
    with Session(ledger.engine) as session:
        journal = session.scalar(select(func.count()).select_from(JournalEntry))
        corrections = session.scalar(text("SELECT count(*) FROM corrections"))
    return rows, journal, corrections


def test_assign_confirms_an_open_transfer_and_records_who_and_why(ledger: Ledger) -> None:
    transfer_id = unknown_row(ledger)
    settled = ledger.assign(
        transfer_id,
        "987654321",
        operator="alice",
        reason="two look-alike transfers; the earlier one is ours (ticket 4411)",
        note="checked against paper's transfer history",
    )
    assert (settled.status, settled.exchange_id, settled.attempts) == (
        TransferStatus.CONFIRMED,
        "987654321",
        2,
    )
    assert settled.error is None  # the correction says what became of it now
    assert ledger.get_transfer(transfer_id) == settled
    ((correction,),) = corrections_of(ledger, [transfer_id]).values()
    assert (correction.operator, correction.action, correction.exchange_id) == (
        "alice",
        "assign",
        "987654321",
    )
    assert correction.reason.startswith("two look-alike transfers")
    assert (correction.previous_status, correction.new_status) == ("unknown", "confirmed")
    assert correction.note == "checked against paper's transfer history"
    with Session(ledger.engine) as session:
        attempt = session.execute(
            select(TransferAttempt).where(TransferAttempt.number == 2)
        ).scalar_one()
        entities = session.execute(select(JournalEntry.entity).order_by(JournalEntry.seq)).all()
    assert (attempt.outcome, attempt.exchange_id, attempt.amount) == (
        "assigned",
        "987654321",
        D("3000"),
    )
    # intent, lost answer, then the three writes of the assignment, all in the chain
    assert [e for (e,) in entities][-3:] == ["attempt", "transfer", "correction"]
    report = verify_ledger(ledger)
    assert report.ok, report.problems


def test_a_pending_transfer_may_be_assigned_too(ledger: Ledger) -> None:
    run = ledger.start_run("rebalance", dry_run=False, config_digest="x")
    intent = ledger.record_intent(run, TOP_UP, amount=D("12.5"), inputs={})
    settled = ledger.assign(intent.id, "5", operator="bob", reason="crashed after sending")
    assert settled.status is TransferStatus.CONFIRMED and settled.attempts == 1
    ((correction,),) = corrections_of(ledger, [intent.id]).values()
    assert (correction.previous_status, correction.note) == ("pending", None)
    assert verify_ledger(ledger).ok


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("confirmed", "transfer {id}: is confirmed, not pending or unknown"),
        ("held", "transfer {id}: venue paper's transfer 7 is already held by transfer {other}"),
        ("missing", "transfer 999: no such transfer in the ledger (see bot ledger list)"),
        ("dry_run", "transfer {id}: is a dry run, so nothing was sent"),
        ("no_reason", "transfer {id}: a correction needs a reason"),
        ("no_operator", "transfer {id}: the operator is empty"),
    ],
)
def test_refusals_name_the_problem_and_change_nothing(
    ledger: Ledger, case: str, expected: str
) -> None:
    transfer_id = unknown_row(ledger)
    other = unknown_row(ledger, D("25"))
    ledger.record_outcome(other, TransferStatus.CONFIRMED, exchange_id="7")
    if case == "confirmed":
        ledger.record_outcome(transfer_id, TransferStatus.CONFIRMED, exchange_id="8")
    if case == "dry_run":
        run = ledger.start_run("rebalance", dry_run=True, config_digest="x")
        transfer_id = ledger.record_intent(run, TOP_UP, amount=D(1), inputs={}, dry_run=True).id
    target = 999 if case == "missing" else transfer_id
    before = picture(ledger)
    with pytest.raises(CorrectionRefused) as refused:
        ledger.assign(
            target,
            "7" if case == "held" else "9",
            operator="" if case == "no_operator" else "alice",
            reason=" " if case == "no_reason" else "because",
        )
    message = str(refused.value)
    assert message.startswith(expected.format(id=transfer_id, other=other)), message
    assert "\n" not in message and refused.value.exit_code == 2
    assert picture(ledger) == before
    assert verify_ledger(ledger).ok


def test_corrections_are_never_updated_or_deleted(ledger: Ledger) -> None:
    transfer_id = unknown_row(ledger)
    ledger.assign(transfer_id, "42", operator="alice", reason="ticket 4411")
    refused = pytest.raises(IntegrityError, match="corrections rows are never updated")
    with refused, ledger.engine.begin() as conn:
        conn.execute(text("UPDATE corrections SET operator = 'mallory'"))
    refused = pytest.raises(IntegrityError, match="corrections rows are never deleted")
    with refused, ledger.engine.begin() as conn:
        conn.execute(text("DELETE FROM corrections"))
    ((correction,),) = corrections_of(ledger, [transfer_id]).values()
    assert correction.operator == "alice"


def test_verify_detects_an_edited_correction(ledger: Ledger) -> None:
    transfer_id = unknown_row(ledger)
    ledger.assign(transfer_id, "42", operator="alice", reason="ticket 4411")
    on_table = " ON corrections" if ledger.engine.dialect.name == "postgresql" else ""
    with ledger.engine.begin() as conn:
        conn.exec_driver_sql(f"DROP TRIGGER corrections_no_update{on_table}")
        conn.execute(text("UPDATE corrections SET operator = 'mallory'"))
    report = verify_ledger(ledger)
    assert report.problems == ("correction 1: differs from its journal entry",)


def test_upgrading_a_0003_ledger_keeps_its_rows_and_verifies(ledger_url: str) -> None:
    engine = db.create_ledger_engine(ledger_url)
    db.upgrade(engine, "0003")
    with engine.begin() as conn:  # today's model writes journal.chain (0006): for the writes
        conn.execute(text("ALTER TABLE journal ADD COLUMN chain VARCHAR(16)"))
        TransferTotal.__table__.create(conn)
    old = Ledger(engine)
    open_id = unknown_row(old)
    done = unknown_row(old, D("25"))
    old.record_outcome(done, TransferStatus.CONFIRMED, exchange_id="7")
    before = list_transfers(old, TransferFilter())
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE journal DROP COLUMN chain"))
        TransferTotal.__table__.drop(conn)

    db.upgrade(engine)

    assert db.current_revision(engine) == db.head_revision()
    ledger = Ledger(engine)
    assert list_transfers(ledger, TransferFilter()) == before
    assert verify_ledger(ledger).ok
    ledger.assign(open_id, "8", operator="alice", reason="ticket 4411")
    assert verify_ledger(ledger).ok
    with pytest.raises(IntegrityError, match="never deleted"), engine.begin() as conn:
        conn.execute(text("DELETE FROM corrections"))
    engine.dispose()


def test_downgrading_0004_removes_only_the_corrections(ledger_url: str) -> None:
    engine = db.create_ledger_engine(ledger_url)
    db.upgrade(engine)
    ledger = Ledger(engine)
    transfer_id = unknown_row(ledger)
    db.downgrade(engine, "0003")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT status FROM transfers")).scalar() == "unknown"
    db.upgrade(engine)
    assert ledger.get_transfer(transfer_id).status is TransferStatus.UNKNOWN
    engine.dispose()


async def test_the_use_case_settles_a_crashed_transfer_on_either_backend(
    paper: PaperExchange, config: Config
) -> None:
    """A crash right after the venue applied it leaves the row pending; the operator names the
    venue transfer, which is checked against the paper exchange's history through ccxt."""
    ledger = Ledger.open(config.ledger_url)
    failpoints.arm(failpoints.AFTER_RESPONSE)
    with pytest.raises(failpoints.SimulatedCrash):
        await rebalance(config, ledger, dry_run=False)
    (row,) = list_transfers(ledger, TransferFilter())
    assert row.status is TransferStatus.PENDING
    (sent,) = paper.state.transfers
    done = await assign(
        config, ledger, row.id, str(sent.tran_id), operator="alice", reason="crash, ticket 7"
    )
    assert done.checked and done.transfer.status is TransferStatus.CONFIRMED
    assert done.transfer.exchange_id == str(sent.tran_id)
    # 3000 less intent 1's tag
    assert done.note.startswith("checked against binance's transfer history: 2999.99999999 USDT")
    with pytest.raises(CorrectionRefused, match="is confirmed, not pending or unknown"):
        await assign(config, ledger, row.id, str(sent.tran_id), operator="a", reason="again")
    again = await rebalance(config, ledger, dry_run=False)
    assert again.reconciled.resolved == [] and again.transfers == []
    assert len(paper.state.transfers) == 1
    assert verify_ledger(ledger).ok
    ledger.close()
