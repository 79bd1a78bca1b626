"""The hash chain over ledger writes: append in the writer's transaction, verify on demand.

Each entry stores the canonical JSON of the row as written and
`hash = sha256(prev_hash + entity + entity_id + body)`. Changing, inserting or deleting any
entry breaks the chain; editing a transfer row without a journal entry makes the row differ
from its last entry. Both are what `bot ledger verify` reports.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.ledger.tables import (
    Base,
    Correction,
    JournalEntry,
    JournalHead,
    Transfer,
    TransferAttempt,
)
from bot.money import plain

GENESIS_HASH = "0" * 64

#: every journalled table, by the entity name its entries carry (verify walks them all; a
#: ledger from before a table existed has no rows and no entries of it, so it still verifies)
ENTITIES: dict[str, type[Transfer | TransferAttempt | Correction]] = {
    "transfer": Transfer,
    "attempt": TransferAttempt,
    "correction": Correction,
}
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
LATER_COLUMNS = frozenset({"amount_tag", "venue_clock_offset_ms"})


def row_body(row: Base) -> str:
    """The canonical JSON of a mapped row's columns."""
    values = {col.key: getattr(row, col.key) for col in row.__table__.columns}
    return canonical_json(
        {k: v for k, v in values.items() if v is not None or k not in LATER_COLUMNS}
    )


def chain_hash(prev_hash: str, entity: str, entity_id: int, body: str) -> str:
    payload = f"{prev_hash}\n{entity}\n{entity_id}\n{body}".encode()
    return hashlib.sha256(payload).hexdigest()


def append(session: Session, row: Transfer | TransferAttempt | Correction, at: datetime) -> None:
    """Append the row's current content to the chain, inside the caller's transaction."""
    session.flush()
    entity = _ENTITY_OF[type(row)]
    head = session.execute(
        select(JournalHead).where(JournalHead.id == 1).with_for_update()
    ).scalar_one()
    body = row_body(row)
    seq = head.seq + 1
    digest = chain_hash(head.hash, entity, row.id, body)
    session.add(
        JournalEntry(
            seq=seq,
            at=at,
            entity=entity,
            entity_id=row.id,
            body=body,
            prev_hash=head.hash,
            hash=digest,
        )
    )
    session.execute(update(JournalHead).where(JournalHead.id == 1).values(seq=seq, hash=digest))


@dataclass(frozen=True)
class VerifyReport:
    entries: int
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(session: Session) -> VerifyReport:
    """Walk the chain and compare every journalled row with its last journal entry."""
    problems: list[str] = []
    prev = GENESIS_HASH
    expected_seq = 1
    last_body: dict[tuple[str, int], str] = {}
    count = 0
    for entry in session.execute(select(JournalEntry).order_by(JournalEntry.seq)).scalars():
        count += 1
        if entry.seq != expected_seq:
            problems.append(f"journal: entry {expected_seq} is missing (next is {entry.seq})")
        if entry.prev_hash != prev:
            problems.append(f"journal: entry {entry.seq} does not follow entry {entry.seq - 1}")
        if chain_hash(entry.prev_hash, entry.entity, entry.entity_id, entry.body) != entry.hash:
            problems.append(f"journal: entry {entry.seq} was altered")
        prev = entry.hash
        expected_seq = entry.seq + 1
        last_body[(entry.entity, entry.entity_id)] = entry.body
    head = session.get(JournalHead, 1)
    if head is not None and (head.seq != count or head.hash != prev):
        problems.append(f"journal: the chain ends at {count} but the head says {head.seq}")
    for entity, model in ENTITIES.items():
        for row in session.execute(select(model)).scalars():
            body = last_body.pop((entity, row.id), None)
            if body is None:
                problems.append(f"{entity} {row.id}: not in the journal")
            elif body != row_body(row):
                problems.append(f"{entity} {row.id}: differs from its journal entry")
    for entity, entity_id in sorted(last_body):
        problems.append(f"{entity} {entity_id}: in the journal but missing from its table")
    return VerifyReport(entries=count, problems=tuple(problems))
