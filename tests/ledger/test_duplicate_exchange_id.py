"""A venue transfer id that another ledger row already holds (a venue numbering its transfers
again from the start, e.g. a paper exchange whose state file was deleted): the outcome is
recorded `unknown` naming both rows, never raised, and never settled `failed` on that evidence.
On both backends, through real migrations; the cycles run against the paper exchange."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
from sqlalchemy import Connection, create_engine, select, text
from sqlalchemy.orm import Session

from bot.audit.verify import verify_ledger
from bot.config import Config
from bot.cycle.rebalance import rebalance, reconcile
from bot.ledger import Ledger, TransferRecord, transfers
from bot.ledger.queries import TransferFilter, list_transfers
from bot.ledger.tables import Transfer, TransferAttempt
from bot.model import TransferStatus, VenueTransfer
from bot.paper import PaperExchange
from bot.paper.state import default_state
from bot.transfers.reconcile import held_candidate
from bot.transfers.venue_time import Bounds
from tests.ledger.items import TOP_UP
from tests.records import transfer_record
from tests.waiting import DEADLINE

TRAN_ID = "100000001"  # a venue whose ids repeat after a fresh start (as the paper's once did)


def fresh_account(paper: PaperExchange) -> None:
    """A fresh paper account numbering its transfers from TRAN_ID again."""
    paper.store.commit(dataclasses.replace(default_state(), next_tran_id=int(TRAN_ID)))


def held_message(venue: str, exchange_id: str, transfer_id: int, holder_id: int) -> str:
    return (
        f"venue {venue} answered transfer id {exchange_id} for transfer {transfer_id}, which "
        f"transfer {holder_id} already holds; left unknown for reconciliation or an operator"
    )


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
    holder = ledger.record_intent(run, TOP_UP, amount=D(3000), inputs={})
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
    ledger.record_intent(run, TOP_UP, amount=D(5), status=TransferStatus.SKIPPED, inputs={})
    intent = ledger.record_intent(run, TOP_UP, amount=D(3000), inputs={})
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
    assert verify_ledger(ledger).ok


def test_a_claim_between_the_check_and_the_write_is_caught(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The query before the write misses a claim made right after it (another process): the
    unique constraint refuses the write, and the same transaction records unknown instead."""
    run = ledger.start_run("rebalance", dry_run=False, config_digest="x")
    holder = confirmed_holder(ledger, run)
    intent = ledger.record_intent(run, TOP_UP, amount=D(3000), inputs={})
    before = rows(ledger, without=intent.id)
    looked_up: list[str] = []
    real_lookup = transfers._holder_of

    def claimed_after_the_check(session: Session, row: Transfer, exchange_id: str) -> int | None:
        looked_up.append(exchange_id)
        return None if len(looked_up) == 1 else real_lookup(session, row, exchange_id)

    monkeypatch.setattr(transfers, "_holder_of", claimed_after_the_check)
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
    assert verify_ledger(ledger).ok


def test_a_concurrent_claim_on_postgresql_is_caught(ledger: Ledger, ledger_url: str) -> None:
    """A real race: another session claims the id, uncommitted, after our check; our write waits
    on the unique index, fails when that session commits, and is recorded unknown."""
    if ledger.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only: SQLite writers are serialized by BEGIN IMMEDIATE")
    run = ledger.start_run("rebalance", dry_run=False, config_digest="x")
    first = ledger.record_intent(run, TOP_UP, amount=D(3000), inputs={})
    second = ledger.record_intent(run, TOP_UP, amount=D(3000), inputs={})
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
                left = pending.result(timeout=DEADLINE)
    finally:
        other.dispose()
    assert (left.status, left.exchange_id) == (TransferStatus.UNKNOWN, None)
    assert left.error == held_message("paper", TRAN_ID, second.id, first.id)


def _wait_for_a_lock_wait(watcher: Connection, done: Callable[[], bool]) -> None:
    """Return once some session of the database waits on a lock (ours, on the claim)."""
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline and not done():
        waiting = watcher.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        ).scalar()
        if waiting:
            return
        time.sleep(0.02)
    raise AssertionError("the ledger's write never waited on the other session's claim")


# whole cycles against the paper exchange --------------------------------------------------


