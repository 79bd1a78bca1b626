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
the equity now, in USD; a USD stablecoin moves it one for one, and the plan says so. Where the
hedges list the spot leg's own coin as collateral (`HedgeConfig.collateral`, Binance USD-M
multi-assets mode), what the settle asset in the reserve cannot cover moves as the coin at the
venue's collateral rate (`VenueState.collateral_rates`), one transfer per asset; returns give
the coins back first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from bot.config import HedgeConfig
from bot.model import (
    AccountMargin,
    CollateralRate,
    Flag,
    PlannedTransfer,
    PlanNote,
    Rule,
    State,
    VenueState,
)
from bot.money import DEFAULT_TRANSFER_STEP, USD_STABLECOINS, ZERO, plain, round_down
from bot.policy.assess import HedgeLeg, PoolOfLegs, hedge_legs
from bot.policy.items import plan_note as _note
from bot.policy.items import planned_transfer as _transfer


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
    #: what top-ups move, in order of use: the settle asset and the coins hedges list
    collateral: tuple[str, ...]

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
                collateral=_collateral(asset, [h for _, h in members]),
            )
        )
    return found, notes


def _collateral(settle: str, hedges: Sequence[HedgeConfig]) -> tuple[str, ...]:
    """The hedges' `collateral` lists merged in their order (each hedge's own first); a hedge
    that lists none tops up in the settle asset."""
    merged: dict[str, None] = {}
    for hedge in hedges:
        merged.update(dict.fromkeys(hedge.collateral or (settle,)))
    return tuple(merged)


