"""Row 4: transfers out of the USD-M wallet while the mark rallies against the short.

The model: the mark is back at its base price whenever the exchange answers a read of the USD-M
account, and when a transfer arrives it has moved up by `drift` per second of the time since
that answer; so a longer read-to-send gap means more unrealized loss and a smaller
`maxWithdrawAmount`, and a transfer sized from the read can exceed it (-5013). Each round
returns the hedge's excess (about 1,485 USDT, 99 % of what may leave) once, ours through a
cycle of the long-lived venues, the seed script with `fetch_balance` then 99 % of free, on
error sleep 2 s, 3 tries. Figures: first-attempt success, final success, mean attempts, time
to land."""

from __future__ import annotations

import asyncio
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import ccxt
from aiohttp import web

from bench.harness import (
    PAPER_API_KEY,
    PAPER_SECRET,
    TRANSFER_PATH,
    TimedPaper,
    api_urls,
    fleet_config,
    median,
)
from bot import bootstrap
from bot.cycle.rebalance import rebalance

BASE = Decimal("3000")
# return the excess: equity/notional is 0.30, above this band
RETURN_HEDGE = {"target_margin_ratio": "0.15", "band": ["0.1", "0.2"]}
SEED_PAUSE = 2.0  # seconds the seed script sleeps after an error (--quick: a token pause)


class RallyPaper(TimedPaper):
    """The paper exchange whose ETH mark rallies between a USD-M read and the transfer."""

    def __init__(self, *args: Any, drift: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.drift = drift
        self._read_answered: float | None = None
        self.statuses: list[int] = []  # of every transfer call, in order

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        sending = request.path == TRANSFER_PATH and request.method == "POST"
        if sending and self._read_answered is not None:
            gap = time.perf_counter() - self._read_answered
            moved = BASE * (1 + Decimal(str(self.drift * gap)))
            self.set_mark_price("ETHUSDT", moved.quantize(Decimal("0.01")))
        response = await super()._handle(request)
        if request.path.startswith("/fapi/") and request.path.endswith(("/account", "/balance")):
            self.set_mark_price("ETHUSDT", BASE)
            self._read_answered = time.perf_counter()
        if request.path == TRANSFER_PATH and request.method == "POST":
            self.statuses.append(response.status)
        return response


@dataclass
class Outcome:
    first_ok: int = 0
    final_ok: int = 0
    attempts: list[int] = field(default_factory=list)
    landed: list[float] = field(default_factory=list)  # seconds, rounds that landed
    rounds: int = 0

    def line(self) -> str:
        n = self.rounds or 1
        return (
            f"first try {self.first_ok / n:.0%}, final {self.final_ok / n:.0%}, "
            f"{sum(self.attempts) / n:.2f} attempts, lands in {median(self.landed):.2f} s"
        )


def _account(paper: RallyPaper, outcome: Outcome, started: float, before: int) -> None:
    calls = paper.statuses[before:]
    outcome.rounds += 1
    outcome.attempts.append(len(calls))
    if calls and calls[0] == 200:
        outcome.first_ok += 1
    if 200 in calls:
        outcome.final_ok += 1
        outcome.landed.append(time.perf_counter() - started)


async def ours(rounds: int, latency: float, drift: float, workdir: Path) -> Outcome:
    outcome = Outcome()
    async with AsyncExitStack() as stack:
        paper = await stack.enter_async_context(RallyPaper(_store(), drift=drift))
        paper.faults.latency = latency
        config = fleet_config([paper], workdir, **RETURN_HEDGE)
        ledger = bootstrap.open_ledger(config)
        stack.callback(ledger.close)
        pool = await stack.enter_async_context(bootstrap.venue_pool(config))
        for _ in range(rounds):
            paper.reset()
            before, started = len(paper.statuses), time.perf_counter()
            await rebalance(config, ledger, dry_run=False, venues=pool)
            _account(paper, outcome, started, before)
    return outcome


def _seed_return(base_url: str, pause: float) -> None:
    client = ccxt.binance({"apiKey": PAPER_API_KEY, "secret": PAPER_SECRET})
    client.urls["api"] = {**client.urls["api"], **api_urls(base_url)}
    for attempt in range(3):
        try:
            balance = client.fetch_balance({"type": "swap", "subType": "linear"})
            amount = (Decimal(str(balance["USDT"]["free"])) * Decimal("0.99")).quantize(
                Decimal("0.00000001")
            )
            client.sapiPostAssetTransfer(
                {"type": "UMFUTURE_MAIN", "asset": "USDT", "amount": str(amount)}
            )
            return
        except ccxt.BaseError:
            if attempt < 2:
                time.sleep(pause)


async def seed(rounds: int, latency: float, drift: float, pause: float = SEED_PAUSE) -> Outcome:
    outcome = Outcome()
    async with RallyPaper(_store(), drift=drift) as paper:
        paper.faults.latency = latency
        for _ in range(rounds):
            paper.reset()
            before, started = len(paper.statuses), time.perf_counter()
            await asyncio.to_thread(_seed_return, paper.base_url, pause)
            _account(paper, outcome, started, before)
    return outcome


def _store() -> Any:
    from bot.paper import StateStore

    return StateStore(None)


async def measure(
    rounds: int,
    seed_rounds: int,
    latency: float,
    drift: float,
    workdir: Path,
    seed_pause: float = SEED_PAUSE,
) -> dict[str, Any]:
    """`seed_pause` only changes how long the seed's rounds take to land, not whether its
    first try fails: the mark moves with the read-to-send gap, not with the pause."""
    return {
        "rounds": rounds,
        "drift": drift,
        "ours": await ours(rounds, latency, drift, workdir),
        "seed": await seed(seed_rounds, latency, drift, seed_pause),
    }


def rows(figures: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [
        (
            f"4. under volatility ({figures['rounds']} returns, mark +{figures['drift']:.0%}/s "
            "between read and send)",
            f"ours: {figures['ours'].line()}; seed: {figures['seed'].line()}",
            "ours lands first time; the seed's stale sizing fails",
        )
    ]
