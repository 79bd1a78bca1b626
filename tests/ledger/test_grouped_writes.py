"""`Ledger.record_intents`: a cycle's first intents, one per venue, committed together before
any send; untagged lines go in as one executemany and must come back in the order given, each
journaled, so the executor pairs every row with its own line. `Ledger.record_attempts`: the
outcomes that came in together, one commit (the group commit of `bot.transfers.group_commit`),
or each on its own when one needs the careful way."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

from bot.audit.verify import verify_ledger
from bot.ledger import Ledger
from bot.ledger.store import AttemptWrite
from bot.model import PlannedTransfer, Rule, TransferStatus


def _line(venue: str, amount: str) -> PlannedTransfer:
    return PlannedTransfer(
        venue=venue,
        hedges=(f"eth-{venue}",),
        asset="USDT",
        from_account="spot",
        to_account="linear",
        amount=D(amount),
        rule=Rule.TOP_UP,
        reason="margin ratio below band",
        figures={"equity": D("4500")},
    )


def test_several_intents_are_committed_in_order_and_journaled(ledger: Ledger) -> None:
    run_id = ledger.start_run("rebalance", dry_run=False, config_digest="0" * 64)
    lines = [_line(f"v{i:02d}", f"{1000 + i}.5") for i in (7, 1, 4, 0, 9)]
    drafts = [(line, line.amount - 1, {"transferable": D("9000")}, None) for line in lines]

    records = ledger.record_intents(run_id, drafts)

    assert [(r.venue, r.amount) for r in records] == [(x.venue, x.amount - 1) for x in lines]
    assert [r.id for r in records] == sorted(r.id for r in records)
    assert {r.status for r in records} == {TransferStatus.PENDING}
    assert len({r.client_id for r in records}) == len(lines)
    assert verify_ledger(ledger).ok  # every row journaled as written


def test_a_tagged_intent_among_several_is_committed_tagged(ledger: Ledger) -> None:
    run_id = ledger.start_run("rebalance", dry_run=False, config_digest="0" * 64)
    plain, tagged = _line("a", "100"), _line("b", "200")

    records = ledger.record_intents(
        run_id,
        [(plain, D("100"), {}, None), (tagged, D("200"), {}, lambda row_id: D("0.01"))],
    )

    assert [(r.venue, r.amount) for r in records] == [("a", D("100")), ("b", D("199.99"))]
    assert verify_ledger(ledger).ok


def _confirmed(transfer_id: int, exchange_id: str) -> AttemptWrite:
    return AttemptWrite(
        transfer_id=transfer_id,
        amount=D("99"),
        outcome="confirmed",
        started_at=datetime.now(UTC),
        status=TransferStatus.CONFIRMED,
        exchange_id=exchange_id,
        venue_clock_offset_ms=2,
        inputs={"transferable": D("500")},
    )


def test_outcomes_of_a_moment_are_committed_together(ledger: Ledger) -> None:
    run_id = ledger.start_run("rebalance", dry_run=False, config_digest="0" * 64)
    lines = [_line(f"v{i}", "99") for i in range(3)]
    intents = ledger.record_intents(run_id, [(x, x.amount, {}, None) for x in lines])

    records = ledger.record_attempts([_confirmed(r.id, f"t{r.id}") for r in intents])

    assert [(r.id, r.status, r.exchange_id, r.attempts) for r in records] == [
        (r.id, TransferStatus.CONFIRMED, f"t{r.id}", 1) for r in intents
    ]
    assert verify_ledger(ledger).ok


def test_a_group_with_an_exchange_id_another_row_holds_is_recorded_one_by_one(
    ledger: Ledger,
) -> None:
    """The held id leaves its row unknown (naming the holder); the others are confirmed."""
    run_id = ledger.start_run("rebalance", dry_run=False, config_digest="0" * 64)
    earlier = ledger.record_intent(run_id, _line("v0", "5"), amount=D("5"), inputs={})
    ledger.record_attempts([_confirmed(earlier.id, "t-1")])  # a group of one
    lines = [_line("v0", "99"), _line("v1", "99")]
    first, second = ledger.record_intents(run_id, [(x, x.amount, {}, None) for x in lines])

    records = ledger.record_attempts([_confirmed(first.id, "t-1"), _confirmed(second.id, "t-2")])

    assert [r.status for r in records] == [TransferStatus.UNKNOWN, TransferStatus.CONFIRMED]
    assert f"transfer {earlier.id}" in (records[0].error or "")
    assert verify_ledger(ledger).ok
