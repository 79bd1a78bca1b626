"""`bot ledger summary`: counts by status, gross and net flows per asset, failures, unknowns,
manual actions and funding income, grouped by a period or a dimension.

Whole UTC days come from the running totals (`bot.ledger.totals`: the final transfers folded
in at the end of each run), plus the few transfers not folded yet, counted from the rows
themselves. The partial days at the ends of a `--since`/`--until` are counted and summed from
the transfers in the database (one GROUP BY over those rows), exactly: PostgreSQL sums
NUMERIC; SQLite, which has no decimal type, sums each amount's integer digits and its 18
decimal digits as two 9-digit integers, which is exact for every amount the ledger can hold
(an amount with more decimals makes that query fall back to summing Decimals in Python).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import Date, Integer, case, cast, func, literal, select
from sqlalchemy.sql import ColumnElement

from bot.ledger import totals
from bot.ledger.queries import Direction, TransferFilter, filtered, hedge_matches
from bot.ledger.store import Ledger
from bot.ledger.tables import FundingPayment, Transfer, TransferTotal
from bot.model import TransferStatus

FRACTION_DIGITS = 18


class GroupBy(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    VENUE = "venue"
    ASSET = "asset"
    HEDGE = "hedge"
    DIRECTION = "direction"


@dataclass
class Flows:
    """Confirmed collateral moved in one asset, and what its hedges' funding paid."""

    to_futures: Decimal = Decimal(0)
    to_spot: Decimal = Decimal(0)
    funding_income: Decimal = Decimal(0)
    funding_payments: int = 0

    @property
    def gross(self) -> Decimal:
        return self.to_futures + self.to_spot

    @property
    def net_to_futures(self) -> Decimal:
        return self.to_futures - self.to_spot


@dataclass
class Group:
    key: str
    statuses: dict[str, int] = field(default_factory=dict)
    assets: dict[str, Flows] = field(default_factory=dict)

    @property
    def transfers(self) -> int:
        return sum(self.statuses.values())

    def count(self, status: TransferStatus) -> int:
        return self.statuses.get(status.value, 0)

    def flows(self, asset: str) -> Flows:
        return self.assets.setdefault(asset, Flows())


def summarize(ledger: Ledger, by: GroupBy, where: TransferFilter) -> list[Group]:
    """The groups in key order: whole UTC days from the running totals (a few thousand rows
    on any ledger), the partial days at the ends of `--since`/`--until` from the transfers."""
    dialect = ledger.engine.dialect.name
    groups: dict[str, Group] = {}

    def group(key: Any) -> Group:
        text = "-" if key is None else str(key)
        return groups.setdefault(text, Group(text))

    first_day = _ceil_day(where.since) if where.since is not None else None
    end_day = _floor_day(where.until) if where.until is not None else None
    if first_day is not None and end_day is not None and first_day >= end_day:
        _scan(ledger, by, where, dialect, group)  # within one day: the transfers themselves
    else:
        held = _from_totals(ledger, by, where, first_day, end_day, group)
        whole_days = replace(where, since=first_day, until=end_day)
        _scan(ledger, by, whole_days, dialect, group, only=held.unfolded())
        if where.since is not None and first_day is not None and where.since < first_day:
            _scan(ledger, by, replace(where, until=first_day), dialect, group)
        if where.until is not None and end_day is not None and end_day < where.until:
            _scan(ledger, by, replace(where, since=end_day), dialect, group)
    if by is not GroupBy.DIRECTION:
        _add_funding(ledger, by, where, dialect, group)
    return [groups[k] for k in sorted(groups)]


def _ceil_day(at: datetime) -> datetime:
    floor = _floor_day(at)
    return floor if floor == at else floor + timedelta(days=1)


