"""`bot run`: the jobs on their schedules (APScheduler 3.x) until SIGINT/SIGTERM.

The jobs are `bot.jobs.JOBS` (the margin guard also between polls, whenever a venue's stream
wakes it: bot/guard/watch.py), each one instance at a time, coalesced, with a deliberate
`misfire_grace_time`: a run missed during a suspend runs once when the machine wakes and is
recorded as late; later than the grace it is recorded as missed. The jobs declared
`before_schedule` (the reconcile) run once before anything is scheduled, so what an earlier
process left open is settled before the first rebalance. The run
lock (runlock.py) makes this the one `bot run` of its venues. On SIGINT/SIGTERM no new job
starts and a running one finishes its transfer and ledger write (bounded wait); a second
signal exits at once, leaving what was in flight pending/unknown for reconciliation.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import signal
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    EVENT_JOB_SUBMITTED,
    JobEvent,
    JobSubmissionEvent,
)
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot import bootstrap
from bot.bootstrap import RunServices
from bot.config import Config, JobSchedule
from bot.errors import ConfigError
from bot.guard.watch import MarginWatch
from bot.health.streams import StreamBoard, streams_dir
from bot.jobs import JOBS, spec_of
from bot.jobs.context import JobContext
from bot.jobs.guard import run_guard
from bot.ledger import Ledger
from bot.ledger.run_lock import run_lock
from bot.metrics import Metrics
from bot.present.output import start_line
from bot.scheduler import systemd
from bot.scheduler.runner import record_not_run, run_job

if TYPE_CHECKING:
    from bot.alerts.channels import Channels
    from bot.alerts.heartbeat import Heartbeat

log = logging.getLogger(__name__)
STOP_GRACE_SECONDS = 120

Say = Callable[[str], None]


def trigger_of(job: JobSchedule) -> Any:
    if job.cron is not None:
        return CronTrigger.from_crontab(job.cron, timezone=UTC)
    assert job.every is not None
    return IntervalTrigger(seconds=job.every, timezone=UTC)


def jobs_line(config: Config) -> str:
    jobs = config.schedule.jobs()
    listed = "; ".join(f"{kind} {job.describe()}" for kind, job in jobs.items())
    return f"jobs: {listed}; danger margin ratio {config.alerts.danger_margin_ratio}"


async def run_forever(config: Config, ledger: Ledger, say: Say) -> None:
    """Run every job on its schedule until a signal; one line at start and per job worth
    saying (a cycle, a settlement, a guard top-up, a failure)."""
    channels = bootstrap.channels(config)  # a missing ${VAR} is refused before anything runs
    heartbeat = bootstrap.heartbeat(config)
    told = f"alerts to {channels.describe()}" + (f"; {heartbeat.describe()}" if heartbeat else "")
    metrics = bootstrap.metrics(config)
    # the run lock first: a second `bot run` prints only its refusal, not a start banner
    with run_lock(ledger.engine, config.data_dir / "locks", sorted(config.venues)):
        say(f"{start_line(config)}; {jobs_line(config)}; {told}")
        _warn_at_start(config, len(channels))
        await _run_locked(config, ledger, say, channels, heartbeat, metrics)


def _warn_at_start(config: Config, channel_count: int) -> None:
    if not channel_count:
        log.warning(
            "alerts.urls is empty: nobody will be told when a job fails or a hedge nears "
            "liquidation; add an apprise URL such as tgram://${TELEGRAM_TOKEN}/${TELEGRAM_CHAT} "
            "and try it with bot alerts test"
        )
    if config.schedule.interval_seconds is not None:
        log.warning(
            "schedule.interval_seconds is deprecated: write schedule: {rebalance: {every: %ss}}",
            config.schedule.interval_seconds,
        )
    if logging.getLogger("apscheduler").level == logging.NOTSET:
        # it warns of every coalesced run; those are recorded as `skipped` job runs instead
        logging.getLogger("apscheduler").setLevel(logging.ERROR)


async def _run_locked(
    config: Config,
    ledger: Ledger,
    say: Say,
    channels: Channels,
    heartbeat: Heartbeat | None,
    metrics: Metrics | None,
) -> None:
    if metrics is not None and config.metrics.port is not None:
        try:
            port = metrics.serve(config.metrics.port)
        except OSError as exc:
            raise ConfigError(
                f"metrics.port: cannot listen on 127.0.0.1:{config.metrics.port} "
                f"({exc.strerror}); choose a free port"
            ) from None
        say(f"metrics on http://127.0.0.1:{port}/metrics")
    try:
        # clients live as long as `bot run`: connected and markets loaded once (refreshed
        # hourly), a venue that could not connect tried again by the next job
        async with bootstrap.run_services(config, ledger, channels, metrics, heartbeat) as services:
            await _serve(config, ledger, say, services, metrics)
    finally:
        if metrics is not None:
            metrics.close()


async def _serve(
    config: Config, ledger: Ledger, say: Say, services: RunServices, metrics: Metrics | None
) -> None:
    pool = services.pool
    ctx = JobContext(
        venues=pool,
        config=config,
        ledger=ledger,
        alerter=services.alerter,
        say=say,
        metrics=metrics,
        exclusive=any(venue.paper for venue in config.venues.values()),
        heartbeat=services.heartbeat,
    )
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    running: set[asyncio.Task[Any]] = set()
    scheduled: dict[str, datetime] = {}
    schedules = config.schedule.jobs()

    async def guard_now(venue: str, why: str) -> None:
        """A stream woke the guard for one venue: its check is a guard job of its own."""
        if not stop.is_set():
            await run_job("guard", ctx, None, job=functools.partial(run_guard, names=[venue]))

    if "guard" in schedules:
        board = StreamBoard(streams_dir(config.data_dir))  # read by `bot status`
        ctx.watch = MarginWatch(config, pool.streams, guard_now, metrics=metrics, board=board)

    def on_signal(signum: int) -> None:
        if stop.is_set():
            print(
                "bot run: second signal, exiting now; in-flight transfers stay open for "
                "reconciliation",
                file=sys.stderr,
                flush=True,
            )
            os._exit(128 + signum)
        stop.set()
        ctx.stop.request(signal.Signals(signum).name)  # the running cycle sends nothing new
        say(f"stopping ({signal.Signals(signum).name}): no new jobs; a running one finishes")

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal, sig)

    async def tick(kind: str) -> None:
        if stop.is_set():
            return
        task = asyncio.current_task()
        assert task is not None
        running.add(task)
        try:
            every = schedules[kind].every
            await run_job(kind, ctx, scheduled.pop(kind, None), every)
        finally:
            running.discard(task)

    def on_event(event: JobEvent) -> None:
        if isinstance(event, JobSubmissionEvent) and event.code == EVENT_JOB_SUBMITTED:
            scheduled[event.job_id] = event.scheduled_run_times[-1]
            return
        when = getattr(event, "scheduled_run_time", None)
        if event.code == EVENT_JOB_MISSED:
            why = f"scheduled for {when:%H:%M:%S}Z, later than schedule.misfire_grace"
            status = "missed"
        elif event.code == EVENT_JOB_MAX_INSTANCES:
            why = "the previous run was still running"
            status = "skipped"
        else:
            why = f"crashed: {getattr(event, 'exception', '')}"
            status = "error"
        task = loop.create_task(record_not_run(ctx, event.job_id, status, when, why))
        running.add(task)
        task.add_done_callback(running.discard)

    scheduler = AsyncIOScheduler(timezone=UTC, event_loop=loop)
    scheduler.add_listener(
        on_event, EVENT_JOB_SUBMITTED | EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES | EVENT_JOB_ERROR
    )
    systemd.notify("READY=1\nSTATUS=start-up reconcile")
    interval = systemd.watchdog_interval()
    watchdog = loop.create_task(systemd.watchdog(interval)) if interval else None

    async def before_schedule() -> None:
        """Settle what an earlier process left open before the first rebalance sends anything."""
        for spec in JOBS:
            if spec.before_schedule:
                await run_job(spec.name, ctx, None)

    startup = loop.create_task(before_schedule())
    following: asyncio.Task[None] | None = None
    stopped = loop.create_task(stop.wait())
    try:
        await asyncio.wait({startup, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if not stop.is_set():
            for kind, job in schedules.items():
                scheduler.add_job(
                    tick,
                    trigger_of(job),
                    args=[kind],
                    id=kind,
                    name=kind,
                    max_instances=1,
                    coalesce=True,
                    misfire_grace_time=int(config.schedule.misfire_grace),
                    **({"next_run_time": datetime.now(UTC)} if spec_of(kind).at_start else {}),
                )
            scheduler.start()
            if ctx.watch is not None:
                following = loop.create_task(ctx.watch.run())
            systemd.notify("STATUS=running")
            await stop.wait()
    finally:
        systemd.notify("STOPPING=1")
        if scheduler.running:
            scheduler.pause()  # no new job; APScheduler's shutdown would cancel a running one
        stopped.cancel()
        checking: set[asyncio.Task[Any]] = set()
        if ctx.watch is not None:
            checking = await ctx.watch.stop()  # streams closed; a top-up under way finishes
            if following is not None:
                following.cancel()
        in_flight = {task for task in running | {startup} | checking if not task.done()}
        if in_flight:
            say("stopping: letting the running job finish")
            _, late = await asyncio.wait(in_flight, timeout=STOP_GRACE_SECONDS)
            for task in late:
                task.cancel()
        if scheduler.running:
            scheduler.shutdown(wait=False)
        if watchdog is not None:
            watchdog.cancel()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        say("stopped")