def decide(
    pool: AccountPool,
    venue_state: VenueState,
    step: Decimal,
    *,
    held_back: Sequence[str],
    flags: tuple[Flag, ...],
) -> tuple[PlannedTransfer | PlanNote, ...]:
    """The moves that bring the account's figure back to its target (one per asset, in the
    order they are sent), or a note of why there are none."""
    unified = venue_state.wallet(pool.account, pool.asset)
    reserve = venue_state.wallet(pool.reserve, pool.asset)
    figures = _figures(pool, venue_state, unified.transferable, reserve.free)
    if pool.notional == 0:
        return _return_flat(pool, venue_state, step, figures, flags)
    margin = pool.margin
    if margin is None:
        return _only(
            pool,
            f"{pool.venue} reported no {pool.figure} for the account (its mode margins each "
            "currency or position apart): nothing planned",
            figures,
            flags,
        )
    if margin.figure != pool.figure:
        return _only(
            pool,
            f"the target is in {pool.figure}, but {pool.venue}'s account reports "
            f"{margin.figure}: nothing planned",
            figures,
            flags,
        )
    if pool.asset not in USD_STABLECOINS:
        return _only(
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
        return _top_up(pool, venue_state, step, margin, goal, where, figures, flags)
    if not margin.better_than(margin.safe_edge(pool.band)):
        return _only(pool, f"{where}: inside the band, nothing to move", figures, flags)
    return _sweep(pool, venue_state, step, margin, goal, where, figures, held_back, flags)


@dataclass(frozen=True)
class _Source:
    """One asset a move is made in, with what one unit of it counts for in USD."""

    asset: str
    step: Decimal
    rate: CollateralRate | None  # None: a USD stablecoin, counted one for one

    def units(self, usd: Decimal) -> Decimal:
        """The units worth `usd` (rounded down: never more than asked for)."""
        return round_down(usd if self.rate is None else usd / self.rate.rate, self.step)

    def usd(self, units: Decimal) -> Decimal:
        return units if self.rate is None else units * self.rate.rate

    def counted(self) -> str:
        if self.rate is None:
            return f"{self.asset} counted at 1 USD"
        return (
            f"{self.asset}, the spot leg's own coin, counted at {plain(self.rate.rate)} USD each "
            f"(index {plain(self.rate.index)} less the venue's "
            f"{plain(self.rate.haircut * 100)}% haircut); the hedge stays delta-neutral"
        )


def _sources(
    pool: AccountPool, venue_state: VenueState, step: Decimal
) -> tuple[list[_Source], list[str]]:
    """The assets top-ups move, in order of use, and why a listed coin cannot be used."""
    found, missing = [], []
    for asset in pool.collateral:
        if asset == pool.asset:
            found.append(_Source(asset, step, None))
            continue
        rate = venue_state.collateral_rates.get(asset)
        if rate is None:
            missing.append(f"{pool.venue} gave no collateral rate for {asset}")
            continue
        coin_step = venue_state.transfer_steps.get(asset, DEFAULT_TRANSFER_STEP)
        found.append(_Source(asset, coin_step, rate))
    return found, missing


def _top_up(
    pool: AccountPool,
    venue_state: VenueState,
    step: Decimal,
    margin: AccountMargin,
    goal: Decimal,
    where: str,
    figures: dict[str, Decimal | str],
    flags: tuple[Flag, ...],
) -> tuple[PlannedTransfer | PlanNote, ...]:
    """From the reserve, in the hedges' order of collateral: the settle asset above the
    reserve floor, then the spot leg's coin at the venue's collateral rate."""
    need = round_down(goal - margin.equity, step)
    sources, missing = _sources(pool, venue_state, step)
    figures = {**figures, "needed": need}
    moves: list[tuple[_Source, Decimal]] = []
    remaining = need
    for source in sources:
        held = venue_state.wallet(pool.reserve, source.asset).free
        if source.rate is None:
            budget = max(ZERO, held - pool.reserve_floor)
            figures["reserve_budget"] = budget
        else:
            budget = held
            figures[f"{source.asset}_collateral_rate"] = source.rate.rate
            figures[f"{source.asset}_reserve_free"] = held
        amount = min(source.units(remaining), round_down(budget, source.step))
        if amount > 0:
            moves.append((source, amount))
            remaining -= source.usd(amount)
        if remaining < source.usd(source.step):  # as near as this asset's step comes
            break
    if not moves:
        empty = " and ".join(
            f"no {s.asset} above its floor {plain(pool.reserve_floor)}"
            if s.rate is None
            else f"no {s.asset}"
            for s in sources
        )
        why = "; ".join(filter(None, (empty and f"{empty} to top up", *missing)))
        return _only(
            pool,
            f"{where}: beyond the band, but the reserve ({pool.reserve}) has {why}",
            figures,
            flags,
        )
    found = []
    for index, (source, amount) in enumerate(moves):
        before = "".join(f" after {plain(a)} {s.asset}" for s, a in moves[:index])
        # the last move rounded down to its step is as close to the target as it can come
        whole = index == len(moves) - 1 and remaining < source.usd(source.step)
        short = (
            "" if whole or len(moves) > 1 else f" (of {plain(need)} needed: all the reserve has)"
        )
        effect = (
            f"brings it to the target {plain(pool.target)}, equity {plain(margin.equity)} -> "
            f"{plain(goal.quantize(step))} USD"
            if whole
            else f"toward the target {plain(pool.target)} (equity needed "
            f"{plain(goal.quantize(step))} USD)"
        )
        why = (
            f"{where}: beyond the band; {plain(amount)} {source.asset}{short}{before} from the "
            f"reserve ({pool.reserve} -> {pool.account}) {effect} ({source.counted()})"
        )
        if missing:
            why += "; " + "; ".join(missing)
        found.append(
            _transfer(
                pool,
                Rule.TOP_UP,
                pool.reserve,
                pool.account,
                amount,
                why,
                figures,
                flags,
                asset=source.asset,
            )
        )
    return tuple(found)


def _sweep(
    pool: AccountPool,
    venue_state: VenueState,
    step: Decimal,
    margin: AccountMargin,
    goal: Decimal,
    where: str,
    figures: dict[str, Decimal | str],
    held_back: Sequence[str],
    flags: tuple[Flag, ...],
) -> tuple[PlannedTransfer | PlanNote, ...]:
    """What is above the target back to the reserve: the coins top-ups moved first (the last
    used first), then the settle asset, each capped by what may leave the account."""
    above = round_down(margin.equity - goal, step)
    moves: list[tuple[_Source, Decimal]] = []
    remaining = above
    for source in _returned(pool, venue_state, step):
        may_leave = venue_state.wallet(pool.account, source.asset).transferable
        amount = min(source.units(remaining), round_down(may_leave, source.step))
        if amount > 0:
            moves.append((source, amount))
            remaining -= source.usd(amount)
        if remaining < source.usd(source.step):  # as near as this asset's step comes
            break
    excess = above - max(ZERO, remaining)
    figures = {**figures, "excess": excess}
    if not moves:
        return _only(
            pool,
            f"{where}: beyond the band on the safe side, but nothing may leave",
            figures,
            flags,
        )
    if held_back:
        listed = " and ".join(f"{plain(a)} {s.asset}" for s, a in moves)
        return _only(
            pool,
            f"{where}: {listed} is not swept to the reserve: " + "; ".join(held_back),
            figures,
            flags,
        )
    last = moves[-1][0]
    found = []
    for source, amount in moves:
        toward = (
            f"brings it to the target {plain(pool.target)}"
            if remaining < last.usd(last.step)
            else f"toward the target {plain(pool.target)} (of {plain(above)} above it: what "
            "may leave the account now)"
        )
        why = (
            f"{where}: beyond the band on the safe side; {plain(amount)} {source.asset} back to "
            f"the reserve ({pool.account} -> {pool.reserve}) {toward} ({source.counted()})"
        )
        found.append(
            _transfer(
                pool,
                Rule.RETURN_EXCESS,
                pool.account,
                pool.reserve,
                amount,
                why,
                figures,
                flags,
                asset=source.asset,
            )
        )
    return tuple(found)


def _return_flat(
    pool: AccountPool,
    venue_state: VenueState,
    step: Decimal,
    figures: dict[str, Decimal | str],
    flags: tuple[Flag, ...],
) -> tuple[PlannedTransfer | PlanNote, ...]:
    """Every short flat: what may leave the account goes back, coins first."""
    if any(h.when_flat == "keep" for h in pool.hedges):
        return _only(pool, "every short is flat; when_flat: keep: nothing to move", figures, flags)
    found: list[PlannedTransfer | PlanNote] = []
    for source in _returned(pool, venue_state, step):
        wallet = venue_state.wallet(pool.account, source.asset)
        amount = round_down(wallet.transferable, source.step)
        if amount <= 0:
            continue
        why = (
            f"every short is flat: {plain(amount)} {source.asset} back to the reserve "
            f"({pool.account} -> {pool.reserve})"
        )
        found.append(
            _transfer(
                pool,
                Rule.RETURN_FLAT,
                pool.account,
                pool.reserve,
                amount,
                why,
                figures,
                flags,
                asset=source.asset,
            )
        )
    if not found:
        return _only(pool, "every short is flat and nothing may leave the account", figures, flags)
    return tuple(found)


def _returned(pool: AccountPool, venue_state: VenueState, step: Decimal) -> list[_Source]:
    """What returns move, in order: the coins top-ups used (the last used first), then the
    settle asset, where profits land."""
    sources, _ = _sources(pool, venue_state, step)
    coins = [s for s in reversed(sources) if s.rate is not None]
    return [*coins, _Source(pool.asset, step, None)]


def _only(
    pool: AccountPool, message: str, figures: dict[str, Decimal | str], flags: tuple[Flag, ...]
) -> tuple[PlanNote]:
    """A decision that moves nothing: the one note of why."""
    return (_note(pool, message, figures, flags),)


def _figures(
    pool: AccountPool, venue_state: VenueState, transferable: Decimal, reserve_free: Decimal
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
    for coin in pool.collateral:
        if coin != pool.asset:
            figures[f"{coin}_in_account"] = venue_state.wallet(pool.account, coin).balance
    if pool.margin is not None:
        figures[pool.margin.figure] = pool.margin.value
        figures["equity"] = pool.margin.equity  # USD, the account's
        figures["account_requirement"] = pool.margin.requirement.quantize(Decimal("0.00000001"))
    return figures
