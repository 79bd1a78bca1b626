"""One transfer's ledger writes, counted (issue 25): the intent committed on its own (invariant
1: before the send), then the attempt and its confirmed outcome in one commit; at most five
statements in all besides transaction control, on either backend. A count, never a time."""

from __future__ import annotations

from bench.ledger_cost import STATEMENTS_LIMIT, Counter, one_transfer
from bot.audit.verify import verify_ledger
from bot.ledger import Ledger
from bot.ledger.queries import TransferFilter, list_transfers
from bot.model import TransferStatus
from tests.ledger.items import TOP_UP

KEY = b"k" * 32


def test_one_transfers_writes_are_at_most_five_statements(ledger_url: str) -> None:
    ledger = Ledger.open(ledger_url, key=KEY)
    try:
        counter = Counter(ledger.engine)
        run_id = ledger.start_run("rebalance", dry_run=False, config_digest="d")
        one_transfer(ledger, run_id, 0)  # the first append reads the head
        with counter.on():
            one_transfer(ledger, run_id, 1)
        assert counter.count <= STATEMENTS_LIMIT, counter.sent
        assert [s for s in counter.sent if s.startswith("SELECT")] == []  # no read at all
        transfers = list_transfers(ledger, TransferFilter())
        [transfer] = [t for t in transfers if t.exchange_id == str(10**12 + 1)]
        assert (transfer.status, transfer.attempts) == (TransferStatus.CONFIRMED, 1)
        report = verify_ledger(ledger)
        assert report.ok, report.problems
    finally:
        ledger.close()


def test_the_intent_is_committed_before_the_attempt_is_written(ledger_url: str) -> None:
    """Invariant 1: the intent's own transaction ends before the send; a second ledger (another
    process) sees it pending."""
    ledger = Ledger.open(ledger_url, key=KEY)
    other = Ledger.open(ledger_url, key=KEY)
    try:
        run_id = ledger.start_run("rebalance", dry_run=False, config_digest="d")
        intent = ledger.record_intent(run_id, TOP_UP, amount=TOP_UP.amount, inputs={})
        assert other.get_transfer(intent.id).status is TransferStatus.PENDING
    finally:
        ledger.close()
        other.close()
