"""The ledger's tables (SQLAlchemy 2 typed models). Alembic migrations in `migrations/` create them.

Money columns are `ExactDecimal` (never float); times are UTC. `transfers` holds one row per
intended move; its `status` may change only while `pending` or `unknown` (a database trigger
refuses updates to final rows). `corrections` records an operator's settlement of a transfer;
it, the snapshots and `funding_payments` are append-only (triggers refuse UPDATE and DELETE).
Every write to a journaled table (`journal.ENTITIES`: runs, snapshots, transfers, attempts,
corrections, funding payments) is also appended to the keyed `journal` chain, so
`bot ledger verify` detects edits made behind the bot's back. Schema: docs/ledger.md.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from bot.ledger.types import ExactDecimal, UtcDateTime


class Base(DeclarativeBase):
    pass


#: an Index's `info` key holding its partial condition (SQL), for `add_postgresql_conditions`
WHERE = "where"


def one_where(name: str, *columns: str, where: str) -> Index:
    """A unique index over the rows matching `where` (SQL): one open (firing, halted) row per
    key. Its PostgreSQL condition is added only where PostgreSQL DDL is made (the migrations):
    naming a `postgresql_` option imports SQLAlchemy's whole PostgreSQL dialect with its drivers,
    about 45 ms of every start, `bot status` included, which never creates an index."""
    return Index(name, *columns, unique=True, sqlite_where=text(where), info={WHERE: where})


def add_postgresql_conditions(metadata: MetaData) -> None:
    """Give every `one_where` index of `metadata` its PostgreSQL condition (idempotent)."""
    for table in metadata.tables.values():
        for index in table.indexes:
            where = index.info.get(WHERE)
            if where is not None:
                index.dialect_kwargs["postgresql_where"] = text(where)


class Run(Base):
    """One invocation of a cycle (rebalance, dry run, scheduled run, reconcile)."""

    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    command: Mapped[str] = mapped_column(String(32))
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    status: Mapped[str] = mapped_column(String(16))  # running, ok, failed, error
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    config_digest: Mapped[str] = mapped_column(String(64))


class BalanceSnapshot(Base):
    __tablename__ = "balance_snapshots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), index=True)
    read_at: Mapped[datetime] = mapped_column(UtcDateTime)
    venue: Mapped[str] = mapped_column(String(64))
    account: Mapped[str] = mapped_column(String(32))
    asset: Mapped[str] = mapped_column(String(32))
    free: Mapped[Decimal] = mapped_column(ExactDecimal)
    used: Mapped[Decimal] = mapped_column(ExactDecimal)
    balance: Mapped[Decimal] = mapped_column(ExactDecimal)
    unrealized_pnl: Mapped[Decimal] = mapped_column(ExactDecimal)
    transferable: Mapped[Decimal] = mapped_column(ExactDecimal)
    #: the venue's own cross-margin figures, where it reports them (migration 0008)
    cross_balance: Mapped[Decimal | None] = mapped_column(ExactDecimal, nullable=True)
    cross_unrealized_pnl: Mapped[Decimal | None] = mapped_column(ExactDecimal, nullable=True)


class AccountMarginSnapshot(Base):
    """A unified account's own margin figure as one read found it (migrations 0012, 0013): fields of
    `bot.model.AccountMargin`, with the account it is of."""

    __tablename__ = "account_margin_snapshots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), index=True)
    read_at: Mapped[datetime] = mapped_column(UtcDateTime)
    venue: Mapped[str] = mapped_column(String(64))
    account: Mapped[str] = mapped_column(String(32))
    figure: Mapped[str] = mapped_column(String(32))
    value: Mapped[Decimal] = mapped_column(ExactDecimal)
    liquidation_at: Mapped[Decimal] = mapped_column(ExactDecimal)
    higher_is_safer: Mapped[bool] = mapped_column(Boolean)
    equity: Mapped[Decimal] = mapped_column(ExactDecimal)
    requirement: Mapped[Decimal] = mapped_column(ExactDecimal)
    #: what the figure covers where not the whole account (migration 0013); NULL: the account
    scope: Mapped[str | None] = mapped_column(String(200), nullable=True)


class PositionSnapshot(Base):
    __tablename__ = "position_snapshots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), index=True)
    read_at: Mapped[datetime] = mapped_column(UtcDateTime)
    venue: Mapped[str] = mapped_column(String(64))
    symbol: Mapped[str] = mapped_column(String(64))
    side: Mapped[str] = mapped_column(String(8))
    contracts: Mapped[Decimal] = mapped_column(ExactDecimal)
    contract_size: Mapped[Decimal] = mapped_column(ExactDecimal)
    notional: Mapped[Decimal] = mapped_column(ExactDecimal)
    entry_price: Mapped[Decimal | None] = mapped_column(ExactDecimal, nullable=True)
    mark_price: Mapped[Decimal | None] = mapped_column(ExactDecimal, nullable=True)
    unrealized_pnl: Mapped[Decimal] = mapped_column(ExactDecimal)
    initial_margin: Mapped[Decimal | None] = mapped_column(ExactDecimal, nullable=True)
    maintenance_margin: Mapped[Decimal | None] = mapped_column(ExactDecimal, nullable=True)
    liquidation_price: Mapped[Decimal | None] = mapped_column(ExactDecimal, nullable=True)
    #: as the venue reported them (migration 0008)
    margin_mode: Mapped[str | None] = mapped_column(String(16), nullable=True)
    isolated_wallet: Mapped[Decimal | None] = mapped_column(ExactDecimal, nullable=True)


class FundingSnapshot(Base):
    __tablename__ = "funding_snapshots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), index=True)
    read_at: Mapped[datetime] = mapped_column(UtcDateTime)
    venue: Mapped[str] = mapped_column(String(64))
    symbol: Mapped[str] = mapped_column(String(64))
    rate: Mapped[Decimal | None] = mapped_column(ExactDecimal, nullable=True)
    mark_price: Mapped[Decimal | None] = mapped_column(ExactDecimal, nullable=True)
    next_funding_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class Transfer(Base):
    """One intended move of funds, from intent to outcome."""

    __tablename__ = "transfers"
    __table_args__ = (
        # An exchange transfer is claimed by at most one ledger row.
        UniqueConstraint("venue", "exchange_id", name="uq_transfers_venue_exchange_id"),
        Index("ix_transfers_venue_status", "venue", "status"),
        Index("ix_transfers_created_at", "created_at"),
        # audit filters that page by id (0006): `ledger list --venue X --limit 50` walks the
        # venue's newest ids instead of sorting all of its rows
        Index("ix_transfers_venue_id", "venue", "id"),
        Index("ix_transfers_asset_id", "asset", "id"),
        Index("ix_transfers_status_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), index=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    venue: Mapped[str] = mapped_column(String(64))
    hedges: Mapped[str] = mapped_column(String(256))  # comma-separated hedge names
    asset: Mapped[str] = mapped_column(String(32))
    from_account: Mapped[str] = mapped_column(String(32))
    to_account: Mapped[str] = mapped_column(String(32))
    rule: Mapped[str] = mapped_column(String(32))
    planned_amount: Mapped[Decimal] = mapped_column(ExactDecimal)
    amount: Mapped[Decimal | None] = mapped_column(ExactDecimal, nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    exchange_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    reason: Mapped[str] = mapped_column(Text)
    figures: Mapped[str] = mapped_column(Text)  # canonical JSON: the policy's numbers
    inputs: Mapped[str] = mapped_column(Text)  # canonical JSON: the fresh read behind the sizing
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("transfers.id"), nullable=True)
    #: subtracted from the sized amount to make it identifiable in the venue's history (0003)
    amount_tag: Mapped[Decimal | None] = mapped_column(ExactDecimal, nullable=True)


class TransferAttempt(Base):
    """One call to the venue (or the decision not to call) for a transfer."""

    __tablename__ = "transfer_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    transfer_id: Mapped[int] = mapped_column(ForeignKey("transfers.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    amount: Mapped[Decimal] = mapped_column(ExactDecimal)
    outcome: Mapped[str] = mapped_column(String(32))
    error_kind: Mapped[str | None] = mapped_column(String(32), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    exchange_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    #: the venue's clock minus ours, measured for this attempt (0003)
    venue_clock_offset_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class Correction(Base):
    """An operator's settlement of a transfer that reconciliation could not settle on its own
    (0004). Append-only: database triggers refuse UPDATE and DELETE."""

    __tablename__ = "corrections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    transfer_id: Mapped[int] = mapped_column(ForeignKey("transfers.id"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    operator: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(String(16))  # assign
    exchange_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    previous_status: Mapped[str] = mapped_column(String(16))
    new_status: Mapped[str] = mapped_column(String(16))
    #: what the bot checked the operator's word against ("not checked against the venue"...)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)


class MarginMove(Base):
    """An isolated hedge's two-leg move (0007): a wallet transfer and a margin change. The
    transfer leg is a `transfers` row naming this move in its figures (`margin_move`); the
    margin leg is a `MarginLeg`. Append-only."""

    __tablename__ = "margin_moves"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    venue: Mapped[str] = mapped_column(String(64))
    hedges: Mapped[str] = mapped_column(String(256))
    symbol: Mapped[str] = mapped_column(String(64))  # the unified perp symbol
    asset: Mapped[str] = mapped_column(String(32))
    futures_account: Mapped[str] = mapped_column(String(32))
    direction: Mapped[str] = mapped_column(String(16))  # top_up | return
    planned_amount: Mapped[Decimal] = mapped_column(ExactDecimal)
    reason: Mapped[str] = mapped_column(Text)
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)


class MarginLeg(Base):
    """The margin change of a move (0007): its intent, then its outcome; like a transfer, its
    status changes only while `pending` or `unknown` (a trigger refuses updates to final rows)."""

    __tablename__ = "margin_legs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    move_id: Mapped[int] = mapped_column(ForeignKey("margin_moves.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    symbol: Mapped[str] = mapped_column(String(64))
    asset: Mapped[str] = mapped_column(String(32))
    add: Mapped[bool] = mapped_column(Boolean)
    amount: Mapped[Decimal] = mapped_column(ExactDecimal)
    status: Mapped[str] = mapped_column(String(16), index=True)
    settled_by: Mapped[str | None] = mapped_column(String(16), nullable=True)
    venue_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    inputs: Mapped[str] = mapped_column(Text)  # canonical JSON: the fresh read behind the size
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)


class MarginLegAttempt(Base):
    """One call to the venue for a margin leg (0007). Append-only."""

    __tablename__ = "margin_leg_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    leg_id: Mapped[int] = mapped_column(ForeignKey("margin_legs.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime] = mapped_column(UtcDateTime)
    amount: Mapped[Decimal] = mapped_column(ExactDecimal)
    outcome: Mapped[str] = mapped_column(String(32))
    error_kind: Mapped[str | None] = mapped_column(String(32), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    venue_clock_offset_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class FundingPayment(Base):
    """One funding payment a venue booked on a hedge's perpetual (0006): positive received,
    negative paid. Recorded once per venue id; append-only (triggers refuse UPDATE and DELETE)."""

    __tablename__ = "funding_payments"
    __table_args__ = (
        UniqueConstraint("venue", "exchange_id", name="uq_funding_payments_venue_exchange_id"),
        Index("ix_funding_payments_venue_at", "venue", "at"),
        Index("ix_funding_payments_at", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)
    venue: Mapped[str] = mapped_column(String(64))
    hedge: Mapped[str | None] = mapped_column(String(64), nullable=True)
    symbol: Mapped[str] = mapped_column(String(64))
    asset: Mapped[str] = mapped_column(String(32))
    amount: Mapped[Decimal] = mapped_column(ExactDecimal)
    at: Mapped[datetime] = mapped_column(UtcDateTime)  # the venue's time of the payment
    exchange_id: Mapped[str] = mapped_column(String(128))


class TransferTotal(Base):
    """Running count and amount of transfers per UTC day, venue, asset, hedges, accounts,
    status and dry-run flag (0006; `bot.ledger.totals`): what `ledger summary` reads."""

    __tablename__ = "transfer_totals"
    __table_args__ = (
        UniqueConstraint(
            "day",
            "venue",
            "asset",
            "hedges",
            "from_account",
            "to_account",
            "status",
            "dry_run",
            name="uq_transfer_totals_bucket",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[str] = mapped_column(String(10))  # YYYY-MM-DD, UTC, of created_at
    venue: Mapped[str] = mapped_column(String(64))
    asset: Mapped[str] = mapped_column(String(32))
    hedges: Mapped[str] = mapped_column(String(256))
    from_account: Mapped[str] = mapped_column(String(32))
    to_account: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    dry_run: Mapped[bool] = mapped_column(Boolean)
    transfers: Mapped[int] = mapped_column(Integer)
    amount: Mapped[Decimal] = mapped_column(ExactDecimal)


class TransferTotalsMark(Base):
    """Which transfers `transfer_totals` holds (0011, one row; `bot.ledger.totals.fold`): every
    id up to `through_id` but `open_ids` (a JSON list: rows still pending or unknown when they
    were folded past, added once they are final)."""

    __tablename__ = "transfer_totals_mark"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    through_id: Mapped[int] = mapped_column(Integer)
    open_ids: Mapped[str] = mapped_column(Text)


class JournalEntry(Base):
    """Append-only, chained record of every write to a journaled table (see
    `bot.ledger.journal.ENTITIES`)."""

    __tablename__ = "journal"
    __table_args__ = (
        # verify compares each row with its entity's last entry, merging two id-ordered streams
        Index("ix_journal_entity_entity_id_seq", "entity", "entity_id", "seq"),
    )

    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    entity: Mapped[str] = mapped_column(String(16))  # a key of journal.ENTITIES
    entity_id: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)  # canonical JSON of the row after the write
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    #: how `hash` was made (0006): NULL is the first release's unkeyed SHA-256,
    #: "hmac-sha256" keyed, "sha256" written without a key
    chain: Mapped[str | None] = mapped_column(String(16), nullable=True)


class JournalHead(Base):
    """The chain's tip, one row: updating it serializes appends across processes."""

    __tablename__ = "journal_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))


