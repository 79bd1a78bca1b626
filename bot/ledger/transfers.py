"""Transfers: the intent committed before anything is sent, its sizing, each attempt and the
outcome, and an operator's correction (`bot reconcile --assign`). The executor calls these in
order; each call commits, so a process killed between two calls leaves the last committed fact,
which reconciliation completes.

An outcome whose exchange transfer id another row of the venue already holds (a venue that
numbers its transfers again from the start, e.g. a paper exchange whose state was deleted) is
recorded `unknown` with a message naming both rows, never raised: the money may well have
moved, so the row must neither crash the run nor be settled `failed` later.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Update, bindparam, exists, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.errors import CorrectionRefused
from bot.ledger import journal
from bot.ledger.sessions import LedgerBase
from bot.ledger.tables import Correction, Transfer, TransferAttempt
from bot.model import PlannedTransfer, TransferStatus

EXCHANGE_ID_CONSTRAINT = "uq_transfers_venue_exchange_id"
# SQLite names the columns, not the constraint, in its UNIQUE violation message.
SQLITE_EXCHANGE_ID_CONFLICT = "UNIQUE constraint failed: transfers.venue, transfers.exchange_id"


def held_elsewhere(venue: str, exchange_id: str, transfer_id: int, holder_id: int | None) -> str:
    """The error of a row left unknown because its exchange id is another row's: both named,
    so that an operator can tell which venue transfer is which."""
    holder = f"transfer {holder_id}" if holder_id is not None else "another transfer"
    return (
        f"venue {venue} answered transfer id {exchange_id} for transfer {transfer_id}, which "
        f"{holder} already holds; left unknown for reconciliation or an operator"
    )


def held_by(venue: str, exchange_id: str, transfer_id: int, holder_id: int | None) -> str:
    """The refusal of an assignment whose venue transfer another row already holds."""
    holder = f"transfer {holder_id}" if holder_id is not None else "another transfer"
    return (
        f"transfer {transfer_id}: venue {venue}'s transfer {exchange_id} is already held by "
        f"{holder}; one venue transfer settles one ledger row (see bot ledger list --venue "
        f"{venue})"
    )


def assign_refusal(row: Transfer | TransferRecord | None, transfer_id: int) -> str | None:
    """Why this transfer cannot be assigned a venue transfer, or None. Pure."""
    if row is None:
        return f"transfer {transfer_id}: no such transfer in the ledger (see bot ledger list)"
    status = TransferStatus(row.status)
    if status.is_final:
        return (
            f"transfer {transfer_id}: is {status.value}, not pending or unknown; only an open "
            "transfer can be assigned"
        )
    if row.dry_run:
        return (
            f"transfer {transfer_id}: is a dry run, so nothing was sent; bot reconcile settles it"
        )
    if row.amount is None:
        return f"transfer {transfer_id}: has no sized amount, so nothing was sent"
    return None


@dataclass(frozen=True, kw_only=True)
class AttemptWrite:
    """One call to the venue with its outcome, as `record_attempt` takes it
    (`record_attempts`, the group commit)."""

    transfer_id: int
    amount: Decimal
    outcome: str
    started_at: datetime
    status: TransferStatus
    error_kind: str | None = None
    error: str | None = None
    exchange_id: str | None = None
    venue_clock_offset_ms: int | None = None
    inputs: Mapping[str, Any] | None = None

    def columns(self) -> dict[str, Any]:
        """The keyword arguments of `record_attempt` but the transfer's id."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "transfer_id"}


class _OneByOne(Exception):
    """A write of a group that needs the careful way: the group's transaction is undone."""


def new_client_id() -> str:
    """32 lowercase hex characters: accepted as a client transfer id by every venue that takes
    one (OKX wants 1-32 alphanumerics, no hyphens)."""
    return uuid.uuid4().hex


