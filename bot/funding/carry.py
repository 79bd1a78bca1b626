"""Carry: what a hedge earns in funding on the money it ties up. Pure.

For one hedge over a period [start, end):

- funding received and paid: the payments the venue booked (positive received, negative paid);
- capital: the spot leg at mark plus the futures collateral that margins the short, in the
  perpetual's settle asset, from the recorded snapshots. The sum is what the hedge ties up:
  the spot leg's price moves are offset by the short's unrealised P&L inside the futures
  equity, so the sum does not swing with the price as either leg alone would;
- capital-days: the capital integrated over time. A read's capital stands from its time until
  the next read (the newest read before `start` stands from `start`), so the figure is
  time-weighted: snapshots are not evenly spaced (a cycle that moves money records a second
  read, the guard reads more often in danger, the bot may be stopped for hours), and a mean
  per snapshot would over-weight the busy hours;
- average capital = capital-days / observed days; annualised yield = net funding x 365 /
  capital-days (= net funding / average capital x 365 / observed days). Observed: from the
  first capital read that stands in the period to `end`; payments booked before it have no
  capital to set against and stay out of the yield (they are counted apart);
- net carry = net funding - the transfer fees the ledger records. Trading fees and the basis
  (spot against perpetual) are not read from any venue: the carry says so rather than guess;
- beside it, the latest funding rate read, annualised at the symbol's own funding interval
  (rate x payments a year: 1095 at 8 h, 2190 at 4 h), what the hedge earns if nothing changes.

Venue and total figures add up their hedges per settle asset (USDT and BTC never add up): the
yield of a group is its net funding x 365 / its capital-days. Decimal throughout: a division
is Decimal's (28 significant digits), never a float.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from bot.money import ZERO
from bot.policy.funding import annualised_rate

DAYS_PER_YEAR = Decimal(365)
SECONDS_PER_DAY = Decimal(86400)

#: what the net carry leaves out, said wherever it is shown
NOT_READ = "trading fees and basis are not read from the venue and not deducted"


class Bucket(StrEnum):
    DAY = "day"
    WEEK = "week"  # ISO weeks, Monday 00:00 UTC
    MONTH = "month"


@dataclass(frozen=True, kw_only=True)
class Payment:
    """One funding payment of a hedge, as the ledger recorded it."""

    hedge: str
    venue: str
    asset: str
    amount: Decimal
    at: datetime


@dataclass(frozen=True, kw_only=True)
class CapitalRead:
    """What one hedge tied up at one recorded read, in its settle asset."""

    hedge: str
    venue: str
    asset: str
    at: datetime
    spot_value: Decimal  # the spot leg at mark
    futures_collateral: Decimal  # the futures equity that margins the short (its share)

    @property
    def capital(self) -> Decimal:
        return self.spot_value + self.futures_collateral


@dataclass(frozen=True, kw_only=True)
class Fee:
    """A fee the ledger recorded against a hedge's transfers."""

    hedge: str
    venue: str
    asset: str
    amount: Decimal
    at: datetime


@dataclass(frozen=True, kw_only=True)
class CurrentRate:
    """The newest funding rate read for a hedge's perpetual, and how often it is paid."""

    rate: Decimal
    at: datetime
    interval: timedelta | None


@dataclass(frozen=True, kw_only=True)
class Carry:
    """The carry of one hedge, or of a venue's or all hedges in one asset, over [start, end)."""

    name: str  # the hedge, the venue or "total"
    venue: str | None  # None for a total across venues
    asset: str
    start: datetime
    end: datetime
    received: Decimal = ZERO
    paid: Decimal = ZERO  # a positive figure: what the short paid
    payments: int = 0
    fees: Decimal = ZERO
    capital_days: Decimal = ZERO
    average_capital: Decimal | None = None
    observed_from: datetime | None = None
    #: net funding of the payments inside the observed span: the yield's numerator
    net_observed: Decimal = ZERO
    #: payments booked before any capital was read in the period (not in the yield)
    unmatched: int = 0
    #: a hedge's newest funding rate read in the period (None for groups and buckets)
    current: CurrentRate | None = None

    @property
    def rate_annualised(self) -> Decimal | None:
        """The current rate over a year at the symbol's interval; None when either is unknown."""
        if self.current is None or self.current.interval is None:
            return None
        return annualised_rate(self.current.rate, self.current.interval)

    @property
    def net_funding(self) -> Decimal:
        return self.received - self.paid

    @property
    def net_carry(self) -> Decimal:
        return self.net_funding - self.fees

    @property
    def observed_days(self) -> Decimal:
        if self.observed_from is None:
            return ZERO
        return seconds(self.end - self.observed_from) / SECONDS_PER_DAY

    @property
    def annual_yield(self) -> Decimal | None:
        """Net funding x 365 / capital-days; None when no capital was observed."""
        if self.capital_days <= 0:
            return None
        return self.net_observed * DAYS_PER_YEAR / self.capital_days


