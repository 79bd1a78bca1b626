"""How long one cycle's read takes when every venue answers slowly: all venues and all their
wallets, positions and funding rates are read concurrently, so the read costs about one slow
round trip, not one per call.

    python -m bench.read_concurrency [--venues 4] [--latency 0.1]

Prints the concurrent read time, the same reads done one after another, and the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from contextlib import AsyncExitStack
from decimal import Decimal
from pathlib import Path

import ccxt

from bot.config import parse_config
from bot.paper import PAPER_API_KEY, PAPER_SECRET, PaperExchange, StateStore, binance_urls
from bot.venues.session import open_venues, read_state


async def measure(venues: int, latency: float) -> tuple[float, float, int]:
    os.environ["BENCH_KEY"], os.environ["BENCH_SECRET"] = PAPER_API_KEY, PAPER_SECRET
    async with AsyncExitStack() as stack:
        papers = [
            await stack.enter_async_context(PaperExchange(StateStore(None))) for _ in range(venues)
        ]
        template = ccxt.binance().urls["api"]
        raw = {
            "venues": {
                f"v{i}": {
                    "exchange": "binance",
                    "api_key_env": "BENCH_KEY",
                    "secret_env": "BENCH_SECRET",
                    "urls": {
                        k: v
                        for k, v in binance_urls(paper.base_url, template).items()
                        if isinstance(v, str)
                    },
                    "ccxt": {"enableRateLimit": False},
                    "websocket": False,
                }
                for i, paper in enumerate(papers)
            },
            "hedges": {
                f"h{i}-{perp}": {
                    "venue": f"v{i}",
                    "spot": spot,
                    "perp": perp,
                    "target_margin_ratio": "0.4",
                    "band": ["0.3", "0.5"],
                }
                for i in range(venues)
                for spot, perp in (("ETH/USDT", "ETH/USDT:USDT"), ("BTC/USDT", "BTC/USD:BTC"))
            },
        }
        workdir = stack.enter_context(tempfile.TemporaryDirectory())
        config = parse_config(raw, base_dir=Path(workdir))
        venues_open = await stack.enter_async_context(open_venues(config, dry_run=True))
        await read_state(venues_open)  # warm: ccxt loads leverage brackets on the first read
        for paper in papers:
            paper.faults.latency = latency
        started = time.perf_counter()
        state = await read_state(venues_open)
        concurrent = time.perf_counter() - started
        started = time.perf_counter()
        for venue in venues_open.values():
            await venue.read_state()
        sequential = time.perf_counter() - started
        calls = sum(len(v.wallets) > 0 for v in state.venues.values())
        return concurrent, sequential, calls


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--venues", type=int, default=4)
    parser.add_argument("--latency", type=float, default=0.1, help="seconds per request")
    args = parser.parse_args()
    concurrent, sequential, _ = asyncio.run(measure(args.venues, args.latency))
    print(f"venues: {args.venues}, latency per request: {Decimal(str(args.latency))} s")
    print(f"one cycle's read, concurrent:      {concurrent:.3f} s")
    print(f"the same reads, venue by venue:    {sequential:.3f} s")
    print(f"speed-up:                          {sequential / concurrent:.1f}x")


if __name__ == "__main__":
    main()
