"""What the rules look at: hedges grouped into pools (one futures wallet, one settle asset,
one equity), and each hedge's short with its liquidation figures. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from bot.config import HedgeConfig
from bot.model import (
    LeverageTier,
    MarketKind,
    PerpMarket,
    PlanNote,
    Position,
    State,
    VenueState,
    Wallet,
)
from bot.money import ZERO
from bot.policy.liquidation import ShortLeg, distance, liquidation_price
from bot.policy.margin import cross_wallet


@dataclass(frozen=True, kw_only=True)
class HedgeLeg:
    """One hedge's short as read, with its liquidation figures where they can be known."""

    name: str
    hedge: HedgeConfig
    market: PerpMarket
    position: Position | None
    short: ShortLeg | None  # None when flat, or when the maintenance rate cannot be known
    rate_source: str | None = None  # where the maintenance rate came from
    liquidation: Decimal | None = None  # the price used: the venue's where it reports one
    liquidation_source: str | None = None  # "venue" or "computed"

    @property
    def notional(self) -> Decimal:
        return abs(self.position.notional) if self.position is not None else ZERO

    @property
    def mark(self) -> Decimal | None:
        return self.short.mark if self.short is not None else None

    @property
    def distance(self) -> Decimal | None:
        """Liquidation distance; None when unknown or unreachable (see `unreachable`)."""
        if self.short is None or self.liquidation is None:
            return None
        return distance(self.liquidation, self.short.mark)

    @property
    def unreachable(self) -> bool:
        """True when price alone cannot liquidate this short (coin collateral covers it)."""
        return self.short is not None and self.liquidation is None


class PoolOfLegs:
    """What any pool of hedges says of its legs (`legs`, a field of each kind of pool)."""

    legs: tuple[HedgeLeg, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(leg.name for leg in self.legs)

    @property
    def hedges(self) -> tuple[HedgeConfig, ...]:
        return tuple(leg.hedge for leg in self.legs)

    @property
    def notional(self) -> Decimal:
        return sum((leg.notional for leg in self.legs), ZERO)


@dataclass(frozen=True, kw_only=True)
class Pool(PoolOfLegs):
    """Hedges margined by one futures wallet in one settle asset on one venue."""

    venue: str
    futures_account: str
    asset: str
    legs: tuple[HedgeLeg, ...]
    futures: Wallet

    @property
    def equity(self) -> Decimal:
        return self.futures.equity

    @property
    def margin_ratio(self) -> Decimal | None:
        return self.equity / self.notional if self.notional > 0 else None

    @property
    def nearest(self) -> HedgeLeg | None:
        """The leg nearest to liquidation, where any distance is known."""
        known = [leg for leg in self.legs if leg.distance is not None]
        return min(known, key=lambda leg: leg.distance or ZERO) if known else None


def pools(state: State, hedges: Mapping[str, HedgeConfig]) -> tuple[list[Pool], list[PlanNote]]:
    """Group the hedges into pools; a hedge that cannot be planned becomes a note. Hedges on a
    unified account are judged in its own figure (`bot.policy.account`), not here."""
    notes: list[PlanNote] = []
    grouped: dict[tuple[str, str, str], list[tuple[str, HedgeConfig, PerpMarket]]] = {}
    for name, hedge in sorted(hedges.items()):
        venue_state = state.venues.get(hedge.venue)
        market = venue_state.markets.get(hedge.perp) if venue_state else None
        if venue_state is None or market is None:
            notes.append(
                PlanNote(
                    venue=hedge.venue,
                    hedges=(name,),
                    message=f"no state for {hedge.perp} on {hedge.venue}: nothing planned",
                )
            )
            continue
        key = (hedge.venue, market.futures_account, market.settle)
        grouped.setdefault(key, []).append((name, hedge, market))
    result = []
    for (venue, account, asset), members in grouped.items():
        venue_state = state.venues[venue]
        # the venue's cross figures: its wallet totals count isolated positions' own wallets
        futures = cross_wallet(venue_state, account, asset)
        result.append(
            Pool(
                venue=venue,
                futures_account=account,
                asset=asset,
                legs=hedge_legs(venue_state, members, futures.equity),
                futures=futures,
            )
        )
    return result, notes


def hedge_legs(
    venue_state: VenueState,
    members: list[tuple[str, HedgeConfig, PerpMarket]],
    equity: Decimal,
) -> tuple[HedgeLeg, ...]:
    """Each hedge's short with its liquidation figures, drawing on `equity`."""
    shorts = {
        name: _short_leg(venue_state, market, venue_state.positions.get(hedge.perp))
        for name, hedge, market in members
    }
    legs = []
    for name, hedge, market in members:
        short, source = shorts[name]
        position = venue_state.positions.get(hedge.perp)
        others = sum(
            (s.maintenance_margin for n, (s, _) in shorts.items() if n != name and s is not None),
            ZERO,
        )
        liquidation, liquidation_source = None, None
        reported = position.liquidation_price if position is not None else None
        if short is not None:
            if reported is not None and reported > 0:
                liquidation, liquidation_source = reported, "venue"
            else:
                liquidation = liquidation_price(short, equity=equity, others_maintenance=others)
                liquidation_source = "computed"
        legs.append(
            HedgeLeg(
                name=name,
                hedge=hedge,
                market=market,
                position=position,
                short=short,
                rate_source=source,
                liquidation=liquidation,
                liquidation_source=liquidation_source,
            )
        )
    return tuple(legs)


def _short_leg(
    venue_state: VenueState, market: PerpMarket, position: Position | None
) -> tuple[ShortLeg | None, str | None]:
    """The short for the maths: the maintenance rate from the venue's tiers for the position's
    notional, else the venue's maintenance margin / notional (no maintenance amount)."""
    if position is None or position.side != "short":
        return None, None
    funding = venue_state.funding.get(market.symbol)
    mark = position.mark_price or (funding.mark_price if funding else None)
    if mark is None or mark <= 0:
        return None, None
    size = position.contracts * position.contract_size
    notional = abs(position.notional)
    tiers = tuple(venue_state.leverage_tiers.get(market.symbol, ()))
    if tiers:
        source = "the venue's leverage brackets"
    elif position.maintenance_margin is not None and notional > 0:
        rate = position.maintenance_margin / notional
        tiers = (LeverageTier(floor=ZERO, maint_margin_rate=rate, cum=ZERO),)
        source = "the venue's maintenance margin (no brackets read)"
    else:
        return None, None
    kind = MarketKind(market.kind)
    return ShortLeg(kind=kind, size=size, mark=mark, tiers=tiers), source
