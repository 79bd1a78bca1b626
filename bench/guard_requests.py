"""`python -m bench.guard_requests [--latency 0.05] [--rounds 5]`: what one margin-guard top-up
costs at the exchange, against the physical limit.

The guard polls (one read of the venue: four requests at once), judges the read with the one
margin figure, and runs the cycle scoped to the hedge in danger on that same read: the send;
after the send it reads the venue again for `bot status`. The limit of a polling guard is two
round trips to the send (the poll, the send) and five requests (the poll's four, the send):
the rows give the requests and the time from the poll's first request to the transfer's
arrival at the exchange, each as a ratio to its limit, with `latency` injected on every
answer. A paper exchange with the default ETH hedge, its mark moved under the danger line.
(`bench.guard_reaction` times the same top-up from a pushed mark, with the streams.)
"""

from __future__ import annotations

import statistics
from contextlib import AsyncExitStack
from decimal import Decimal
from pathlib import Path

from bench.harness import TRANSFER_PATH, fleet_config, run_and_print, start_papers
from bot import bootstrap
from bot.guard.check import guard

LIMIT_ROUND_TRIPS = 2  # the poll's read, the send
LIMIT_REQUESTS = 5  # the poll's four reads at once, the send
DANGER_MARK = Decimal("3700")  # the default hedge's margin ratio falls to about 0.16


async def measure(latency: float, rounds: int, workdir: Path) -> list[tuple[str, str, str]]:
    before_send, total, seconds = [], [], []
    async with AsyncExitStack() as stack:
        (paper,) = await start_papers(stack, 1, latency)
        config = fleet_config([paper], workdir)
        ledger = bootstrap.open_ledger(config)
        stack.callback(ledger.close)
        pool = await stack.enter_async_context(bootstrap.venue_pool(config))
        await guard(config, ledger, venues=pool)  # warm: markets, the clock offset
        for _ in range(rounds):
            paper.reset()
            paper.set_mark_price("ETHUSDT", DANGER_MARK)
            result = await guard(config, ledger, venues=pool)
            assert result.cycle is not None and not result.cycle.failed, result
            hits = list(paper.hits)
            sends = [
                i for i, h in enumerate(hits) if h.path == TRANSFER_PATH and h.method == "POST"
            ]
            assert len(sends) == 1, sends
            before_send.append(sends[0] + 1)
            total.append(len(hits))
            seconds.append(hits[sends[0]].arrived - hits[0].arrived)
            paper.set_mark_price("ETHUSDT", Decimal("3000"))
    path = statistics.median(before_send)
    took = statistics.median(seconds)
    limit = LIMIT_ROUND_TRIPS * latency
    return [
        ("guard top-up: requests to the send", f"{path:g}", f"{path / LIMIT_REQUESTS:.2f}x"),
        ("guard top-up: requests in all", f"{statistics.median(total):g}", "-"),
        (
            f"guard top-up: first request -> transfer arrives ({latency * 1000:g} ms each)",
            f"{took * 1000:.0f} ms",
            f"{took / limit:.2f}x" if limit else "-",
        ),
    ]


def main() -> None:
    run_and_print("guard_requests", measure, 5, "figure  vs limit")


if __name__ == "__main__":
    main()
