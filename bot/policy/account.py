"""Unified accounts judged in their own figure: Bybit's `accountMMRate`, OKX's `mgnRatio`
(Binance Portfolio Margin's `uniMMR` has the same shape). Pure: no I/O, no clock.

On a unified account spot and perpetuals share one pool of collateral, so nothing moves between
a spot and a futures wallet; what keeps the short safe is the account's equity against its
maintenance margin, and fresh collateral comes from outside the account: the reserve wallet
the hedges name (`reserve_wallet`, Bybit's FUND, OKX's funding account). Every hedge on the
account shares its one figure, so the account is one pool with one band and one target:

- the figure beyond the band on the liquidation side: top up from the reserve to the target;
- beyond it on the safe side: sweep what is above the target back to the reserve (unless a
  hedge's checks hold returns back);
- every short flat: `when_flat: return` sweeps what may leave the account.

The amount is the equity that puts the figure at the target (`AccountMargin.equity_at`), less
the equity now, in USD; a USD stablecoin moves it one for one, and the plan says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from bot.config import HedgeConfig
from bot.model import AccountMargin, Flag, PlannedTransfer, PlanNote, Rule, State, VenueState
from bot.money import ZERO, plain, round_down
from bot.policy.assess import HedgeLeg, PoolOfLegs, hedge_legs
from bot.policy.items import plan_note as _note
from bot.policy.items import planned_transfer as _transfer

#: settle assets the account's USD figures can be moved in one for one
USD_STABLE = frozenset({"USDT", "USDC", "USD"})


@dataclass(frozen=True, kw_only=True)
class AccountPool(PoolOfLegs):
    """The hedges on one unified account, with the figure and terms they share."""

    venue: str
    account: str  # the unified account (ccxt's name)
    reserve: str  # the wallet top-ups draw on and sweeps return to
    asset: str  # the settle asset moved
    legs: tuple[HedgeLeg, ...]
    margin: AccountMargin | None
    figure: str  # the figure the hedges' target names
    target: Decimal
    band: tuple[Decimal, Decimal]

    @property
    def reserve_floor(self) -> Decimal:
        return max((h.spot_reserve for h in self.hedges), default=ZERO)


def split_unified(
    state: State, hedges: Mapping[str, HedgeConfig]
) -> tuple[dict[str, HedgeConfig], dict[str, HedgeConfig]]:
    """The hedges on a unified account (read, with their perpetual), and the others."""
    unified: dict[str, HedgeConfig] = {}
    others: dict[str, HedgeConfig] = {}
    for name, hedge in hedges.items():
        venue_state = state.venues.get(hedge.venue)
        on_unified = (
            venue_state is not None
            and venue_state.shared_collateral
            and hedge.perp in venue_state.markets
        )
        (unified if on_unified else others)[name] = hedge
    return unified, others


def account_pools(
    state: State, hedges: Mapping[str, HedgeConfig]
) -> tuple[list[AccountPool], list[PlanNote]]:
    """The unified accounts' pools, one per venue; hedges that cannot be planned are notes."""
    notes: list[PlanNote] = []
    grouped: dict[tuple[str, str, str], list[tuple[str, HedgeConfig]]] = {}
    for name, hedge in sorted(hedges.items()):
        venue_state = state.venues[hedge.venue]
        market = venue_state.markets[hedge.perp]
        grouped.setdefault((hedge.venue, market.futures_account, market.settle), []).append(
            (name, hedge)
        )
    found = []
    for (venue, account, asset), members in grouped.items():
        names = tuple(name for name, _ in members)
        terms = {(h.reserve_wallet, h.target, h.band) for _, h in members}
        first = members[0][1]
        if first.account_target is None or first.reserve_wallet is None:
            notes.append(
                PlanNote(
                    venue=venue,
                    hedges=names,
                    message=f"{venue}'s unified account {account!r} is judged in its own "
                    "figure: set reserve_wallet and a target in that figure (target: "
                    "{accountMMRate | mgnRatio | uniMMR: ...}): nothing planned",
                )
            )
            continue
        if len(terms) > 1:
            notes.append(
                PlanNote(
                    venue=venue,
                    hedges=names,
                    message=f"hedges {', '.join(names)} share {venue}'s unified account "
                    f"{account!r} but give different reserve_wallet, target or band: give "
                    "them the same; nothing planned",
                )
            )
            continue
        venue_state = state.venues[venue]
        found.append(
            AccountPool(
                venue=venue,
                account=account,
                reserve=first.reserve_wallet,
                asset=asset,
                legs=hedge_legs(
                    venue_state,
                    [(n, h, venue_state.markets[h.perp]) for n, h in members],
                    venue_state.wallet(account, asset).equity,
                ),
                margin=venue_state.account_margin,
                figure=first.account_target.figure,
                target=first.target_value,
                band=first.band,
            )
        )
    return found, notes


