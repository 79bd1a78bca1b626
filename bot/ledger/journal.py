"""The chain over ledger writes, appended in the writer's transaction by one hook.

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

Which tables are journaled is the registry `ENTITIES`, and nothing else: a ledger session
(`journaled_sessions`) journals on commit every row of those tables that its transaction
inserted or changed, so journaling a new table is one line there (with its migration). Write
sites only write rows. Verifying the chain is the audit's (`bot.audit.chain`).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import itertools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Integer,
    TextClause,
    bindparam,
    event,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy.orm import Session, sessionmaker

from bot.errors import LedgerError
from bot.ledger.tables import (
    AccountMarginSnapshot,
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
    Pause,
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
#: where a ledger session finds the writer's key, and the time its transaction's entries carry
KEY_INFO = "ledger_key"
AT_INFO = "ledger_at"

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
    "account_margin": AccountMarginSnapshot,  # 0012
    "pause": Pause,  # 0014
}
#: journaled since the first release; the others only since 0006 (older rows have no entry)
FIRST_RELEASE_ENTITIES = frozenset({"transfer", "attempt", "correction"})
_ENTITY_OF = {model: entity for entity, model in ENTITIES.items()}


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
#
# An append is one statement: the entries are inserted only if the chain still ends where this
# process last saw it (`Tip`, kept per Ledger across its transactions), so the head is neither
# read nor updated on the way. SQLite: the insert's own condition (the tip's entry is there
# with its hash and nothing follows it); a writer's transaction holds the database's write
# lock (BEGIN IMMEDIATE), so nothing can append between that check and the insert; there the
# `journal_head` row is no longer kept (the newest entry is the head). PostgreSQL: the insert
# carries a
# compare-and-set of the `journal_head` row (`UPDATE ... WHERE seq = :tip`, a data-modifying
# CTE), whose row lock serializes concurrent appends; a writer that finds the head moved waits
# for the other's commit, sees the new head, and inserts nothing. Either way a stale tip (another
# process appended since) inserts nothing: the tip is read again, the entries are chained anew
# from it and inserted again, in the same transaction.

#: entries per insert: SQLite takes at most 32766 parameters in one statement
CHUNK = 500


class Tip:
    """The chain's newest entry as this process last wrote or read it, shared by one Ledger's
    sessions (None until the first append reads it). Only ever a guess: every append checks it
    in the database."""

    def __init__(self) -> None:
        self.head: ChainHead | None = None


TIP_INFO = "ledger_tip"  # a session's info: the Ledger's `Tip`
_NEXT_TIP = "journal_next_tip"  # a session's info: the tip once its transaction commits


def _append_all(session: Session, entries: list[tuple[str, int, str]], at: datetime) -> None:
    """Append (entity, entity id, body) entries to the chain, in this order, inside the
    caller's transaction."""
    if not entries:
        return
    key: bytes | None = session.info.get(KEY_INFO)
    tip: ChainHead | None = session.info.get(_NEXT_TIP)
    if tip is None:
        shared: Tip | None = session.info.get(TIP_INFO)
        tip = shared.head if shared is not None else None
    for first in range(0, len(entries), CHUNK):
        chunk = entries[first : first + CHUNK]
        for _ in range(3):
            if tip is None:
                tip = _read_tip(session)
            values, after = _chained(tip, chunk, at, key)
            if _insert_after(session, tip, after, values):
                tip = after
                break
            tip = None  # another writer appended since: read the head again
        else:
            raise LedgerError("the ledger's journal head keeps moving; try again")
    session.info[_NEXT_TIP] = tip


def _chained(
    tip: ChainHead, entries: list[tuple[str, int, str]], at: datetime, key: bytes | None
) -> tuple[list[dict[str, Any]], ChainHead]:
    seq, prev = tip.seq, tip.hash
    values = []
    for entity, entity_id, body in entries:
        digest = chain_hash(prev, entity, entity_id, body, key)
        values.append(
            {
                "seq": seq + 1,
                "at": at,
                "entity": entity,
                "entity_id": entity_id,
                "body": body,
                "prev_hash": prev,
                "hash": digest,
                "chain": KEYED if key else UNKEYED,
            }
        )
        seq, prev = seq + 1, digest
    return values, ChainHead(seq, prev)


