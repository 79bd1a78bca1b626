"""Funding rules: the buffer a paying short keeps, and how long funding has been against it.

Positive funding: longs pay shorts (the hedge earns). Negative: the short pays every period,
|rate| x notional, out of the futures equity. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from bot.model import Flag, Funding, PlanAlert, VenueState
from bot.money import ZERO, plain
from bot.policy.assess import HedgeLeg
from bot.policy.checks import FundingHistory, LegFacts

YEAR = timedelta(days=365)


def hours(interval: timedelta) -> Decimal:
    """An interval in hours, exactly."""
    return Decimal(interval // timedelta(microseconds=1)) / Decimal(3_600_000_000)


def label(interval: timedelta | None) -> str:
    return f"{hours(interval).normalize():f}h" if interval is not None else "unknown"


def periods_per_year(interval: timedelta) -> Decimal:
    """How many payments a year: 1095 at 8 h, 8760 at 1 h."""
    return hours(YEAR) / hours(interval)


def annualised_rate(rate: Decimal, interval: timedelta) -> Decimal:
    """A per-period funding rate as a yearly one (simple, not compounded)."""
    return rate * periods_per_year(interval)


def periods_in(span: timedelta, interval: timedelta) -> int:
    """The payments that fall in `span` at `interval`, rounded up: 24 h at 8 h is 3, at 1 h 24."""
    return -(-span // interval)  # whole timedeltas: no float on the way


#: the interval assumed for a buffer in hours when the venue states none: the shortest in use
#: (Hyperliquid's, Binance's shortest), so the buffer errs on the large side
UNKNOWN_INTERVAL = timedelta(hours=1)


def buffer_periods(
    periods: int | None, hours_: int | None, read: Funding | None
) -> tuple[int, str]:
    """The payments a funding buffer covers, and how the interval was taken (for the note):
    `periods` as given, or `hours_` at the symbol's interval."""
    interval = read.interval if read is not None else None
    if periods is not None:
        return periods, f" (every {label(interval)})" if interval is not None else ""
    assert hours_ is not None
    if interval is None:
        return periods_in(timedelta(hours=hours_), UNKNOWN_INTERVAL), (
            f" ({hours_}h, the funding interval unknown: 1h assumed)"
        )
    return periods_in(timedelta(hours=hours_), interval), f" ({hours_}h at every {label(interval)})"


def against_the_short(rate: Decimal | None) -> bool:
    return rate is not None and rate < 0


def buffer(rate: Decimal | None, notional: Decimal, periods: int) -> Decimal:
    """The next `periods` payments at the current (or predicted) rate and notional, in the
    settle asset; 0 while funding pays the short."""
    if not against_the_short(rate) or periods <= 0:
        return ZERO
    assert rate is not None
    return -rate * notional * periods


@dataclass(frozen=True, kw_only=True)
class Streak:
    """Funding periods in a row against the short, counting the current (predicted) one."""

    periods: int
    paid: Decimal  # estimated payments of the past periods of the streak, at today's notional


def streak(rate: Decimal | None, past: Sequence[Decimal], notional: Decimal) -> Streak:
    """`past` holds settled rates, oldest first; the streak ends at the first one that paid the
    short. Without history (`past` empty) only the current rate counts."""
    if not against_the_short(rate):
        return Streak(periods=0, paid=ZERO)
    periods, paid = 1, ZERO
    for settled in reversed(past):
        if not against_the_short(settled):
            break
        periods += 1
        paid += -settled * notional
    return Streak(periods=periods, paid=paid)


def leg_check(venue_state: VenueState, leg: HedgeLeg, history: FundingHistory) -> LegFacts:
    """The funding check (`compose.LEG_CHECKS`): a short paying funding is flagged; paying for
    `funding_alert_periods` in a row (the ledger's settled rates, else the current one) alerts
    with what it paid so far."""
    rate_read = venue_state.funding.get(leg.hedge.perp)
    rate = rate_read.rate if rate_read is not None else None
    if rate is None or not against_the_short(rate):
        return LegFacts()
    past = history.get((venue_state.venue, leg.hedge.perp), ())
    found = streak(rate, past, leg.notional)
    if found.periods < leg.hedge.funding_alert_periods:
        return LegFacts((Flag.FUNDING_AGAINST,))
    asset = leg.market.settle
    alert = PlanAlert(
        flag=Flag.FUNDING_AGAINST,
        venue=venue_state.venue,
        hedge=leg.name,
        message=(
            f"funding on {leg.hedge.perp} has been against the short "
            f"{found.periods} period{'s' if found.periods != 1 else ''} in a row "
            f"(now {rate * 100:.4f}%); paid so far "
            f"about {plain(found.paid)} {asset}, next payment about "
            f"{plain(-rate * leg.notional)} {asset}"
        ),
        figures={
            "periods": str(found.periods),
            "rate": rate,
            "paid": found.paid,
            "next_payment": -rate * leg.notional,
            "history": "ledger" if past else "current rate only",
        },
    )
    return LegFacts((Flag.FUNDING_AGAINST,), (alert,))
