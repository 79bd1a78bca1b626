"""The chain over ledger writes: append in the writer's transaction, verify on demand.

Each entry stores the canonical JSON of a row as written, and
`hash = HMAC-SHA256(key, prev_hash + entity + entity_id + body)` under the key from the
environment (`ledger.hmac_key_env`), so that a rewritten body cannot be given a matching
chain without the key. Without a key the hash is plain SHA-256 (`chain = "sha256"`), which
detects accidental edits only. Entries written before revision 0006 have `chain` NULL (the
first release's SHA-256) and still verify.

Every writer that starts a chain mode (the first write after 0006, a key set or changed)
appends a `chain` entry first: its mode, the key's id, and for tables journaled only since
0006 the highest id they held then (older rows were never in the journal). A release that
journals one more table appends one more `chain` entry the same way, naming that table. Once
a keyed start exists, an unkeyed entry after it is a downgrade, and a verifier holding the key
that finds no keyed start at all says so: recomputing an unkeyed chain over edited rows is
detected.

Which tables are journaled is the registry `ENTITIES`: journaling a new table is one line
there plus `append(session, row, at)` where the row is written.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, func, select, update
from sqlalchemy.orm import Session

from bot.errors import LedgerError
from bot.ledger.tables import (
    Alert,
    AlertDelivery,
    BalanceSnapshot,
    Base,
    Correction,
    FundingPayment,
    FundingSnapshot,
    JobRun,
    JournalEntry,
    JournalHead,
    ManualInstruction,
    MarginLeg,
    MarginLegAttempt,
    MarginMove,
    NothingToMove,
    PositionSnapshot,
    Run,
    Transfer,
    TransferAttempt,
    VenueHalt,
)
from bot.money import plain

GENESIS_HASH = "0" * 64
KEYED = "hmac-sha256"
UNKEYED = "sha256"
START = "chain"  # the entity of a chain-start entry
#: where a session finds the writer's key (`Ledger` puts it in its sessions' info)
KEY_INFO = "ledger_key"

#: every journaled table, by the entity name its entries carry. verify walks them all; a ledger
#: from before a table existed has no rows and no entries of it, so it still verifies.
ENTITIES: dict[str, type[Base]] = {
    "transfer": Transfer,
    "attempt": TransferAttempt,
    "correction": Correction,
    "run": Run,
    "balance": BalanceSnapshot,
    "position": PositionSnapshot,
    "funding_rate": FundingSnapshot,
    "funding_payment": FundingPayment,
    "job_run": JobRun,
    "alert": Alert,
    "manual": ManualInstruction,  # (journal.entity is 16 characters at most)
    "margin_move": MarginMove,
    "margin_leg": MarginLeg,
    "margin_attempt": MarginLegAttempt,
    "venue_halt": VenueHalt,  # 0009
    "nothing_to_move": NothingToMove,
    "alert_delivery": AlertDelivery,  # 0010
}
#: journaled since the first release; the others only since 0006 (older rows have no entry)
FIRST_RELEASE_ENTITIES = frozenset({"transfer", "attempt", "correction"})
_ENTITY_OF = {model: entity for entity, model in ENTITIES.items()}

PAGE = 2000  # rows per read: each page is its own short statement, so no writer waits long


def canonical_json(value: Any) -> str:
    """Deterministic JSON: sorted keys, no spaces, Decimals as plain strings, times as ISO."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=_json_default)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return plain(value)
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot serialise {type(value).__name__}")


# Columns added after the first release: left out of a row's body while NULL, so that rows
# journaled before their migration still verify.
LATER_COLUMNS = frozenset(
    {
        "amount_tag",
        "venue_clock_offset_ms",
        # 0008: snapshots keep the pool figures
        "cross_balance",
        "cross_unrealized_pnl",
        "margin_mode",
        "isolated_wallet",
        # 0010: alerts' delivery state
        "severity",
        "occurrences",
        "attempts",
        "last_attempt_at",
        "claim",
        "claimed_at",
    }
)


def row_body(row: Base) -> str:
    """The canonical JSON of a mapped row's columns."""
    return body_of({col.key: getattr(row, col.key) for col in row.__table__.columns})


def body_of(values: dict[str, Any]) -> str:
    """The canonical JSON of a row's column values (an ORM row's or a Core row's)."""
    return canonical_json(
        {k: v for k, v in values.items() if v is not None or k not in LATER_COLUMNS}
    )


def key_id(key: bytes) -> str:
    """A short public name for a key: tells "wrong key" from "altered" without revealing it."""
    return hmac.new(key, b"bot ledger key id", hashlib.sha256).hexdigest()[:16]


def chain_hash(
    prev_hash: str, entity: str, entity_id: int, body: str, key: bytes | None = None
) -> str:
    """HMAC-SHA256 under `key`, else SHA-256, of the entry's link and content."""
    payload = f"{prev_hash}\n{entity}\n{entity_id}\n{body}".encode()
    if key is not None:
        return hmac.new(key, payload, hashlib.sha256).hexdigest()
    return hashlib.sha256(payload).hexdigest()


# writing ------------------------------------------------------------------------------------


def append(session: Session, row: Base, at: datetime) -> None:
    """Append the row's current content to the chain, inside the caller's transaction."""
    append_all(session, [row], at)


def append_all(session: Session, rows: Iterable[Base], at: datetime) -> None:
    """Append several rows in one step (one head lock for a whole snapshot)."""
    rows = list(rows)
    if not rows:
        return
    session.flush()
    key: bytes | None = session.info.get(KEY_INFO)
    head = _locked_head(session)
    seq, prev = head.seq, head.hash
    for row in rows:
        seq, prev = _add(session, seq, prev, _ENTITY_OF[type(row)], row.id, row_body(row), at, key)
    session.execute(update(JournalHead).where(JournalHead.id == 1).values(seq=seq, hash=prev))