@dataclass(frozen=True, kw_only=True)
class CarryReport:
    """Per hedge, per venue and in total, over the period and per bucket."""

    start: datetime
    end: datetime
    by: Bucket | None
    hedges: tuple[Carry, ...] = ()
    venues: tuple[Carry, ...] = ()
    totals: tuple[Carry, ...] = ()
    #: by bucket start: the hedges' carry in that bucket
    buckets: tuple[tuple[datetime, tuple[Carry, ...]], ...] = ()
    not_read: str = NOT_READ
    notes: tuple[str, ...] = field(default=())


def seconds(span: timedelta) -> Decimal:
    """A timedelta in seconds, exactly (no float)."""
    return (
        Decimal(span.days) * SECONDS_PER_DAY
        + Decimal(span.seconds)
        + Decimal(span.microseconds) / Decimal(1_000_000)
    )


def capital_days(
    reads: Sequence[CapitalRead], start: datetime, end: datetime
) -> tuple[Decimal, datetime | None]:
    """The capital integrated over [start, end) in capital x days, each read standing until the
    next; and where the integral starts (the first read that stands in the period: the newest
    at or before `start`, else the first after it). `reads` oldest first."""
    total, began = ZERO, None
    ordered = sorted(reads, key=lambda r: r.at)
    for index, read in enumerate(ordered):
        until = ordered[index + 1].at if index + 1 < len(ordered) else end
        since, until = max(read.at, start), min(until, end)
        if until <= since:
            continue
        began = since if began is None else began
        total += read.capital * seconds(until - since) / SECONDS_PER_DAY
    return total, began


def hedge_carry(
    name: str,
    venue: str,
    asset: str,
    payments: Iterable[Payment],
    reads: Sequence[CapitalRead],
    fees: Iterable[Fee],
    start: datetime,
    end: datetime,
) -> Carry:
    """One hedge's carry over [start, end) from its own payments, reads and fees."""
    integral, began = capital_days(reads, start, end)
    received = paid = net_observed = ZERO
    count = unmatched = 0
    for p in payments:
        if not start <= p.at < end:
            continue
        count += 1
        if p.amount >= 0:
            received += p.amount
        else:
            paid -= p.amount
        if began is not None and p.at >= began:
            net_observed += p.amount
        else:
            unmatched += 1
    observed = seconds(end - began) / SECONDS_PER_DAY if began is not None else ZERO
    return Carry(
        name=name,
        venue=venue,
        asset=asset,
        start=start,
        end=end,
        received=received,
        paid=paid,
        payments=count,
        fees=sum((f.amount for f in fees if start <= f.at < end), ZERO),
        capital_days=integral,
        average_capital=integral / observed if observed > 0 else None,
        observed_from=began,
        net_observed=net_observed,
        unmatched=unmatched,
    )


