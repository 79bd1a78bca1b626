"""The jobs of `bot run`, one small async function each, all of one shape: `JobContext` in,
`JobOutcome` out (its ledger status, the line to print, the facts the alerts judge).

Each job hands `bot run`'s long-lived venue clients (`ctx.venues`, an `OpenVenues` pool:
connected and markets loaded once, refreshed hourly) to its use case.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from bot.alerts.alerter import Alerter
from bot.alerts.conditions import Facts
from bot.alerts.report import daily_summary
from bot.config import Config
from bot.health.status import load_open_transfers
from bot.ledger import Ledger
from bot.ledger.locks import VenueBusy
from bot.ledger.store import utc_now
from bot.metrics import Metrics
from bot.model import State, TransferStatus
from bot.money import plain
from bot.policy.margin import hedge_margins
from bot.runtime.stopping import StopRequest
from bot.venues.session import OpenVenues

if TYPE_CHECKING:
    from bot.alerts.heartbeat import Heartbeat
    from bot.guard.watch import MarginWatch

Say = Callable[[str], None]


@dataclass
class JobContext:
    config: Config
    ledger: Ledger
    alerter: Alerter
    say: Say
    metrics: Metrics | None = None
    #: long-lived venue clients, once the cycle takes them (None: each job opens its own)
    venues: OpenVenues | None = None  # the clients kept open for the life of `bot run`
    #: one venue-touching job at a time in this process (a paper venue's exchange, the
    #: per-venue locks): a guard top-up waits for a running rebalance instead of failing
    acting: asyncio.Lock = field(default_factory=asyncio.Lock)
    #: every job under `acting`, where a venue is `paper: true` (set by `bot run`)
    exclusive: bool = False
    clock: Callable[[], datetime] = utc_now
    #: set by the first SIGINT/SIGTERM: the executor starts no new transfer
    stop: StopRequest = field(default_factory=StopRequest)
    #: the margin guard's stream watch (`bot.guard.watch`), fed every job's read
    watch: MarginWatch | None = None
    #: the push monitor told each job's outcome (`bot.alerts.heartbeat`)
    heartbeat: Heartbeat | None = None


@dataclass(frozen=True)
class JobOutcome:
    status: str  # ok failed skipped
    facts: Facts
    line: str | None = None
    run_id: int | None = None
    error: str | None = None
    #: what the job read, where it read (a trusted start for the margin guard's estimates)
    state: State | None = None


Job = Callable[[JobContext], Awaitable[JobOutcome]]


async def run_rebalance(ctx: JobContext) -> JobOutcome:
    from bot.cycle.rebalance import hedged_venues, rebalance
    from bot.present.output import cycle_line
    from bot.transfers.half_done import half_done_moves

    names = hedged_venues(ctx.config)
    try:
        result = await rebalance(
            ctx.config, ctx.ledger, dry_run=False, command="run", venues=ctx.venues, stop=ctx.stop
        )
    except VenueBusy as exc:
        return JobOutcome(
            "skipped",
            Facts(kind="rebalance", now=ctx.clock()),
            f"rebalance skipped: {exc}",
            error=str(exc),
        )
    # the alerts judge the read that called for the moves; the metrics show the read after them
    margins = hedge_margins(result.state, ctx.config.hedges)
    stand_manual_instructions(
        ctx.ledger, result.transfers, [n for n in names if n in result.state.venues]
    )
    if ctx.metrics is not None:
        latest = result.latest
        ctx.metrics.observe_state(latest, hedge_margins(latest, ctx.config.hedges))
        ctx.metrics.observe_reads({}, list(result.venue_errors))
    facts = Facts(
        kind="rebalance",
        now=ctx.clock(),
        venues_tried=names,
        venue_errors=result.venue_errors,
        margins=margins,
        plan=result.plan,
        transfers=result.transfers,
        open_transfers=load_open_transfers(ctx.ledger),
        half_done=half_done_moves(ctx.ledger),
    )
    status = "failed" if result.failed else "ok"
    line = cycle_line(result)
    error = line if result.failed else None
    return JobOutcome(status, facts, line, result.run_id, error, state=result.latest)


def stand_manual_instructions(ledger: Ledger, transfers: list, venues_read: list[str]) -> None:  # type: ignore[type-arg]
    """One standing instruction per manual move, updated each cycle; cleared once a cycle of
    that venue no longer asks for it."""
    keep: dict[str, list[tuple[str, str, str, str]]] = {venue: [] for venue in venues_read}
    for t in transfers:
        if t.status is not TransferStatus.MANUAL:
            continue
        key = (t.venue, t.asset, t.from_account, t.to_account)
        ledger.stand_manual_instruction(key, t.planned_amount, hedges=t.hedges, transfer_id=t.id)
        keep.setdefault(t.venue, []).append(key)
    for venue, keys in keep.items():
        ledger.clear_manual_instructions(venue, keys)


async def run_snapshot(ctx: JobContext) -> JobOutcome:
    from bot.cycle.rebalance import hedged_venues, venue_error_lines
    from bot.jobs.snapshot import snapshot

    result = await snapshot(ctx.config, ctx.ledger, venues=ctx.venues)
    margins = hedge_margins(result.state, ctx.config.hedges)
    if ctx.metrics is not None:
        ctx.metrics.observe_state(result.state, margins)
        ctx.metrics.observe_reads(result.read_seconds, list(result.venue_errors))
    facts = Facts(
        kind="snapshot",
        now=ctx.clock(),
        venues_tried=hedged_venues(ctx.config),
        venue_errors=result.venue_errors,
        margins=margins,
        open_transfers=load_open_transfers(ctx.ledger),
    )
    line = error = None
    if result.venue_errors:
        error = "; ".join(venue_error_lines(result.venue_errors))
        left_out = ", ".join(sorted(result.venue_errors))
        line = f"snapshot run {result.run_id}: venues left out: {left_out}"
    status = "failed" if result.venue_errors else "ok"
    return JobOutcome(status, facts, line, result.run_id, error, state=result.state)


async def run_reconcile(ctx: JobContext) -> JobOutcome:
    from bot.cycle.rebalance import reconcile

    try:
        report = await reconcile(ctx.config, ctx.ledger, venues=ctx.venues)
    except VenueBusy as exc:
        return JobOutcome(
            "skipped",
            Facts(kind="reconcile", now=ctx.clock()),
            f"reconcile skipped: {exc}",
            error=str(exc),
        )
    facts = Facts(kind="reconcile", now=ctx.clock(), open_transfers=load_open_transfers(ctx.ledger))
    line = None
    if report.resolved or report.unsettled or report.margin_settled or report.errors:
        parts = (
            [f"settled {', '.join(f'transfer {t.id} {t.status.value}' for t in report.resolved)}"]
            if report.resolved
            else []
        )
        parts += [f"transfer {t.id} still {t.status.value}" for t in report.still_open]
        parts += [f"margin leg {leg.id} {leg.status.value}" for leg in report.margin_settled]
        parts += [
            f"margin leg {leg.id} still {leg.status.value}" for leg, _ in report.margin_still_open
        ]
        parts += report.errors
        line = "reconcile: " + "; ".join(parts)
    status = "failed" if report.unsettled or report.errors else "ok"
    return JobOutcome(status, facts, line, error="; ".join(report.errors) or None)


async def run_guard(ctx: JobContext, names: list[str] | None = None) -> JobOutcome:
    """The guard's poll of every hedged venue, or of `names` when a stream woke it; when a
    hedge is in danger, the cycle scoped to it (`bot.guard.check`)."""
    from bot.cycle.rebalance import hedged_venues, venue_error_lines
    from bot.guard.check import guard
    from bot.present.output import guard_line

    acting = None if ctx.exclusive else ctx.acting  # under exclusive the job holds it already
    try:
        result = await guard(
            ctx.config, ctx.ledger, venues=ctx.venues, acting=acting, names=names, stop=ctx.stop
        )
    except VenueBusy as exc:
        return JobOutcome(
            "skipped", Facts(kind="guard", now=ctx.clock()), f"guard skipped: {exc}", error=str(exc)
        )
    latest = result.latest
    margins = hedge_margins(latest, ctx.config.hedges)
    if ctx.metrics is not None:
        ctx.metrics.observe_state(latest, margins)
        ctx.metrics.observe_reads({}, list(result.venue_errors))
    cycle = result.cycle
    facts = Facts(
        kind="guard",
        now=ctx.clock(),
        venues_tried=names if names is not None else hedged_venues(ctx.config),
        venue_errors=result.venue_errors,
        # the danger the poll saw: its alert says what called for the top-up
        margins=result.margins,
        plan=cycle.plan if cycle is not None else None,
        transfers=cycle.transfers if cycle is not None else [],
    )
    if cycle is None:  # nothing in danger, or nothing the cycle could move (said once)
        failed = bool(result.venue_errors)
        error = "; ".join(venue_error_lines(result.venue_errors)) or None
        first = [r.message() for r in result.not_moved if r.count == 1]
        line = None
        if first:
            danger = plain(ctx.config.alerts.danger_margin_ratio)
            line = f"guard: margin under {danger}: nothing could be moved: " + "; ".join(first)
        return JobOutcome("failed" if failed else "ok", facts, line, error=error, state=latest)
    line = guard_line(cycle, ctx.config.alerts.danger_margin_ratio)
    status = "failed" if cycle.failed else "ok"
    error = line if cycle.failed else None
    return JobOutcome(status, facts, line, cycle.run_id, error, state=latest)


async def run_report(ctx: JobContext) -> JobOutcome:
    now = ctx.clock()
    summary = daily_summary(ctx.ledger, now)
    sent = await ctx.alerter.notice(f"report:{now:%Y-%m-%dT%H:%M}", summary)
    suffix = "" if sent or not len(ctx.alerter.channels) else " (not delivered)"
    return JobOutcome("ok", Facts(kind="report", now=now), summary + suffix)


JOBS: dict[str, Job] = {
    "rebalance": run_rebalance,
    "snapshot": run_snapshot,
    "reconcile": run_reconcile,
    "guard": run_guard,
    "report": run_report,
}
