"""Row 7: resident memory over many in-process cycles of `bot run`'s job (one long-lived
`OpenVenues`, a ledger, a cycle that reads, plans and records; the hedge inside its band, so
nothing is sent), without injected latency: does anything grow per cycle?"""

from __future__ import annotations

import time
from contextlib import AsyncExitStack
from pathlib import Path

from bench.harness import fleet_config, start_papers
from bot import bootstrap
from bot.cycle.rebalance import rebalance


def rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    import resource

    return pages * resource.getpagesize() / 2**20


async def measure(cycles: int, workdir: Path) -> dict[str, float]:
    async with AsyncExitStack() as stack:
        papers = await start_papers(stack, 1, 0.0)
        # a band around the paper's 0.30: inside it, every cycle reads and records, sends nothing
        config = fleet_config(papers, workdir, target_margin_ratio="0.3", band=["0.2", "0.4"])
        ledger = bootstrap.open_ledger(config)
        stack.callback(ledger.close)
        pool = await stack.enter_async_context(bootstrap.venue_pool(config))
        warm = max(1, cycles // 10)
        for _ in range(warm):
            await rebalance(config, ledger, dry_run=False, venues=pool)
        start = rss_mib()
        started = time.perf_counter()
        for _ in range(cycles):
            await rebalance(config, ledger, dry_run=False, venues=pool)
        return {
            "cycles": cycles,
            "start": start,
            "end": rss_mib(),
            "per_cycle_ms": (time.perf_counter() - started) / cycles * 1000,
        }


def rows(figures: dict[str, float]) -> list[tuple[str, str, str]]:
    grew = figures["end"] - figures["start"]
    return [
        (
            f"7. RSS over {int(figures['cycles']):,} in-process cycles",
            f"{figures['start']:.0f} -> {figures['end']:.0f} MiB ({grew:+.1f} MiB, "
            f"{grew * 1024 / figures['cycles']:.2f} KiB/cycle; "
            f"{figures['per_cycle_ms']:.1f} ms/cycle)",
            "flat",
        )
    ]
