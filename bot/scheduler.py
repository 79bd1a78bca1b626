"""`bot run`: the rebalance cycle on a fixed interval (APScheduler), until SIGINT/SIGTERM.

A failing cycle is logged and recorded, never fatal: the next tick tries again. At most one
cycle runs at a time and missed ticks are coalesced, so a slow venue cannot pile up cycles.
On SIGINT/SIGTERM no new cycle starts and a running one is allowed to finish, so a transfer
in flight gets its outcome recorded (were it killed instead, reconciliation would settle it).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.config import Config
from bot.cycle import CycleResult, rebalance
from bot.ledger import Ledger
from bot.ledger.locks import VenueBusy
from bot.redact import redact
from bot.render import cycle_line, start_line

log = logging.getLogger(__name__)
STOP_GRACE_SECONDS = 120


Say = Callable[[str], None]


async def run_cycle_logged(config: Config, ledger: Ledger, say: Say) -> CycleResult | None:
    """One scheduled cycle, reported in one line; errors are reported (redacted) instead of
    stopping the schedule."""
    try:
        result = await rebalance(config, ledger, dry_run=False, command="run")
    except VenueBusy as exc:
        say(f"cycle skipped: {exc}")
        return None
    except Exception as exc:  # the schedule must survive any single cycle
        log.debug("cycle failed", exc_info=exc)
        say(f"cycle failed: {' '.join(redact(str(exc) or type(exc).__name__).split())}")
        return None
    say(cycle_line(result))
    return result


async def run_forever(config: Config, ledger: Ledger, say: Say) -> None:
    """Run the cycle on the schedule until SIGINT/SIGTERM; one line at start and per cycle."""
    say(start_line(config))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    running: set[asyncio.Task[None]] = set()

    async def tick() -> None:
        if stop.is_set():
            return
        task = asyncio.current_task()
        assert task is not None
        running.add(task)
        try:
            await run_cycle_logged(config, ledger, say)
        finally:
            running.discard(task)

    scheduler = AsyncIOScheduler(timezone=UTC)
    scheduler.add_job(
        tick,
        "interval",
        seconds=config.schedule.interval_seconds,
        next_run_time=datetime.now(UTC),
        max_instances=1,
        coalesce=True,
        misfire_grace_time=config.schedule.interval_seconds,
        id="rebalance",
    )
    scheduler.start()
    try:
        await stop.wait()
    finally:
        scheduler.pause()  # no new cycle; APScheduler's shutdown would cancel a running one
        if running:
            say("stopping: letting the running cycle finish")
            await asyncio.wait(running, timeout=STOP_GRACE_SECONDS)
        scheduler.shutdown(wait=False)
