"""Targets in equity terms: the pool equity at the band's lower bound, at the target and at
the upper bound, whichever way each hedge states its target. Pure.

- `target_margin_ratio` + `band`: equity = ratio x short notional (hedges sharing a pool add up
  their shares);
- `target: {liquidation_distance}` + `band`: the equity that puts that hedge's liquidation
  price the distance above mark (`liquidation.py`);
- `funding_buffer: {periods | hours}`: the next payments of a paying short are added on top
  (`hours` counted at the symbol's funding interval).

A pool needs the most any of its constraints needs, so every hedge in it stays in its band.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bot.model import VenueState
from bot.money import ZERO, plain
from bot.policy import funding
from bot.policy.assess import HedgeLeg, Pool
from bot.policy.liquidation import equity_for_distance, equity_for_distance_from


@dataclass(frozen=True, kw_only=True)
class Needs:
    """Pool equity at the band's lower bound, the target and the upper bound; with why."""

    lower: Decimal
    target: Decimal
    upper: Decimal
    shape: str  # where the pool is now, in its own terms
    band: str  # the band, in the same terms
    toward: str  # the target, for "toward ..."
    buffer: Decimal = ZERO
    buffer_note: str = ""


class Unknown(Exception):
    """A target that cannot be computed from what was read (no mark, no maintenance rate)."""


def margin_ratio_needs(pool: Pool) -> Needs | None:
    """Equity for the hedges that state a margin ratio; None when none of them does."""
    legs = [leg for leg in pool.legs if leg.hedge.liquidation_target is None]
    notional = sum((leg.notional for leg in legs), ZERO)
    if not legs or notional == 0:
        return None
    lower = sum((leg.hedge.band[0] * leg.notional for leg in legs), ZERO)
    target = sum((leg.hedge.target_value * leg.notional for leg in legs), ZERO)
    upper = sum((leg.hedge.band[1] * leg.notional for leg in legs), ZERO)
    asset = pool.asset
    ratio = pool.equity / notional
    return Needs(
        lower=lower,
        target=target,
        upper=upper,
        shape=(
            f"margin ratio {ratio:.4f} (equity {plain(pool.equity)} {asset}"
            f" / short notional {plain(notional)} {asset})"
        ),
        band=f"band [{(lower / notional).normalize():f}, {(upper / notional).normalize():f}]",
        toward=f"target {(target / notional).normalize():f}",
    )


def liquidation_needs(pool: Pool, leg: HedgeLeg) -> Needs:
    """Equity for one hedge that states `target: {liquidation_distance}`."""
    assert leg.hedge.liquidation_target is not None
    short = leg.short
    if short is None:
        raise Unknown(
            f"{leg.hedge.perp}: the liquidation distance cannot be computed (no mark price or "
            "maintenance margin read)"
        )
    others = sum(
        (o.short.maintenance_margin for o in pool.legs if o is not leg and o.short is not None),
        ZERO,
    )

    def equity_at(target: Decimal) -> Decimal:
        if leg.liquidation_source == "venue" and leg.liquidation:
            return equity_for_distance_from(
                short, target, equity=pool.equity, liquidation=leg.liquidation
            )
        return equity_for_distance(short, target, others_maintenance=others)

    lower, upper = leg.hedge.band
    goal = leg.hedge.target_value
    if leg.liquidation is None:
        where = f"{leg.hedge.perp}: no liquidation price (the collateral covers the short)"
    else:
        source = "the venue's figure" if leg.liquidation_source == "venue" else "computed"
        where = (
            f"{leg.hedge.perp}: liquidation at {leg.liquidation:.2f} = "
            f"{(leg.distance or ZERO) * 100:.1f}% above mark {plain(short.mark)} ({source}, "
            f"maintenance rate {plain(short.maint_margin_rate)} from {leg.rate_source})"
        )
    target = equity_at(goal)
    shown = plain(target.quantize(Decimal("0.00000001")))
    return Needs(
        lower=equity_at(lower),
        target=target,
        upper=equity_at(upper),
        shape=where,
        band=f"band [{lower * 100:.1f}%, {upper * 100:.1f}%]",
        toward=(
            f"liquidation {goal * 100:.1f}% above mark (equity {plain(pool.equity)} -> "
            f"{shown} {pool.asset})"
        ),
    )


def funding_buffer(pool: Pool, venue_state: VenueState) -> tuple[Decimal, str]:
    """The buffer of every paying short in the pool, and how it was figured."""
    total, parts = ZERO, []
    for leg in pool.legs:
        config = leg.hedge.funding_buffer
        rate_read = venue_state.funding.get(leg.hedge.perp)
        rate = rate_read.rate if rate_read is not None else None
        if config is None or rate is None or not funding.against_the_short(rate):
            continue
        periods, every = funding.buffer_periods(config.periods, config.hours, rate_read)
        amount = funding.buffer(rate, leg.notional, periods)
        total += amount
        parts.append(
            f"{leg.hedge.perp} funding {rate * 100:.4f}% makes the short pay: buffer "
            f"{plain(amount)} {pool.asset} = {periods} periods x "
            f"{plain(-rate)} x notional {plain(leg.notional)}{every}"
        )
    return total, "; ".join(parts)


def pool_needs(pool: Pool, venue_state: VenueState) -> Needs:
    """The most any constraint of the pool needs, plus the funding buffer."""
    candidates = [n for n in [margin_ratio_needs(pool)] if n is not None]
    candidates += [
        liquidation_needs(pool, leg)
        for leg in pool.legs
        if leg.hedge.liquidation_target is not None
        and leg.notional > 0  # a flat hedge asks for nothing
    ]
    if not candidates:
        raise Unknown(f"no target applies to {', '.join(pool.names)}")
    needs = max(candidates, key=lambda n: n.target)
    extra, note = funding_buffer(pool, venue_state)
    if extra == 0:
        return needs
    return Needs(
        lower=needs.lower + extra,
        target=needs.target + extra,
        upper=needs.upper + extra,
        shape=needs.shape,
        band=needs.band,
        toward=f"{needs.toward} plus the funding buffer {plain(extra)} {pool.asset}",
        buffer=extra,
        buffer_note=note,
    )
