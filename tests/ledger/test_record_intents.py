"""`Ledger.record_intents`: a cycle's first intents, one per venue, committed together before
any send; untagged lines go in as one statement and must come back in the order given, each
journaled, so the executor pairs every row with its own line."""

from __future__ import annotations

from decimal import Decimal as D

from bot.audit.verify import verify_ledger
from bot.ledger import Ledger
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
