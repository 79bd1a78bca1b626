"""The composition root: the one place that turns config into the services the use cases act
with, so that `bot rebalance`, `bot run`'s jobs, the margin guard, `bot plan` and the
benchmarks all act with the same ones, built the same way.

- `open_ledger` / `open_audit_ledger`: the ledger (migrated at start; audits read-only);
- `Services` (defined in `bot.transfers.services`, so the use cases that take it need not
  import this root): what one cycle acts with (config, ledger, the long-lived venue pool of
  `bot run` or none, clock, timing, stop request), and the parts it builds for each cycle on
  the venues that cycle opened: the per-venue locks, the executor (one send loop for
  transfers and margin legs), the reconciler of open transfers and margin legs;
- `run_services`: what `bot run` lives with: the alert channels and the alerter, the
  heartbeat, the metrics, and the venue pool with its streams.

Apart from `Services` building its executor and reconciler, no other module constructs an
`Executor`, a reconciler, an `Alerter`, `Channels`, a
`Heartbeat`, `Metrics`, an `OpenVenues` pool or a `Ledger`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.config import Config
from bot.ledger.store import Ledger

if TYPE_CHECKING:  # built on demand: `bot --help` and `bot status` load neither ccxt nor apprise
    from bot.alerts.alerter import Alerter
    from bot.alerts.channels import Channels
    from bot.alerts.heartbeat import Heartbeat
    from bot.metrics import Metrics
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

    async with OpenVenues(config, dry_run=dry_run, streams=streams, set_aside_heap=True) as pool:
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
