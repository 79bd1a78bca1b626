"""What every benchmark row runs on: paper exchanges with injected latency that log when each
request arrived and when it was answered, and a config of N live Binance venues pointed at them,
each with one ETH hedge that needs a top-up (the default paper state: margin ratio 0.30, band
0.4-0.6, so every cycle sends one transfer of about 3,000 USDT)."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import ccxt
from aiohttp import web

from bot.config import Config, parse_config
from bot.paper import PAPER_API_KEY, PAPER_SECRET, PaperExchange, StateStore, binance_urls
from bot.paper.model import PaperState
from bot.paper.routes_ws import websocket_base

KEY_ENV, SECRET_ENV = "BENCH_KEY", "BENCH_SECRET"
TRANSFER_PATH = "/sapi/v1/asset/transfer"


@dataclass(frozen=True)
class Hit:
    """One request as the exchange saw it (perf_counter seconds)."""

    arrived: float
    answered: float
    method: str
    path: str
    bytes_in: int
    bytes_out: int


class Served(Protocol):
    """An exchange a benchmark drives: in its own loop (`TimedPaper`) or in the fleet's child
    process (`bench.paper_fleet.RemotePaper`)."""

    @property
    def base_url(self) -> str: ...

    @property
    def hits(self) -> list[Hit]: ...


class TimedPaper(PaperExchange):
    """The paper exchange, logging every request's arrival (before the injected latency) and
    answer, so gaps are measured where they matter: at the exchange."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, enforce_weight_limits=True, **kwargs)
        self.hits: list[Hit] = []
        self.initial: PaperState = self.store.state

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        arrived = time.perf_counter()
        response = await super()._handle(request)
        body = getattr(response, "body", None)
        size = len(body) if isinstance(body, bytes | bytearray) else 0
        self.hits.append(
            Hit(
                arrived,
                time.perf_counter(),
                request.method,
                request.path,
                int(request.content_length or 0) + len(request.rel_url.raw_query_string),
                size,
            )
        )
        return response

    def reset(self) -> None:
        """Back to the state that needs a top-up; the log starts again."""
        now = self.store.state  # its transfers and tranId sequence go on
        self.store.commit(
            dataclasses.replace(
                now,
                spot=self.initial.spot,
                usdm=self.initial.usdm,
                positions=self.initial.positions,
            )
        )
        self.hits.clear()


async def start_papers(stack: AsyncExitStack, count: int, latency: float) -> list[TimedPaper]:
    papers = []
    for _ in range(count):
        paper = await stack.enter_async_context(TimedPaper(StateStore(None)))
        paper.faults.latency = latency
        papers.append(paper)
    return papers


def api_urls(base_url: str) -> dict[str, str]:
    rewritten = binance_urls(base_url, ccxt.binance().urls["api"])
    return {key: url for key, url in rewritten.items() if isinstance(url, str)}


def stream_urls(base_url: str) -> dict[str, str]:
    """The paper exchange's user-data and market streams, for ccxt.pro's clients."""
    ws = websocket_base(base_url)
    return {"ws.linear": f"{ws}/ws", "ws.inverse": f"{ws}/ws"}


def fleet_config(
    papers: Sequence[Served], workdir: Path, *, streams: bool = False, **hedge: Any
) -> Config:
    """One live binance venue per paper exchange, one ETH hedge each; `streams`: with the
    margin guard's streams (ccxt.pro over the paper exchange's WebSocket)."""
    os.environ[KEY_ENV], os.environ[SECRET_ENV] = PAPER_API_KEY, PAPER_SECRET
    raw = {
        "ledger": {"url": "sqlite:///ledger.sqlite"},
        "transfers": {"safety": "0.99", "min_amount": "10"},
        "venues": {
            f"v{i:02d}": {
                "exchange": "binance",
                "api_key_env": KEY_ENV,
                "secret_env": SECRET_ENV,
                "urls": api_urls(paper.base_url) | (stream_urls(paper.base_url) if streams else {}),
                "websocket": streams,
            }
            for i, paper in enumerate(papers)
        },
        "hedges": {
            f"eth{i:02d}": {
                "venue": f"v{i:02d}",
                "spot": "ETH/USDT",
                "perp": "ETH/USDT:USDT",
                "target_margin_ratio": "0.5",
                "band": ["0.4", "0.6"],
                "spot_reserve": "0",
                **hedge,
            }
            for i in range(len(papers))
        },
    }
    return parse_config(raw, base_dir=workdir)


def gaps_ms(paper: Served, source_read: str = "/api/v3/account") -> list[float]:
    """Fresh read answered -> transfer arrived, per transfer, at the exchange."""
    found = []
    for index, hit in enumerate(paper.hits):
        if hit.path != TRANSFER_PATH or hit.method != "POST":
            continue
        reads = [
            h for h in paper.hits[:index] if h.path == source_read and h.answered <= hit.arrived
        ]
        if reads:
            found.append((hit.arrived - reads[-1].answered) * 1000)
    return found


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def p99(values: Sequence[float]) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def run_and_print(
    prog: str,
    measure: Callable[[float, int, Path], Awaitable[list[tuple[str, str, str]]]],
    rounds: int,
    columns: str = "figure  limit",
) -> None:
    """`python -m bench.<prog> [--latency s] [--rounds n]`: run `measure` in a temporary
    folder and print its rows as a table."""
    parser = argparse.ArgumentParser(prog=f"python -m bench.{prog}")
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--rounds", type=int, default=rounds)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        rows = asyncio.run(measure(args.latency, args.rounds, Path(workdir)))
    width = max(len(name) for name, _, _ in rows)
    print(f"{'row':<{width}}  {columns}")
    for name, figure, limit in rows:
        print(f"{name:<{width}}  {figure}  {limit}")
