"""`python -m bench.guard_reaction [--latency 0.05] [--rounds 12]`: how long a short stays in
danger after the market moves, with the margin guard following the venue's streams.

A paper exchange with the default ETH hedge, `latency` injected on every REST answer and every
pushed frame; `bot run`'s pieces (the pool with its stream clients, `MarginWatch`, the guard
check). Each round moves the mark under the danger line at the exchange and times, from that
moment, the transfer's arrival at the exchange and the check's end (its ledger row confirmed
and the account read again for `bot status`).

The physical limit is three round trips: the pushed mark, one read of the account, the send
(`LIMIT_ROUND_TRIPS`); the rows give each figure as a ratio to it and to a guard that polls
every 10 s (`POLL_SECONDS`, whose mean reaction is half its interval plus the read and send).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from contextlib import AsyncExitStack
from decimal import Decimal
from pathlib import Path

from bench.harness import TRANSFER_PATH, TimedPaper, fleet_config, run_and_print, start_papers
from bot import bootstrap
from bot.guard.check import guard
from bot.guard.watch import MarginWatch

LIMIT_ROUND_TRIPS = 3  # the pushed mark, the read, the send
POLL_SECONDS = 10.0
DANGER_MARK = Decimal("3700")  # the default hedge's margin ratio falls to about 0.16
SAFE_MARK = Decimal("3000")
DEADLINE_SECONDS = 30.0


async def until(condition: object, what: str) -> None:
    """Wait for `condition()` (a callable), at most `DEADLINE_SECONDS`."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {what} within {DEADLINE_SECONDS:g} s")
        await asyncio.sleep(0.005)


def sends(paper: TimedPaper) -> list[float]:
    return [h.arrived for h in paper.hits if h.path == TRANSFER_PATH and h.method == "POST"]


async def measure(latency: float, rounds: int, workdir: Path) -> list[tuple[str, str, str]]:
    to_send, to_row, requests = [], [], []
    async with AsyncExitStack() as stack:
        (paper,) = await start_papers(stack, 1, latency)
        config = fleet_config([paper], workdir, streams=True)
        ledger = bootstrap.open_ledger(config)
        stack.callback(ledger.close)
        pool = await stack.enter_async_context(bootstrap.venue_pool(config, streams=True))
        checked: list[float] = []

        async def check(venue: str, why: str) -> None:
            result = await guard(config, ledger, venues=pool, names=[venue])
            watch.observe(result.latest)
            if result.cycle is not None:
                checked.append(time.perf_counter())

        watch = MarginWatch(config, pool.streams, check, min_gap=0.0)
        watch.observe((await guard(config, ledger, venues=pool)).latest)
        running = asyncio.create_task(watch.run())
        try:
            await until(lambda: watch.following(), "stream followed")
            for _ in range(rounds):
                await until(lambda: not watch._checking, "quiet guard")
                paper.reset()
                paper.set_mark_price("ETHUSDT", SAFE_MARK)
                watch.observe((await guard(config, ledger, venues=pool)).latest)
                await asyncio.sleep(0.2)  # the last pushes of the reset land before the move
                await until(lambda: not watch._checking, "quiet guard")
                paper.hits.clear()
                checked.clear()
                moved = time.perf_counter()
                paper.set_mark_price("ETHUSDT", DANGER_MARK)
                await until(lambda: sends(paper) and checked, "top-up")
                to_send.append(sends(paper)[0] - moved)
                to_row.append(checked[0] - moved)
                first_send = sends(paper)[0]
                requests.append(sum(h.arrived <= first_send for h in paper.hits))
        finally:
            await watch.stop()
            running.cancel()
    limit = LIMIT_ROUND_TRIPS * latency
    poll = POLL_SECONDS / 2 + 2 * latency
    send, row = statistics.median(to_send), statistics.median(to_row)
    ms = latency * 1000
    return [
        (
            f"12. guard reaction: mark move -> transfer at the exchange ({ms:g} ms each way)",
            f"{send * 1000:.0f} ms (max {max(to_send) * 1000:.0f}) = {send / limit:.2f}x "
            f"{LIMIT_ROUND_TRIPS} RTT; {send / poll:.3f}x a {POLL_SECONDS:g} s poll",
            f"<= {LIMIT_ROUND_TRIPS} RTT ({limit * 1000:.0f} ms)",
        ),
        (
            "12. guard reaction: mark move -> check done (row confirmed, account read again)",
            f"{row * 1000:.0f} ms (max {max(to_row) * 1000:.0f}) = {row / limit:.2f}x "
            f"{LIMIT_ROUND_TRIPS} RTT",
            "-",
        ),
        (
            "12. guard reaction: requests up to the send",
            f"{statistics.median(requests):g}",
            "5: the four reads at once, the send",
        ),
    ]


def main() -> None:
    run_and_print("guard_reaction", measure, 12)


if __name__ == "__main__":
    main()
