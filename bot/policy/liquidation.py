"""Liquidation price and distance of a cross-margined short, from maintenance-margin tiers.

Pure maths on explicit inputs, so an isolated-margin variant plugs in by passing its own
equity (the position's isolated margin) and no other positions. Binance's published formulas
(cross, one-way mode), rewritten in terms of the pool's equity E (wallet balance + every
unrealized PnL of that collateral) so that entry prices drop out:

    USD-M (linear), size q in the base:  LP = (E - MM_others + cum + q x mark) / (q x (1 + MMR))
    COIN-M (inverse), V = contracts x contract size (USD):
                                         LP = V x (1 - MMR) / (V / mark - E + MM_others - cum)

where MM_others is the maintenance margin of the other positions on that collateral, and MMR
and cum (the maintenance amount) come from the tier that holds the position's notional *at the
liquidation price*: Binance says to recompute with that tier when it differs from the tier at
the current price. An inverse short whose denominator is not positive cannot be liquidated by
price (its coin collateral covers it). Binance: "How to Calculate Liquidation Price of USDⓈ-M
Contracts" and "... of COIN-M Futures Contracts".
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


def tier_for(tiers: Sequence[LeverageTier], abs_notional: Decimal) -> LeverageTier | None:
    """The tier whose floor is the highest at or below the notional; None without a table."""
    chosen = None
    for tier in sorted(tiers, key=lambda t: t.floor):
        if abs_notional < tier.floor:
            break
        chosen = tier
    return chosen


@dataclass(frozen=True, kw_only=True)
class ShortLeg:
    """A short perpetual position as the liquidation maths sees it."""

    kind: MarketKind
    size: Decimal  # linear: |quantity| in the base; inverse: contracts x contract size (USD)
    mark: Decimal
    tiers: tuple[LeverageTier, ...]  # at least one; a single tier where no table is known

    def notional_at(self, price: Decimal) -> Decimal:
        """|notional| in the margin asset at `price`: USDT for linear, the coin for inverse."""
        return self.size * price if self.kind is MarketKind.LINEAR else self.size / price

    def tier_at(self, price: Decimal) -> LeverageTier:
        return tier_for(self.tiers, self.notional_at(price)) or min(self.tiers, key=_floor)

    @property
    def notional(self) -> Decimal:
        return self.notional_at(self.mark)

    @property
    def maint_margin_rate(self) -> Decimal:
        """The rate of the tier the position is in now (shown in the plan)."""
        return self.tier_at(self.mark).maint_margin_rate

    @property
    def maintenance_margin(self) -> Decimal:
        tier = self.tier_at(self.mark)
        return max(ZERO, self.notional * tier.maint_margin_rate - tier.cum)


def _floor(tier: LeverageTier) -> Decimal:
    return tier.floor


def _price(leg: ShortLeg, tier: LeverageTier, equity: Decimal, others: Decimal) -> Decimal | None:
    rate = tier.maint_margin_rate
    if leg.kind is MarketKind.LINEAR:
        price = (equity - others + tier.cum + leg.size * leg.mark) / (leg.size * (ONE + rate))
        return price if price > 0 else ZERO
    denominator = leg.size / leg.mark - equity + others - tier.cum
    if denominator <= leg.notional * COVERED:
        return None
    return leg.size * (ONE - rate) / denominator


def liquidation_price(
    leg: ShortLeg, *, equity: Decimal, others_maintenance: Decimal = ZERO
) -> Decimal | None:
    """The mark price at which the short is liquidated; None when price alone cannot."""
    tier = leg.tier_at(leg.mark)
    price = _price(leg, tier, equity, others_maintenance)
    for _ in leg.tiers:  # the tier at the liquidation price decides; a few steps settle it
        if not price:
            return price
        at = leg.tier_at(price)
        if at == tier:
            break
        tier = at
        price = _price(leg, tier, equity, others_maintenance)
    return price


def distance(liquidation: Decimal | None, mark: Decimal) -> Decimal | None:
    """How far above mark the short's liquidation price is (0.35 = 35 %); None = unreachable."""
    if liquidation is None:
        return None
    return (liquidation - mark) / mark


def _equity_term(leg: ShortLeg, price: Decimal) -> Decimal:
    """The part of "equity for liquidation at `price`" that depends on the price (and its
    tier); the rest (the mark, the other positions) is the same at every price."""
    tier = leg.tier_at(price)
    if leg.kind is MarketKind.LINEAR:
        return leg.size * (ONE + tier.maint_margin_rate) * price - tier.cum
    return -tier.cum - leg.size * (ONE - tier.maint_margin_rate) / price


def equity_for_distance(
    leg: ShortLeg, target: Decimal, *, others_maintenance: Decimal = ZERO
) -> Decimal:
    """The pool equity that puts the short's liquidation price `target` above mark."""
    price = leg.mark * (ONE + target)
    fixed = -leg.size * leg.mark if leg.kind is MarketKind.LINEAR else leg.size / leg.mark
    return _equity_term(leg, price) + fixed + others_maintenance


def equity_for_distance_from(
    leg: ShortLeg, target: Decimal, *, equity: Decimal, liquidation: Decimal
) -> Decimal:
    """The same, anchored on a liquidation price the venue reported at `equity`: only how the
    price moves with equity comes from the tiers, so positions the bot does not hedge count."""
    price = leg.mark * (ONE + target)
    return equity + _equity_term(leg, price) - _equity_term(leg, liquidation)
