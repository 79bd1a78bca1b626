"""The `guard` job: the margin guard's poll (`bot.guard.check`), scheduled or woken for one venue
by its streams (bot/guard/watch.py).
"""

from __future__ import annotations

from bot.alerts.conditions import Facts
from bot.jobs.context import JobContext, JobOutcome
from bot.ledger.locks import VenueBusy
from bot.money import plain
from bot.policy.margin import hedge_margins


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
