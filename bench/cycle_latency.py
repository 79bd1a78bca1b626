"""Rows 1, 2, 3 and 6: one cycle against 1, 5 and 20 venues that each need a transfer, through
the long-lived venues of `bot run` (`session.OpenVenues`), beside a seed-style script (sync
ccxt, venue after venue, `fetch_balance` then 99 % of free, on error sleep 2 s, 3 tries), on
the same exchanges with the same latency; the read-to-send gap and the requests and bytes per
venue per cycle, all measured at the exchange. The exchanges run in a child process
(`bench.paper_fleet`), as remote venues would: the benchmark's loop holds only the bot's work.

`python -m bench.cycle_latency --venues 1 20 --cycles 7 --no-seed` measures rows 1 and 3 alone."""

from __future__ import annotations

import argparse
import asyncio
import tempfile
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
    api_urls,
    fleet_config,
    gaps_ms,
    median,
    p99,
)
from bench.paper_fleet import PaperFleet, RemotePaper
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


def _collect(run: Run, papers: list[RemotePaper], took: float) -> None:
    run.cycles.append(took)
    for paper in papers:
        run.gaps += gaps_ms(paper)
        run.requests.append(len(paper.hits))
        run.bytes.append(sum(h.bytes_out + h.bytes_in for h in paper.hits))
        run.sent += sum(1 for h in paper.hits if h.path == TRANSFER_PATH)


async def ours(venues: int, latency: float, cycles: int, workdir: Path) -> Run:
    run = Run()
    async with AsyncExitStack() as stack:
        fleet = await stack.enter_async_context(PaperFleet(venues, latency))
        papers = fleet.papers
        config = fleet_config(papers, workdir)
        ledger = bootstrap.open_ledger(config)
        stack.callback(ledger.close)
        pool = await stack.enter_async_context(bootstrap.venue_pool(config))
        for index in range(cycles + 1):
            await fleet.reset()
            started = time.perf_counter()
            result = await rebalance(config, ledger, dry_run=False, venues=pool)
            took = time.perf_counter() - started
            confirmed = [t for t in result.transfers if t.status is TransferStatus.CONFIRMED]
            if len(confirmed) != venues:
                raise RuntimeError(f"{len(confirmed)} of {venues} transfers confirmed")
            if index:  # the first cycle after start-up also measures each venue's clock
                await fleet.fetch_hits()
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
    async with PaperFleet(venues, latency) as fleet:
        for _ in range(cycles):
            await fleet.reset()
            started = time.perf_counter()
            for paper in fleet.papers:  # one venue after another, as the seed scripts do
                await asyncio.to_thread(_seed_venue, paper.base_url)
            took = time.perf_counter() - started
            await fleet.fetch_hits()
            _collect(run, fleet.papers, took)
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
            if count not in self.ours:
                continue
            ratio = median(self.ours[count].cycles) / median(run.cycles)
            rows.append(
                (
                    f"2. ours / seed script, {count} venue(s)",
                    f"{ratio:.2f} (seed {median(run.cycles) * 1000:.0f} ms)",
                    "<= 0.5 at 1, <= 0.1 at 20",
                )
            )
        most = self.ours[max(self.ours)]
        seed_gap = (
            f" (seed: median {median(self.seed[max(self.seed)].gaps):.0f} ms)" if self.seed else ""
        )
        rows.append(
            (
                f"3. read-to-send gap at the exchange, {max(self.ours)} venues",
                f"median {median(most.gaps):.1f} ms, p99 {p99(most.gaps):.1f} ms{seed_gap}",
                "median <= 5 ms, p99 <= 20 ms",
            )
        )
        if not self.seed:
            return rows
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
    counts: tuple[int, ...], latency: float, cycles: int, workdir: Path, *, seed: bool = True
) -> CycleFigures:
    ours_runs = {}
    seed_runs = {}
    for count in counts:
        ours_runs[count] = await ours(count, latency, cycles, workdir / f"ours-{count}")
    for count in (min(counts), max(counts)) if seed else ():
        seed_runs[count] = await baseline(count, latency, max(1, cycles // 2))
    return CycleFigures(latency, ours_runs, seed_runs)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.cycle_latency", description=__doc__)
    parser.add_argument("--venues", type=int, nargs="+", default=[1, 5, 20])
    parser.add_argument("--cycles", type=int, default=7, help="measured cycles per count")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per request")
    parser.add_argument("--no-seed", action="store_true", help="skip the seed-style script")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        figures = asyncio.run(
            measure(
                tuple(sorted(args.venues)),
                args.latency,
                args.cycles,
                Path(workdir),
                seed=not args.no_seed,
            )
        )
    for name, figure, limit in figures.rows():
        print(f"{name}  {figure}  ({limit})")
    for count, run in sorted(figures.ours.items()):
        print(
            f"   gap at {count} venue(s): median {median(run.gaps):.1f} ms, "
            f"p99 {p99(run.gaps):.1f} ms over {len(run.gaps)} transfers"
        )


if __name__ == "__main__":
    main()
