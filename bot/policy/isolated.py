"""The policy for isolated-margin hedges: each position is judged on its own collateral.

Pure: no I/O, no clock. An isolated short's equity is its own isolated wallet plus its
unrealized PnL (not the futures wallet, which it does not share), so each isolated hedge is
its own pool: its margin ratio is that equity over its short notional. Below the band it is
topped up in two legs (spot -> futures wallet, then add to the position's margin); above it,
what exceeds the target is returned in two legs (reduce the position's margin, never more than
the venue lets leave, then futures -> spot). The plan line says both legs:

    isolated: margin ratio 0.31 (isolated wallet 1850 + uPnL -120 / notional 5580):
    move 1000 USDT spot -> linear, then add 1000 to ETH/USDT:USDT's margin

A hedge whose pinned `margin_mode` differs from what the venue reports is refused with one
line. `compose.plan_transfers` calls `split_isolated`, and its top-ups take their turn at the
shared spot budget with the cross pools' in `priority.allocate`, nearest to liquidation first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal

from bot.config import HedgeConfig
from bot.model import (
    ISOLATED,
    SPOT,
    Flag,
    PerpMarket,
    PlannedTransfer,
    PlanNote,
    Position,
    Rule,
    State,
)
from bot.money import ZERO, plain, round_down

#: the figures of a refused hedge's note: the cycle reports it as needing attention (exit 1)
REFUSED_MODE: Mapping[str, Decimal | str] = {"refused": "margin_mode"}


def is_refusal(figures: Mapping[str, Decimal | str]) -> bool:
    return figures.get("refused") == "margin_mode"


@dataclass(frozen=True)
class IsolatedAssessment:
    """One isolated hedge with the figures of its own position."""

    name: str
    hedge: HedgeConfig
    market: PerpMarket
    position: Position

    @property
    def venue(self) -> str:
        return self.hedge.venue

    @property
    def asset(self) -> str:
        return self.market.settle

    @property
    def wallet(self) -> Decimal:
        return self.position.isolated_wallet or ZERO

    @property
    def equity(self) -> Decimal:
        return self.position.isolated_equity

    @property
    def notional(self) -> Decimal:
        return abs(self.position.notional)

    @property
    def ratio(self) -> Decimal:
        return self.equity / self.notional

    # what `priority` ranks and describes a claimant of a spot budget by, as for a cross pool
    @property
    def names(self) -> tuple[str, ...]:
        return (self.name,)

    @property
    def futures_account(self) -> str:
        return self.market.futures_account

    @property
    def margin_ratio(self) -> Decimal:
        return self.ratio

    @property
    def nearest(self) -> None:
        """No liquidation distance is ranked for an isolated short: its ratio is."""
        return None


def mode_mismatch(name: str, hedge: HedgeConfig, position: Position | None) -> str | None:
    """Why a hedge pinned to one margin mode is refused, or None. Pure."""
    reported = position.margin_mode if position is not None else None
    if hedge.margin_mode is None or reported is None or reported == hedge.margin_mode:
        return None
    return (
        f"{hedge.perp} is in {reported} margin on {hedge.venue}, but hedges.{name}.margin_mode "
        f"is {hedge.margin_mode}: refused, nothing planned; set margin_mode: {reported} or "
        f"switch the position to {hedge.margin_mode} on the venue"
    )


def split_isolated(
    state: State, hedges: Mapping[str, HedgeConfig], notes: list[PlanNote]
) -> tuple[list[IsolatedAssessment], dict[str, HedgeConfig]]:
    """The isolated hedges (assessed), and the rest for the cross-margin pools. A mode mismatch
    or an isolated position without its wallet is left out with a note."""
    isolated: list[IsolatedAssessment] = []
    rest: dict[str, HedgeConfig] = {}
    for name, hedge in sorted(hedges.items()):
        venue_state = state.venues.get(hedge.venue)
        market = venue_state.markets.get(hedge.perp) if venue_state else None
        if venue_state is None or market is None:
            rest[name] = hedge  # the cross policy says there is no state for it
            continue
        position = venue_state.positions.get(hedge.perp)
        refusal = mode_mismatch(name, hedge, position)
        if refusal is not None:
            notes.append(
                PlanNote(venue=hedge.venue, hedges=(name,), message=refusal, figures=REFUSED_MODE)
            )
            continue
        if position is None or position.margin_mode != ISOLATED:
            rest[name] = hedge  # cross, or flat: its collateral is in the futures wallet
            continue
        if position.isolated_wallet is None or position.notional == 0:
            notes.append(
                PlanNote(
                    venue=hedge.venue,
                    hedges=(name,),
                    message=f"{hedge.perp} is isolated but {hedge.venue} reports no isolated "
                    "wallet for it: its equity is unknown, nothing planned",
                )
            )
            continue
        isolated.append(IsolatedAssessment(name, hedge, market, position))
    return isolated, rest


def add_budgets(
    state: State, isolated: list[IsolatedAssessment], budgets: dict[tuple[str, str], Decimal]
) -> None:
    """Fold the isolated hedges' spot reserves into the shared spot budgets (in place)."""
    for item in isolated:
        key = (item.venue, item.asset)
        own = max(
            ZERO, state.venues[item.venue].wallet(SPOT, item.asset).free - item.hedge.spot_reserve
        )
        budgets[key] = min(budgets[key], own) if key in budgets else own


def top_up_need(item: IsolatedAssessment, step: Decimal) -> Decimal | None:
    """What brings an isolated hedge below its band back to target; None when not below."""
    if item.ratio >= item.hedge.band[0]:
        return None
    return round_down(item.hedge.target_margin_ratio * item.notional - item.equity, step)