@dataclass(frozen=True, kw_only=True)
class TransferRecord:
    """A transfer row as the rest of the bot sees it (detached from the session)."""

    id: int
    run_id: int
    client_id: str
    created_at: datetime
    updated_at: datetime
    venue: str
    hedges: str
    asset: str
    from_account: str
    to_account: str
    rule: str
    planned_amount: Decimal
    amount: Decimal | None
    status: TransferStatus
    exchange_id: str | None
    error: str | None
    reason: str
    dry_run: bool
    attempts: int
    replaces_id: int | None
    #: subtracted from the sized amount so that the venue's history can tell this transfer
    #: from a look-alike (`amount` is what was sent); None when untagged
    amount_tag: Decimal | None = None

    @classmethod
    def of(cls, row: Transfer, attempts: int) -> TransferRecord:
        return cls(
            id=row.id,
            run_id=row.run_id,
            client_id=row.client_id,
            created_at=row.created_at,
            updated_at=row.updated_at,
            venue=row.venue,
            hedges=row.hedges,
            asset=row.asset,
            from_account=row.from_account,
            to_account=row.to_account,
            rule=row.rule,
            planned_amount=row.planned_amount,
            amount=row.amount,
            status=TransferStatus(row.status),
            exchange_id=row.exchange_id,
            error=row.error,
            reason=row.reason,
            dry_run=row.dry_run,
            attempts=attempts,
            replaces_id=row.replaces_id,
            amount_tag=row.amount_tag,
        )