def combine(name: str, venue: str | None, parts: Sequence[Carry]) -> Carry:
    """Several carries of one asset and period as one: sums, and capital-days added so the
    yield is capital-weighted; the average capital is the sum of the parts' averages."""
    first = parts[0]
    averages = [p.average_capital for p in parts if p.average_capital is not None]
    began = [p.observed_from for p in parts if p.observed_from is not None]
    return Carry(
        name=name,
        venue=venue,
        asset=first.asset,
        start=first.start,
        end=first.end,
        received=sum((p.received for p in parts), ZERO),
        paid=sum((p.paid for p in parts), ZERO),
        payments=sum(p.payments for p in parts),
        fees=sum((p.fees for p in parts), ZERO),
        capital_days=sum((p.capital_days for p in parts), ZERO),
        average_capital=sum(averages, ZERO) if averages else None,
        observed_from=min(began) if began else None,
        net_observed=sum((p.net_observed for p in parts), ZERO),
        unmatched=sum(p.unmatched for p in parts),
    )


def bucket_starts(start: datetime, end: datetime, by: Bucket) -> list[datetime]:
    """The calendar buckets (UTC) that [start, end) touches, by their start; the first may
    begin before `start` (its figures are clipped to the period)."""
    moment = start.replace(hour=0, minute=0, second=0, microsecond=0)
    if by is Bucket.WEEK:
        moment -= timedelta(days=moment.weekday())
    elif by is Bucket.MONTH:
        moment = moment.replace(day=1)
    starts = []
    while moment < end:
        starts.append(moment)
        moment = next_bucket(moment, by)
    return starts


def next_bucket(moment: datetime, by: Bucket) -> datetime:
    if by is Bucket.DAY:
        return moment + timedelta(days=1)
    if by is Bucket.WEEK:
        return moment + timedelta(days=7)
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    return moment.replace(year=year, month=month)


def carry_report(
    hedges: Mapping[str, tuple[str, str]],
    payments: Iterable[Payment],
    reads: Iterable[CapitalRead],
    fees: Iterable[Fee],
    start: datetime,
    end: datetime,
    by: Bucket | None = None,
    rates: Mapping[str, CurrentRate] | None = None,
) -> CarryReport:
    """The carry of `hedges` (name -> (venue, settle asset)) over [start, end), per hedge, per
    venue and asset, per asset in total, and per bucket of `by`; `rates`: each hedge's newest
    funding rate, shown beside its period figures."""
    own_payments: dict[str, list[Payment]] = {name: [] for name in hedges}
    own_reads: dict[str, list[CapitalRead]] = {name: [] for name in hedges}
    own_fees: dict[str, list[Fee]] = {name: [] for name in hedges}
    for p in payments:
        if p.hedge in own_payments:
            own_payments[p.hedge].append(p)
    for r in reads:
        if r.hedge in own_reads:
            own_reads[r.hedge].append(r)
    for f in fees:
        if f.hedge in own_fees:
            own_fees[f.hedge].append(f)

    def per_hedge(since: datetime, until: datetime) -> tuple[Carry, ...]:
        return tuple(
            hedge_carry(
                name,
                venue,
                asset,
                own_payments[name],
                own_reads[name],
                own_fees[name],
                since,
                until,
            )
            for name, (venue, asset) in sorted(hedges.items())
        )

    rows = tuple(replace(row, current=(rates or {}).get(row.name)) for row in per_hedge(start, end))
    by_venue: dict[tuple[str, str], list[Carry]] = {}
    by_asset: dict[str, list[Carry]] = {}
    for row in rows:
        assert row.venue is not None
        by_venue.setdefault((row.venue, row.asset), []).append(row)
        by_asset.setdefault(row.asset, []).append(row)
    buckets: list[tuple[datetime, tuple[Carry, ...]]] = []
    if by is not None:
        for moment in bucket_starts(start, end, by):
            since, until = max(moment, start), min(next_bucket(moment, by), end)
            buckets.append((moment, per_hedge(since, until)))
    notes = []
    unmatched = sum(r.unmatched for r in rows)
    if unmatched:
        notes.append(
            f"{unmatched} payment{'s' if unmatched != 1 else ''} booked before the first "
            "snapshot of their hedge in the period: counted in received/paid, not in the yield"
        )
    return CarryReport(
        start=start,
        end=end,
        by=by,
        hedges=rows,
        venues=tuple(combine(v, v, parts) for (v, _), parts in sorted(by_venue.items())),
        totals=tuple(combine("total", None, parts) for _, parts in sorted(by_asset.items())),
        buckets=tuple(buckets),
        notes=tuple(notes),
    )