_COLUMNS = ("seq", "at", "entity", "entity_id", "body", "prev_hash", "hash", "chain")


def _insert_after(
    session: Session, tip: ChainHead, after: ChainHead, values: list[dict[str, Any]]
) -> bool:
    """Insert the entries if the chain still ends at `tip`, in one statement; False when it
    does not (nothing inserted)."""
    dialect = session.get_bind().dialect.name
    statement = _append_statement(dialect, len(values), genesis=tip.seq == 0)
    params: dict[str, Any] = {"tip_seq": tip.seq}
    if dialect == "postgresql":
        params.update(tip_hash=tip.hash, after_seq=after.seq, after_hash=after.hash)
    elif tip.seq:
        params["tip_hash"] = tip.hash
    for index, value in enumerate(values):
        params.update({f"{name}_{index}": value[name] for name in _COLUMNS})
    # the entries it took, counted from RETURNING: a driver's rowcount of a statement that
    # starts with WITH is not always the rows it inserted (Python's sqlite3 says -1)
    inserted = len(session.execute(statement, params).all())
    if inserted not in (0, len(values)):
        raise LedgerError(f"the journal took {inserted} of {len(values)} entries")
    return inserted == len(values)


@functools.cache
def _append_statement(dialect: str, entries: int, *, genesis: bool) -> TextClause:
    """The one-statement append of `entries` entries after the head `:tip_seq`/`:tip_hash`,
    written out once per backend and size (a statement built from the values each time would
    be compiled again at every append)."""
    names = ", ".join(_COLUMNS)
    rows = ", ".join(
        "(" + ", ".join(f":{name}_{index}" for name in _COLUMNS) + ")" for index in range(entries)
    )
    if dialect == "postgresql":
        ctes = (
            "moved AS (UPDATE journal_head SET seq = :after_seq, hash = :after_hash "
            "WHERE id = 1 AND seq = :tip_seq AND hash = :tip_hash RETURNING id), "
        )
        condition = "EXISTS (SELECT 1 FROM moved)"
    else:
        ctes = ""
        condition = "NOT EXISTS (SELECT 1 FROM journal WHERE seq > :tip_seq)"
        if not genesis:
            condition += (
                " AND EXISTS (SELECT 1 FROM journal WHERE seq = :tip_seq AND hash = :tip_hash)"
            )
    statement = text(
        f"WITH {ctes}entries ({names}) AS (VALUES {rows}) "
        f"INSERT INTO journal ({names}) SELECT {names} FROM entries WHERE {condition} "
        "ORDER BY seq RETURNING seq"
    )
    table = JournalEntry.__table__
    return statement.bindparams(
        *(
            bindparam(f"{name}_{index}", type_=table.c[name].type)
            for index in range(entries)
            for name in _COLUMNS
        ),
        bindparam("tip_seq", type_=Integer()),
        *([bindparam("after_seq", type_=Integer())] if dialect == "postgresql" else []),
    )


def _read_tip(session: Session) -> ChainHead:
    """The chain's head, read in the transaction: on PostgreSQL the head row, under its lock
    (no other writer appends before this one); on SQLite the newest entry (the transaction
    holds the database's write lock already)."""
    if session.get_bind().dialect.name == "postgresql":
        row = session.execute(
            select(JournalHead.seq, JournalHead.hash).where(JournalHead.id == 1).with_for_update()
        ).one()
        return ChainHead(row.seq, row.hash)
    return head(session)


def _committed(session: Session) -> None:
    tip = session.info.pop(_NEXT_TIP, None)
    shared: Tip | None = session.info.get(TIP_INFO)
    if tip is not None and shared is not None:
        shared.head = tip


def _rolled_back(session: Session, *_: Any) -> None:
    session.info.pop(_NEXT_TIP, None)
    session.info.pop(_WRITTEN, None)


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
    current = start_body(starts[-1].body) if starts else None
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
    covered = {entity for start in starts for entity in start_body(start.body).get("before", {})}
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
    number = (starts[-1].entity_id if starts else 0) + 1
    _append_all(session, [(START, number, canonical_json(body))], at)
    return True


