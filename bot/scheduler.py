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
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.config import Config
from bot.cycle import rebalance
from bot.ledger import Ledger
from bot.ledger.locks import VenueBusy

log = logging.getLogger(__name__)
STOP_GRACE_SECONDS = 120


async def run_cycle_logged(config: Config, ledger: Ledger) -> None:
    """One scheduled cycle; errors are logged (redacted) instead of stopping the schedule."""
    try:
        result = await rebalance(config, ledger, dry_run=False, command="run")
    except VenueBusy as exc:
        log.warning("skipping this cycle: %s", exc)
        return
    except Exception as exc:  # the schedule must survive any single cycle
        log.error("cycle failed: %s", exc)
        return
    for transfer in result.transfers:
        log.info(
            "transfer %s: %s %s %s -> %s: %s",
            transfer.id,
            transfer.amount,
            transfer.asset,
            transfer.from_account,
            transfer.to_account,
            transfer.status.value,
        )
    for blocked in result.blocked:
        log.warning("%s", blocked.message)
    if not result.plan.transfers:
        log.info("run %s: nothing to move", result.run_id)


async def run_forever(config: Config, ledger: Ledger, *, once: bool = False) -> None:
    if once:
        await run_cycle_logged(config, ledger)
        return
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
            await run_cycle_logged(config, ledger)
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
    log.info("scheduled every %ss; Ctrl-C or SIGTERM stops", config.schedule.interval_seconds)
    try:
        await stop.wait()
    finally:
        scheduler.pause()  # no new cycle; APScheduler's shutdown would cancel a running one
        if running:
            log.info("stopping: letting the running cycle finish")
            await asyncio.wait(running, timeout=STOP_GRACE_SECONDS)
        scheduler.shutdown(wait=False)
