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

import hashlib
import hmac
import itertools
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, event, func, inspect, select, update
from sqlalchemy.orm import Session, sessionmaker

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


def _append_all(session: Session, rows: Iterable[Base], at: datetime) -> None:
    """Append the rows' current content to the chain in one step (one head lock), inside the
    caller's transaction."""
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
    sessions = sessionmaker(engine, expire_on_commit=False, info={KEY_INFO: key})
    event.listen(sessions, "before_flush", _collect)
    event.listen(sessions, "before_commit", _journal)
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
    if not rows:
        return
    rows.sort(key=lambda row: inspect(row).info.get(_TOUCHED, -1))
    for row in rows:
        inspect(row).info.pop(_TOUCHED, None)  # a later transaction's touch counts anew
    at = session.info.get(AT_INFO)
    if at is None:
        raise LedgerError("a journaled write without its time (Ledger._transaction(at))")
    _append_all(session, rows, at)


@dataclass(frozen=True)
class ChainHead:
    seq: int
    hash: str


def head(connection: Connection | Session) -> ChainHead:
    row = connection.execute(select(JournalHead.seq, JournalHead.hash)).first()
    return ChainHead(0, GENESIS_HASH) if row is None else ChainHead(row.seq, row.hash)


def start_body(body: str) -> dict[str, Any]:
    """A chain-start entry's body as a dict ({} when it is not one)."""
    try:
        value = json.loads(body)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
