"""The benchmark's paper exchanges in a child process (`bench.paper_fleet`): they answer the
real ccxt client, report what they saw back to the bench, and the child is gone once the bench
leaves, even by an exception."""

from __future__ import annotations

import os

import ccxt.async_support as ccxt_async
import pytest

from bench.harness import PAPER_API_KEY, PAPER_SECRET, api_urls
from bench.paper_fleet import PaperFleet


class BenchFailed(Exception):
    pass


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_the_fleet_answers_logs_resets_and_stops_when_the_bench_fails() -> None:
    pid = None
    with pytest.raises(BenchFailed):
        async with PaperFleet(2, latency=0.0) as fleet:
            pid = fleet.pid
            assert pid is not None and _running(pid)
            second = fleet.papers[1]
            client = ccxt_async.binance({"apiKey": PAPER_API_KEY, "secret": PAPER_SECRET})
            client.urls["api"] = {**client.urls["api"], **api_urls(second.base_url)}
            try:
                await client.sapiPostAssetTransfer(
                    {"type": "MAIN_UMFUTURE", "asset": "USDT", "amount": "10"}
                )
            finally:
                await client.close()
            await fleet.fetch_hits()
            assert fleet.papers[0].hits == []
            (hit,) = second.hits
            assert (hit.method, hit.path) == ("POST", "/sapi/v1/asset/transfer")
            assert hit.arrived <= hit.answered
            await fleet.reset()
            await fleet.fetch_hits()
            assert second.hits == []
            raise BenchFailed
    assert pid is not None and not _running(pid)