class TransferRecords(LedgerBase):
    """Writes and reads of transfers, their attempts and corrections."""

    def record_intent(
        self,
        run_id: int,
        item: PlannedTransfer,
        *,
        amount: Decimal | None,
        status: TransferStatus = TransferStatus.PENDING,
        inputs: Mapping[str, Any],
        dry_run: bool = False,
        error: str | None = None,
        replaces_id: int | None = None,
        tag: Callable[[int], Decimal] | None = None,
    ) -> TransferRecord:
        """Commit a transfer row before anything is sent (or as final when nothing will be).

        `tag`, given the new row's id, says what to subtract from `amount` to make it
        identifiable; the tagged amount is what the row records (and the caller sends), in the
        same commit."""
        now = self._clock()
        with self._transaction(now) as session:
            row = _insert_intent(
                session,
                _intent_values(
                    run_id,
                    item,
                    now,
                    amount=amount,
                    status=status,
                    inputs=inputs,
                    dry_run=dry_run,
                    error=error,
                    replaces_id=replaces_id,
                ),
                tag,
            )
        return TransferRecord.of(row, attempts=0)  # type: ignore[arg-type]

    def record_intents(
        self,
        run_id: int,
        drafts: Sequence[
            tuple[PlannedTransfer, Decimal, Mapping[str, Any], Callable[[int], Decimal] | None]
        ],
        *,
        dry_run: bool = False,
    ) -> list[TransferRecord]:
        """Commit several pending intents, each (line, amount, inputs, tag) as `record_intent`
        takes them, before any of them is sent."""
        now = self._clock()
        values = [
            _intent_values(run_id, item, now, amount=amount, inputs=inputs, dry_run=dry_run)
            for item, amount, inputs, _ in drafts
        ]
        if len(drafts) == 1:  # the one-transfer path's two statements (`_insert_intent`)
            with self._transaction(now) as session:
                rows = [_insert_intent(session, values[0], drafts[0][3])]
            return [TransferRecord.of(rows[0], attempts=0)]
        with self._transaction(now) as session:
            # one executemany for every row, returned in order (SQLite still gets one INSERT
            # per row, but without the ORM's work per statement), then one executemany for
            # every tag made of its row's id: at 20 venues ~6 ms less between the reads and
            # the sends than an INSERT and an UPDATE ... RETURNING per row
            made = session.execute(_NEW_TRANSFERS, values).all()
            rows = []
            tags = []
            for row, (*_, tag) in zip(made, drafts, strict=True):
                written = dict(row._mapping)
                if tag is not None and written["amount"] is not None:
                    amount_tag = tag(row.id)
                    written.update(amount_tag=amount_tag, amount=written["amount"] - amount_tag)
                    tags.append(
                        {
                            "transfer_id": row.id,
                            "new_amount_tag": amount_tag,
                            "new_amount": written["amount"],
                        }
                    )
                rows.append(SimpleNamespace(**written))
            if tags:
                session.execute(_TAGGING, tags)
            for written in rows:  # journaled as the rows now stand
                journal.wrote(session, Transfer, vars(written))
        return [TransferRecord.of(row, attempts=0) for row in rows]  # type: ignore[arg-type]

    def record_sizing(
        self,
        transfer_id: int,
        *,
        amount: Decimal,
        inputs: Mapping[str, Any],
        tag: Callable[[int], Decimal] | None = None,
        skipped: str | None = None,
    ) -> TransferRecord:
        """The amount sized from the fresh read, on a pending intent committed before that read
        (`executor`): one small write, the only thing between the fresh read and the send.
        `tag` as in `record_intent`. With `skipped` (why), the intent ends `skipped` instead,
        its reason extended with why: nothing is sent."""
        now = self._clock()
        with self._transaction(now) as session:
            row = session.get_one(Transfer, transfer_id)
            row.amount_tag = tag(row.id) if tag is not None and skipped is None else None
            row.amount = amount - row.amount_tag if row.amount_tag is not None else amount
            row.inputs = journal.canonical_json(dict(inputs))
            row.updated_at = now
            if skipped is not None:
                row.reason = f"{row.reason}; skipped: {skipped}"
                row.status = TransferStatus.SKIPPED.value
            return TransferRecord.of(row, attempts=0)

    def record_attempt(
        self,
        transfer_id: int,
        *,
        amount: Decimal,
        outcome: str,
        started_at: datetime,
        error_kind: str | None = None,
        error: str | None = None,
        exchange_id: str | None = None,
        status: TransferStatus | None = None,
        venue_clock_offset_ms: int | None = None,
        inputs: Mapping[str, Any] | None = None,
    ) -> TransferRecord:
        """Record one call to the venue; with `status`, the transfer's outcome is written in the
        same transaction (one commit, so an attempt never exists without its outcome). With
        `inputs`, the fresh read the amount was sized from is written to the transfer in it too
        (the executor's send path when sizing left the committed amount unchanged).

        The attempt keeps the exchange id the venue gave even when the transfer cannot take it
        (another row holds it): then the transfer is left unknown, see `_write_outcome`.

        The usual case (the row takes the outcome) is three statements, `_attempt_at_once`;
        anything else (an exchange id another row holds, a final row the database refuses, an
        attempt that changes nothing on the row) takes the careful way below, from the start."""
        now = self._clock()
        if status is not None or inputs is not None:
            try:
                with self._transaction(now) as session:
                    done = _attempt_at_once(
                        session,
                        transfer_id,
                        now,
                        amount=amount,
                        outcome=outcome,
                        started_at=started_at,
                        error_kind=error_kind,
                        error=error,
                        exchange_id=exchange_id,
                        status=status,
                        venue_clock_offset_ms=venue_clock_offset_ms,
                        inputs=inputs,
                    )
                if done is not None:
                    return done
            except IntegrityError:
                pass  # rolled back whole: the careful way says what it was
        with self._transaction(now) as session:
            row = session.get_one(Transfer, transfer_id)
            # made before the transfer changes, so that the journal has the attempt first
            attempt = TransferAttempt(
                transfer_id=transfer_id,
                number=_attempt_count(session, transfer_id) + 1,
                started_at=started_at,
                finished_at=now,
                amount=amount,
                outcome=outcome,
                error_kind=error_kind,
                exchange_id=exchange_id,
                venue_clock_offset_ms=venue_clock_offset_ms,
            )
            if inputs is not None:
                row.inputs = journal.canonical_json(dict(inputs))
                row.updated_at = now
            held = None
            if status is not None:
                held = _write_outcome(
                    session, row, status, now, exchange_id=exchange_id, error=error
                )
            attempt.error = held or error
            session.add(attempt)  # after the outcome's savepoint: attempts are append-only
            return TransferRecord.of(row, attempts=attempt.number)

    def record_attempts(self, writes: Sequence[AttemptWrite]) -> list[TransferRecord]:
        """Several calls with their outcomes in one commit, each written as `record_attempt`
        writes it in the usual case (`_attempt_at_once`): a group commit of the transfers
        whose answers came in together, one commit (and its fsyncs) instead of one each. When
        one of them needs the careful way, nothing is kept from the group: each is recorded
        on its own by `record_attempt`."""
        now = self._clock()
        try:
            with self._transaction(now) as session:
                done = [
                    _attempt_at_once(session, write.transfer_id, now, **write.columns())
                    for write in writes
                ]
                if any(record is None for record in done):
                    raise _OneByOne
            return done  # type: ignore[return-value]
        except (IntegrityError, _OneByOne):
            pass  # rolled back whole
        return [self.record_attempt(write.transfer_id, **write.columns()) for write in writes]

    def record_outcome(
        self,
        transfer_id: int,
        status: TransferStatus,
        *,
        exchange_id: str | None = None,
        error: str | None = None,
    ) -> TransferRecord:
        """Move a pending/unknown transfer to its next status (the database refuses final rows);
        an exchange id another row holds leaves it unknown instead, see `_write_outcome`."""
        now = self._clock()
        with self._transaction(now) as session:
            row = session.get_one(Transfer, transfer_id)
            _write_outcome(session, row, status, now, exchange_id=exchange_id, error=error)
            return TransferRecord.of(row, attempts=_attempt_count(session, transfer_id))

    def assign(
        self,
        transfer_id: int,
        exchange_id: str,
        *,
        operator: str,
        reason: str,
        note: str | None = None,
    ) -> TransferRecord:
        """Settle an open transfer as the venue transfer `exchange_id`, on an operator's word
        (`bot reconcile --assign`): in one transaction, an attempt with outcome "assigned",
        the transfer `confirmed` with that id, and a correction row naming who and why; all
        three journalled. The caller has checked the venue's history (or says in `note` that
        it could not).

        Raises `CorrectionRefused` (one line) when there is no such transfer, it is not
        pending/unknown, it is a dry run, or another row of the venue holds `exchange_id`."""
        exchange_id, operator, reason = exchange_id.strip(), operator.strip(), reason.strip()
        for name, value in (("exchange id", exchange_id), ("operator", operator)):
            if not value:
                raise CorrectionRefused(f"transfer {transfer_id}: the {name} is empty")
        if not reason:
            raise CorrectionRefused(f"transfer {transfer_id}: a correction needs a reason")
        now = self._clock()
        with self._transaction(now) as session:
            row = session.get(Transfer, transfer_id, with_for_update=True)
            refusal = assign_refusal(row, transfer_id)
            if refusal is not None:
                raise CorrectionRefused(refusal)
            assert row is not None and row.amount is not None
            holder = _holder_of(session, row, exchange_id)
            if holder is not None:
                raise CorrectionRefused(held_by(row.venue, exchange_id, transfer_id, holder))
            previous = row.status
            attempt = TransferAttempt(
                transfer_id=row.id,
                number=_attempt_count(session, row.id) + 1,
                started_at=now,
                finished_at=now,
                amount=row.amount,
                outcome="assigned",
                exchange_id=exchange_id,
            )
            session.add(attempt)
            try:
                with session.begin_nested():
                    _set_outcome(
                        row, TransferStatus.CONFIRMED, now, exchange_id=exchange_id, error=None
                    )
                    row.error = None  # the correction now says what became of it
            except IntegrityError as exc:
                if not _is_exchange_id_conflict(exc):
                    raise
                # another process claimed the id since the query above (PostgreSQL)
                holder = _holder_of(session, row, exchange_id)
                raise CorrectionRefused(
                    held_by(row.venue, exchange_id, transfer_id, holder)
                ) from None
            correction = Correction(
                transfer_id=row.id,
                at=now,
                operator=operator,
                reason=reason,
                action="assign",
                exchange_id=exchange_id,
                previous_status=previous,
                new_status=row.status,
                note=note,
            )
            session.add(correction)
            return TransferRecord.of(row, attempts=attempt.number)

    def get_transfer(self, transfer_id: int) -> TransferRecord:
        with self._sessions() as session:
            row = session.get_one(Transfer, transfer_id)
            return TransferRecord.of(row, attempts=_attempt_count(session, transfer_id))


