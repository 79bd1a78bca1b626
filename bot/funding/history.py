"""Settled funding rates from the ledger's funding snapshots: the history the policy's funding
streak counts ("against the short N periods in a row").

Each cycle's snapshot holds the rate read and the funding time it is for (`next_funding_at`);
the last rate read before a funding time passed is taken as that period's settled rate. A
period the bot did not run through has no row and is not counted (nor does it break a streak).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.ledger.store import Ledger
from bot.ledger.tables import FundingSnapshot
from bot.policy import FundingHistory

#: how far back to look: beyond this a streak is long enough to have alerted already
LOOKBACK = timedelta(days=14)


def settled_rates(
    ledger: Ledger, perps: Iterable[tuple[str, str]], now: datetime
) -> FundingHistory:
    """(venue, perp) -> settled rates of its past funding periods, oldest first."""
    wanted = set(perps)
    if not wanted:
        return {}
    venues = sorted({venue for venue, _ in wanted})
    query = (
        select(
            FundingSnapshot.venue,
            FundingSnapshot.symbol,
            FundingSnapshot.next_funding_at,
            FundingSnapshot.rate,
        )
        .where(
            FundingSnapshot.venue.in_(venues),
            FundingSnapshot.next_funding_at.is_not(None),
            FundingSnapshot.next_funding_at <= now,
            FundingSnapshot.next_funding_at > now - LOOKBACK,
            FundingSnapshot.rate.is_not(None),
        )
        .order_by(FundingSnapshot.next_funding_at, FundingSnapshot.read_at, FundingSnapshot.id)
    )
    last: dict[tuple[str, str], dict[datetime, Decimal]] = {}
    with Session(ledger.engine) as session:
        for venue, symbol, at, rate in session.execute(query):
            if (venue, symbol) in wanted:
                last.setdefault((venue, symbol), {})[at] = rate  # later reads overwrite
    return {key: [by_time[t] for t in sorted(by_time)] for key, by_time in last.items()}
