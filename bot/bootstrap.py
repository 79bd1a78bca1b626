"""The composition root: the one place that turns config into the services the use cases act
with, so that `bot rebalance`, `bot run`'s jobs, the margin guard, `bot plan` and the
benchmarks all act with the same ones, built the same way.

- `open_ledger` / `open_audit_ledger`: the ledger (migrated at start; audits read-only);
- `Services`: what one cycle acts with (config, ledger, the long-lived venue pool of `bot
  run` or none, clock, timing, stop request), and the parts it builds for each cycle on the
  venues that cycle opened: the per-venue locks, the executor (one send loop for transfers
  and margin legs), the reconciler of open transfers and margin legs;
- `run_services`: what `bot run` lives with: the alert channels and the alerter, the
  heartbeat, the metrics, and the venue pool with its streams.

No other module constructs an `Executor`, a reconciler, an `Alerter`, `Channels`, a
`Heartbeat`, `Metrics`, an `OpenVenues` pool or a `Ledger`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from bot.config import Config
from bot.ledger.store import Clock, Ledger, utc_now
from bot.retry import RetryPolicy, Timing
from bot.stopping import StopRequest

if TYPE_CHECKING:  # built on demand: `bot --help` and `bot status` load neither ccxt nor apprise
    from bot.alerts.alerter import Alerter
    from bot.alerts.channels import Channels
    from bot.alerts.heartbeat import Heartbeat
    from bot.executor import Executor
    from bot.metrics import Metrics
    from bot.reconcile import Reconciler
    from bot.venues.base import Venue
    from bot.venues.session import OpenVenues


def open_ledger(config: Config) -> Ledger:
    """The ledger a command writes: migrated to the newest schema, journaled under the key.
    The data dir is checked first: a command that could not take its locks there must refuse
    before it writes a byte to the ledger."""
    writable_data_dir(config)
    return Ledger.open(config.ledger_url, key=config.ledger_key, anchor_file=config.anchor_path)


def writable_data_dir(config: Config) -> None:
    """`data_dir` exists (created if need be) and this user can create files in it; else one
    line naming it and the fix (exit 2). Tried with a real file: `os.access` is wrong for root
    and for a file system mounted read-only (ProtectSystem=strict)."""
    import os
    import tempfile

    from bot.errors import ConfigError

    folder = config.data_dir
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(prefix=".writable-", dir=folder)
        os.close(handle)
        os.unlink(name)
    except OSError as exc:
        raise ConfigError(
            f"data_dir: cannot write in {folder} ({exc.strerror}); make it writable by the "
            "user the bot runs as, or set data_dir (under systemd: /var/lib/bot)"
        ) from None


def open_audit_ledger(config: Config) -> Ledger:
    """The ledger opened read-only for an audit command (it can never write). A ledger not
    yet created or behind the newest schema is first migrated, as every command does at
    start; the audit itself then reads through a connection that cannot write."""
    from bot.ledger import db

    db.ensure_schema(config.ledger_url)
    return Ledger.open_read_only(config.ledger_url, key=config.ledger_key)


@dataclass(frozen=True)
class Services:
    """What one cycle (a rebalance, the guard's scoped cycle, a reconcile) acts with."""

    config: Config
    ledger: Ledger
    #: `bot run`'s long-lived clients; None: each use case opens its venues for its span
    pool: OpenVenues | None = None
    timing: Timing | None = None
    clock: Clock = utc_now
    #: set by the first SIGINT/SIGTERM: no new transfer starts
    stop: StopRequest | None = None

    @property
    def settle_window(self) -> timedelta:
        return timedelta(seconds=self.config.transfers.settle_window_seconds)

    @contextmanager
    def locks(self, venues: list[str], command: str) -> Iterator[None]:
        """Exclusive per-venue locks, for as long as the use case acts: on the PostgreSQL
        server when the ledger lives there, else files beside the SQLite ledger."""
        from bot.ledger.locks import file_venue_locks, postgres_venue_locks

        if self.ledger.engine.dialect.name == "postgresql":
            with postgres_venue_locks(self.ledger.engine, venues, command):
                yield
        else:
            with file_venue_locks(self.config.data_dir / "locks", venues, command):
                yield

    def executor(self, venues: Mapping[str, Venue], *, dry_run: bool) -> Executor:
        """The executor of one cycle on the venues it opened."""
        from bot.executor import Executor

        return Executor(
            venues,
            self.ledger,
            self.config.transfers,
            dry_run=dry_run,
            policy=RetryPolicy.from_config(self.config.retry),
            timing=self.timing,
            clock=self.clock,
            stop=self.stop,
        )

    def reconciler(self, venues: Mapping[str, Venue]) -> Reconciler:
        """Settles open transfers and margin legs against the venues' histories."""
        from bot.reconcile import Reconciler

        return Reconciler(venues, self.ledger, settle_window=self.settle_window, clock=self.clock)


@dataclass(frozen=True)
class RunServices:
    """What `bot run` lives with, besides its ledger."""

    channels: Channels
    alerter: Alerter
    metrics: Metrics | None
    pool: OpenVenues
    #: the push monitor pinged after healthy cycles (`alerts.heartbeat`), or None
    heartbeat: Heartbeat | None = None


def channels(config: Config) -> Channels:
    """The alert channels of `alerts.urls` (a `${VAR}` unset is refused here, at start)."""
    from bot.alerts.channels import Channels

    return Channels(config.alerts.urls)


def heartbeat(config: Config) -> Heartbeat | None:
    """The push monitor of `alerts.heartbeat`, or None (a `${VAR}` unset is refused here)."""
    if config.alerts.heartbeat is None:
        return None
    from bot.alerts.heartbeat import Heartbeat

    return Heartbeat(config.alerts.heartbeat)


def metrics(config: Config) -> Metrics | None:
    """The Prometheus registry, when `metrics.port` is set (served by the caller)."""
    from bot.metrics import Metrics

    return Metrics() if config.metrics.port is not None else None


@asynccontextmanager
async def venue_pool(
    config: Config, *, dry_run: bool = False, streams: bool = False
) -> AsyncIterator[OpenVenues]:
    """Venues kept open for a long-lived process: `bot run`, the benchmarks."""
    from bot.venues.session import OpenVenues

    async with OpenVenues(config, dry_run=dry_run, streams=streams) as pool:
        yield pool


@asynccontextmanager
async def run_services(
    config: Config,
    ledger: Ledger,
    alert_channels: Channels,
    run_metrics: Metrics | None,
    run_heartbeat: Heartbeat | None = None,
) -> AsyncIterator[RunServices]:
    """The pool (with the guard's streams when the guard is scheduled) and the alerter; the
    heartbeat's pings under way are let finish (bounded) on the way out."""
    from bot.alerts.alerter import Alerter

    streams = config.schedule.guard is not None  # the guard follows venue streams
    try:
        async with venue_pool(config, streams=streams) as pool:
            alerter = Alerter(ledger, alert_channels, config.alerts)
            yield RunServices(alert_channels, alerter, run_metrics, pool, run_heartbeat)
    finally:
        if run_heartbeat is not None:
            await run_heartbeat.close()