# The hot path's statements, built once (building one costs more than running it): Core, so
# no ORM bookkeeping either.
_OTHER_TRANSFER = Transfer.__table__.alias("other")
_ATTEMPTS = TransferAttempt.__table__
_NEW_TRANSFER = insert(Transfer.__table__).returning(*Transfer.__table__.c)
#: several rows in one statement, returned in the order given (`record_intents`)
_NEW_TRANSFERS = insert(Transfer.__table__).returning(
    *Transfer.__table__.c, sort_by_parameter_order=True
)
_NEW_ATTEMPT = (
    insert(_ATTEMPTS)
    .values(
        number=select(func.count() + 1)
        .where(_ATTEMPTS.c.transfer_id == bindparam("of_transfer"))
        .scalar_subquery()
    )
    .returning(*_ATTEMPTS.c)
)


@functools.cache
def _change_of(columns: tuple[str, ...], *, guarded: bool, returning: bool = True) -> Update:
    """`UPDATE transfers SET <columns> WHERE id = :transfer_id RETURNING *`; `guarded`: only
    while no other row of the venue holds `:held_id`; `returning` False: no RETURNING (an
    executemany of it is one statement on every backend)."""
    transfers = Transfer.__table__
    change = update(transfers).where(transfers.c.id == bindparam("transfer_id"))
    if guarded:
        other = _OTHER_TRANSFER
        held = select(other.c.id).where(
            other.c.venue == transfers.c.venue,
            other.c.exchange_id == bindparam("held_id"),
            other.c.id != transfers.c.id,
        )
        change = change.where(~exists(held))
    values = {name: bindparam(f"new_{name}") for name in columns}
    change = change.values(values)
    return change.returning(*transfers.c) if returning else change


