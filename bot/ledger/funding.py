"""Funding payments as each venue booked them: recorded once (a venue id already held for its
venue is skipped), append-only, journaled."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select

from bot.ledger.sessions import LedgerBase
from bot.ledger.tables import FundingPayment


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


class FundingRecords(LedgerBase):
    """Writes and reads of funding payments."""

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
        with self._transaction(now) as session:
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
        return new

    def last_funding_payment_at(self, venue: str) -> datetime | None:
        """When the newest recorded payment of `venue` was booked (the venue's clock)."""
        with self._sessions() as session:
            return session.scalar(
                select(func.max(FundingPayment.at)).where(FundingPayment.venue == venue)
            )