class JobRun(Base):
    """One execution of a `bot run` job, or a missed one (0005); final once it has an outcome."""

    __tablename__ = "job_runs"
    __table_args__ = (Index("ix_job_runs_kind_started", "kind", "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # rebalance snapshot reconcile report guard
    scheduled_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16))  # running ok failed error missed skipped
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"), nullable=True)
    pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    host: Mapped[str | None] = mapped_column(String(255), nullable=True)


class Alert(Base):
    """One firing of an alert condition until it resolves, or a one-off notice (0005)."""

    __tablename__ = "alerts"
    __table_args__ = (one_where("uq_alerts_one_firing", "key", where="state = 'firing'"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(255), index=True)
    state: Mapped[str] = mapped_column(String(16))  # firing resolved notice
    message: Mapped[str] = mapped_column(Text)
    first_seen: Mapped[datetime] = mapped_column(UtcDateTime)
    last_seen: Mapped[datetime] = mapped_column(UtcDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    sent_count: Mapped[int] = mapped_column(Integer, default=0)  # messages delivered
    last_sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # 0010 (NULL on older rows): failure warning info
    severity: Mapped[str | None] = mapped_column(String(16), nullable=True)
    #: how many times a counted condition (a failed transfer of one kind) happened while firing
    occurrences: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: failed deliveries since the last delivered message, and when the last one was tried
    attempts: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    #: the writer delivering one of this row's transitions now, taken under the row lock
    claim: Mapped[str | None] = mapped_column(String(128), nullable=True)
    claimed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class AlertDelivery(Base):
    """One attempt to deliver an alert transition on one channel (0010): append-only."""

    __tablename__ = "alert_deliveries"
    __table_args__ = (
        Index("ix_alert_deliveries_alert", "alert_id"),
        Index("ix_alert_deliveries_at", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"))
    key: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16))  # alert reminder resolved notice
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    channel: Mapped[str] = mapped_column(String(64))  # the apprise scheme, never the URL
    severity: Mapped[str] = mapped_column(String(16))
    outcome: Mapped[str] = mapped_column(String(16))  # delivered failed timeout refused
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)


class ManualInstruction(Base):
    """The standing instruction to move funds by hand (0005): updated while open, not repeated."""

    __tablename__ = "manual_instructions"
    __table_args__ = (
        one_where(
            "uq_manual_one_open",
            "venue",
            "asset",
            "from_account",
            "to_account",
            where="state = 'open'",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    venue: Mapped[str] = mapped_column(String(64))
    asset: Mapped[str] = mapped_column(String(32))
    from_account: Mapped[str] = mapped_column(String(32))
    to_account: Mapped[str] = mapped_column(String(32))
    amount: Mapped[Decimal] = mapped_column(ExactDecimal)
    hedges: Mapped[str] = mapped_column(String(256))
    transfer_id: Mapped[int | None] = mapped_column(ForeignKey("transfers.id"), nullable=True)
    first_seen: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    state: Mapped[str] = mapped_column(String(16))  # open cleared
    cleared_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class Pause(Base):
    """A hedge or a whole venue paused by a person (0014): read and reported, never moved,
    while `paused` and before `until`; `resumed` (by whom and why) or `expired`, then final."""

    __tablename__ = "pauses"
    __table_args__ = (one_where("uq_pauses_one_paused", "scope", "name", where="state = 'paused'"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scope: Mapped[str] = mapped_column(String(8))  # hedge venue
    name: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    paused_by: Mapped[str] = mapped_column(String(64))
    paused_at: Mapped[datetime] = mapped_column(UtcDateTime)
    until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    state: Mapped[str] = mapped_column(String(16))  # paused resumed expired
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    ended_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    end_reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class VenueHalt(Base):
    """A venue halted by a fatal refusal of a transfer or margin call (0009): nothing new is
    sent on it while `halted`; `cleared` (its config or key changed: `fingerprint`, see
    `bot.venues.halts`) or `resumed` (`bot venue resume`, by whom and why), then final."""

    __tablename__ = "venue_halts"
    __table_args__ = (one_where("uq_venue_halts_one_halted", "venue", where="state = 'halted'"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    venue: Mapped[str] = mapped_column(String(64))
    halted_at: Mapped[datetime] = mapped_column(UtcDateTime)
    kind: Mapped[str] = mapped_column(String(16))  # the ErrorKind: fatal
    code: Mapped[str | None] = mapped_column(String(32), nullable=True)
    error: Mapped[str] = mapped_column(Text)  # the venue's answer, redacted
    hint: Mapped[str | None] = mapped_column(Text, nullable=True)  # what to fix
    fingerprint: Mapped[str] = mapped_column(String(64))
    salt: Mapped[str] = mapped_column(String(32))
    transfer_id: Mapped[int | None] = mapped_column(ForeignKey("transfers.id"), nullable=True)
    margin_leg_id: Mapped[int | None] = mapped_column(ForeignKey("margin_legs.id"), nullable=True)
    state: Mapped[str] = mapped_column(String(16))  # halted cleared resumed
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    ended_by: Mapped[str | None] = mapped_column(Text, nullable=True)
    end_reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class NothingToMove(Base):
    """A move the plan wants but whose sizing sends nothing (0009): one open row per venue,
    asset and direction, counted each cycle that still has it; cleared, then final."""

    __tablename__ = "nothing_to_move"
    __table_args__ = (
        one_where(
            "uq_nothing_to_move_one_open",
            "venue",
            "asset",
            "from_account",
            "to_account",
            where="state = 'open'",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    venue: Mapped[str] = mapped_column(String(64))
    asset: Mapped[str] = mapped_column(String(32))
    from_account: Mapped[str] = mapped_column(String(32))
    to_account: Mapped[str] = mapped_column(String(32))
    hedges: Mapped[str] = mapped_column(String(256))
    rule: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)  # why the sizing sends nothing, latest
    planned_amount: Mapped[Decimal] = mapped_column(ExactDecimal)  # latest
    first_seen: Mapped[datetime] = mapped_column(UtcDateTime)
    last_seen: Mapped[datetime] = mapped_column(UtcDateTime)
    count: Mapped[int] = mapped_column(Integer)  # cycles that found it
    state: Mapped[str] = mapped_column(String(16))  # open cleared
    cleared_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
