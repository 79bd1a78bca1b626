"""The jobs of `bot run`, declared: one `JobSpec` per job in `JOBS`, its function in a module
of this package (`bot.jobs.<name>`, `JobContext` in, `JobOutcome` out: `context.py`).

`JOBS` is the one list of jobs. The config's `schedule:` section takes its keys and defaults
from it, `bot run` schedules it (bot/scheduler/: the runner only), `bot status` lists it, the
runner takes each job's lock from it and the heartbeat its health. A new job is its function
and one entry here.

This module imports nothing of the bot: the config (the bottom layer) reads it, so a job's
function is named by its import path and loaded only when the job runs; `bot --help` and
`bot status` load no job, venue or scheduler.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.jobs.context import Job


@dataclass(frozen=True, kw_only=True)
class JobSpec:
    """One job of `bot run`: its name (the `schedule:` key, the `job_runs.kind`), its function,
    its default schedule and how the runner treats it."""

    name: str
    #: `module:function`, an `async def (JobContext) -> JobOutcome`
    run: str
    #: the default schedule, in the config's own words: `every` (30s, 5m...) or a 5-field `cron`
    every: str | None = None
    cron: str | None = None
    #: False: the job cannot be switched off (`schedule.<name>: null` is refused)
    optional: bool = True
    #: the whole run under the process's acting lock: it moves or settles money
    acts: bool = False
    #: its outcome is the bot's health (the heartbeat pings after it)
    health: bool = False
    #: its first run as soon as the schedule starts, not one period later
    at_start: bool = False
    #: run once at start-up, before anything is scheduled (whether scheduled or not)
    before_schedule: bool = False

    def __post_init__(self) -> None:
        if (self.every is None) == (self.cron is None):
            raise ValueError(f"job {self.name}: give its default schedule as every or cron")
        if ":" not in self.run:
            raise ValueError(f"job {self.name}: run is module:function, got {self.run!r}")

    @property
    def job(self) -> Job:
        """The job's function, imported when asked for (the first time the job runs)."""
        module, function = self.run.split(":")
        return getattr(importlib.import_module(module), function)  # type: ignore[no-any-return]

    @property
    def default(self) -> dict[str, str]:
        """The default schedule as a `schedule.<name>` value of the config."""
        return {"every": self.every} if self.every is not None else {"cron": str(self.cron)}


#: every job, in the order `bot run` announces them and `bot status` lists them
JOBS: tuple[JobSpec, ...] = (
    # the cycle: plan and move collateral
    JobSpec(
        name="rebalance",
        run="bot.jobs.rebalance:run_rebalance",
        every="5m",
        optional=False,
        acts=True,
        health=True,
        at_start=True,
    ),
    # read and record state, no transfers
    JobSpec(
        name="snapshot",
        run="bot.jobs.snapshot:run_snapshot",
        every="1m",
    ),
    # settle pending/unknown transfers and margin legs against the venues' history
    JobSpec(
        name="reconcile",
        run="bot.jobs.reconcile:run_reconcile",
        every="2m",
        acts=True,
        before_schedule=True,  # settle what an earlier process left open before any send
    ),
    # the daily summary to the alert channels
    JobSpec(
        name="report",
        run="bot.jobs.report:run_report",
        cron="0 8 * * *",
    ),
    # the margin guard's poll of each hedge between runs (and its streams: bot/guard/watch.py)
    JobSpec(
        name="guard",
        run="bot.jobs.guard:run_guard",
        every="10s",
        health=True,
    ),
)

NAMES: tuple[str, ...] = tuple(spec.name for spec in JOBS)


def spec_of(name: str) -> JobSpec:
    """The job called `name` (a `job_runs.kind`)."""
    for spec in JOBS:
        if spec.name == name:
            return spec
    raise KeyError(f"no job {name!r} (jobs: {', '.join(NAMES)})")
