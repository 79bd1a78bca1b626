"""Rows 1, 2, 3 and 6: one cycle against 1, 5 and 20 venues that each need a transfer, through
the long-lived venues of `bot run` (`session.OpenVenues`), beside a seed-style script (sync
ccxt, venue after venue, `fetch_balance` then 99 % of free, on error sleep 2 s, 3 tries), on
the same exchanges with the same latency; the read-to-send gap and the requests and bytes per
venue per cycle, all measured at the exchange."""

from __future__ import annotations

import asyncio
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import ccxt

from bench.harness import (
    PAPER_API_KEY,
    PAPER_SECRET,
    TRANSFER_PATH,
    TimedPaper,
    api_urls,
    fleet_config,
    gaps_ms,
    median,
    start_papers,
)
from bot import bootstrap
from bot.cycle.rebalance import rebalance
from bot.model import TransferStatus

NEEDED = Decimal("3000")  # what the default paper state's hedge asks for


@dataclass
class Run:
    cycles: list[float] = field(default_factory=list)  # seconds
    gaps: list[float] = field(default_factory=list)  # ms
    requests: list[float] = field(default_factory=list)  # per venue per cycle
    bytes: list[float] = field(default_factory=list)  # answered, per venue per cycle
    sent: int = 0


def _collect(run: Run, papers: list[TimedPaper], took: float) -> None:
    run.cycles.append(took)
    for paper in papers:
        run.gaps += gaps_ms(paper)
        run.requests.append(len(paper.hits))
        run.bytes.append(sum(h.bytes_out + h.bytes_in for h in paper.hits))
        run.sent += sum(1 for h in paper.hits if h.path == TRANSFER_PATH)


async def ours(venues: int, latency: float, cycles: int, workdir: Path) -> Run:
    run = Run()
    async with AsyncExitStack() as stack:
        papers = await start_papers(stack, venues, latency)
        config = fleet_config(papers, workdir)
        ledger = bootstrap.open_ledger(config)
        stack.callback(ledger.close)
        pool = await stack.enter_async_context(bootstrap.venue_pool(config))
        for index in range(cycles + 1):
            for paper in papers:
                paper.reset()
            started = time.perf_counter()
            result = await rebalance(config, ledger, dry_run=False, venues=pool)
            took = time.perf_counter() - started
            confirmed = [t for t in result.transfers if t.status is TransferStatus.CONFIRMED]
            if len(confirmed) != venues:
                raise RuntimeError(f"{len(confirmed)} of {venues} transfers confirmed")
            if index:  # the first cycle after start-up also measures each venue's clock
                _collect(run, papers, took)
    return run


def _seed_venue(base_url: str) -> None:
    client = ccxt.binance({"apiKey": PAPER_API_KEY, "secret": PAPER_SECRET})
    client.urls["api"] = {**client.urls["api"], **api_urls(base_url)}
    for attempt in range(3):
        try:
            free = Decimal(str(client.fetch_balance()["USDT"]["free"]))
            amount = min(NEEDED, free * Decimal("0.99")).quantize(Decimal("0.00000001"))
            client.sapiPostAssetTransfer(
                {"type": "MAIN_UMFUTURE", "asset": "USDT", "amount": str(amount)}
            )
            return
        except ccxt.BaseError:
            if attempt < 2:
                time.sleep(2)


async def baseline(venues: int, latency: float, cycles: int) -> Run:
    run = Run()
    async with AsyncExitStack() as stack:
        papers = await start_papers(stack, venues, latency)
        for _ in range(cycles):
            for paper in papers:
                paper.reset()
            started = time.perf_counter()
            for paper in papers:  # one venue after another, as the seed scripts do
                await asyncio.to_thread(_seed_venue, paper.base_url)
            _collect(run, papers, time.perf_counter() - started)
    return run


@dataclass
class CycleFigures:
    latency: float
    ours: dict[int, Run]
    seed: dict[int, Run]

    def rows(self) -> list[tuple[str, str, str]]:
        rtt = self.latency or float("nan")
        one = median(self.ours[min(self.ours)].cycles)
        rows = []
        for count, run in sorted(self.ours.items()):
            cycle = median(run.cycles)
            rows.append(
                (
                    f"1. cycle, {count} venue(s)",
                    f"{cycle * 1000:.0f} ms = {cycle / rtt:.1f} RTT; "
                    f"cycle({count})/cycle(1) = {cycle / one:.2f}",
                    "3 RTT + 30 ms; cycle(20)/cycle(1) <= 1.3",
                )
            )
        for count, run in sorted(self.seed.items()):
            ratio = median(self.ours[count].cycles) / median(run.cycles)
            rows.append(
                (
                    f"2. ours / seed script, {count} venue(s)",
                    f"{ratio:.2f} (seed {median(run.cycles) * 1000:.0f} ms)",
                    "<= 0.5 at 1, <= 0.1 at 20",
                )
            )
        from bench.harness import p99

        most = self.ours[max(self.ours)]
        rows.append(
            (
                f"3. read-to-send gap at the exchange, {max(self.ours)} venues",
                f"median {median(most.gaps):.1f} ms, p99 {p99(most.gaps):.1f} ms "
                f"(seed: median {median(self.seed[max(self.seed)].gaps):.0f} ms)",
                "median <= 5 ms, p99 <= 20 ms",
            )
        )
        one_run = self.ours[min(self.ours)]
        rows.append(
            (
                "6. requests / bytes per venue per cycle",
                f"{median(one_run.requests):.0f} requests, {median(one_run.bytes) / 1024:.1f} KiB "
                f"(seed: {median(self.seed[min(self.seed)].requests):.0f} requests, "
                f"{median(self.seed[min(self.seed)].bytes) / 1024:.1f} KiB)",
                "4 reads, the send, 4 reads after the move",
            )
        )
        return rows


async def measure(
    counts: tuple[int, ...], latency: float, cycles: int, workdir: Path
) -> CycleFigures:
    ours_runs = {}
    seed_runs = {}
    for count in counts:
        ours_runs[count] = await ours(count, latency, cycles, workdir / f"ours-{count}")
    for count in (min(counts), max(counts)):
        seed_runs[count] = await baseline(count, latency, max(1, cycles // 2))
    return CycleFigures(latency, ours_runs, seed_runs)