#: several intents' tags at once (`record_intents`): amount less its tag, by id
_TAGGING = _change_of(("amount_tag", "amount"), guarded=False, returning=False)


def _attempt_at_once(
    session: Session,
    transfer_id: int,
    now: datetime,
    *,
    amount: Decimal,
    outcome: str,
    started_at: datetime,
    error_kind: str | None,
    error: str | None,
    exchange_id: str | None,
    status: TransferStatus | None,
    venue_clock_offset_ms: int | None,
    inputs: Mapping[str, Any] | None,
) -> TransferRecord | None:
    """An attempt and the row's outcome in three statements, with no read before them: the
    row's change (`UPDATE ... RETURNING` its content, only while no other row of the venue
    holds `exchange_id`), the attempt (`INSERT ... RETURNING`, numbered by the database),
    both journaled on commit in the careful way's order (the attempt first). None when the row
    did not take the change (nothing written: the caller goes the careful way)."""
    changes: dict[str, Any] = {"updated_at": now}
    if inputs is not None:
        changes["inputs"] = journal.canonical_json(dict(inputs))
    if status is not None:
        changes["status"] = status.value
        if exchange_id is not None:
            changes["exchange_id"] = exchange_id
        if error is not None:
            changes["error"] = error
    guarded = status is not None and exchange_id is not None
    transfer = session.execute(
        _change_of(tuple(changes), guarded=guarded),
        {
            "transfer_id": transfer_id,
            "held_id": exchange_id,
            **{f"new_{name}": value for name, value in changes.items()},
        },
    ).first()
    if transfer is None:
        return None
    attempt = session.execute(
        _NEW_ATTEMPT,
        {
            "transfer_id": transfer_id,
            "of_transfer": transfer_id,
            "started_at": started_at,
            "finished_at": now,
            "amount": amount,
            "outcome": outcome,
            "error_kind": error_kind,
            "error": error,
            "exchange_id": exchange_id,
            "venue_clock_offset_ms": venue_clock_offset_ms,
        },
    ).one()
    journal.wrote(session, TransferAttempt, attempt._mapping)
    journal.wrote(session, Transfer, transfer._mapping)
    return TransferRecord.of(transfer, attempts=attempt.number)  # type: ignore[arg-type]


