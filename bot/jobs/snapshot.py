"""The `snapshot` job: read and record every hedged venue's state, moving nothing.

`snapshot` is the use case, `run_snapshot` the job around it. Built from bot/venues/session.py's
public functions; each venue's read is timed for the metrics and isolated from the others like
a cycle's.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bot.alerts.conditions import Facts
from bot.config import Config
from bot.cycle.rebalance import config_digest, hedged_venues, venue_error_lines, venues_for
from bot.funding.income import collect_funding
from bot.health.status import load_open_transfers
from bot.jobs.context import JobContext, JobOutcome
from bot.ledger import Ledger
from bot.model import State
from bot.policy.margin import hedge_margins
from bot.venues.base import Venue
from bot.venues.session import OpenVenues, isolated, successes

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SnapshotResult:
    run_id: int | None
    state: State
    venue_errors: dict[str, Exception] = field(default_factory=dict)
    read_seconds: dict[str, float] = field(default_factory=dict)


async def snapshot(
    config: Config, ledger: Ledger, *, venues: OpenVenues | None = None
) -> SnapshotResult:
    """One read of every hedged venue, recorded as a run (command `snapshot`) with its snapshot,
    and the funding payments each venue booked since the last read (recorded once each).

    `venues`: `bot run`'s long-lived clients; without them the read opens its own, dry-run
    (a snapshot cannot send even by mistake)."""
    failures: dict[str, Exception] = {}
    seconds: dict[str, float] = {}
    names = hedged_venues(config)

    async def timed(venue: Venue):  # type: ignore[no-untyped-def]
        started = time.monotonic()
        try:
            return await venue.read_state()
        finally:
            seconds[venue.name] = time.monotonic() - started

    async with venues_for(config, venues, names, dry_run=True, failures=failures) as opened:
        read_at = datetime.now(UTC)
        outcomes = await isolated(opened, timed)
        reachable = {n: v for n, v in opened.items() if not isinstance(outcomes.get(n), Exception)}
        funding = await collect_funding(config, ledger, reachable, now=read_at)
    for name, exc in sorted(funding.errors.items()):  # the balances were read: say it, go on
        log.warning("%s: funding payments not read this time (%s)", name, exc)
    good = successes(outcomes, failures)
    state = State(read_at=read_at, venues={s.venue: s for s in good.values()})
    run_id = ledger.start_run("snapshot", dry_run=True, config_digest=config_digest(config))
    ledger.record_snapshot(run_id, state)
    ledger.finish_run(run_id, "failed" if failures else "ok", _errors(failures))
    return SnapshotResult(run_id, state, failures, seconds)


def _errors(failures: dict[str, Exception]) -> str | None:
    return "; ".join(venue_error_lines(failures)) or None


async def run_snapshot(ctx: JobContext) -> JobOutcome:
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