def _floor_day(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _from_totals(
    ledger: Ledger,
    by: GroupBy,
    where: TransferFilter,
    first_day: datetime | None,
    end_day: datetime | None,
    group: Any,
) -> totals.Mark:
    """Whole days from the running totals, grouped and summed exactly in SQL; returns which
    transfers they hold (the caller counts the rest)."""
    t = TransferTotal
    dialect = ledger.engine.dialect.name
    direction = _direction(t.from_account, t.to_account)
    if by is GroupBy.DAY:
        key: Any = t.day
    elif by is GroupBy.MONTH:
        key = func.substr(t.day, 1, 7)
    elif by is GroupBy.WEEK:
        key = (
            func.to_char(func.date_trunc("week", cast(t.day, Date)), "YYYY-MM-DD")
            if dialect == "postgresql"
            else func.date(t.day, "weekday 0", "-6 days")
        )
    else:
        key = {
            GroupBy.VENUE: t.venue,
            GroupBy.ASSET: t.asset,
            GroupBy.HEDGE: t.hedges,
            GroupBy.DIRECTION: direction,
        }[by]
    query = select(
        key.label("key"),
        t.asset,
        direction.label("direction"),
        t.status,
        func.sum(t.transfers).label("n"),
        *_sum_columns(t.amount, dialect),
    ).where(t.transfers != 0)
    if first_day is not None:
        query = query.where(t.day >= first_day.strftime("%Y-%m-%d"))
    if end_day is not None:
        query = query.where(t.day < end_day.strftime("%Y-%m-%d"))
    if where.venue is not None:
        query = query.where(t.venue == where.venue)
    if where.asset is not None:
        query = query.where(t.asset == where.asset)
    if where.status is not None:
        query = query.where(t.status == where.status.value)
    if where.hedge is not None:
        query = query.where(hedge_matches(t.hedges, where.hedge))
    if where.direction is not None:
        query = query.where(direction == where.direction.value)
    query = query.group_by(key, t.asset, direction, t.status)
    with ledger.engine.connect() as connection:
        held = totals.mark(connection)
        rows = connection.execute(query).all()
        if dialect != "postgresql" and any((r.max_fraction or 0) > FRACTION_DIGITS for r in rows):
            rows = _python_totals(connection, query)
    _tally(rows, dialect, group)
    return held


def _python_totals(connection: Any, query: Any) -> list[_Row]:
    """The same groups with the amounts summed as Decimals (more than 18 decimals)."""
    plain_query = query.with_only_columns(
        *[c for c in query.selected_columns if c.name in ("key", "asset", "direction", "status")],
        TransferTotal.transfers,
        TransferTotal.amount,
    ).group_by(None)
    totals: dict[tuple[Any, ...], list[Any]] = defaultdict(lambda: [0, Decimal(0)])
    for row in connection.execute(plain_query):
        slot = totals[(row.key, row.asset, row.direction, row.status)]
        slot[0] += row.transfers
        slot[1] += row.amount
    return [_Row(k[0], k[1], k[2], k[3], n, total) for k, (n, total) in totals.items()]


def _tally(rows: Any, dialect: str, group: Any) -> None:
    for row in rows:
        target = group(row.key)
        target.statuses[row.status] = target.statuses.get(row.status, 0) + row.n
        if row.status != TransferStatus.CONFIRMED.value:
            continue
        amount = _total(row, dialect)
        flows = target.flows(row.asset)
        if row.direction == Direction.TO_FUTURES.value:
            flows.to_futures += amount
        elif row.direction == Direction.TO_SPOT.value:
            flows.to_spot += amount


def _scan(
    ledger: Ledger,
    by: GroupBy,
    where: TransferFilter,
    dialect: str,
    group: Any,
    only: ColumnElement[bool] | None = None,
) -> None:
    """Count and sum the filter's transfers themselves (those `only` takes), in one GROUP BY."""

    direction = _direction(Transfer.from_account, Transfer.to_account)
    key = _key(by, dialect, Transfer.created_at, Transfer.venue, Transfer.asset, Transfer.hedges)
    if by is GroupBy.DIRECTION:
        key = direction
    sums = _sum_columns(Transfer.amount, dialect)
    query = filtered(
        select(
            key.label("key"),
            Transfer.asset,
            direction.label("direction"),
            Transfer.status,
            func.count().label("n"),
            *sums,
        ),
        where,
    ).group_by(key, Transfer.asset, direction, Transfer.status)
    if only is not None:
        query = query.where(only)
    with ledger.engine.connect() as connection:
        rows = connection.execute(query).all()
        if dialect != "postgresql" and any((r.max_fraction or 0) > FRACTION_DIGITS for r in rows):
            rows = _python_sums(connection, query, where, key, direction, only)
    _tally(rows, dialect, group)


def _add_funding(ledger: Ledger, by: GroupBy, where: TransferFilter, dialect: str, group) -> None:  # type: ignore[no-untyped-def]
    key = _key(
        by,
        dialect,
        FundingPayment.at,
        FundingPayment.venue,
        FundingPayment.asset,
        FundingPayment.hedge,
    )
    sums = _sum_columns(FundingPayment.amount, dialect)
    query = select(key.label("key"), FundingPayment.asset, func.count().label("n"), *sums)
    if where.venue is not None:
        query = query.where(FundingPayment.venue == where.venue)
    if where.asset is not None:
        query = query.where(FundingPayment.asset == where.asset)
    if where.hedge is not None:
        query = query.where(FundingPayment.hedge == where.hedge)
    if where.since is not None:
        query = query.where(FundingPayment.at >= where.since)
    if where.until is not None:
        query = query.where(FundingPayment.at < where.until)
    with ledger.engine.connect() as connection:
        rows = connection.execute(query.group_by(key, FundingPayment.asset)).all()
        if dialect != "postgresql" and any((r.max_fraction or 0) > FRACTION_DIGITS for r in rows):
            exact: dict[tuple[Any, str], list[Any]] = defaultdict(lambda: [0, Decimal(0)])
            plain_rows = query.with_only_columns(
                key.label("key"), FundingPayment.asset, FundingPayment.amount
            )
            for row in connection.execute(plain_rows):
                slot = exact[(row.key, row.asset)]
                slot[0] += 1
                slot[1] += row.amount
            for (k, asset), (n, total) in exact.items():
                flows = group(k).flows(asset)
                flows.funding_income += total
                flows.funding_payments += n
            return
    for row in rows:
        flows = group(row.key).flows(row.asset)
        flows.funding_income += _total(row, dialect)
        flows.funding_payments += row.n


def _direction(from_account: Any, to_account: Any) -> ColumnElement[str]:
    return case(
        (from_account == "spot", literal(Direction.TO_FUTURES.value)),
        (to_account == "spot", literal(Direction.TO_SPOT.value)),
        else_=literal("other"),
    )


def _key(by: GroupBy, dialect: str, at: Any, venue: Any, asset: Any, hedge: Any) -> Any:
    if by is GroupBy.VENUE:
        return venue
    if by is GroupBy.ASSET:
        return asset
    if by is GroupBy.HEDGE:
        return hedge
    if dialect == "postgresql":
        utc = func.timezone("UTC", at)
        if by is GroupBy.WEEK:
            return func.to_char(func.date_trunc("week", utc), "YYYY-MM-DD")
        return func.to_char(utc, "YYYY-MM" if by is GroupBy.MONTH else "YYYY-MM-DD")
    if by is GroupBy.WEEK:  # the Monday of the ISO week
        return func.date(at, "weekday 0", "-6 days")
    return func.strftime("%Y-%m" if by is GroupBy.MONTH else "%Y-%m-%d", at)


def _sum_columns(amount: Any, dialect: str) -> list[Any]:
    if dialect == "postgresql":
        return [func.sum(amount).label("total")]
    dot = func.instr(amount, ".")
    whole = case((dot > 0, func.substr(amount, 1, dot - 1)), else_=amount)
    fraction = case((dot > 0, func.substr(amount, dot + 1)), else_=literal(""))
    padded = func.substr(fraction.op("||")(literal("0" * FRACTION_DIGITS)), 1, FRACTION_DIGITS)
    sign = case((func.substr(amount, 1, 1) == "-", -1), else_=1)
    return [
        func.sum(cast(whole, Integer)).label("whole"),
        func.sum(sign * cast(func.substr(padded, 1, 9), Integer)).label("high"),
        func.sum(sign * cast(func.substr(padded, 10, 9), Integer)).label("low"),
        func.max(func.length(fraction)).label("max_fraction"),
    ]


def _total(row: Any, dialect: str) -> Decimal:
    if dialect == "postgresql" or hasattr(row, "total"):
        return Decimal(row.total or 0)
    return (
        Decimal(row.whole or 0)
        + Decimal(row.high or 0).scaleb(-9)
        + Decimal(row.low or 0).scaleb(-FRACTION_DIGITS)
    )


@dataclass(frozen=True)
class _Row:
    key: Any
    asset: str
    direction: str
    status: str
    n: int
    total: Decimal


def _python_sums(connection, query, where, key, direction, only=None) -> list[_Row]:  # type: ignore[no-untyped-def]
    """Exact sums of amounts with more decimals than the SQL split holds: Decimals in Python."""
    totals: dict[tuple[Any, ...], list[Any]] = defaultdict(lambda: [0, Decimal(0)])
    rows = filtered(
        select(
            key.label("key"),
            Transfer.asset,
            direction.label("direction"),
            Transfer.status,
            Transfer.amount,
        ),
        where,
    )
    if only is not None:
        rows = rows.where(only)
    for row in connection.execute(rows):
        slot = totals[(row.key, row.asset, row.direction, row.status)]
        slot[0] += 1
        slot[1] += row.amount or 0
    return [_Row(k[0], k[1], k[2], k[3], n, total) for k, (n, total) in totals.items()]
