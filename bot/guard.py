"""The margin guard: between scheduled runs, a rally can take the short near liquidation.

The guard reads each hedged venue (polling, within the venue's rate limits: one read of the
wallets and positions per poll) and, when a hedge's margin ratio is under
`alerts.danger_margin_ratio`, tops it up at once: under the venue lock, through the same
executor and ledger as a rebalance (a run row with command `guard`), with top-ups only, so a
top-up is never queued behind a return of funds to spot.

`hedge_margins` is the pure part, shared with alerts, metrics and `bot status`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from bot.config import Config, HedgeConfig
from bot.model import Plan, Rule, State, VenueState
from bot.money import ZERO
from bot.stopping import StopRequest
from bot.venues.session import OpenVenues


@dataclass(frozen=True, kw_only=True)
class HedgeMargin:
    """One hedge's margin as read: equity and notional of its futures wallet's pool."""

    hedge: str
    venue: str
    asset: str
    equity: Decimal
    notional: Decimal
    lower: Decimal
    upper: Decimal
    mark_price: Decimal | None
    liquidation_price: Decimal | None

    @property
    def ratio(self) -> Decimal | None:
        return self.equity / self.notional if self.notional > 0 else None

    @property
    def liquidation_distance(self) -> Decimal | None:
        """How far the mark may move before liquidation, as a fraction of the mark."""
        if not self.mark_price or self.liquidation_price is None or self.liquidation_price <= 0:
            return None
        return abs(self.liquidation_price - self.mark_price) / self.mark_price

    def under(self, danger: Decimal) -> bool:
        ratio = self.ratio
        return ratio is not None and ratio < danger

    def describe(self) -> str:
        ratio = self.ratio
        text = f"hedge {self.hedge} on {self.venue}: margin ratio "
        text += f"{ratio:.4f}" if ratio is not None else "n/a (flat)"
        text += f" (equity {self.equity:f} / notional {self.notional:f} {self.asset})"
        distance = self.liquidation_distance
        if self.liquidation_price is not None and distance is not None:
            text += (
                f"; liquidation price {self.liquidation_price:f}, {distance * 100:.2f}% from "
                f"mark {self.mark_price:f}"
            )
        return text


def hedge_margins(state: State, hedges: Mapping[str, HedgeConfig]) -> dict[str, HedgeMargin]:
    """The margin of every hedge whose venue was read. Hedges that share a futures wallet and
    settle asset share its equity, so each gets the pool's ratio (as the policy judges them)."""
    pools: dict[tuple[str, str, str], list[str]] = {}
    for name, hedge in sorted(hedges.items()):
        venue_state = state.venues.get(hedge.venue)
        market = venue_state.markets.get(hedge.perp) if venue_state else None
        if venue_state is None or market is None or venue_state.shared_collateral:
            continue
        pools.setdefault((hedge.venue, market.futures_account, market.settle), []).append(name)
    margins: dict[str, HedgeMargin] = {}
    for (venue, account, asset), names in pools.items():
        venue_state = state.venues[venue]
        equity = venue_state.wallet(account, asset).equity
        notional = sum((_notional(venue_state, hedges[n].perp) for n in names), ZERO)
        for name in names:
            hedge = hedges[name]
            position = venue_state.positions.get(hedge.perp)
            margins[name] = HedgeMargin(
                hedge=name,
                venue=venue,
                asset=asset,
                equity=equity,
                notional=notional,
                lower=hedge.band[0],
                upper=hedge.band[1],
                mark_price=position.mark_price if position else None,
                liquidation_price=position.liquidation_price if position else None,
            )
    return margins


def _notional(venue_state: VenueState, perp: str) -> Decimal:
    position = venue_state.positions.get(perp)
    return abs(position.notional) if position is not None else ZERO


def endangered(margins: Mapping[str, HedgeMargin], danger: Decimal) -> list[HedgeMargin]:
    return [m for m in margins.values() if m.under(danger)]


