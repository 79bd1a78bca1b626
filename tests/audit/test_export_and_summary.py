"""Export streams exact decimals that re-import to the same numbers; summary counts and sums
exactly (SQLite's split integer sums and PostgreSQL's NUMERIC), with funding income."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from decimal import Decimal as D

from bot.audit import export
from bot.audit.summary import GroupBy, summarize
from bot.audit.verify import verify_ledger
from bot.ledger import Ledger
from bot.ledger.queries import Direction, TransferFilter, list_transfers
from bot.ledger.store import FundingPaymentRecord
from bot.model import PlannedTransfer, Rule, TransferStatus
from tests.audit.tampering import NOW

AMOUNTS = [D("2999.99999999"), D("0.000000000000000001"), D("12345678901234.5"), D("7")]


def moves(ledger: Ledger) -> None:
    """Confirmed top-ups of AMOUNTS, one return, a failed and an unknown transfer."""
    run = ledger.start_run("rebalance", dry_run=False, config_digest="x")
    for n, amount in enumerate(AMOUNTS):
        item = PlannedTransfer(
            venue="paper",
            hedges=("eth",),
            asset="USDT",
            from_account="spot",
            to_account="linear",
            amount=amount,
            rule=Rule.TOP_UP,
            reason="below band",
            figures={},
        )
        row = ledger.record_intent(run, item, amount=amount, inputs={})
        ledger.record_outcome(row.id, TransferStatus.CONFIRMED, exchange_id=f"t{n}")
    # the running totals hold these; the rest is not folded yet: summaries add it up
    ledger.finish_run(run, "ok")
    back = PlannedTransfer(
        venue="paper",
        hedges=("eth", "btc"),
        asset="USDT",
        from_account="linear",
        to_account="spot",
        amount=D("1000.5"),
        rule=Rule.RETURN_EXCESS,
        reason="above band",
        figures={},
    )
    row = ledger.record_intent(run, back, amount=D("1000.5"), inputs={})
    ledger.record_outcome(row.id, TransferStatus.CONFIRMED, exchange_id="r1")
    failed = ledger.record_intent(run, back, amount=D("5"), inputs={})
    ledger.record_outcome(failed.id, TransferStatus.FAILED, error="refused")
    ledger.record_intent(run, back, amount=D("6"), inputs={}, status=TransferStatus.UNKNOWN)
    ledger.record_funding_payments(
        [
            FundingPaymentRecord(
                venue="paper",
                hedge="eth",
                symbol="ETH/USDT:USDT",
                asset="USDT",
                amount=amount,
                at=NOW + timedelta(hours=8 * n),
                exchange_id=str(n),
            )
            for n, amount in enumerate([D("1.5"), D("-0.25"), D("0.00000001")])
        ]
    )


def test_csv_export_reimports_to_the_same_decimals(ledger: Ledger) -> None:
    moves(ledger)
    buffer = io.StringIO()
    count = export.export(ledger, TransferFilter(), "csv", buffer)
    buffer.seek(0)
    rows = list(csv.DictReader(buffer))
    assert count == len(rows) == 7
    assert list(rows[0]) == list(export.COLUMNS)  # the header row names every column
    records = {r.id: r for r in list_transfers(ledger, TransferFilter())}
    for row in rows:
        record = records[int(row["id"])]
        assert D(row["amount"]) == record.amount
        assert D(row["planned_amount"]) == record.planned_amount
        assert row["status"] == record.status.value
    assert [D(r["amount"]) for r in rows[:4]] == AMOUNTS  # every digit, no exponent
    assert rows[4]["direction"] == "to_spot" and rows[0]["direction"] == "to_futures"


def test_jsonl_export_is_one_transfer_per_line_without_a_header(ledger: Ledger) -> None:
    moves(ledger)
    buffer = io.StringIO()
    where = TransferFilter(direction=Direction.TO_SPOT, status=TransferStatus.CONFIRMED)
    assert export.export(ledger, where, "jsonl", buffer) == 1
    (line,) = (json.loads(text) for text in buffer.getvalue().splitlines())
    assert list(line) == ["schema", *export.COLUMNS]  # no {"columns": ...} line: jq-ready
    assert line["schema"] == export.SCHEMA
    assert (line["amount"], line["hedges"], line["exchange_id"]) == ("1000.5", "eth,btc", "r1")


def test_export_pages_through_more_rows_than_a_page(ledger: Ledger, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from bot.ledger import queries

    monkeypatch.setattr(queries, "PAGE", 2)
    moves(ledger)
    buffer = io.StringIO()
    assert export.export(ledger, TransferFilter(hedge="btc"), "jsonl", buffer) == 3
    ids = [json.loads(t)["id"] for t in buffer.getvalue().splitlines()]
    assert ids == sorted(ids) and len(set(ids)) == 3
    limited = io.StringIO()
    assert export.export(ledger, TransferFilter(limit=3), "jsonl", limited) == 3


def test_summary_counts_and_sums_exactly(ledger: Ledger) -> None:
    moves(ledger)
    (venue,) = summarize(ledger, GroupBy.VENUE, TransferFilter())
    assert venue.key == "paper"
    assert venue.statuses == {"confirmed": 5, "failed": 1, "unknown": 1}
    flows = venue.assets["USDT"]
    assert flows.to_futures == sum(AMOUNTS)  # 18 decimals and 14 integer digits, exact
    assert flows.to_spot == D("1000.5")
    assert flows.net_to_futures == sum(AMOUNTS) - D("1000.5")
    assert (flows.funding_income, flows.funding_payments) == (D("1.25000001"), 3)


def test_summary_by_direction_hedge_and_day(ledger: Ledger) -> None:
    moves(ledger)
    by_direction = {g.key: g for g in summarize(ledger, GroupBy.DIRECTION, TransferFilter())}
    assert by_direction["to_futures"].transfers == 4
    assert by_direction["to_spot"].statuses == {"confirmed": 1, "failed": 1, "unknown": 1}
    by_hedge = {g.key: g for g in summarize(ledger, GroupBy.HEDGE, TransferFilter())}
    assert by_hedge["eth"].assets["USDT"].funding_income == D("1.25000001")
    days = summarize(ledger, GroupBy.DAY, TransferFilter())
    funding_days = {g.key: g.assets["USDT"].funding_payments for g in days if g.assets}
    # 08:00 and 16:00 on the first day; the third payment, 24:00, is the next day's
    assert {k: v for k, v in funding_days.items() if v} == {"2026-12-01": 2, "2026-12-02": 1}


def test_summary_falls_back_to_python_for_more_than_18_decimals(ledger: Ledger) -> None:
    run = ledger.start_run("rebalance", dry_run=False, config_digest="x")
    tiny = D("0.0000000000000000000123")
    item = PlannedTransfer(
        venue="paper",
        hedges=("eth",),
        asset="BTC",
        from_account="spot",
        to_account="inverse",
        amount=tiny,
        rule=Rule.TOP_UP,
        reason="r",
        figures={},
    )
    for n in range(2):
        row = ledger.record_intent(run, item, amount=tiny, inputs={})
        ledger.record_outcome(row.id, TransferStatus.CONFIRMED, exchange_id=f"b{n}")
    (group,) = summarize(ledger, GroupBy.ASSET, TransferFilter())
    assert group.assets["BTC"].to_futures == 2 * tiny


def test_summary_reads_whole_days_from_the_totals_and_the_edges_from_the_rows(
    ledger: Ledger,
) -> None:
    from datetime import UTC, datetime

    moves(ledger)
    now = datetime.now(UTC)
    everything = summarize(ledger, GroupBy.VENUE, TransferFilter())
    since_an_hour = summarize(ledger, GroupBy.VENUE, TransferFilter(since=now - timedelta(hours=1)))
    # all written just now: a partial day, scanned, gives what the totals give
    assert [g.statuses for g in since_an_hour] == [g.statuses for g in everything]
    assert since_an_hour[0].assets["USDT"].to_futures == everything[0].assets["USDT"].to_futures
    later = summarize(ledger, GroupBy.VENUE, TransferFilter(since=now + timedelta(days=2)))
    assert all(not g.statuses for g in later)


def test_verify_checks_the_running_totals(ledger: Ledger) -> None:
    from sqlalchemy import text

    moves(ledger)
    assert verify_ledger(ledger).ok
    with ledger.engine.begin() as conn:
        conn.execute(text("UPDATE transfer_totals SET transfers = transfers + 1"))
    problems = verify_ledger(ledger).problems
    assert problems and all(p.startswith("transfer_totals: ") for p in problems)
