"""Prometheus metrics of `bot run`, served on loopback only (`metrics: {port: 9108}`).

Its own registry (not the process-wide default), so tests and the soak can run several. Fed
from what each job saw; nothing here calls a venue. Money goes to Prometheus as a float: a
gauge is for watching, the ledger keeps the exact figures.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

from bot.model import State
from bot.policy.margin import HedgeMargin

log = logging.getLogger(__name__)
LOOPBACK = "127.0.0.1"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.job_last_success = Gauge(
            "bot_job_last_success_timestamp_seconds",
            "When the job last ended ok",
            ["job"],
            registry=r,
        )
        self.job_duration = Gauge(
            "bot_job_duration_seconds", "How long the job's last run took", ["job"], registry=r
        )
        self.job_runs = Counter(
            "bot_job_runs", "Job runs by outcome", ["job", "outcome"], registry=r
        )
        self.transfers = Gauge(
            "bot_transfers", "Ledger transfers by venue and status", ["venue", "status"], registry=r
        )
        self.margin_ratio = Gauge(
            "bot_hedge_margin_ratio",
            "Equity / short notional of the pool the hedge draws on (policy.margin)",
            ["hedge"],
            registry=r,
        )
        self.account_margin = Gauge(
            "bot_hedge_account_margin",
            "A unified account's own margin figure, as the venue names it (accountMMRate, "
            "mgnRatio, uniMMR, multiAssetsMMR), for each hedge on the account",
            ["hedge", "figure"],
            registry=r,
        )
        self.equity = Gauge("bot_hedge_equity", "Futures equity", ["hedge", "asset"], registry=r)
        self.notional = Gauge(
            "bot_hedge_notional", "Short notional", ["hedge", "asset"], registry=r
        )
        self.liquidation_distance = Gauge(
            "bot_hedge_liquidation_distance",
            "Distance from mark to liquidation price, as a fraction of the mark",
            ["hedge"],
            registry=r,
        )
        self.balance = Gauge(
            "bot_balance", "Wallet balance", ["venue", "wallet", "asset"], registry=r
        )
        self.venue_read_seconds = Gauge(
            "bot_venue_read_seconds",
            "How long the last read of the venue took",
            ["venue"],
            registry=r,
        )
        self.venue_errors = Counter(
            "bot_venue_errors",
            "Venue failures (unreachable, refused, untrusted)",
            ["venue"],
            registry=r,
        )
        self.alerts_firing = Gauge("bot_alerts_firing", "Alert conditions firing", registry=r)
        self.stream_up = Gauge(
            "bot_guard_stream_up",
            "Whether the margin guard's stream of the venue delivers (1) or is failing (0)",
            ["venue", "stream"],
            registry=r,
        )
        self.stream_wakeups = Counter(
            "bot_guard_stream_wakeups",
            "Guard checks a venue stream asked for (account change, or the mark near danger)",
            ["venue", "cause"],
            registry=r,
        )
        self._server: Any = None

    def serve(self, port: int) -> int:
        """Serve /metrics on 127.0.0.1:port (0: any free port); the port actually bound."""
        server, _thread = start_http_server(port, addr=LOOPBACK, registry=self.registry)
        self._server = server
        return int(server.server_port)

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def job_ended(self, job: str, outcome: str, seconds: float, at: float) -> None:
        self.job_runs.labels(job, outcome).inc()
        self.job_duration.labels(job).set(seconds)
        if outcome == "ok":
            self.job_last_success.labels(job).set(at)

    def observe_state(self, state: State, margins: Mapping[str, HedgeMargin]) -> None:
        for venue in state.venues.values():
            for wallet in venue.wallets.values():
                self.balance.labels(venue.venue, wallet.account, wallet.asset).set(
                    float(wallet.balance)
                )
        for name, m in margins.items():
            ratio = m.ratio
            if ratio is not None:
                self.margin_ratio.labels(name).set(float(ratio))
            if m.account is not None:
                self.account_margin.labels(name, m.account.figure).set(float(m.account.value))
            self.equity.labels(name, m.asset).set(float(m.equity))
            self.notional.labels(name, m.asset).set(float(m.notional))
            distance = m.liquidation_distance
            if distance is not None:
                self.liquidation_distance.labels(name).set(float(distance))

    def observe_reads(self, seconds: Mapping[str, float], errors: Sequence[str]) -> None:
        for venue, took in seconds.items():
            self.venue_read_seconds.labels(venue).set(took)
        for venue in errors:
            self.venue_errors.labels(venue).inc()

    def observe_transfers(self, counts: Mapping[tuple[str, str], int]) -> None:
        for (venue, status), count in counts.items():
            self.transfers.labels(venue, status).set(count)