def _write_outcome(
    session: Session,
    row: Transfer,
    status: TransferStatus,
    now: datetime,
    *,
    exchange_id: str | None,
    error: str | None,
) -> str | None:
    """Set the row's outcome, or, when another row of the venue holds `exchange_id`, leave it
    unknown and return the message saying so.

    Checked with a query first; the unique constraint is the backstop for a writer that claims
    the id between that query and this write (another process on PostgreSQL): the write runs in
    a savepoint, so its violation is caught without losing the caller's transaction."""
    if exchange_id is not None:
        holder = _holder_of(session, row, exchange_id)
        if holder is not None:
            return _leave_unknown(row, now, exchange_id, holder)
    try:
        with session.begin_nested():
            _set_outcome(row, status, now, exchange_id=exchange_id, error=error)
    except IntegrityError as exc:
        if exchange_id is None or not _is_exchange_id_conflict(exc):
            raise  # e.g. the trigger that refuses to change a final row
        return _leave_unknown(row, now, exchange_id, _holder_of(session, row, exchange_id))
    return None


def _holder_of(session: Session, row: Transfer, exchange_id: str) -> int | None:
    """The id of another transfer of the row's venue that holds `exchange_id`, if any."""
    return session.scalar(
        select(Transfer.id).where(
            Transfer.venue == row.venue,
            Transfer.exchange_id == exchange_id,
            Transfer.id != row.id,
        )
    )


def _leave_unknown(row: Transfer, now: datetime, exchange_id: str, holder: int | None) -> str:
    message = held_elsewhere(row.venue, exchange_id, row.id, holder)
    _set_outcome(row, TransferStatus.UNKNOWN, now, exchange_id=None, error=message)
    return message


def _is_exchange_id_conflict(exc: IntegrityError) -> bool:
    """True for a violation of the (venue, exchange_id) constraint, on either backend."""
    diag = getattr(exc.orig, "diag", None)  # psycopg names the violated constraint
    constraint = getattr(diag, "constraint_name", None)
    if constraint is not None:
        return constraint == EXCHANGE_ID_CONSTRAINT
    return SQLITE_EXCHANGE_ID_CONFLICT in str(exc.orig)


def _set_outcome(
    row: Transfer,
    status: TransferStatus,
    now: datetime,
    *,
    exchange_id: str | None,
    error: str | None,
) -> None:
    row.status = status.value
    row.updated_at = now
    if exchange_id is not None:
        row.exchange_id = exchange_id
    if error is not None:
        row.error = error


def _attempt_count(session: Session, transfer_id: int) -> int:
    return (
        session.scalar(select(func.count()).where(TransferAttempt.transfer_id == transfer_id)) or 0
    )


def _intent_values(
    run_id: int,
    item: PlannedTransfer,
    now: datetime,
    *,
    amount: Decimal | None,
    status: TransferStatus = TransferStatus.PENDING,
    inputs: Mapping[str, Any],
    dry_run: bool,
    error: str | None = None,
    replaces_id: int | None = None,
) -> dict[str, Any]:
    """A new transfer row's columns for a planned line."""
    return {
        "run_id": run_id,
        "client_id": new_client_id(),
        "created_at": now,
        "updated_at": now,
        "venue": item.venue,
        "hedges": ",".join(item.hedges),
        "asset": item.asset,
        "from_account": item.from_account,
        "to_account": item.to_account,
        "rule": item.rule.value,
        "planned_amount": item.amount,
        "amount": amount,
        "amount_tag": None,
        "status": status.value,
        "exchange_id": None,
        "error": error,
        "reason": item.reason,
        "figures": journal.canonical_json(dict(item.figures)),
        "inputs": journal.canonical_json(dict(inputs)),
        "dry_run": dry_run,
        "replaces_id": replaces_id,
    }


def _insert_intent(
    session: Session, values: Mapping[str, Any], tag: Callable[[int], Decimal] | None
) -> Any:
    """One INSERT ... RETURNING (Core: the intent is on every transfer's path), and where the
    amount is tagged, one UPDATE ... RETURNING of the tag made of the new row's id; journaled."""
    row = session.execute(_NEW_TRANSFER, values).one()
    amount = values["amount"]
    if tag is not None and amount is not None:
        amount_tag = tag(row.id)
        row = session.execute(
            _change_of(("amount_tag", "amount"), guarded=False),
            {
                "transfer_id": row.id,
                "new_amount_tag": amount_tag,
                "new_amount": amount - amount_tag,
            },
        ).one()
    journal.wrote(session, Transfer, row._mapping)
    return row
