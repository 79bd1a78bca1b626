"""Chain verification (`bot ledger verify`): walk the journal's hash chain, then compare every
journaled row with its newest entry. Both are streamed in keyset pages (constant memory; a
writer is never kept waiting for long).

It reads the chain and the rows only: derived data (the running totals) is checked beside it
by the verify use case (`bot.audit.verify.verify_ledger`), never from here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Boolean, Connection, literal_column, select

from bot.ledger.journal import (
    ENTITIES,
    GENESIS_HASH,
    KEYED,
    LATER_COLUMNS,
    START,
    body_of,
    chain_hash,
    key_id,
    start_body,
)
from bot.ledger.pages import pages
from bot.ledger.tables import Base, JournalEntry
from bot.ledger.types import UtcDateTime

MAX_PROBLEMS = 20


@dataclass
class VerifyReport:
    """What verify found: counts, the chain's mode, and the problems (first one first)."""

    entries: int = 0
    rows: int = 0
    keyed_entries: int = 0
    unkeyed_entries: int = 0
    legacy_entries: int = 0
    uncovered_rows: int = 0  # rows older than the chain's coverage of their table
    key_given: bool = False
    found: list[str] = field(default_factory=list)
    more_problems: int = 0

    @property
    def problems(self) -> tuple[str, ...]:
        """The first problems found, oldest entry first (at most MAX_PROBLEMS)."""
        return tuple(self.found)

    @property
    def ok(self) -> bool:
        return not self.found

    def problem(self, text: str) -> None:
        if len(self.found) < MAX_PROBLEMS:
            self.found.append(text)
        else:
            self.more_problems += 1

    @property
    def mode(self) -> str:
        """One phrase on how far the chain can be trusted."""
        if self.keyed_entries and self.key_given:
            return "keyed (HMAC-SHA256), key checked"
        if self.keyed_entries:
            return "keyed, but the key is not set here: links checked, keyed hashes not"
        return "unkeyed (SHA-256): it detects accidental edits, not a rewrite; set the key"


@dataclass(frozen=True)
class Anchor:
    """A chain head recorded outside the database (the anchor file, or the log)."""

    seq: int
    hash: str
    source: str


def verify(
    connection: Connection, key: bytes | None = None, anchor: Anchor | None = None
) -> VerifyReport:
    """Walk the chain, then compare every journaled row with its last entry; streams both in
    pages (constant memory; a writer is never kept waiting for long)."""
    report = VerifyReport(key_given=key is not None)
    before = _walk_chain(connection, key, anchor, report)
    for entity, model in ENTITIES.items():
        _compare_rows(connection, entity, model, before.get(entity, 0), report)
    return report


def _walk_chain(
    connection: Connection, key: bytes | None, anchor: Anchor | None, report: VerifyReport
) -> dict[str, int]:
    prev, expected_seq = GENESIS_HASH, 1
    keyed_start: int | None = None
    started = False
    wrong_key = False
    mismatched = 0
    before: dict[str, int] = {}
    anchor_seen = False
    columns = select(
        JournalEntry.seq,
        JournalEntry.entity,
        JournalEntry.entity_id,
        JournalEntry.body,
        JournalEntry.prev_hash,
        JournalEntry.hash,
        JournalEntry.chain,
    )
    for entry in pages(connection, columns, JournalEntry.seq):
        report.entries += 1
        if entry.seq != expected_seq:
            report.problem(f"journal: entry {expected_seq} is missing (next is {entry.seq})")
        if entry.prev_hash != prev:
            report.problem(f"journal: entry {entry.seq} does not follow entry {entry.seq - 1}")
        chain = entry.chain
        if chain == KEYED:
            report.keyed_entries += 1
            if key is not None and (
                chain_hash(entry.prev_hash, entry.entity, entry.entity_id, entry.body, key)
                != entry.hash
            ):
                mismatched += 1  # the first is named; a wrong key fails them all
                if mismatched == 1 and not wrong_key:
                    report.problem(
                        f"journal: entry {entry.seq} does not match under this key (a wrong "
                        "key, or the entry was altered)"
                    )
        else:
            if chain is None:
                report.legacy_entries += 1
                if started:
                    report.problem(
                        f"journal: entry {entry.seq} claims the first release's format after "
                        "the chain's start: rewritten"
                    )
            else:
                report.unkeyed_entries += 1
            if keyed_start is not None:
                report.problem(
                    f"journal: entry {entry.seq} is unkeyed after the keyed chain started at "
                    f"entry {keyed_start}: rewritten without the key"
                )
            if chain_hash(entry.prev_hash, entry.entity, entry.entity_id, entry.body) != entry.hash:
                report.problem(f"journal: entry {entry.seq} was altered")
        if entry.entity == START:
            body = start_body(entry.body)
            for entity, last_unjournaled in body.get("before", {}).items():
                # the first start that names a table says where its journal begins
                before.setdefault(entity, int(last_unjournaled))
            started = True
            if chain == KEYED and keyed_start is None:
                keyed_start = entry.seq
                if key is not None and body.get("key_id") not in (None, key_id(key)):
                    wrong_key = True
                    report.problem(
                        f"journal: the ledger was keyed with key id {body.get('key_id')}, not "
                        f"this key ({key_id(key)}): set the ledger's key"
                    )
        if anchor is not None and entry.seq == anchor.seq:
            anchor_seen = True
            if entry.hash != anchor.hash:
                report.problem(
                    f"journal: entry {entry.seq} differs from the head recorded in "
                    f"{anchor.source}: the chain was rewritten"
                )
        prev, expected_seq = entry.hash, entry.seq + 1
    if mismatched > 1:
        report.problem(f"journal: {mismatched} keyed entries in all do not match under this key")
    if anchor is not None and not anchor_seen:
        report.problem(
            f"journal: the chain ends at entry {expected_seq - 1} but {anchor.source} recorded "
            f"entry {anchor.seq}: the newest entries were removed"
        )
    if key is not None and keyed_start is None and report.entries:
        report.problem(
            "journal: no entry is keyed, though the key is set: either no bot has written this "
            "ledger with the key yet (run any bot command with it), or the chain was recomputed "
            "without it"
        )
    return before


