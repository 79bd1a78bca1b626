"""Funding income: read what each hedge's perpetual was paid or charged since the last payment
the ledger holds, and record each payment once (unique on venue and the venue's id).

The snapshot job and the rebalance cycle call `collect_funding` with the venues they opened;
each venue on its own (invariant 11): one that fails is reported and the others are recorded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bot.config import Config
from bot.errors import VenueError
from bot.ledger.store import FundingPaymentRecord, Ledger
from bot.venues.base import Venue

#: how far back a venue is read the first time (no payment recorded yet)
FIRST_LOOKBACK = timedelta(days=30)


@dataclass
class FundingCollection:
    recorded: dict[str, list[FundingPaymentRecord]] = field(default_factory=dict)
    errors: dict[str, Exception] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return sum(len(v) for v in self.recorded.values())


def hedge_of(config: Config, venue: str, symbol: str) -> str | None:
    """The hedge on `venue` whose perpetual is `symbol` (the first by name), or None."""
    names = sorted(n for n, h in config.hedges_on(venue).items() if h.perp == symbol)
    return names[0] if names else None


async def collect_funding(
    config: Config,
    ledger: Ledger,
    venues: Mapping[str, Venue],
    *,
    now: datetime | None = None,
) -> FundingCollection:
    """Read and record every venue's new funding payments; venue errors are collected."""
    result = FundingCollection()
    moment = now or datetime.now(UTC)
    for name, venue in venues.items():
        since = ledger.last_funding_payment_at(name) or moment - FIRST_LOOKBACK
        try:
            payments = await venue.funding_payments(since)
        except VenueError as exc:
            result.errors[name] = exc
            continue
        records = [
            FundingPaymentRecord(
                venue=name,
                hedge=hedge_of(config, name, p.symbol),
                symbol=p.symbol,
                asset=p.asset,
                amount=p.amount,
                at=p.at,
                exchange_id=p.exchange_id,
            )
            for p in payments
        ]
        result.recorded[name] = ledger.record_funding_payments(records)
    return result