def start_chain(session: Session, at: datetime) -> bool:
    """Append a chain-start entry when this writer's mode (keyed with its key, or unkeyed)
    is not the chain's current one; True when one was appended."""
    key: bytes | None = session.info.get(KEY_INFO)
    wanted = {"chain": KEYED if key else UNKEYED, "key_id": key_id(key) if key else None}
    starts = session.execute(
        select(JournalEntry.entity_id, JournalEntry.body)
        .where(JournalEntry.entity == START)
        .order_by(JournalEntry.seq)
    ).all()
    current = _start_body(starts[-1].body) if starts else None
    kept = current is not None and {k: current.get(k) for k in wanted} == wanted
    if current is not None and not kept and current.get("chain") == KEYED:
        # an unkeyed or differently keyed entry after a keyed start reads as a rewrite
        problem = (
            "is not set" if key is None else f"is not the ledger's key (key id {wanted['key_id']})"
        )
        raise LedgerError(
            f"ledger.hmac_key_env: the ledger's chain is keyed (key id "
            f"{current.get('key_id')}) but the key {problem}; set the ledger's key in the "
            "variable ledger.hmac_key_env names (default BOT_LEDGER_KEY)"
        )
    # tables journaled since this chain started (a newer release): no start names them yet
    covered = {entity for start in starts for entity in _start_body(start.body).get("before", {})}
    unjournaled = [e for e in ENTITIES if e not in FIRST_RELEASE_ENTITIES and e not in covered]
    if kept and not unjournaled:
        return False
    body: dict[str, Any] = dict(wanted)
    if unjournaled:
        # their older rows were never in the journal: the start says up to which id
        body["before"] = {
            entity: session.scalar(select(func.coalesce(func.max(ENTITIES[entity].id), 0))) or 0
            for entity in unjournaled
        }
    head = _locked_head(session)
    number = (starts[-1].entity_id if starts else 0) + 1
    seq, prev = _add(session, head.seq, head.hash, START, number, canonical_json(body), at, key)
    session.execute(update(JournalHead).where(JournalHead.id == 1).values(seq=seq, hash=prev))
    return True


def _locked_head(session: Session) -> JournalHead:
    return session.execute(
        select(JournalHead).where(JournalHead.id == 1).with_for_update()
    ).scalar_one()


def _add(
    session: Session,
    seq: int,
    prev: str,
    entity: str,
    entity_id: int,
    body: str,
    at: datetime,
    key: bytes | None,
) -> tuple[int, str]:
    digest = chain_hash(prev, entity, entity_id, body, key)
    session.add(
        JournalEntry(
            seq=seq + 1,
            at=at,
            entity=entity,
            entity_id=entity_id,
            body=body,
            prev_hash=prev,
            hash=digest,
            chain=KEYED if key else UNKEYED,
        )
    )
    return seq + 1, digest


@dataclass(frozen=True)
class ChainHead:
    seq: int
    hash: str


def head(connection: Connection | Session) -> ChainHead:
    row = connection.execute(select(JournalHead.seq, JournalHead.hash)).first()
    return ChainHead(0, GENESIS_HASH) if row is None else ChainHead(row.seq, row.hash)


# verifying ----------------------------------------------------------------------------------

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
    from bot.ledger import totals  # derived data: summary reads it, so verify checks it

    for problem in totals.differences(connection):
        report.problem(problem)
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
    for entry in _pages(connection, columns, JournalEntry.seq):
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
            body = _start_body(entry.body)
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
    last = head(connection)
    if last.seq != report.entries or last.hash != prev:
        report.problem(f"journal: the chain ends at {report.entries} but the head says {last.seq}")
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


def _start_body(body: str) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _compare_rows(
    connection: Connection, entity: str, model: type[Base], before: int, report: VerifyReport
) -> None:
    """Merge the table's rows (by id) with the entity's entries (by entity id, seq)."""
    table = model.__table__
    id_column = table.c.id
    entries = _pages(
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
    for row in _pages(connection, rows_query, id_column):
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
    from sqlalchemy import literal_column

    # quoted: a column may be named like an SQL keyword (margin_legs.add)
    return [literal_column(f'"{table.name}"."{c.name}"').label(c.name) for c in table.columns]


def _raw_body_maker(table: Any) -> Any:
    """A function from a raw SQLite row to the canonical body the typed row would give:
    money is stored as the canonical text already, times as 'YYYY-MM-DD HH:MM:SS.ffffff' UTC,
    booleans as 0/1. Only a shortcut: a row whose raw body differs is checked typed."""
    from sqlalchemy import Boolean

    from bot.ledger.types import UtcDateTime

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


def _pages(connection: Connection, query: Any, *order: Any) -> Iterator[Any]:
    """Rows of `query` in `order` (a unique key), read in pages by keyset: each page is one
    short statement, so memory stays constant and no read lock is held between pages."""
    after: tuple[Any, ...] | None = None
    names = [column.key for column in order]
    while True:
        page_query = query.order_by(*order).limit(PAGE)
        if after is not None:
            page_query = page_query.where(_after(order, after))
        rows = connection.execute(page_query).all()
        yield from rows
        if len(rows) < PAGE:
            return
        after = tuple(getattr(rows[-1], name) for name in names)


def _after(order: tuple[Any, ...], after: tuple[Any, ...]) -> Any:
    from sqlalchemy import tuple_

    if len(order) == 1:
        return order[0] > after[0]
    return tuple_(*order) > tuple_(*after)
