"""The default policy: the rules composed. State + config in, plan out; pure (no I/O, no clock).

Hedges that share one futures wallet and settle asset (cross margin) share one equity, so they
are judged together as a *pool*: one pool, one transfer. In this order:
1. the checks, `LEG_CHECKS`, on every hedge's short (each pool's legs, each isolated hedge):
   integrity (`integrity.py`: flags, alerts, holds back returns), then funding (`funding.py`:
   flags, the streak's alert); one signature (`checks.LegCheck`), their facts in list order;
2. per pool, nearest to liquidation first: when flat `flat.py`, else the band rules (`band.py`)
   on the targets in equity terms (`targets.py`, `liquidation.py`, the funding buffer); a
   return the checks hold back is a note;
3. top-ups share spot budgets by priority (`priority.py`), then returns.
An isolated-margin hedge is its own pool, judged on its own wallet (`isolated.py`); its top-up
takes its turn at the spot budget like any pool's. The hedges on a unified account are one pool
judged in the account's own figure, topped up from and swept to its reserve wallet
(`account.py`), after the same checks.

Steps 2 and 3 stay written out: flat and band are alternatives picked by the pool's short, each
deciding a transfer, a note or a top-up request, and the requests of every pool are then
allocated together; they are a pipeline of differently shaped stages, not rules of one shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from bot.config import HedgeConfig
from bot.model import (
    SPOT,
    Flag,
    Plan,
    PlanAlert,
    PlannedTransfer,
    PlanNote,
    Rule,
    State,
)
from bot.money import DEFAULT_TRANSFER_STEP, ZERO, plain
from bot.policy import account, band, checks, flat, funding, integrity, isolated, priority
from bot.policy.account import AccountPool
from bot.policy.assess import HedgeLeg, Pool, pools
from bot.policy.checks import FundingHistory, LegCheck
from bot.policy.isolated import IsolatedAssessment
from bot.policy.items import plan_note as _note
from bot.policy.items import planned_transfer as _transfer
from bot.policy.targets import Needs, Unknown, pool_needs

#: the checks of every hedge's short, in order: a line's flags, the plan's alerts and the
#: reasons to hold back a return come in this order
LEG_CHECKS: tuple[LegCheck, ...] = (integrity.leg_check, funding.leg_check)


def plan_transfers(
    state: State,
    hedges: Mapping[str, HedgeConfig],
    *,
    funding_history: FundingHistory | None = None,
) -> Plan:
    """Turn what was read into the transfers that bring every hedge back to its target."""
    notes: list[PlanNote] = []
    unified_hedges, hedges = account.split_unified(state, hedges)
    isolated_items, hedges = isolated.split_isolated(state, hedges, notes)
    found, cross_notes = pools(state, hedges)
    notes += cross_notes
    accounts, account_notes = account.account_pools(state, unified_hedges)
    notes += account_notes
    alerts: list[PlanAlert] = []
    flags: dict[int, tuple[Flag, ...]] = {}
    held_back: dict[int, list[str]] = {}
    for pool in found:
        pool_flags, pool_alerts, reasons = _checks(state, pool, funding_history or {})
        flags[id(pool)], held_back[id(pool)] = pool_flags, reasons
        alerts += pool_alerts

    transfers: list[PlannedTransfer] = []
    requests: list[tuple[Pool, Decimal, Needs]] = []
    isolated_requests: list[tuple[IsolatedAssessment, Decimal]] = []
    for item in isolated_items:
        # an isolated hedge gets the checks of a cross pool's leg
        item_facts = checks.apply(
            LEG_CHECKS, state.venues[item.venue], _as_leg(item), funding_history or {}
        )
        item_flags, item_held = item_facts.flags, list(item_facts.held)
        alerts += item_facts.alerts
        need = isolated.top_up_need(item, _step_of(state, item.venue, item.asset))
        if need is not None:
            isolated_requests.append((item, need))
            continue
        spot_free = state.venues[item.venue].wallet(SPOT, item.asset).free
        decided = isolated.settle(item, _step_of(state, item.venue, item.asset), spot_free)
        if isinstance(decided, PlannedTransfer) and item_held:
            notes.append(isolated.held_back(item, decided, item_held, item_flags))
        elif isinstance(decided, PlannedTransfer):
            transfers.append(decided)
        else:
            notes.append(decided)
    for pool in sorted(found, key=priority.urgency):
        step = _step(state, pool)
        figures = _figures(state, pool)
        if pool.notional == 0:
            amount, why = flat.flat_return(pool, step)
            if amount is None:
                notes.append(_note(pool, why, figures, flags[id(pool)]))
            else:
                transfers.append(
                    _transfer(
                        pool,
                        Rule.RETURN_FLAT,
                        pool.futures_account,
                        SPOT,
                        amount,
                        why,
                        figures,
                        flags[id(pool)],
                    )
                )
            continue
        try:
            needs = pool_needs(pool, state.venues[pool.venue])
        except Unknown as exc:
            notes.append(_note(pool, f"{exc}: nothing planned", figures, flags[id(pool)]))
            continue
        figures = {**figures, **_needs_figures(pool, needs)}
        need = band.top_up_need(pool.equity, needs, step)
        if need is not None:
            requests.append((pool, need, needs))
            continue
        excess = band.excess(pool.equity, needs, step)
        where = band.where(pool.equity, needs)
        if excess is None:
            notes.append(_note(pool, f"{where}: nothing to move", figures, flags[id(pool)]))
        elif excess <= 0:
            notes.append(_note(pool, f"{where} but nothing is in excess", figures, flags[id(pool)]))
        elif held_back[id(pool)]:
            notes.append(
                _note(
                    pool,
                    f"{where}, but {plain(excess)} {pool.asset} is not returned: "
                    + "; ".join(held_back[id(pool)]),
                    {**figures, "excess": excess},
                    flags[id(pool)],
                )
            )
        else:
            route = f"{pool.futures_account} -> {SPOT}"
            transfers.append(
                _transfer(
                    pool,
                    Rule.RETURN_EXCESS,
                    pool.futures_account,
                    SPOT,
                    excess,
                    band.return_reason(pool.equity, needs, excess, pool.asset, route),
                    {**figures, "excess": excess},
                    flags[id(pool)],
                )
            )

    account_top_ups: list[PlannedTransfer] = []
    for unified in accounts:
        pool_flags, pool_alerts, reasons = _checks(state, unified, funding_history or {})
        alerts += pool_alerts
        for decided in account.decide(
            unified,
            state.venues[unified.venue],
            _step_of(state, unified.venue, unified.asset),
            held_back=reasons,
            flags=pool_flags,
        ):
            if isinstance(decided, PlanNote):
                notes.append(decided)
            elif decided.rule is Rule.TOP_UP:
                account_top_ups.append(decided)
            else:
                transfers.append(decided)

    top_ups = _top_ups(state, requests, isolated_requests, found, notes, flags)
    return Plan(
        transfers=tuple(account_top_ups + _ordered(top_ups, transfers)),
        notes=tuple(notes),
        alerts=tuple(alerts),
    )


def _checks(
    state: State, pool: Pool | AccountPool, history: FundingHistory
) -> tuple[tuple[Flag, ...], list[PlanAlert], list[str]]:
    """The checks on every leg of a pool: its flags (each once), alerts, why returns are held."""
    venue_state = state.venues[pool.venue]
    flags: list[Flag] = []
    alerts: list[PlanAlert] = []
    held: list[str] = []
    for leg in pool.legs:
        found = checks.apply(LEG_CHECKS, venue_state, leg, history)
        flags += [f for f in found.flags if f not in flags]
        alerts += found.alerts
        held += found.held
    return tuple(flags), alerts, held


def _as_leg(item: IsolatedAssessment) -> HedgeLeg:
    """An isolated hedge as a short leg, for the checks every hedge gets."""
    return HedgeLeg(
        name=item.name, hedge=item.hedge, market=item.market, position=item.position, short=None
    )


def _top_ups(
    state: State,
    requests: list[tuple[Pool, Decimal, Needs]],
    isolated_requests: list[tuple[IsolatedAssessment, Decimal]],
    found: list[Pool],
    notes: list[PlanNote],
    flags: dict[int, tuple[Flag, ...]],
) -> list[tuple[PlannedTransfer, priority.Claimant]]:
    needs_of = {id(pool): needs for pool, _, needs in requests}
    budgets = _spot_budgets(state, found)
    isolated.add_budgets(state, [item for item, _ in isolated_requests], budgets)
    claims: list[tuple[priority.Claimant, Decimal]] = [(p, need) for p, need, _ in requests]
    grants = priority.allocate(claims + list(isolated_requests), budgets)
    transfers: list[tuple[PlannedTransfer, priority.Claimant]] = []
    for grant in grants:
        if isinstance(grant.pool, IsolatedAssessment):
            item = grant.pool
            decided = isolated.top_up(
                item,
                need=grant.need,
                granted=grant.granted,
                budget=grant.budget,
                step=_step_of(state, item.venue, item.asset),
                spot_free=state.venues[item.venue].wallet(SPOT, item.asset).free,
                priority_note=grant.note,
            )
            if isinstance(decided, PlannedTransfer):
                transfers.append((decided, item))
            else:
                notes.append(decided)
            continue
        pool, needs = grant.pool, needs_of[id(grant.pool)]
        figures = {
            **_figures(state, pool),
            **_needs_figures(pool, needs),
            "needed": grant.need,
            "spot_budget": grant.budget,
        }
        note = grant.note
        if grant.granted <= 0:
            message = (
                f"{band.where(pool.equity, needs)}, but spot has no {pool.asset} above the "
                "reserve to top up"
            )
            notes.append(
                _note(pool, message + (f"; {note}" if note else ""), figures, flags[id(pool)])
            )
            continue
        route = f"{SPOT} -> {pool.futures_account}"
        reason = band.top_up_reason(
            pool.equity, needs, grant.granted, grant.need, pool.asset, route
        )
        transfers.append(
            (
                _transfer(
                    pool,
                    Rule.TOP_UP,
                    SPOT,
                    pool.futures_account,
                    grant.granted,
                    reason,
                    figures,
                    flags[id(pool)],
                    priority_note=note,
                ),
                pool,
            )
        )
    return transfers


def _ordered(
    top_ups: list[tuple[PlannedTransfer, priority.Claimant]], others: list[PlannedTransfer]
) -> list[PlannedTransfer]:
    """Top-ups first, nearest to liquidation first (the executor sends a venue's transfers in
    this order); then returns. A venue with several top-ups says which goes first and why."""
    by_venue: dict[str, list[priority.Claimant]] = {}
    for _, pool in top_ups:
        by_venue.setdefault(pool.venue, []).append(pool)
    ranked = []
    for item, pool in top_ups:
        mine = by_venue[pool.venue]
        if len(mine) > 1 and item.priority is None:
            described = [priority.describe(p) for p in mine]
            item = _with_priority(
                item, priority.rank_note(mine.index(pool) + 1, described, pool.venue)
            )
        ranked.append(item)
    return ranked + others


def _with_priority(item: PlannedTransfer, note: str) -> PlannedTransfer:
    from dataclasses import replace

    return replace(item, priority=note, reason=f"{item.reason}; {note}")


def _spot_budgets(state: State, found: list[Pool]) -> dict[tuple[str, str], Decimal]:
    """Spot collateral each (venue, asset) can give: free minus the largest reserve asked for."""
    reserves: dict[tuple[str, str], Decimal] = {}
    for pool in found:
        key = (pool.venue, pool.asset)
        for hedge in pool.hedges:
            reserves[key] = max(reserves.get(key, ZERO), hedge.spot_reserve)
    return {
        key: max(ZERO, state.venues[key[0]].wallet(SPOT, key[1]).free - reserve)
        for key, reserve in reserves.items()
    }


def _step(state: State, pool: Pool) -> Decimal:
    return _step_of(state, pool.venue, pool.asset)


def _step_of(state: State, venue: str, asset: str) -> Decimal:
    return state.venues[venue].transfer_steps.get(asset, DEFAULT_TRANSFER_STEP)


def _figures(state: State, pool: Pool) -> dict[str, Decimal | str]:
    spot = state.venues[pool.venue].wallet(SPOT, pool.asset)
    figures: dict[str, Decimal | str] = {
        "futures_balance": pool.futures.balance,
        "unrealized_pnl": pool.futures.unrealized_pnl,
        "equity": pool.equity,
        "futures_transferable": pool.futures.transferable,
        "short_notional": pool.notional,
        "spot_free": spot.free,
        "spot_reserve": max((h.spot_reserve for h in pool.hedges), default=ZERO),
    }
    ratio = pool.margin_ratio
    if ratio is not None:
        figures["margin_ratio"] = ratio.quantize(Decimal("0.000001"))
    nearest = pool.nearest
    for leg in pool.legs:
        if leg.short is None:
            continue
        prefix = "" if len(pool.legs) == 1 else f"{leg.name}."
        figures[f"{prefix}mark_price"] = leg.short.mark
        figures[f"{prefix}maint_margin_rate"] = leg.short.maint_margin_rate
        if leg.liquidation is not None and leg.distance is not None:
            figures[f"{prefix}liquidation_price"] = leg.liquidation.quantize(Decimal("0.01"))
            figures[f"{prefix}liquidation_distance"] = leg.distance.quantize(Decimal("0.0001"))
        figures[f"{prefix}liquidation_source"] = (
            leg.liquidation_source or "" if leg.liquidation is not None else "unreachable"
        )
    if nearest is not None and nearest.distance is not None:
        figures["nearest_liquidation_distance"] = nearest.distance.quantize(Decimal("0.0001"))
    return figures


def _needs_figures(pool: Pool, needs: Needs) -> dict[str, Decimal | str]:
    figures: dict[str, Decimal | str] = {
        "equity_lower": needs.lower.quantize(Decimal("0.00000001")),
        "equity_target": needs.target.quantize(Decimal("0.00000001")),
        "equity_upper": needs.upper.quantize(Decimal("0.00000001")),
    }
    legs = [leg for leg in pool.legs if leg.hedge.liquidation_target is None and leg.notional > 0]
    notional = sum((leg.notional for leg in legs), ZERO)
    if legs and notional > 0:  # the margin-ratio terms, as before
        figures["target"] = (
            sum((leg.hedge.target_value * leg.notional for leg in legs), ZERO) / notional
        )
        figures["band_lower"] = (
            sum((leg.hedge.band[0] * leg.notional for leg in legs), ZERO) / notional
        )
        figures["band_upper"] = (
            sum((leg.hedge.band[1] * leg.notional for leg in legs), ZERO) / notional
        )
    else:
        leg = next(leg for leg in pool.legs if leg.hedge.liquidation_target is not None)
        figures["target_liquidation_distance"] = leg.hedge.target_value
        figures["band_lower"], figures["band_upper"] = leg.hedge.band
    if needs.buffer:
        figures["funding_buffer"] = needs.buffer
        figures["funding_buffer_note"] = needs.buffer_note
    return figures
