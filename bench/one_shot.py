"""`python -m bench.one_shot [--latency 0.05] [--rounds 5]`: one `bot rebalance` as a user runs
it, against the physical limit.

A one-shot command opens its venues (markets from the disk cache), reads, plans, sends and
closes. One paper exchange with the default ETH hedge below its band, `latency` injected on
every answer; the first run fills the markets cache and is not counted. The rows: requests up
to the transfer (limit 5: the four reads at once, the send) and in all; the time from the
first request to the transfer's arrival at the exchange as round trips (limit 4); and the time
from the last answer to the command's end (closing the clients: no sleep per client).
"""

from __future__ import annotations

import statistics
import time
from contextlib import AsyncExitStack
from pathlib import Path

from bench.harness import TRANSFER_PATH, fleet_config, run_and_print, start_papers
from bot import bootstrap
from bot.cycle.rebalance import rebalance

LIMIT_ROUND_TRIPS = 4  # from the first request to the transfer, markets cached
LIMIT_REQUESTS = 5  # the four reads at once, the send


async def measure(latency: float, rounds: int, workdir: Path) -> list[tuple[str, str, str]]:
    to_send, in_all, trips, closing = [], [], [], []
    async with AsyncExitStack() as stack:
        (paper,) = await start_papers(stack, 1, latency)
        config = fleet_config([paper], workdir)
        ledger = bootstrap.open_ledger(config)
        stack.callback(ledger.close)
        await rebalance(config, ledger, dry_run=False)  # fills the markets cache
        for _ in range(rounds):
            paper.reset()
            await rebalance(config, ledger, dry_run=False)
            ended = time.perf_counter()
            hits = paper.hits
            sends = [i for i, h in enumerate(hits) if h.path == TRANSFER_PATH]
            if len(sends) != 1:
                raise RuntimeError(f"{len(sends)} transfers in one run")
            to_send.append(sends[0] + 1)
            in_all.append(len(hits))
            trips.append((hits[sends[0]].arrived - hits[0].arrived) / latency if latency else 0)
            closing.append(ended - max(h.answered for h in hits))
    trip = statistics.median(trips)
    return [
        (
            "13. one-shot rebalance: requests to the transfer",
            f"{statistics.median(to_send):g} (in all {statistics.median(in_all):g})",
            f"<= {LIMIT_REQUESTS}",
        ),
        (
            "13. one-shot rebalance: first request -> transfer arrives",
            f"{trip:.1f} RTT = {trip / LIMIT_ROUND_TRIPS:.2f}x the limit",
            f"<= {LIMIT_ROUND_TRIPS} RTT",
        ),
        (
            "13. one-shot rebalance: last answer -> the end (records, closing)",
            f"{statistics.median(closing) * 1000:.0f} ms",
            "no sleep per client",
        ),
    ]


def main() -> None:
    run_and_print("one_shot", measure, 5)


if __name__ == "__main__":
    main()