async def test_a_fresh_paper_exchange_reusing_a_tran_id_is_never_a_crash(
    paper: PaperExchange, config: Config
) -> None:
    ledger = Ledger.open(config.ledger_url)
    fresh_account(paper)
    (first,) = (await rebalance(config, ledger, dry_run=False)).transfers
    assert (first.status, first.exchange_id) == (TransferStatus.CONFIRMED, TRAN_ID)
    # the account starts over: the same plan, the same first tranId
    fresh_account(paper)
    before = rows(ledger)

    again = await rebalance(config, ledger, dry_run=False)

    (second,) = again.transfers
    message = held_message("binance", TRAN_ID, second.id, first.id)
    assert (second.status, second.exchange_id) == (TransferStatus.UNKNOWN, None)
    assert second.error == message
    assert again.failed  # the run says so (exit code 1), and the money did move:
    assert [str(t.tran_id) for t in paper.state.transfers] == [TRAN_ID]
    assert attempts(ledger, second.id) == [("confirmed", TRAN_ID, message)]
    assert rows(ledger, without=second.id) == before

    # the next run finds that transfer in the history, held by the first row: blocked, not
    # failed (the settle window is 0 s), and nothing is sent
    after_second = rows(ledger)
    third = await rebalance(config, ledger, dry_run=False)
    assert third.reconciled.resolved == []
    assert [r.id for r in third.reconciled.still_open] == [second.id]
    assert third.reconciled.errors == [message]
    assert third.transfers == []
    assert len(paper.state.transfers) == 1
    assert rows(ledger) == after_second  # nothing written: the row already says why
    assert verify_ledger(ledger).ok
    ledger.close()


async def test_a_lost_answer_whose_only_match_is_held_elsewhere_stays_unknown(
    paper: PaperExchange, config: Config
) -> None:
    ledger = Ledger.open(config.ledger_url)
    fresh_account(paper)
    (first,) = (await rebalance(config, ledger, dry_run=False)).transfers
    fresh_account(paper)
    paper.faults.add("reset_after")  # applied, then the connection drops: the answer is lost
    (second,) = (await rebalance(config, ledger, dry_run=False)).transfers
    assert (second.status, second.exchange_id) == (TransferStatus.UNKNOWN, None)
    before = rows(ledger, without=second.id)

    report = await reconcile(config, ledger)

    message = held_message("binance", TRAN_ID, second.id, first.id)
    (left,) = report.still_open
    assert (left.id, left.status, left.exchange_id) == (second.id, TransferStatus.UNKNOWN, None)
    assert left.error == message and report.errors == [message] and report.resolved == []
    assert attempts(ledger, second.id)[-1] == ("reconciled:unknown", None, message)
    assert rows(ledger, without=second.id) == before
    # idempotent: a second reconciliation reports it again and writes nothing
    settled = rows(ledger)
    again = await reconcile(config, ledger)
    assert [r.id for r in again.still_open] == [second.id] and again.errors == [message]
    assert rows(ledger) == settled
    assert len(paper.state.transfers) == 1
    assert verify_ledger(ledger).ok
    ledger.close()


# the pure matching ------------------------------------------------------------------------

AT = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=2)


def _intent(transfer_id: int = 5) -> TransferRecord:
    return transfer_record(id=transfer_id)


def _entry(exchange_id: str, amount: str = "3000") -> VenueTransfer:
    return VenueTransfer(
        exchange_id=exchange_id,
        client_id=None,
        asset="USDT",
        amount=D(amount),
        from_account="spot",
        to_account="linear",
        at=AT + timedelta(seconds=1),
    )


@pytest.mark.parametrize(
    ("history", "holders", "expected"),
    [
        ([_entry("1")], {"1": 3}, ("1", 3)),  # the only match is held: blocked
        ([_entry("1"), _entry("2")], {"1": 3}, None),  # an unheld match settles it
        ([_entry("1")], {}, None),  # unheld: an ordinary match
        ([_entry("1", "2999")], {"1": 3}, None),  # held, but not this transfer anyway
        ([], {"1": 3}, None),  # nothing in the history: may be settled failed
    ],
)
def test_held_candidate(
    history: list[VenueTransfer], holders: dict[str, int], expected: tuple[str, int] | None
) -> None:
    bounds = Bounds(AT, AT + WINDOW)
    found = held_candidate(_intent(), history, holders, bounds)
    assert (None if found is None else (found[0].exchange_id, found[1])) == expected