# the one hook ---------------------------------------------------------------------------------
#
# A ledger session (`journaled_sessions`) journals on commit every row of a journaled table
# that the transaction inserted or changed, at its content as committed, once, in the order
# the rows were first touched (made, or one of their columns set): the order the writer wrote
# them in. A write site only writes rows; which tables are journaled is `ENTITIES` alone.

_TOUCHED = "journal_touched"  # a row's InstanceState.info: when it was first touched
_ROWS = "journal_rows"  # a session's info: the journaled rows it flushed, not yet journaled
_touches = itertools.count()


def _touched(target: Base, *_: Any) -> None:
    inspect(target).info.setdefault(_TOUCHED, next(_touches))


for _model in ENTITIES.values():
    event.listen(_model, "init", _touched)
    for _column in inspect(_model).column_attrs:
        event.listen(getattr(_model, _column.key), "set", _touched)


def journaled_sessions(engine: Engine, key: bytes | None) -> sessionmaker[Session]:
    """Sessions that journal their writes on commit under `key`. A transaction that writes a
    journaled table must say when (`session.info[AT_INFO]`: the time its entries carry)."""
    sessions = sessionmaker(engine, expire_on_commit=False, info={KEY_INFO: key, TIP_INFO: Tip()})
    event.listen(sessions, "before_flush", _collect)
    event.listen(sessions, "before_commit", _journal)
    event.listen(sessions, "after_commit", _committed)
    event.listen(sessions, "after_rollback", _rolled_back)
    return sessions


def _collect(session: Session, *_: Any) -> None:
    rows: dict[int, Base] = session.info.setdefault(_ROWS, {})
    for row in (*session.new, *session.dirty):
        if type(row) in _ENTITY_OF:
            rows.setdefault(id(row), row)


def _journal(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint: the outer transaction journals what it keeps
    session.flush()  # every id assigned, every change collected
    rows = [
        row
        for row in session.info.pop(_ROWS, {}).values()
        if inspect(row).persistent  # not an insert a rolled-back savepoint undid
    ]
    written: list[tuple[int, str, int, str]] = session.info.pop(_WRITTEN, [])
    if not rows and not written:
        return
    entries = [
        (inspect(row).info.pop(_TOUCHED, -1), _ENTITY_OF[type(row)], row.id, row_body(row))
        for row in rows  # popped: a later transaction's touch counts anew
    ]
    entries.sort(key=lambda entry: entry[0])
    if written:
        entries = sorted([*entries, *written], key=lambda entry: entry[0])
    at = session.info.get(AT_INFO)
    if at is None:
        raise LedgerError("a journaled write without its time (Ledger._transaction(at))")
    _append_all(session, [entry[1:] for entry in entries], at)


_WRITTEN = "journal_written"  # a session's info: rows written by a statement, not yet journaled


def wrote(session: Session, model: type[Base], values: Mapping[str, Any]) -> None:
    """A row of a journaled table written by one SQL statement rather than through the ORM
    (an `UPDATE ... RETURNING` on a hot path): journaled on commit like the ORM's rows, at
    its content as the statement returned it, in the order the rows were written."""
    session.info.setdefault(_WRITTEN, []).append(
        (next(_touches), _ENTITY_OF[model], values["id"], body_of(dict(values)))
    )


@dataclass(frozen=True)
class ChainHead:
    seq: int
    hash: str


def head(connection: Connection | Session) -> ChainHead:
    """The chain's newest entry (genesis when the journal is empty)."""
    row = connection.execute(
        select(JournalEntry.seq, JournalEntry.hash).order_by(JournalEntry.seq.desc()).limit(1)
    ).first()
    return ChainHead(0, GENESIS_HASH) if row is None else ChainHead(row.seq, row.hash)


def start_body(body: str) -> dict[str, Any]:
    """A chain-start entry's body as a dict ({} when it is not one)."""
    try:
        value = json.loads(body)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