def top_ups_only(plan: Plan) -> Plan:
    """The guard acts only to add margin: returns to spot wait for the scheduled rebalance."""
    return Plan(
        transfers=tuple(t for t in plan.transfers if t.rule is Rule.TOP_UP), notes=plan.notes
    )


@dataclass(frozen=True)
class GuardResult:
    state: State
    #: as the poll found them, before any top-up (the danger it saw, for the alerts)
    margins: dict[str, HedgeMargin]
    #: the guard's run row when it acted, else None
    run_id: int | None = None
    plan: Plan | None = None
    transfers: list = field(default_factory=list)  # TransferRecord
    blocked: list = field(default_factory=list)  # executor.Blocked
    venue_errors: dict[str, Exception] = field(default_factory=dict)


async def guard(  # type: ignore[no-untyped-def]
    config: Config,
    ledger,
    *,
    venues: OpenVenues | None = None,
    acting: asyncio.Lock | None = None,
    names: list[str] | None = None,
    stop: StopRequest | None = None,
) -> GuardResult:
    """One poll: read every hedged venue (or those `names`, when a stream woke the guard for
    one); top up the endangered hedges' venues now.

    `acting` is the scheduler's lock of venue-acting jobs, taken around the top-up only (the
    poll itself reads). `venues`: `bot run`'s long-lived clients (without them each poll opens
    its own)."""
    from bot.cycle import hedged_venues, venues_for
    from bot.venues.session import read_state

    danger = config.alerts.danger_margin_ratio
    failures: dict[str, Exception] = {}
    hedged = hedged_venues(config)
    names = [n for n in hedged if n in names] if names is not None else hedged
    async with venues_for(
        config, venues, names, dry_run=False, failures=failures, sends=True
    ) as opened:
        state = await read_state(opened, failures)
        margins = hedge_margins(state, config.hedges)
        # a venue with no transfer API cannot be topped up: its danger alert asks a person
        danger_venues = sorted(
            {m.venue for m in endangered(margins, danger) if state.venues[m.venue].can_transfer}
        )
        if not danger_venues:
            return GuardResult(state, margins, venue_errors=failures)
        async with acting if acting is not None else contextlib.nullcontext():
            return await _top_up(config, ledger, opened, danger_venues, margins, failures, stop)


async def _top_up(  # type: ignore[no-untyped-def]
    config: Config,
    ledger,
    opened: Mapping[str, object],
    danger_venues: list[str],
    margins: dict[str, HedgeMargin],
    failures: dict[str, Exception],
    stop: StopRequest | None = None,
) -> GuardResult:
    """Under the venue lock: read again, plan, send the top-ups through the executor."""
    from bot.cycle import config_digest, venue_locks
    from bot.executor import Executor
    from bot.policy import plan_transfers
    from bot.redact import redact
    from bot.retry import RetryPolicy
    from bot.venues.session import read_state

    acting = {name: opened[name] for name in danger_venues}
    with venue_locks(config, ledger, danger_venues, "guard"):
        run_id = ledger.start_run("guard", dry_run=False, config_digest=config_digest(config))
        try:
            # read again under the lock: another process may have topped up meanwhile
            state = await read_state(acting, failures)
            ledger.record_snapshot(run_id, state)
            hedges = {n: h for n, h in config.hedges.items() if h.venue in state.venues}
            plan = top_ups_only(plan_transfers(state, hedges))
            executor = Executor(
                acting,  # type: ignore[arg-type]
                ledger,
                config.transfers,
                dry_run=False,
                policy=RetryPolicy.from_config(config.retry),
                stop=stop,
            )
            executed = await executor.execute(run_id, plan.transfers, state=state)
            failures.update(executed.errors)
        except BaseException as exc:
            ledger.finish_run(run_id, "error", redact(str(exc)) or type(exc).__name__)
            raise
        failed = bool(executed.blocked or failures) or any(
            t.status.value in ("failed", "unknown") for t in executed.transfers
        )
        ledger.finish_run(run_id, "failed" if failed else "ok")
    return GuardResult(state, margins, run_id, plan, executed.transfers, executed.blocked, failures)
