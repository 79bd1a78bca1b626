"""What every job of `bot run` shares: `JobContext` in (the config, the ledger, the alerter,
`bot run`'s long-lived venue clients, the acting lock), `JobOutcome` out (its ledger status,
the line to print, the facts the alerts judge). The jobs themselves: `bot.jobs.JOBS`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from bot.alerts.alerter import Alerter
from bot.alerts.conditions import Facts
from bot.config import Config
from bot.ledger import Ledger
from bot.ledger.store import utc_now
from bot.metrics import Metrics
from bot.model import State
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
