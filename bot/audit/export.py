"""`bot ledger export`: every matching transfer, streamed to CSV or JSON Lines.

Rows are written as they are read (keyset pages), so memory stays flat on a million rows.
Decimals are written exactly as stored (plain text, never a float), so a CSV read back with
`Decimal(text)` gives the same numbers. CSV starts with its header row; JSON Lines have no
header line (every line is one transfer, so `jq` reads each as it comes), each carrying
`"schema"`, the version of these columns (docs/cli-json.md).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TextIO

from bot.ledger.queries import TransferFilter, direction_of, iter_transfer_rows
from bot.ledger.store import Ledger
from bot.money import plain

#: the version of the exported columns, carried by every JSON Lines row
SCHEMA = 1

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


TIME_COLUMNS = frozenset({"created_at", "updated_at"})


def export_values(row: Any) -> list[Any]:
    """One transfer row as export values (None: empty), in COLUMNS order. Money is the text
    the database holds (SQLite) or the exact NUMERIC (PostgreSQL), never a float."""
    mapping = row._mapping
    values: list[Any] = []
    for name in COLUMNS:
        if name == "direction":
            values.append(direction_of(mapping["from_account"], mapping["to_account"]))
            continue
        value = mapping[name]
        if value is None or (isinstance(value, str) and name not in TIME_COLUMNS):
            values.append(value)
        elif name in TIME_COLUMNS:
            values.append(_iso(value))
        elif name == "dry_run":
            values.append(bool(value))
        elif isinstance(value, Decimal):
            values.append(plain(value))
        else:
            values.append(value)
    return values


def _iso(value: Any) -> str:
    """ISO 8601 UTC with a Z, from a datetime or SQLite's stored 'YYYY-MM-DD HH:MM:SS.ffffff'."""
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).isoformat().replace("+00:00", "Z")
    text = str(value).replace(" ", "T", 1)
    if text.endswith(".000000"):
        text = text[:-7]
    return text + "Z"


def export(ledger: Ledger, where: TransferFilter, fmt: str, out: TextIO) -> int:
    """Write the matching transfers to `out`; returns how many were written."""
    return write(iter_transfer_rows(ledger, where, raw=True), fmt, out)


def write(rows: Iterable[Any], fmt: str, out: TextIO) -> int:
    count = 0
    names = list(COLUMNS)
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(names)
        for values in _values(rows):
            writer.writerow([_csv_text(v) for v in values])
            count += 1
        return count
    encode = json.JSONEncoder(separators=(",", ":")).encode
    for values in _values(rows):
        out.write(encode({"schema": SCHEMA, **dict(zip(names, values, strict=True))}) + "\n")
        count += 1
    return count


def _values(rows: Iterable[Any]) -> Iterator[list[Any]]:
    for row in rows:
        yield export_values(row)


def _csv_text(value: Any) -> str:
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)
