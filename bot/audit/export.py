"""`bot ledger export`: every matching transfer, streamed to CSV or JSON Lines.

Rows are written as they are read (keyset pages), so memory stays flat on a million rows.
Decimals are written exactly as stored (plain text, never a float), so a CSV read back with
`Decimal(text)` gives the same numbers. The first line describes the columns: the CSV header,
or in JSON Lines a `{"columns": [...]}` object.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any, TextIO

from bot.ledger.queries import TransferFilter, direction_of, iter_transfer_rows
from bot.ledger.store import Ledger
from bot.money import plain

#: the exported columns, with what each holds (also in docs/ledger.md)
COLUMNS: dict[str, str] = {
    "id": "ledger transfer id",
    "run_id": "the run that planned it",
    "created_at": "intent committed (ISO 8601, UTC)",
    "updated_at": "last status change (ISO 8601, UTC)",
    "venue": "venue name from config",
    "hedges": "hedges it serves, comma-separated",
    "asset": "currency moved",
    "from_account": "source wallet",
    "to_account": "destination wallet",
    "direction": "to_futures, to_spot or other",
    "rule": "policy rule that fired",
    "planned_amount": "what the policy asked for (exact decimal)",
    "amount": "what was sized and sent, after the tag (exact decimal; empty: nothing sized)",
    "amount_tag": "subtracted to make it identifiable (exact decimal; empty: untagged)",
    "status": "pending, unknown, confirmed, failed, skipped, dry_run, manual",
    "exchange_id": "the venue's transfer id",
    "client_id": "the id the bot gave the venue",
    "attempts": "calls made (and reconciliation notes)",
    "error": "the last error",
    "reason": "why the policy planned it",
    "dry_run": "true for a dry run",
    "replaces_id": "the transfer this one shrank after an insufficient balance",
    "figures": "the policy's numbers (JSON)",
    "inputs": "the fresh read behind the sizing (JSON)",
}
FORMATS = ("csv", "jsonl")


def export_values(row: Any) -> dict[str, Any]:
    """One transfer row as export values: text for CSV, the same text in JSON."""
    values: dict[str, Any] = {}
    mapping = row._mapping
    for name in COLUMNS:
        if name == "direction":
            values[name] = direction_of(mapping["from_account"], mapping["to_account"])
            continue
        values[name] = _text(mapping[name])
    return values


def _text(value: Any) -> Any:
    if isinstance(value, Decimal):
        return plain(value)
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return value


def export(ledger: Ledger, where: TransferFilter, fmt: str, out: TextIO) -> int:
    """Write the matching transfers to `out`; returns how many were written."""
    return write(iter_transfer_rows(ledger, where), fmt, out)


def write(rows: Iterable[Any], fmt: str, out: TextIO) -> int:
    count = 0
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=list(COLUMNS), lineterminator="\n")
        writer.writeheader()
        for values in _values(rows):
            writer.writerow({k: "" if v is None else _csv_text(v) for k, v in values.items()})
            count += 1
        return count
    out.write(
        json.dumps({"columns": [{"name": k, "meaning": v} for k, v in COLUMNS.items()]}) + "\n"
    )
    for values in _values(rows):
        out.write(json.dumps(values, separators=(",", ":")) + "\n")
        count += 1
    return count


def _values(rows: Iterable[Any]) -> Iterator[dict[str, Any]]:
    for row in rows:
        yield export_values(row)


def _csv_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
