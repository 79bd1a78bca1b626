"""What one cycle acts with: its config, ledger, clock and stop request, and the parts it
builds on the venues it opened (the per-venue locks, the executor, the reconciler). The
composition root (`bot.bootstrap`) fills it; the use cases take it as a parameter."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from bot.config import Config
from bot.ledger.store import Clock, Ledger, utc_now
from bot.runtime.retry import RetryPolicy, Timing
from bot.runtime.stopping import StopRequest

if TYPE_CHECKING:  # ccxt-free to import: `bot status` must not load the executor's venues
    from bot.transfers.executor import Executor
    from bot.transfers.reconcile import Reconciler
    from bot.venues.base import Venue
    from bot.venues.session import OpenVenues


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
        from bot.transfers.executor import Executor

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
        from bot.transfers.reconcile import Reconciler

        return Reconciler(venues, self.ledger, settle_window=self.settle_window, clock=self.clock)