def decide(
    pool: AccountPool,
    venue_state: VenueState,
    step: Decimal,
    *,
    held_back: Sequence[str],
    flags: tuple[Flag, ...],
) -> PlannedTransfer | PlanNote:
    """The one move that brings the account's figure back to its target, or why none."""
    unified = venue_state.wallet(pool.account, pool.asset)
    reserve = venue_state.wallet(pool.reserve, pool.asset)
    figures = _figures(pool, unified.transferable, reserve.free)
    if pool.notional == 0:
        if any(h.when_flat == "keep" for h in pool.hedges):
            return _note(
                pool, "every short is flat; when_flat: keep: nothing to move", figures, flags
            )
        amount = round_down(unified.transferable, step)
        if amount <= 0:
            return _note(
                pool, "every short is flat and nothing may leave the account", figures, flags
            )
        why = (
            f"every short is flat: {plain(amount)} {pool.asset} back to the reserve "
            f"({pool.account} -> {pool.reserve})"
        )
        return _transfer(
            pool, Rule.RETURN_FLAT, pool.account, pool.reserve, amount, why, figures, flags
        )
    margin = pool.margin
    if margin is None:
        return _note(
            pool,
            f"{pool.venue} reported no {pool.figure} for the account (its mode margins each "
            "currency or position apart): nothing planned",
            figures,
            flags,
        )
    if margin.figure != pool.figure:
        return _note(
            pool,
            f"the target is in {pool.figure}, but {pool.venue}'s account reports "
            f"{margin.figure}: nothing planned",
            figures,
            flags,
        )
    if pool.asset not in USD_STABLE:
        return _note(
            pool,
            f"the account's figures are in USD and {pool.asset} is not a USD stablecoin: "
            "nothing planned",
            figures,
            flags,
        )
    where = f"{margin.describe()}, band [{plain(pool.band[0])}, {plain(pool.band[1])}]"
    goal = margin.equity_at(pool.target)
    figures = {**figures, "equity_target": goal.quantize(Decimal("0.00000001"))}
    if margin.worse_than(margin.danger_edge(pool.band)):
        need = round_down(goal - margin.equity, step)
        budget = max(ZERO, reserve.free - pool.reserve_floor)
        amount = min(need, round_down(budget, step))
        figures = {**figures, "needed": need, "reserve_budget": budget}
        if amount <= 0:
            return _note(
                pool,
                f"{where}: beyond the band, but the reserve ({pool.reserve}) has no "
                f"{pool.asset} above its floor {plain(pool.reserve_floor)} to top up",
                figures,
                flags,
            )
        short = "" if amount == need else f" (of {plain(need)} needed: all the reserve has)"
        why = (
            f"{where}: beyond the band; {plain(amount)} {pool.asset}{short} from the reserve "
            f"({pool.reserve} -> {pool.account}) brings it to the target {plain(pool.target)}, "
            f"equity {plain(margin.equity)} -> {plain(goal.quantize(step))} USD "
            f"({pool.asset} counted at 1 USD)"
        )
        return _transfer(pool, Rule.TOP_UP, pool.reserve, pool.account, amount, why, figures, flags)
    if not margin.better_than(margin.safe_edge(pool.band)):
        return _note(pool, f"{where}: inside the band, nothing to move", figures, flags)
    above = round_down(margin.equity - goal, step)
    excess = min(above, round_down(unified.transferable, step))
    figures = {**figures, "excess": excess}
    if excess <= 0:
        return _note(
            pool,
            f"{where}: beyond the band on the safe side, but nothing may leave",
            figures,
            flags,
        )
    if held_back:
        return _note(
            pool,
            f"{where}: {plain(excess)} {pool.asset} is not swept to the reserve: "
            + "; ".join(held_back),
            figures,
            flags,
        )
    toward = (
        f"brings it to the target {plain(pool.target)}"
        if excess == above
        else f"toward the target {plain(pool.target)} (of {plain(above)} above it: what may "
        "leave the account now)"
    )
    why = (
        f"{where}: beyond the band on the safe side; {plain(excess)} {pool.asset} back to the "
        f"reserve ({pool.account} -> {pool.reserve}) {toward} ({pool.asset} counted at 1 USD)"
    )
    return _transfer(
        pool, Rule.RETURN_EXCESS, pool.account, pool.reserve, excess, why, figures, flags
    )


def _figures(
    pool: AccountPool, transferable: Decimal, reserve_free: Decimal
) -> dict[str, Decimal | str]:
    figures: dict[str, Decimal | str] = {
        "account_figure": pool.figure,
        "target": pool.target,
        "band_lower": pool.band[0],
        "band_upper": pool.band[1],
        "short_notional": pool.notional,
        "account_transferable": transferable,
        "reserve_free": reserve_free,
        "reserve_floor": pool.reserve_floor,
    }
    if pool.margin is not None:
        figures[pool.margin.figure] = pool.margin.value
        figures["equity"] = pool.margin.equity  # USD, the account's
        figures["account_requirement"] = pool.margin.requirement.quantize(Decimal("0.00000001"))
    return figures