def _compare_rows(
    connection: Connection, entity: str, model: type[Base], before: int, report: VerifyReport
) -> None:
    """Merge the table's rows (by id) with the entity's entries (by entity id, seq)."""
    table = model.__table__
    id_column = table.c.id
    entries = pages(
        connection,
        select(JournalEntry.entity_id, JournalEntry.seq, JournalEntry.body).where(
            JournalEntry.entity == entity
        ),
        JournalEntry.entity_id,
        JournalEntry.seq,
    )
    last = _last_per_id(entries)
    pending = next(last, None)
    fast = connection.dialect.name == "sqlite"
    rows_query = select(*_raw_columns(table)).select_from(table) if fast else select(table)
    body_of_row = _raw_body_maker(table) if fast else (lambda row: body_of(dict(row._mapping)))
    for row in pages(connection, rows_query, id_column):
        report.rows += 1
        while pending is not None and pending[0] < row.id:
            report.problem(f"{entity} {pending[0]}: in the journal but missing from its table")
            pending = next(last, None)
        if pending is None or pending[0] != row.id:
            if row.id <= before:
                report.uncovered_rows += 1
            else:
                report.problem(f"{entity} {row.id}: not in the journal")
            continue
        body = body_of_row(row)
        # a difference is re-read with the columns' own types before it is reported (the raw
        # reading is a shortcut), and together with the newest entry (the bot may be writing)
        if body != pending[1] and not _written_since(connection, entity, model, row.id):
            report.problem(f"{entity} {row.id}: differs from its journal entry")
        pending = next(last, None)
    while pending is not None:
        report.problem(f"{entity} {pending[0]}: in the journal but missing from its table")
        pending = next(last, None)


def _raw_columns(table: Any) -> list[Any]:
    """The table's columns as SQLite stores them (no type conversion: the shortcut below)."""
    # quoted: a column may be named like an SQL keyword (margin_legs.add)
    return [literal_column(f'"{table.name}"."{c.name}"').label(c.name) for c in table.columns]


def _raw_body_maker(table: Any) -> Any:
    """A function from a raw SQLite row to the canonical body the typed row would give:
    money is stored as the canonical text already, times as 'YYYY-MM-DD HH:MM:SS.ffffff' UTC,
    booleans as 0/1. Only a shortcut: a row whose raw body differs is checked typed."""
    names = [c.name for c in table.columns]
    times = {c.name for c in table.columns if isinstance(c.type, UtcDateTime)}
    flags = {c.name for c in table.columns if isinstance(c.type, Boolean)}

    def iso(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        text = value.replace(" ", "T", 1)
        if text.endswith(".000000"):
            text = text[:-7]
        return text + "+00:00"

    def make(row: Any) -> str:
        values: dict[str, Any] = {}
        for name, value in zip(names, row, strict=True):
            if value is None:
                if name not in LATER_COLUMNS:
                    values[name] = None
            elif name in times:
                values[name] = iso(value)
            elif name in flags:
                values[name] = bool(value)
            else:
                values[name] = value
        return json.dumps(values, sort_keys=True, separators=(",", ":"))

    return make


def _written_since(connection: Connection, entity: str, model: type[Base], row_id: int) -> bool:
    """True when the row and its newest entry agree when read together: the row was written
    (and journaled) while verify was paging, which is not tampering."""
    row = connection.execute(select(model.__table__).where(model.__table__.c.id == row_id)).first()
    body = connection.scalar(
        select(JournalEntry.body)
        .where(JournalEntry.entity == entity, JournalEntry.entity_id == row_id)
        .order_by(JournalEntry.seq.desc())
        .limit(1)
    )
    return row is not None and body == body_of(dict(row._mapping))


def _last_per_id(entries: Iterator[Any]) -> Iterator[tuple[int, str]]:
    current: tuple[int, str] | None = None
    for entry in entries:
        if current is not None and entry.entity_id != current[0]:
            yield current
        current = (entry.entity_id, entry.body)
    if current is not None:
        yield current
