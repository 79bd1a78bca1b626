"""The default policy: keep each hedge's futures margin ratio inside its band.

Pure: no I/O, no clock.

Margin ratio = futures equity (wallet balance + unrealized PnL, in the settle currency) divided
by the absolute short notional. Hedges that share one futures wallet and settle asset (cross
margin) share one equity, so they are judged together as a *pool*: one pool, one transfer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from bot.config import HedgeConfig
from bot.model import (
    SPOT,
    Plan,
    PlannedTransfer,
    PlanNote,
    Rule,
    State,
    VenueState,
    Wallet,
)
from bot.money import DEFAULT_TRANSFER_STEP, ZERO, plain, round_down
from bot.policy_isolated import (
    IsolatedAssessment,
    add_budgets,
    cross_part,
    decide_isolated,
    split_isolated,
)


@dataclass(frozen=True)
class _Pool:
    """Hedges margined by one futures wallet in one settle asset on one venue."""

    venue: str
    futures_account: str
    asset: str
    hedges: tuple[tuple[str, HedgeConfig], ...]


@dataclass(frozen=True)
class _Assessment:
    pool: _Pool
    futures: Wallet
    notional: Decimal
    target: Decimal | None  # None when flat (no notional)
    lower: Decimal | None
    upper: Decimal | None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.pool.hedges)

    @property
    def ratio(self) -> Decimal | None:
        return self.futures.equity / self.notional if self.notional > 0 else None


def plan_transfers(state: State, hedges: Mapping[str, HedgeConfig]) -> Plan:
    """Turn what was read into the transfers that bring every hedge back to its target."""
    notes: list[PlanNote] = []
    isolated, hedges = split_isolated(state, hedges, notes)  # isolated margin: policy_isolated
    pools = _pools(state, hedges, notes)
    assessments = [_assess(state.venues[pool.venue], pool) for pool in pools]
    spot_budget = _spot_budgets(state, pools)
    add_budgets(state, isolated, spot_budget)

    transfers: list[PlannedTransfer] = []
    # Pools nearest to liquidation (lowest ratio) are topped up first from a shared spot budget.
    items: list[_Assessment | IsolatedAssessment] = [*assessments, *isolated]
    for item in sorted(
        items, key=lambda i: i.urgency() if isinstance(i, IsolatedAssessment) else _urgency(i)
    ):
        if isinstance(item, IsolatedAssessment):
            venue_state = state.venues[item.venue]
            step = venue_state.transfer_steps.get(item.asset, DEFAULT_TRANSFER_STEP)
            spot_free = venue_state.wallet(SPOT, item.asset).free
            decision = decide_isolated(item, spot_budget, step, spot_free)
        else:
            venue_state = state.venues[item.pool.venue]
            step = venue_state.transfer_steps.get(item.pool.asset, DEFAULT_TRANSFER_STEP)
            decision = _decide(item, venue_state, spot_budget, step)
        if isinstance(decision, PlannedTransfer):
            transfers.append(decision)
        else:
            notes.append(decision)
    return Plan(transfers=tuple(transfers), notes=tuple(notes))


def _pools(state: State, hedges: Mapping[str, HedgeConfig], notes: list[PlanNote]) -> list[_Pool]:
    grouped: dict[tuple[str, str, str], list[tuple[str, HedgeConfig]]] = {}
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
        if venue_state.shared_collateral:
            notes.append(
                PlanNote(
                    venue=hedge.venue,
                    hedges=(name,),
                    message=f"spot and {hedge.perp} share one collateral pool on {hedge.venue} "
                    f"(unified margin account {market.futures_account!r}): nothing to move",
                )
            )
            continue
        key = (hedge.venue, market.futures_account, market.settle)
        grouped.setdefault(key, []).append((name, hedge))
    return [
        _Pool(venue=v, futures_account=account, asset=asset, hedges=tuple(members))
        for (v, account, asset), members in grouped.items()
    ]


def _assess(venue_state: VenueState, pool: _Pool) -> _Assessment:
    futures = cross_part(venue_state, venue_state.wallet(pool.futures_account, pool.asset))
    weighted = [(hedge, _notional(venue_state, hedge.perp)) for _, hedge in pool.hedges]
    notional = sum((n for _, n in weighted), ZERO)
    if notional == 0:
        return _Assessment(pool, futures, ZERO, None, None, None)
    # Hedges with different targets share the equity in proportion to their notionals.
    target = sum((h.target_margin_ratio * n for h, n in weighted), ZERO) / notional
    lower = sum((h.band[0] * n for h, n in weighted), ZERO) / notional
    upper = sum((h.band[1] * n for h, n in weighted), ZERO) / notional
    return _Assessment(pool, futures, notional, target, lower, upper)


def _notional(venue_state: VenueState, perp: str) -> Decimal:
    position = venue_state.positions.get(perp)
    return abs(position.notional) if position is not None else ZERO


def _spot_budgets(state: State, pools: list[_Pool]) -> dict[tuple[str, str], Decimal]:
    """Spot collateral each (venue, asset) can give: free minus the largest reserve asked for."""
    reserves: dict[tuple[str, str], Decimal] = {}
    for pool in pools:
        key = (pool.venue, pool.asset)
        for _, hedge in pool.hedges:
            reserves[key] = max(reserves.get(key, ZERO), hedge.spot_reserve)
    return {
        key: max(ZERO, state.venues[key[0]].wallet(SPOT, key[1]).free - reserve)
        for key, reserve in reserves.items()
    }


def _urgency(item: _Assessment) -> tuple[int, Decimal, str]:
    ratio = item.ratio
    return (0, ratio, item.pool.venue) if ratio is not None else (1, ZERO, item.pool.venue)


def _decide(
    item: _Assessment,
    venue_state: VenueState,
    spot_budget: dict[tuple[str, str], Decimal],
    step: Decimal,
) -> PlannedTransfer | PlanNote:
    pool = item.pool
    figures = _figures(item, venue_state)
    if item.ratio is None:
        return _decide_flat(item, figures, step)
    ratio, target = item.ratio, item.target
    assert target is not None and item.lower is not None and item.upper is not None
    asset = pool.asset
    shape = (
        f"margin ratio {ratio:.4f} (equity {plain(item.futures.equity)} {asset}"
        f" / short notional {plain(item.notional)} {asset})"
    )
    band = f"band [{item.lower.normalize():f}, {item.upper.normalize():f}]"

    if ratio < item.lower:
        need = target * item.notional - item.futures.equity
        budget_key = (pool.venue, asset)
        budget = spot_budget.get(budget_key, ZERO)
        amount = round_down(min(need, budget), step)
        figures = {**figures, "needed": round_down(need, step), "spot_budget": budget}
        if amount <= 0:
            return _note(
                item,
                f"{shape} is below {band}, but spot has no {asset} above the reserve to top up",
                figures,
            )
        spot_budget[budget_key] = budget - amount
        partial = (
            f"; spot can cover only {plain(amount)} of {plain(round_down(need, step))}"
            if amount < round_down(need, step)
            else ""
        )
        return _transfer(
            item,
            Rule.TOP_UP,
            SPOT,
            pool.futures_account,
            amount,
            f"{shape} is below {band}: move {plain(amount)} {asset} {SPOT} -> "
            f"{pool.futures_account} toward target {target.normalize():f}{partial}",
            figures,
        )
    if ratio > item.upper:
        excess = round_down(item.futures.equity - target * item.notional, step)
        figures = {**figures, "excess": excess}
        if excess <= 0:
            return _note(item, f"{shape} is above {band} but nothing is in excess", figures)
        return _transfer(
            item,
            Rule.RETURN_EXCESS,
            pool.futures_account,
            SPOT,
            excess,
            f"{shape} is above {band}: return {plain(excess)} {asset} "
            f"{pool.futures_account} -> {SPOT} toward target {target.normalize():f}",
            figures,
        )
    return _note(item, f"{shape} is inside {band}: nothing to move", figures)


def _decide_flat(
    item: _Assessment, figures: dict[str, Decimal | str], step: Decimal
) -> PlannedTransfer | PlanNote:
    pool = item.pool
    perps = ", ".join(hedge.perp for _, hedge in pool.hedges)
    if any(hedge.when_flat == "keep" for _, hedge in pool.hedges):
        return _note(
            item, f"no open position on {perps}: keeping collateral (when_flat: keep)", figures
        )
    amount = round_down(item.futures.balance, step)
    if amount <= 0:
        return _note(item, f"no open position on {perps} and no {pool.asset} collateral", figures)
    return _transfer(
        item,
        Rule.RETURN_FLAT,
        pool.futures_account,
        SPOT,
        amount,
        f"no open position on {perps}: return the {pool.asset} collateral "
        f"({plain(amount)}) {pool.futures_account} -> {SPOT} (when_flat: return)",
        figures,
    )


def _figures(item: _Assessment, venue_state: VenueState) -> dict[str, Decimal | str]:
    spot = venue_state.wallet(SPOT, item.pool.asset)
    figures: dict[str, Decimal | str] = {
        "futures_balance": item.futures.balance,
        "unrealized_pnl": item.futures.unrealized_pnl,
        "equity": item.futures.equity,
        "futures_transferable": item.futures.transferable,
        "short_notional": item.notional,
        "spot_free": spot.free,
        "spot_reserve": max((h.spot_reserve for _, h in item.pool.hedges), default=ZERO),
    }
    if item.ratio is not None:
        figures["margin_ratio"] = item.ratio.quantize(Decimal("0.000001"))
    for key, value in (
        ("target", item.target),
        ("band_lower", item.lower),
        ("band_upper", item.upper),
    ):
        if value is not None:
            figures[key] = value
    return figures


def _transfer(
    item: _Assessment,
    rule: Rule,
    from_account: str,
    to_account: str,
    amount: Decimal,
    reason: str,
    figures: Mapping[str, Decimal | str],
) -> PlannedTransfer:
    return PlannedTransfer(
        venue=item.pool.venue,
        hedges=item.names,
        asset=item.pool.asset,
        from_account=from_account,
        to_account=to_account,
        amount=amount,
        rule=rule,
        reason=reason,
        figures=figures,
    )


def _note(item: _Assessment, message: str, figures: Mapping[str, Decimal | str]) -> PlanNote:
    return PlanNote(venue=item.pool.venue, hedges=item.names, message=message, figures=figures)
