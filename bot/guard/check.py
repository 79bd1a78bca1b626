"""The margin guard: between scheduled runs, a rally can take the short near liquidation.

The guard reads each hedged venue (a poll, or a check a venue's stream woke: one read of the
wallets and positions) and judges it with the one margin figure (`bot.policy.margin`). When a
hedge is under `alerts.danger_margin_ratio` it runs the cycle itself (`cycle.rebalance`),
scoped to the endangered hedges and to top-ups: the same lock, reconciliation, read,
plan, margin legs, executor and snapshot as a rebalance, recorded as a run with command
`guard`. So whatever a rebalance does for a kind of hedge (an isolated hedge's two legs
included), the guard does too, by construction.

The poll's read is the cycle's read too (`cycle.rebalance.FirstRead`) when no bot moved money
between the read and the lock, and the executor sizes the first transfer from each wallet on it
while it is young (`transfers.fresh_read_seconds`): a stream's push, one read, the send.

When the poll's read, planned and sized as the cycle would plan and size it, shows that no
line in danger can be sent (each sized to nothing, or on a halted venue), the guard runs no
cycle: each condition stands once, counted, instead of a run row and a snapshot per tick.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from bot.config import Config
from bot.ledger.standing import HaltRecord, NothingToMoveRecord
from bot.ledger.store import Ledger
from bot.policy.margin import HedgeMargin, endangered, hedge_margins
from bot.runtime.stopping import StopRequest
from bot.transfers.services import Services
from bot.venues.session import OpenVenues

if TYPE_CHECKING:  # the cycle (and ccxt behind it) is imported when the guard acts
    from bot.cycle.rebalance import CycleResult, Scope
    from bot.model import State
    from bot.venues.base import Venue


@dataclass(frozen=True)
class GuardResult:
    #: the poll's read (the danger it saw, for the alerts)
    state: State
    margins: dict[str, HedgeMargin]
    #: the scoped cycle, when the guard acted
    cycle: CycleResult | None = None
    venue_errors: dict[str, Exception] = field(default_factory=dict)
    #: in danger, but the poll's read shows nothing can be moved: each condition stands once
    #: (counted), and no cycle runs (no run row, no snapshot per tick)
    not_moved: list[NothingToMoveRecord] = field(default_factory=list)
    #: in danger on a venue a fatal refusal halted: no cycle runs until a person resumes it
    halted: dict[str, HaltRecord] = field(default_factory=dict)

    @property
    def latest(self) -> State:
        """The newest trusted read: after the top-up where one was made."""
        return self.cycle.latest if self.cycle is not None else self.state


async def guard(
    config: Config,
    ledger: Ledger,
    *,
    venues: OpenVenues | None = None,
    acting: asyncio.Lock | None = None,
    names: list[str] | None = None,
    stop: StopRequest | None = None,
) -> GuardResult:
    """One poll: read every hedged venue (or those `names`, when a stream woke the guard for
    one); for the hedges under the danger line, run the cycle scoped to them, top-ups only.

    `acting` is the scheduler's lock of venue-acting jobs, taken around the cycle only (the
    poll itself reads). `venues`: `bot run`'s long-lived clients (without them each poll opens
    its own)."""
    from bot.cycle.rebalance import FirstRead, Scope, hedged_venues, rebalance, venues_for
    from bot.ledger.activity import money_moves_mark
    from bot.venues.session import read_state

    failures: dict[str, Exception] = {}
    hedged = hedged_venues(config)
    names = [n for n in hedged if n in names] if names is not None else hedged
    async with venues_for(
        config, venues, names, dry_run=False, failures=failures, sends=True
    ) as opened:
        mark = money_moves_mark(ledger)  # what had moved when the read began
        state = await read_state(opened, failures)
        margins = hedge_margins(state, config.hedges)
        # a venue with no transfer API cannot be topped up: its danger alert asks a person
        in_danger = frozenset(
            m.hedge
            for m in endangered(margins, config.alerts.danger_margin_ratio)
            if state.venues[m.venue].can_transfer
        )
        if not in_danger:
            return GuardResult(state, margins, venue_errors=failures)
        scope = Scope(hedges=in_danger, top_ups_only=True)
        idle = _cannot_act(Services(config, ledger), opened, state, scope)
        if idle is not None:
            return replace(idle, margins=margins, venue_errors=failures)
    async with acting if acting is not None else contextlib.nullcontext():
        cycle = await rebalance(
            config,
            ledger,
            dry_run=False,
            command="guard",
            venues=venues,
            stop=stop,
            scope=scope,
            first_read=FirstRead(state, mark),  # the one read, unless money moved since
        )
    return GuardResult(state, margins, cycle, {**failures, **cycle.venue_errors})


def _cannot_act(
    services: Services, venues: Mapping[str, Venue], state: State, scope: Scope
) -> GuardResult | None:
    """A GuardResult when the poll's read already shows the scoped cycle could send nothing:
    every line of its plan is halted or sized to nothing (an empty spot, under `min_amount`),
    as the cycle itself would find on the same read, or the plan has no line at all for them
    (spot holds nothing above its reserve: the spot-cannot-cover alert says so). Then the
    conditions stand (counted, one row each) and no cycle runs, so a danger that nothing can
    relieve costs no run row and no snapshot per tick. None: run the cycle (it reads again,
    under the lock, and acts), also whenever an earlier run left something open to settle or
    finish on these venues."""
    from bot.cycle.rebalance import planned
    from bot.transfers.sizing import sized_on

    plan = scope.narrow(planned(services, state))
    executor = services.executor(venues, dry_run=False)
    standing = {halt.venue for halt in services.ledger.open_halts()}  # one query for all
    halted = {
        t.venue: h
        for t in plan.transfers
        if t.venue in standing and (h := executor.halt_of(t.venue)) is not None
    }
    lines = sized_on(plan.transfers, state, services.config.transfers)
    open_lines = [t for t in lines if t.venue not in halted]
    if any(t.sizing is None or t.sizing.sends for t in open_lines):
        return None  # the usual case, decided before any other query: act now
    if _unfinished(services.ledger, sorted(venues)):
        return None  # the cycle settles and finishes what earlier runs left open
    not_moved = [r for t in open_lines if (r := executor.stand_if_nothing_to_move(t)) is not None]
    return GuardResult(state, {}, not_moved=not_moved, halted=halted)


def _unfinished(ledger: Ledger, venues: list[str]) -> bool:
    """An open transfer or margin leg, or a half-done move, on any of `venues`."""
    from bot.ledger.margin_queries import open_margin_legs
    from bot.ledger.queries import open_transfers
    from bot.transfers.half_done import half_done_moves

    return any(
        open_transfers(ledger, venue=name)
        or open_margin_legs(ledger, venue=name)
        or half_done_moves(ledger, venue=name)
        for name in venues
    )