def _shape(item: IsolatedAssessment) -> tuple[str, str]:
    lower, upper = item.hedge.band
    shape = (
        f"isolated: margin ratio {item.ratio:.2f} (isolated wallet {plain(item.wallet)} + uPnL "
        f"{plain(item.position.unrealized_pnl)} / notional {plain(item.notional)})"
    )
    return shape, f"band [{lower.normalize():f}, {upper.normalize():f}]"


def top_up(
    item: IsolatedAssessment,
    *,
    need: Decimal,
    granted: Decimal,
    budget: Decimal,
    step: Decimal,
    spot_free: Decimal,
    priority_note: str | None = None,
) -> PlannedTransfer | PlanNote:
    """The two-leg top-up of what the spot budget granted (or why nothing). Pure."""
    asset, perp, account = item.asset, item.hedge.perp, item.market.futures_account
    shape, band = _shape(item)
    figures = {**_figures(item, spot_free), "needed": need, "spot_budget": budget}
    amount = round_down(granted, step)
    tail = f"; {priority_note}" if priority_note else ""
    if amount <= 0:
        return _note(
            item,
            f"{shape} is below {band}, but spot has no {asset} above the reserve{tail}",
            figures,
        )
    partial = f" (spot covers only {plain(amount)} of {plain(need)})" if amount < need else ""
    planned = _planned(
        item,
        Rule.TOP_UP,
        SPOT,
        account,
        amount,
        f"{shape}: move {plain(amount)} {asset} {SPOT} -> {account}, then add "
        f"{plain(amount)} to {perp}'s margin; below {band}, toward target "
        f"{item.hedge.target_margin_ratio.normalize():f}{partial}{tail}",
        figures,
    )
    return replace(planned, priority=priority_note)


def settle(
    item: IsolatedAssessment, step: Decimal, spot_free: Decimal
) -> PlannedTransfer | PlanNote:
    """An isolated hedge not below its band: return what exceeds the target (never more than
    the venue lets leave), or nothing. Pure."""
    asset, perp, account = item.asset, item.hedge.perp, item.market.futures_account
    shape, band = _shape(item)
    figures = _figures(item, spot_free)
    if item.ratio <= item.hedge.band[1]:
        return _note(item, f"{shape} is inside {band}: nothing to move", figures)
    excess = round_down(item.equity - item.hedge.target_margin_ratio * item.notional, step)
    removable = round_down(item.position.removable_margin, step)
    amount = min(excess, removable)
    figures = {**figures, "excess": excess}
    if amount <= 0:
        return _note(
            item,
            f"{shape} is above {band}, but {item.venue} lets no margin leave {perp} "
            f"(removable {plain(removable)} {asset})",
            figures,
        )
    capped = (
        f" (the venue lets only {plain(removable)} of {plain(excess)} leave)"
        if removable < excess
        else ""
    )
    return _planned(
        item,
        Rule.RETURN_EXCESS,
        account,
        SPOT,
        amount,
        f"{shape}: reduce {perp}'s margin by {plain(amount)}, then move {plain(amount)} "
        f"{asset} {account} -> {SPOT}; above {band}, toward target "
        f"{item.hedge.target_margin_ratio.normalize():f}{capped}",
        figures,
    )


def _figures(item: IsolatedAssessment, spot_free: Decimal) -> dict[str, Decimal | str]:
    figures: dict[str, Decimal | str] = {
        "margin_mode": ISOLATED,
        "isolated_wallet": item.wallet,
        "unrealized_pnl": item.position.unrealized_pnl,
        "equity": item.equity,
        "short_notional": item.notional,
        "margin_ratio": item.ratio.quantize(Decimal("0.000001")),
        "target": item.hedge.target_margin_ratio,
        "band_lower": item.hedge.band[0],
        "band_upper": item.hedge.band[1],
        "removable": item.position.removable_margin,
        "spot_free": spot_free,
        "spot_reserve": item.hedge.spot_reserve,
    }
    if item.position.liquidation_price is not None:
        figures["liquidation_price"] = item.position.liquidation_price
    return figures


def _planned(
    item: IsolatedAssessment,
    rule: Rule,
    source: str,
    target: str,
    amount: Decimal,
    reason: str,
    figures: Mapping[str, Decimal | str],
) -> PlannedTransfer:
    return PlannedTransfer(
        venue=item.venue,
        hedges=(item.name,),
        asset=item.asset,
        from_account=source,
        to_account=target,
        amount=amount,
        rule=rule,
        reason=reason,
        figures=figures,
        isolated_perp=item.hedge.perp,
    )


def held_back(
    item: IsolatedAssessment,
    planned: PlannedTransfer,
    reasons: list[str],
    flags: tuple[Flag, ...],
) -> PlanNote:
    """A return the policy would make, held because the hedge is not whole (the short is the
    larger leg): the collateral stays with the position."""
    shape, band = _shape(item)
    return PlanNote(
        venue=planned.venue,
        hedges=planned.hedges,
        message=(
            f"{shape} is above {band}, but {plain(planned.amount)} {planned.asset} is not "
            "returned: " + "; ".join(reasons)
        ),
        figures={**planned.figures, "excess": planned.amount},
        flags=flags,
    )


def _note(item: IsolatedAssessment, message: str, figures: Mapping[str, Decimal | str]) -> PlanNote:
    return PlanNote(venue=item.venue, hedges=(item.name,), message=message, figures=figures)
