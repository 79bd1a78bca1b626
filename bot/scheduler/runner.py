"""Running one job as the scheduler sees it: a `job_runs` row from start to outcome, the log
context (run id, venues), metrics, alert conditions, the heartbeat (told every outcome; it pings
after healthy cycles), one line when there is something to say.

Nothing a job raises escapes: it is recorded as an `error` run and alerts (`job:<kind>`), and
the next tick tries again. APScheduler's own misses (a run later than `misfire_grace`, or one
skipped because the previous is still running) come in through `record_not_run`.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from datetime import datetime

from bot.alerts.conditions import Facts, Findings, evaluate, job_crashed
from bot.jobs import spec_of
from bot.jobs.context import Job, JobContext, JobOutcome
from bot.runtime.logs import log_context
from bot.runtime.redact import redact

log = logging.getLogger(__name__)


def late_after(every: float | None) -> float:
    """A run starting this long after its time is late (after a suspend, a stuck loop)."""
    return max(5.0, (every or 60.0) / 2)


async def run_job(
    kind: str,
    ctx: JobContext,
    scheduled_at: datetime | None,
    every: float | None = None,
    job: Job | None = None,
) -> JobOutcome | None:
    """Run `kind`'s job (or `job`, a variant of it: the guard of one venue a stream woke).

    Its alerts go out after its work and outside the acting lock: a channel that is down or
    slow never holds up a transfer (the guard's top-up waits on that lock).

    A job that acts (`JobSpec.acts`) runs one at a time in this process (the guard takes the
    same lock only around a top-up); with a `paper: true` venue every job does (ctx.exclusive)."""
    spec = spec_of(kind)
    if spec.acts or ctx.exclusive:
        async with ctx.acting:
            outcome, findings, label = await _run(kind, ctx, scheduled_at, every, job or spec.job)
    else:
        outcome, findings, label = await _run(kind, ctx, scheduled_at, every, job or spec.job)
    with log_context(run_id=label, venue=",".join(sorted(ctx.config.venues))):
        await _alert(ctx, findings)
    return outcome


async def _run(
    kind: str, ctx: JobContext, scheduled_at: datetime | None, every: float | None, job: Job
) -> tuple[JobOutcome | None, Findings, str]:
    """The job and its records; returns its outcome (None: it crashed), the alert findings to
    observe once the lock is released, and its run id for the log."""
    started_at = ctx.clock()
    late = scheduled_at is not None and (
        (started_at - scheduled_at).total_seconds() > late_after(every)
    )
    try:
        job_id = ctx.ledger.start_job(kind, scheduled_at=scheduled_at, late=late)
    except Exception as exc:  # the ledger locked, full, gone: this run cannot even start
        return None, _not_started(ctx, kind, exc), f"{kind}-unrecorded"
    started = time.monotonic()
    venues = ",".join(sorted(ctx.config.venues))
    label = f"{kind}-{job_id}"
    with log_context(run_id=label, venue=venues):
        if late:
            log.info("job %s started late (scheduled for %s)", kind, scheduled_at)
        try:
            outcome = await job(ctx)
        except Exception as exc:  # the schedule survives any single job
            error = _ledger_line(ctx, exc)
            log.debug("job %s crashed", kind, exc_info=exc)
            _safe(lambda: ctx.ledger.finish_job(job_id, "error", error=error))
            _ended(ctx, kind, "error", started)
            _beat(ctx, kind, "error")
            ctx.say(f"{kind} job {job_id} crashed: {error}")
            crashed = job_crashed(Facts(kind=kind, now=ctx.clock(), error=error), ctx.config)
            return None, crashed, label
        _safe(
            lambda: ctx.ledger.finish_job(
                job_id, outcome.status, error=outcome.error, run_id=outcome.run_id
            )
        )
        _ended(ctx, kind, outcome.status, started)
        _beat(ctx, kind, outcome.status)
        if ctx.watch is not None and outcome.state is not None:
            ctx.watch.observe(outcome.state)
        if outcome.line:
            ctx.say(outcome.line)
        facts = _with_interval_changes(ctx, outcome)
        return outcome, evaluate(_with_standing(ctx, facts), ctx.config), label


def _not_started(ctx: JobContext, kind: str, exc: Exception) -> Findings:
    """A job whose `job_runs` row could not be written (the ledger locked past its busy
    timeout...): it does nothing, and says so in one line; the next tick tries again. Counted
    as an error run in the metrics, told to the heartbeat, alerted as a crashed job."""
    error = _ledger_line(ctx, exc)
    log.debug("job %s could not start", kind, exc_info=exc)
    if ctx.metrics is not None:
        ctx.metrics.job_runs.labels(kind, "error").inc()
    _beat(ctx, kind, "error")
    ctx.say(f"{kind} job not run: {error}")
    return job_crashed(Facts(kind=kind, now=ctx.clock(), error=error), ctx.config)


def _ledger_line(ctx: JobContext, exc: Exception) -> str:
    """A ledger failure as its one line (`bot.ledger.db.explain`), any other as its message."""
    from sqlalchemy.exc import DBAPIError

    from bot.ledger.db import explain

    if isinstance(exc, DBAPIError):
        return str(explain(exc, ctx.config.ledger_url, "write"))
    return " ".join(redact(str(exc) or type(exc).__name__).split())


async def record_not_run(
    ctx: JobContext, kind: str, status: str, scheduled_at: datetime | None, why: str
) -> None:
    """A run APScheduler did not start: a row of its own, a line, an alert."""
    _safe(lambda: ctx.ledger.record_job_not_run(kind, status, scheduled_at=scheduled_at, error=why))
    if ctx.metrics is not None:
        ctx.metrics.job_runs.labels(kind, status).inc()
    if status == "skipped":  # coalesced behind a slow run: recorded, not worth a person
        log.info("job %s skipped: %s", kind, why)
        return
    ctx.say(f"{kind} job {status}: {why}")
    try:
        await ctx.alerter.notice(f"job-{status}:{kind}", f"job {kind} {status}: {why}", "warning")
    except Exception as exc:
        log.warning("alert for job %s failed: %s", kind, redact(str(exc)))


def _with_interval_changes(ctx: JobContext, outcome: JobOutcome) -> Facts:
    """The job's facts with the funding intervals its read changed (`bot.funding.intervals`);
    a memory file that cannot be written only delays the notice."""
    if outcome.state is None:
        return outcome.facts
    from bot.funding.intervals import observe

    try:
        changes = observe(ctx.config.data_dir, outcome.state, ctx.config.hedges)
    except Exception as exc:  # a notice is never worth a job
        log.warning("funding intervals not compared (%s)", exc)
        return outcome.facts
    return dataclasses.replace(outcome.facts, interval_changes=tuple(changes))


def _with_standing(ctx: JobContext, facts: Facts) -> Facts:
    """The job's facts with the ledger's standing conditions (halted venues, nothing to move),
    so that whichever job sees them first alerts, once; a ledger that cannot be read leaves
    them unchecked (their alerts keep their state)."""
    try:
        return dataclasses.replace(
            facts,
            halts=ctx.ledger.open_halts() if facts.halts is None else facts.halts,
            nothing_to_move=ctx.ledger.open_nothing_to_move()
            if facts.nothing_to_move is None
            else facts.nothing_to_move,
        )
    except Exception as exc:
        log.warning("reading the standing conditions failed: %s", redact(str(exc)))
        return facts


def _ended(ctx: JobContext, kind: str, outcome: str, started: float) -> None:
    if ctx.metrics is not None:
        ctx.metrics.job_ended(kind, outcome, time.monotonic() - started, time.time())
        try:
            ctx.metrics.observe_transfers(ctx.ledger.transfer_counts())
            ctx.metrics.alerts_firing.set(len(ctx.ledger.firing_alerts()))
        except Exception as exc:
            log.warning("metrics from the ledger failed: %s", redact(str(exc)))


def _beat(ctx: JobContext, kind: str, status: str) -> None:
    """Tell the heartbeat how the job ended; its ping runs in a task of its own."""
    if ctx.heartbeat is None:
        return
    try:
        ctx.heartbeat.observe(kind, status)
    except Exception as exc:  # the monitor must never stop the schedule
        log.warning("heartbeat failed: %s", redact(str(exc)))


async def _alert(ctx: JobContext, findings: Findings) -> None:
    try:
        await ctx.alerter.observe(findings)
    except Exception as exc:  # an alert must never stop the schedule
        log.warning("alerts failed: %s", redact(str(exc)), exc_info=log.isEnabledFor(logging.DEBUG))


def _safe(write) -> None:  # type: ignore[no-untyped-def]
    """A ledger write about a job: a failure is logged, the schedule goes on."""
    try:
        write()
    except Exception as exc:
        log.warning("recording the job failed: %s", redact(str(exc)))
