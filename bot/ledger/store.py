"""The ledger's write side: one short transaction per fact, committed before the bot acts on it.

The executor calls these in order (intent, attempt, outcome); each call commits, so a process
killed between two calls leaves the last committed fact, which reconciliation completes.

An outcome whose exchange transfer id another row of the venue already holds (a venue that
numbers its transfers again from the start, e.g. a paper exchange whose state was deleted) is
recorded `unknown` with a message naming both rows, never raised: the money may well have
moved, so the row must neither crash the run nor be settled `failed` later.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, object_session, sessionmaker

from bot.errors import CorrectionRefused
from bot.ledger import db, journal, totals
from bot.ledger.standing import StandingRecords
from bot.ledger.tables import (
    BalanceSnapshot,
    Base,
    Correction,
    FundingPayment,
    FundingSnapshot,
    MarginLeg,
    MarginLegAttempt,
    MarginMove,
    PositionSnapshot,
    Run,
    Transfer,
    TransferAttempt,
)
from bot.ledger.unattended import UnattendedRecords
from bot.model import PlannedTransfer, State, TransferStatus

Clock = Callable[[], datetime]
log = logging.getLogger("bot.ledger")

EXCHANGE_ID_CONSTRAINT = "uq_transfers_venue_exchange_id"
# SQLite names the columns, not the constraint, in its UNIQUE violation message.
SQLITE_EXCHANGE_ID_CONFLICT = "UNIQUE constraint failed: transfers.venue, transfers.exchange_id"


def utc_now() -> datetime:
    return datetime.now(UTC)


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


@dataclass(frozen=True, kw_only=True)
class FundingPaymentRecord:
    """One funding payment as a venue booked it: positive received, negative paid."""

    venue: str
    hedge: str | None
    symbol: str
    asset: str
    amount: Decimal
    at: datetime
    exchange_id: str


class Ledger(UnattendedRecords, StandingRecords):
    """The bot's record of runs, snapshots, transfers and attempts.

    `key` chains the journal under HMAC-SHA256 (None: unkeyed SHA-256); `anchor_file`, when
    set, receives the chain head after each run (the log always does)."""

    def __init__(
        self,
        engine: Engine,
        clock: Clock = utc_now,
        *,
        key: bytes | None = None,
        anchor_file: Path | None = None,
    ) -> None:
        self.engine = engine
        self.key = key
        self.anchor_file = anchor_file
        self._sessions = sessionmaker(engine, expire_on_commit=False, info={journal.KEY_INFO: key})
        self._clock = clock

    @classmethod
    def open(
        cls,
        url: str,
        clock: Clock = utc_now,
        *,
        key: bytes | None = None,
        anchor_file: Path | None = None,
    ) -> Ledger:
        """Open the ledger at `url`, migrate it to the newest schema, and start the chain in
        this writer's mode (keyed or not) if it is not in it already."""
        engine = db.create_ledger_engine(url)
        try:
            db.upgrade(engine)
            ledger = cls(engine, clock, key=key, anchor_file=anchor_file)
            with ledger._transaction() as session:
                journal.start_chain(session, clock())
        except DBAPIError as exc:
            engine.dispose()
            raise db.explain(exc, url) from None
        except BaseException:
            engine.dispose()
            raise
        return ledger

    @classmethod
    def open_read_only(cls, url: str, *, key: bytes | None = None) -> Ledger:
        """Open the ledger for an audit: the database refuses every write (SQLite `mode=ro`,
        PostgreSQL read-only transactions); never migrates, never waits on a writer for long."""
        engine = db.create_read_only_engine(url)
        return cls(engine, key=key)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _transaction(self) -> Iterator[Session]:
        with self._sessions.begin() as session:
            yield session

    # runs ---------------------------------------------------------------------------------

    def start_run(self, command: str, *, dry_run: bool, config_digest: str) -> int:
        with self._transaction() as session:
            now = self._clock()
            run = Run(
                command=command,
                dry_run=dry_run,
                started_at=now,
                status="running",
                config_digest=config_digest,
            )
            session.add(run)
            journal.append(session, run, now)
            return run.id

    def finish_run(self, run_id: int, status: str, error: str | None = None) -> None:
        """Close the run, then record the chain head outside the database (the log, and
        `anchor_file` when set), so that removing the newest entries is detected too."""
        with self._transaction() as session:
            now = self._clock()
            run = session.get_one(Run, run_id)
            run.status, run.error, run.finished_at = status, error, now
            journal.append(session, run, now)
        self.write_anchor()

    def chain_head(self) -> journal.ChainHead:
        with self.engine.connect() as connection:
            return journal.head(connection)

    def write_anchor(self) -> journal.ChainHead:
        """Log the chain head and append it to `anchor_file` (one JSON line) when set."""
        current = self.chain_head()
        log.info("ledger chain head: seq=%d hash=%s", current.seq, current.hash)
        if self.anchor_file is not None:
            line = json.dumps(
                {
                    "at": self._clock().isoformat().replace("+00:00", "Z"),
                    "seq": current.seq,
                    "hash": current.hash,
                }
            )
            try:
                self.anchor_file.parent.mkdir(parents=True, exist_ok=True)
                with self.anchor_file.open("a", encoding="utf-8") as handle:
                    handle.write(line + "\n")
            except OSError as exc:
                log.error(
                    "ledger.anchor_file: cannot append the chain head to %s (%s); it was "
                    "logged here instead: seq=%d hash=%s",
                    self.anchor_file,
                    exc.strerror or exc,
                    current.seq,
                    current.hash,
                )
        return current

    # snapshots ----------------------------------------------------------------------------

    def record_snapshot(self, run_id: int, state: State) -> None:
        """Store every wallet, position and funding rate that the cycle read, journaled."""
        with self._transaction() as session:
            rows: list[Any] = []
            add = rows.append
            for venue in state.venues.values():
                for w in venue.wallets.values():
                    add(
                        BalanceSnapshot(
                            run_id=run_id,
                            read_at=venue.read_at,
                            venue=venue.venue,
                            account=w.account,
                            asset=w.asset,
                            free=w.free,
                            used=w.used,
                            balance=w.balance,
                            unrealized_pnl=w.unrealized_pnl,
                            transferable=w.transferable,
                            cross_balance=w.cross_balance,
                            cross_unrealized_pnl=w.cross_unrealized_pnl,
                        )
                    )
                for p in venue.positions.values():
                    add(
                        PositionSnapshot(
                            run_id=run_id,
                            read_at=venue.read_at,
                            venue=venue.venue,
                            symbol=p.symbol,
                            side=p.side,
                            contracts=p.contracts,
                            contract_size=p.contract_size,
                            notional=p.notional,
                            entry_price=p.entry_price,
                            mark_price=p.mark_price,
                            unrealized_pnl=p.unrealized_pnl,
                            initial_margin=p.initial_margin,
                            maintenance_margin=p.maintenance_margin,
                            liquidation_price=p.liquidation_price,
                            margin_mode=p.margin_mode,
                            isolated_wallet=p.isolated_wallet,
                        )
                    )
                for f in venue.funding.values():
                    add(
                        FundingSnapshot(
                            run_id=run_id,
                            read_at=venue.read_at,
                            venue=venue.venue,
                            symbol=f.symbol,
                            rate=f.rate,
                            mark_price=f.mark_price,
                            next_funding_at=f.next_funding_at,
                        )
                    )
            session.add_all(rows)
            journal.append_all(session, rows, self._clock())

    # funding payments ---------------------------------------------------------------------

    def record_funding_payments(
        self, payments: Iterable[FundingPaymentRecord]
    ) -> list[FundingPaymentRecord]:
        """Record each payment once (a venue id already recorded for its venue is skipped),
        journaled, in one transaction; returns the ones that were new."""
        wanted = list(payments)
        if not wanted:
            return []
        now = self._clock()
        new: list[FundingPaymentRecord] = []
        with self._transaction() as session:
            for venue in sorted({p.venue for p in wanted}):
                ids = [p.exchange_id for p in wanted if p.venue == venue]
                held = set()
                for start in range(0, len(ids), 500):  # below SQLite's bound-parameter limit
                    held.update(
                        session.scalars(
                            select(FundingPayment.exchange_id).where(
                                FundingPayment.venue == venue,
                                FundingPayment.exchange_id.in_(ids[start : start + 500]),
                            )
                        )
                    )
                for payment in wanted:
                    if payment.venue == venue and payment.exchange_id not in held:
                        held.add(payment.exchange_id)
                        new.append(payment)
            rows = [
                FundingPayment(
                    recorded_at=now,
                    venue=p.venue,
                    hedge=p.hedge,
                    symbol=p.symbol,
                    asset=p.asset,
                    amount=p.amount,
                    at=p.at,
                    exchange_id=p.exchange_id,
                )
                for p in new
            ]
            session.add_all(rows)
            journal.append_all(session, rows, now)
        return new

    def last_funding_payment_at(self, venue: str) -> datetime | None:
        """When the newest recorded payment of `venue` was booked (the venue's clock)."""
        with self._sessions() as session:
            return session.scalar(
                select(func.max(FundingPayment.at)).where(FundingPayment.venue == venue)
            )

    # transfers ----------------------------------------------------------------------------

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
        with self._transaction() as session:
            row = Transfer(
                run_id=run_id,
                client_id=new_client_id(),
                created_at=now,
                updated_at=now,
                venue=item.venue,
                hedges=",".join(item.hedges),
                asset=item.asset,
                from_account=item.from_account,
                to_account=item.to_account,
                rule=item.rule.value,
                planned_amount=item.amount,
                amount=amount,
                status=status.value,
                exchange_id=None,
                error=error,
                reason=item.reason,
                figures=journal.canonical_json(dict(item.figures)),
                inputs=journal.canonical_json(dict(inputs)),
                dry_run=dry_run,
                replaces_id=replaces_id,
            )
            session.add(row)
            if tag is not None and amount is not None:
                session.flush()  # the id the tag is made of
                row.amount_tag = tag(row.id)
                row.amount = amount - row.amount_tag
            totals.moved(session, row, None, row.status)
            journal.append(session, row, now)
            return TransferRecord.of(row, attempts=0)

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
        with self._transaction() as session:
            row = session.get_one(Transfer, transfer_id)
            old_amount = row.amount
            row.amount_tag = tag(row.id) if tag is not None and skipped is None else None
            row.amount = amount - row.amount_tag if row.amount_tag is not None else amount
            totals.resized(session, row, old_amount)  # the running totals follow the amount
            row.inputs = journal.canonical_json(dict(inputs))
            row.updated_at = now
            if skipped is not None:
                row.reason = f"{row.reason}; skipped: {skipped}"
                totals.moved(session, row, row.status, TransferStatus.SKIPPED.value)
                row.status = TransferStatus.SKIPPED.value
            journal.append(session, row, now)
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
        (another row holds it): then the transfer is left unknown, see `_write_outcome`."""
        now = self._clock()
        with self._transaction() as session:
            row = session.get_one(Transfer, transfer_id)
            if inputs is not None:
                row.inputs = journal.canonical_json(dict(inputs))
                row.updated_at = now
            held = None
            if status is not None:
                held = _write_outcome(
                    session, row, status, now, exchange_id=exchange_id, error=error
                )
            number = session.scalar(
                select(func.count()).where(TransferAttempt.transfer_id == transfer_id)
            )
            attempt = TransferAttempt(
                transfer_id=transfer_id,
                number=(number or 0) + 1,
                started_at=started_at,
                finished_at=now,
                amount=amount,
                outcome=outcome,
                error_kind=error_kind,
                error=held or error,
                exchange_id=exchange_id,
                venue_clock_offset_ms=venue_clock_offset_ms,
            )
            session.add(attempt)
            journal.append(session, attempt, now)
            if status is not None or inputs is not None:
                journal.append(session, row, now)
            return TransferRecord.of(row, attempts=attempt.number)

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
        with self._transaction() as session:
            row = session.get_one(Transfer, transfer_id)
            _write_outcome(session, row, status, now, exchange_id=exchange_id, error=error)
            journal.append(session, row, now)
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
        with self._transaction() as session:
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
            journal.append(session, attempt, now)
            journal.append(session, row, now)
            journal.append(session, correction, now)
            return TransferRecord.of(row, attempts=attempt.number)

    def get_transfer(self, transfer_id: int) -> TransferRecord:
        with self._sessions() as session:
            row = session.get_one(Transfer, transfer_id)
            return TransferRecord.of(row, attempts=_attempt_count(session, transfer_id))

    def verify(self, anchor: journal.Anchor | None = None) -> journal.VerifyReport:
        with self.engine.connect() as connection:
            return journal.verify(connection, self.key, anchor)

    # isolated hedges' two-leg moves (0007) --------------------------------------------------

    def record_margin_move(
        self,
        run_id: int,
        item: PlannedTransfer,
        *,
        symbol: str,
        futures_account: str,
        direction: str,
        dry_run: bool,
    ) -> MarginMoveRecord:
        """Commit the move before either leg acts: a crash between the legs is then visible."""
        now = self._clock()
        with self._transaction() as session:
            row = MarginMove(
                run_id=run_id,
                created_at=now,
                venue=item.venue,
                hedges=",".join(item.hedges),
                symbol=symbol,
                asset=item.asset,
                futures_account=futures_account,
                direction=direction,
                planned_amount=item.amount,
                reason=item.reason,
                dry_run=dry_run,
            )
            session.add(row)
            session.flush()
            journal.append(session, row, now)
            return MarginMoveRecord.of(row)

    def record_margin_intent(
        self,
        move_id: int,
        *,
        add: bool,
        amount: Decimal,
        inputs: Mapping[str, Any],
        dry_run: bool,
        status: TransferStatus = TransferStatus.PENDING,
        error: str | None = None,
    ) -> MarginLegRecord:
        """Commit a margin leg before the call (or as final when nothing will be sent)."""
        now = self._clock()
        with self._transaction() as session:
            move = session.get_one(MarginMove, move_id)
            row = MarginLeg(
                move_id=move_id,
                created_at=now,
                updated_at=now,
                symbol=move.symbol,
                asset=move.asset,
                add=add,
                amount=amount,
                status=status.value,
                error=error,
                inputs=journal.canonical_json(dict(inputs)),
                dry_run=dry_run,
            )
            session.add(row)
            session.flush()
            journal.append(session, row, now)
            return MarginLegRecord.of(row, attempts=0)

    def record_margin_attempt(
        self,
        leg_id: int,
        *,
        amount: Decimal,
        outcome: str,
        started_at: datetime,
        status: TransferStatus | None,
        error_kind: str | None = None,
        error: str | None = None,
        venue_clock_offset_ms: int | None = None,
    ) -> MarginLegRecord:
        """One call for a margin leg, and with `status` its outcome, in one commit."""
        now = self._clock()
        with self._transaction() as session:
            row = session.get_one(MarginLeg, leg_id)
            number = _margin_attempt_count(session, leg_id) + 1
            attempt = MarginLegAttempt(
                leg_id=leg_id,
                number=number,
                started_at=started_at,
                finished_at=now,
                amount=amount,
                outcome=outcome,
                error_kind=error_kind,
                error=error,
                venue_clock_offset_ms=venue_clock_offset_ms,
            )
            session.add(attempt)
            written: list[Base] = [attempt]
            if status is not None:
                row.status, row.updated_at = status.value, now
                row.settled_by = "answer" if status is TransferStatus.CONFIRMED else None
                if error is not None:
                    row.error = error
                written.append(row)
            journal.append_all(session, written, now)
            return MarginLegRecord.of(row, attempts=number)

    def record_margin_outcome(
        self,
        leg_id: int,
        status: TransferStatus,
        *,
        settled_by: str | None = None,
        venue_at: datetime | None = None,
        error: str | None = None,
    ) -> MarginLegRecord:
        """Settle an open margin leg: by reconciliation against the venue's margin history
        (`settled_by="history"`), or as failed by the send loop without another call (a clock
        resync that failed, a stop request)."""
        now = self._clock()
        with self._transaction() as session:
            row = session.get_one(MarginLeg, leg_id)
            row.status, row.updated_at, row.settled_by = status.value, now, settled_by
            row.venue_at = venue_at
            if error is not None:
                row.error = error
            journal.append(session, row, now)
            return MarginLegRecord.of(row, attempts=_margin_attempt_count(session, leg_id))


@dataclass(frozen=True, kw_only=True)
class MarginMoveRecord:
    """A two-leg move of an isolated hedge, detached from the session."""

    id: int
    run_id: int
    created_at: datetime
    venue: str
    hedges: str
    symbol: str
    asset: str
    futures_account: str
    direction: str  # top_up | return
    planned_amount: Decimal
    reason: str
    dry_run: bool

    @classmethod
    def of(cls, row: MarginMove) -> MarginMoveRecord:
        return cls(
            id=row.id,
            run_id=row.run_id,
            created_at=row.created_at,
            venue=row.venue,
            hedges=row.hedges,
            symbol=row.symbol,
            asset=row.asset,
            futures_account=row.futures_account,
            direction=row.direction,
            planned_amount=row.planned_amount,
            reason=row.reason,
            dry_run=row.dry_run,
        )


@dataclass(frozen=True, kw_only=True)
class MarginLegRecord:
    """A margin change (add or reduce) of a move, detached from the session."""

    id: int
    move_id: int
    created_at: datetime
    updated_at: datetime
    symbol: str
    asset: str
    add: bool
    amount: Decimal
    status: TransferStatus
    settled_by: str | None
    venue_at: datetime | None
    error: str | None
    dry_run: bool
    attempts: int

    @classmethod
    def of(cls, row: MarginLeg, attempts: int) -> MarginLegRecord:
        return cls(
            id=row.id,
            move_id=row.move_id,
            created_at=row.created_at,
            updated_at=row.updated_at,
            symbol=row.symbol,
            asset=row.asset,
            add=row.add,
            amount=row.amount,
            status=TransferStatus(row.status),
            settled_by=row.settled_by,
            venue_at=row.venue_at,
            error=row.error,
            dry_run=row.dry_run,
            attempts=attempts,
        )


def _margin_attempt_count(session: Session, leg_id: int) -> int:
    return session.scalar(select(func.count()).where(MarginLegAttempt.leg_id == leg_id)) or 0


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
    session = object_session(row)
    if session is not None:  # the running totals move with the status, in its transaction
        totals.moved(session, row, row.status, status.value)
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
