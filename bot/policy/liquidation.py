"""Liquidation price and distance of a cross-margined short, from maintenance-margin tiers.

Pure maths on explicit inputs, so an isolated-margin variant plugs in by passing its own
equity (the position's isolated margin) and no other positions. Binance's published formulas
(cross, one-way mode), rewritten in terms of the pool's equity E (wallet balance + every
unrealized PnL of that collateral) so that entry prices drop out:

    USD-M (linear), size q in the base:  LP = (E - MM_others + cum + q x mark) / (q x (1 + MMR))
    COIN-M (inverse), V = contracts x contract size (USD):
                                         LP = V x (1 - MMR) / (V / mark - E + MM_others - cum)

where MMR and cum (the maintenance amount) come from the tier that holds the position's
notional, and MM_others is the maintenance margin of the other positions on that collateral.
An inverse short whose denominator is not positive cannot be liquidated by price (its coin
collateral covers it). Binance: "How to Calculate Liquidation Price of USDⓈ-M Contracts" and
"... of COIN-M Contracts".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from bot.model import LeverageTier, MarketKind
from bot.money import ZERO

ONE = Decimal(1)
#: An inverse short whose uncovered part is below this fraction of its notional is covered:
#: what is left is the rounding of the figures, not a price that can be reached.
COVERED = Decimal("1E-12")


@dataclass(frozen=True, kw_only=True)
class ShortLeg:
    """A short perpetual position as the liquidation maths sees it."""

    kind: MarketKind
    size: Decimal  # linear: |quantity| in the base; inverse: contracts x contract size (USD)
    mark: Decimal
    maint_margin_rate: Decimal
    cum: Decimal = ZERO

    @property
    def notional(self) -> Decimal:
        """|notional| in the margin asset: USDT for linear, the coin for inverse."""
        return self.size * self.mark if self.kind is MarketKind.LINEAR else self.size / self.mark

    @property
    def maintenance_margin(self) -> Decimal:
        return max(ZERO, self.notional * self.maint_margin_rate - self.cum)


def tier_for(tiers: Sequence[LeverageTier], abs_notional: Decimal) -> LeverageTier | None:
    """The tier whose floor is the highest at or below the notional; None without a table."""
    chosen = None
    for tier in sorted(tiers, key=lambda t: t.floor):
        if abs_notional < tier.floor:
            break
        chosen = tier
    return chosen


def liquidation_price(
    leg: ShortLeg, *, equity: Decimal, others_maintenance: Decimal = ZERO
) -> Decimal | None:
    """The mark price at which the short is liquidated; None when price alone cannot."""
    if leg.kind is MarketKind.LINEAR:
        price = (equity - others_maintenance + leg.cum + leg.size * leg.mark) / (
            leg.size * (ONE + leg.maint_margin_rate)
        )
        return price if price > 0 else ZERO
    denominator = leg.size / leg.mark - equity + others_maintenance - leg.cum
    if denominator <= leg.notional * COVERED:
        return None
    return leg.size * (ONE - leg.maint_margin_rate) / denominator


def distance(liquidation: Decimal | None, mark: Decimal) -> Decimal | None:
    """How far above mark the short's liquidation price is (0.35 = 35 %); None = unreachable."""
    if liquidation is None:
        return None
    return (liquidation - mark) / mark


def equity_for_distance(
    leg: ShortLeg, target: Decimal, *, others_maintenance: Decimal = ZERO
) -> Decimal:
    """The pool equity that puts the short's liquidation price `target` above mark."""
    price = leg.mark * (ONE + target)
    if leg.kind is MarketKind.LINEAR:
        return (
            leg.size * (ONE + leg.maint_margin_rate) * price
            - leg.size * leg.mark
            - leg.cum
            + others_maintenance
        )
    return (
        leg.size / leg.mark
        + others_maintenance
        - leg.cum
        - leg.size * (ONE - leg.maint_margin_rate) / price
    )


def equity_for_distance_from(
    leg: ShortLeg, target: Decimal, *, equity: Decimal, liquidation: Decimal
) -> Decimal:
    """The same, anchored on a liquidation price the venue reported at `equity`: only the
    slope (MMR) comes from the tiers, so positions the bot does not hedge still count."""
    price = leg.mark * (ONE + target)
    if leg.kind is MarketKind.LINEAR:
        return equity + leg.size * (ONE + leg.maint_margin_rate) * (price - liquidation)
    return equity + leg.size * (ONE - leg.maint_margin_rate) * (ONE / liquidation - ONE / price)
