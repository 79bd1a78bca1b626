"""The journal head kept in memory per Ledger: an append is one statement, and two writers of
one ledger (`bot run` and a `bot ledger` command, alerts, a reconcile) still make one chain:
a writer whose remembered head is stale inserts nothing, reads the head again and appends
after it, in the same transaction."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from decimal import Decimal as D

from sqlalchemy import event, select

from bot.audit.verify import verify_ledger
from bot.ledger import Ledger
from bot.ledger.tables import JournalEntry
from bot.model import TransferStatus
from tests.ledger.items import TOP_UP

KEY = b"k" * 32


def confirm(ledger: Ledger, run_id: int, exchange_id: str) -> None:
    intent = ledger.record_intent(run_id, TOP_UP, amount=D("3000"), inputs={})
    ledger.record_attempt(
        intent.id,
        amount=D("3000"),
        outcome="confirmed",
        started_at=datetime.now(UTC),
        status=TransferStatus.CONFIRMED,
        exchange_id=exchange_id,
    )


def seqs(ledger: Ledger) -> list[int]:
    with ledger.engine.connect() as connection:
        return list(connection.scalars(select(JournalEntry.seq).order_by(JournalEntry.seq)))


def test_two_writers_taking_turns_make_one_chain(ledger_url: str) -> None:
    first = Ledger.open(ledger_url, key=KEY)
    second = Ledger.open(ledger_url, key=KEY)
    try:
        run_id = first.start_run("rebalance", dry_run=False, config_digest="d")
        for turn in range(4):  # each append finds the head the other moved
            confirm(first, run_id, f"a{turn}")
            confirm(second, run_id, f"b{turn}")
            second.finish_run(second.start_run("reconcile", dry_run=False, config_digest="d"), "ok")
        found = seqs(first)
        assert found == list(range(1, len(found) + 1))
        report = verify_ledger(first)
        assert report.ok, report.problems
    finally:
        first.close()
        second.close()


def test_a_writer_whose_head_is_stale_costs_one_more_read_not_an_error(ledger_url: str) -> None:
    first = Ledger.open(ledger_url, key=KEY)
    second = Ledger.open(ledger_url, key=KEY)
    try:
        run_id = first.start_run("rebalance", dry_run=False, config_digest="d")
        confirm(first, run_id, "a")  # first knows the head
        confirm(second, run_id, "b")  # ...which second moves
        sent: list[str] = []
        event.listen(first.engine, "before_cursor_execute", lambda *a: sent.append(a[2]))
        confirm(first, run_id, "c")
        appends = [s for s in sent if "INSERT INTO journal" in s]
        assert len(appends) == 3  # intent; attempt + outcome tried at the stale head, again
        assert verify_ledger(first).ok
    finally:
        first.close()
        second.close()


def test_writers_at_the_same_moment_make_one_chain(ledger_url: str) -> None:
    ledgers = [Ledger.open(ledger_url, key=KEY) for _ in range(3)]
    run_id = ledgers[0].start_run("rebalance", dry_run=False, config_digest="d")
    errors: list[BaseException] = []
    start = threading.Barrier(len(ledgers))

    def write(index: int, ledger: Ledger) -> None:
        try:
            start.wait()
            for turn in range(5):
                confirm(ledger, run_id, f"{index}-{turn}")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=item) for item in enumerate(ledgers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert errors == []
        found = seqs(ledgers[0])
        assert found == list(range(1, len(found) + 1))
        report = verify_ledger(ledgers[0])
        assert report.ok, report.problems
    finally:
        for ledger in ledgers:
            ledger.close()
