"""The integrity guard: is the hedge still a hedge? Compares the spot leg with the short.

The spot leg is the base held (free + locked) in the spot wallet and in every wallet the hedge
names in `spot_leg_wallets` (funding, earn...); the short is its size in the base (inverse:
contracts x contract size / mark). Beyond `hedge_tolerance` of the short the hedge is
unbalanced. Where the short is the larger leg (spot sold by hand), collateral must not go back
to spot: the short is partly naked and its losses are no longer offset. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bot.model import SPOT, Flag, MarketKind, PlanAlert, VenueState
from bot.money import ZERO, plain
from bot.policy.assess import HedgeLeg
from bot.policy.checks import FundingHistory, LegFacts


@dataclass(frozen=True, kw_only=True)
class Integrity:
    hedge: str
    spot_base: Decimal
    short_base: Decimal
    tolerance: Decimal
    base: str

    @property
    def gap(self) -> Decimal:
        """|spot - short| as a fraction of the short."""
        return abs(self.spot_base - self.short_base) / self.short_base

    @property
    def flags(self) -> tuple[Flag, ...]:
        if self.short_base <= 0 or self.gap <= self.tolerance:
            return ()
        if self.spot_base <= 0:
            return (Flag.UNBALANCED, Flag.NAKED_SHORT)
        return (Flag.UNBALANCED,)

    @property
    def blocks_returns(self) -> bool:
        """No collateral back to spot while the short is the larger leg beyond tolerance."""
        return bool(self.flags) and self.short_base > self.spot_base

    def message(self) -> str:
        side = (
            "the short is larger: returns to spot are held back, top-ups still happen"
            if self.blocks_returns
            else "the spot leg is larger (short partly closed or deleveraged?)"
        )
        naked = "naked short: " if Flag.NAKED_SHORT in self.flags else ""
        return (
            f"{naked}hedge {self.hedge} is unbalanced: spot {plain(self.spot_base)} {self.base} "
            f"vs short {plain(self.short_base.quantize(Decimal('0.00000001')))} {self.base} "
            f"({self.gap * 100:.1f}% apart, tolerance {self.tolerance * 100:.1f}%); {side}"
        )


def check(venue_state: VenueState, leg: HedgeLeg) -> Integrity | None:
    """The comparison for one hedge; None when flat (nothing to hedge)."""
    position = leg.position
    if position is None or position.contracts == 0:
        return None
    size = position.contracts * position.contract_size
    if leg.market.kind is MarketKind.INVERSE:
        mark = leg.mark or position.mark_price
        if not mark:
            return None
        size = size / mark
    base = leg.market.base
    # on a unified account the spot leg is held in the one account the short is margined in
    spot = leg.market.futures_account if venue_state.shared_collateral else SPOT
    wallets = tuple(dict.fromkeys((spot, *leg.hedge.spot_leg_wallets)))
    held = sum((venue_state.wallet(account, base).balance for account in wallets), ZERO)
    return Integrity(
        hedge=leg.name,
        spot_base=held,
        short_base=size,
        tolerance=leg.hedge.hedge_tolerance,
        base=base,
    )


def leg_check(venue_state: VenueState, leg: HedgeLeg, history: FundingHistory) -> LegFacts:
    """The integrity check (`compose.LEG_CHECKS`): an unbalanced hedge is flagged and alerts;
    where the short is the larger leg, returns to spot are held back."""
    found = check(venue_state, leg)
    if found is None or not found.flags:
        return LegFacts()
    alert = PlanAlert(
        flag=Flag.UNBALANCED,
        venue=venue_state.venue,
        hedge=leg.name,
        message=found.message(),
        figures={
            "spot_base": found.spot_base,
            "short_base": found.short_base,
            "gap": found.gap.quantize(Decimal("0.000001")),
            "hedge_tolerance": found.tolerance,
            "naked_short": str(Flag.NAKED_SHORT in found.flags).lower(),
        },
    )
    held = (found.message(),) if found.blocks_returns else ()
    return LegFacts(found.flags, (alert,), held)
