"""The guard's streams stay live against the paper exchange's streams, over the bot's own ccxt.pro
clients (`OpenVenues(streams=True)`, `BinanceStreams`) and the real `MarginWatch`: a
`listenKeyExpired` sent without closing the socket gets a new key at once (no keepalive
waited for), and a mark stream that goes silent while answering pings is failed, redialled and
shown down (`bot_guard_stream_up`, `bot status`) until it speaks again.

The mark stream's silence threshold is injected (`mark_silence`) and the paper's mark tick is
fast, so nothing waits real seconds; every wait is a condition with a deadline."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest

from bot.config import Config, parse_config
from bot.guard.watch import MarginWatch
from bot.health.status import gather
from bot.health.streams import StreamBoard, read_venue_streams, streams_dir
from bot.ledger import Ledger
from bot.ledger.run_lock import run_lock
from bot.metrics import Metrics
from bot.model import State
from bot.paper import PAPER_API_KEY, PAPER_SECRET, PaperExchange, StateStore
from bot.paper.model import MarketKind
from bot.paper.routes_ws import websocket_base
from bot.venues.binance.streams import BinanceStreams
from bot.venues.session import OpenVenues
from tests.integration.conftest import ETH_HEDGE, KEY_ENV, SECRET_ENV, live_venue
from tests.waiting import until

FAST = 0.05  # seconds between the paper's mark ticks
SILENCE = 0.5  # the mark stream's silence threshold here (10 ticks; 5 s in production)
LISTEN_KEY = ("POST", "/fapi/v1/listenKey")
KEEPALIVE = ("PUT", "/fapi/v1/listenKey")


@pytest.fixture
async def paper(tmp_path: Path) -> AsyncIterator[PaperExchange]:
    async with PaperExchange(StateStore(tmp_path / "paper.json"), test_hooks=True) as running:
        running.mark_stream_interval = FAST
        yield running


@pytest.fixture
def config(paper: PaperExchange, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Config:
    monkeypatch.setenv(KEY_ENV, PAPER_API_KEY)
    monkeypatch.setenv(SECRET_ENV, PAPER_SECRET)
    venue = live_venue(paper.base_url)
    ws = websocket_base(paper.base_url)
    venue["urls"] |= {"ws.linear": f"{ws}/ws", "ws.inverse": f"{ws}/ws"}
    # no keepalive within the test (an hour away): what renews the key is the event itself
    venue["ccxt"] |= {"options": {"listenKeyRefreshRate": 3_600_000}}
    raw = {
        "ledger": {"url": "sqlite:///ledger.sqlite"},
        "venues": {"binance": venue},
        "hedges": {"eth": ETH_HEDGE},
        "alerts": {"danger_margin_ratio": "0.05"},  # the default account is far from it
    }
    return parse_config(raw, base_dir=tmp_path)


class Checks:
    """The guard check the watch runs: here it only records why it was woken."""

    def __init__(self) -> None:
        self.reasons: list[str] = []

    async def __call__(self, venue: str, why: str) -> None:
        self.reasons.append(why)

    def woken(self, part: str) -> bool:
        return any(part in reason for reason in self.reasons)


class Following:
    """A `MarginWatch` over the pool's streams, with the mark silence injected."""

    def __init__(self, config: Config, pool: OpenVenues, streams: BinanceStreams) -> None:
        self.metrics = Metrics()
        self.checks = Checks()
        self.board = StreamBoard(streams_dir(config.data_dir))
        self.watch = MarginWatch(
            config,
            lambda: {"binance": streams},
            self.checks,
            metrics=self.metrics,
            board=self.board,
            min_gap=0.0,
        )
        self.runner: asyncio.Task[None] | None = None

    def up(self, stream: str) -> float | None:
        return self.metrics.registry.get_sample_value(
            "bot_guard_stream_up", {"venue": "binance", "stream": stream}
        )

    async def __aenter__(self) -> Following:
        self.runner = asyncio.create_task(self.watch.run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.watch.stop()
        assert self.runner is not None
        self.runner.cancel()


async def streaming_pool(config: Config) -> tuple[OpenVenues, BinanceStreams, State]:
    pool = OpenVenues(config, dry_run=False, streams=True)
    await pool.open()
    venues, failures = await pool.ready()
    assert not failures, failures
    state = await venues["binance"].read_state()
    (streams,) = pool.streams().values()
    assert isinstance(streams, BinanceStreams)
    streams.mark_silence = SILENCE
    return pool, streams, State(read_at=state.read_at, venues={"binance": state})


def requests(paper: PaperExchange, wanted: tuple[str, str]) -> int:
    return sum(1 for method, path, _ in paper.requests if (method, path) == wanted)


async def test_listen_key_expired_without_a_close_gets_a_new_key_at_once(
    paper: PaperExchange, config: Config
) -> None:
    pool, streams, state = await streaming_pool(config)
    try:
        async with Following(config, pool, streams) as following:
            following.watch.observe(state)
            await until(lambda: following.up("linear balance") == 1, "the user stream is up")
            await until(lambda: paper.stream_sockets_opened["user"] == 1, "user socket open")
            old = paper.streams.current_key(MarketKind.LINEAR)
            posts = requests(paper, LISTEN_KEY)

            told = await paper.expire_listen_key("usdm", close=False)  # the socket stays open
            assert told == 1
            await until(
                lambda: paper.streams.current_key(MarketKind.LINEAR) not in (None, old),
                "a new listen key was asked for",
            )
            await until(lambda: paper.stream_sockets_opened["user"] == 2, "a new user socket")
            assert requests(paper, LISTEN_KEY) == posts + 1  # one POST for both channels
            await until(lambda: following.checks.woken("stream back"), "a read after the gap")
            await until(lambda: following.up("linear balance") == 1, "the user stream is back")
            # the old key's socket was closed by the bot, not left hanging
            await until(lambda: paper.stream_connections == 2, "old user socket closed")

            # a balance change pushed on the new key wakes the guard
            await book_funding(paper, "ETHUSDT")
            await until(
                lambda: following.checks.woken("linear balance changed"),
                "the guard woken by the balance change",
            )
            assert requests(paper, KEEPALIVE) == 0  # no keepalive was waited for
    finally:
        await pool.close()


async def test_a_keepalive_refused_gets_a_new_key_and_closes_the_dead_socket(
    paper: PaperExchange, config: Config
) -> None:
    """The user-data stream pushes only on changes, so its silence proves nothing: the
    keepalive PUT is its liveness check. A key that died unannounced (no event, socket left
    open) is found by the next PUT: the bot closes the dead socket and gets a new key."""
    pool, streams, state = await streaming_pool(config)
    streams.keepalive_every = 0.2  # 3 minutes in production
    try:
        async with Following(config, pool, streams) as following:
            following.watch.observe(state)
            await until(lambda: paper.stream_sockets_opened["user"] == 1, "user socket open")
            old = paper.streams.current_key(MarketKind.LINEAR)
            await until(lambda: requests(paper, KEEPALIVE) >= 1, "a keepalive on the live key")

            await paper.expire_listen_key("usdm", close=False, tell=False)
            await until(
                lambda: paper.streams.current_key(MarketKind.LINEAR) not in (None, old),
                "a new listen key after the refused keepalive",
            )
            await until(lambda: paper.stream_sockets_opened["user"] == 2, "a new user socket")
            await until(lambda: paper.stream_connections == 2, "the dead socket closed")
            await until(lambda: following.checks.woken("stream back"), "a read after the gap")
            await book_funding(paper, "ETHUSDT")
            await until(
                lambda: following.checks.woken("linear balance changed"),
                "the guard woken by the balance change on the new key",
            )
    finally:
        await pool.close()


async def book_funding(paper: PaperExchange, symbol: str) -> None:
    async with aiohttp.ClientSession() as http:
        answer = await http.post(paper.base_url + "/_paper/funding", json={"symbol": symbol})
        assert answer.status == 200


async def test_a_silent_mark_stream_is_redialled_and_shown_down_until_it_speaks(
    paper: PaperExchange, config: Config, tmp_path: Path
) -> None:
    pool, streams, state = await streaming_pool(config)
    ledger = Ledger.open(config.ledger_url)
    marks = "linear mark prices"
    try:
        async with Following(config, pool, streams) as following:
            following.watch.observe(state)
            await until(lambda: following.up(marks) == 1, "the mark stream is up")

            paper.marks_silent = True  # connected, answering pings, pushing nothing
            opened = paper.stream_sockets_opened["market"]
            await until(
                lambda: paper.stream_sockets_opened["market"] > opened,
                "the silent mark stream was redialled (a new socket)",
            )
            # nothing can be pushed while silent, so the stream is still down
            assert following.up(marks) == 0
            published = read_venue_streams(streams_dir(config.data_dir), "binance")
            assert published is not None
            assert not published.streams[marks].up
            assert "silent for 0.5 s" in (published.streams[marks].why or "")

            # `bot status` (its section, as `bot run` holds the venue) shows it down
            with run_lock(ledger.engine, config.data_dir / "locks", ["binance"]):
                sections = {s.name: s for s in gather(config, ledger, datetime.now(UTC))}
            shown = sections["streams"]
            assert any(
                line.startswith(f"stream binance {marks}: down since") and "silent" in line
                for line in shown.lines
            ), shown.lines
            assert shown.attention == []  # the poll covers it; not yet worth waking anyone

            paper.marks_silent = False
            await until(lambda: following.up(marks) == 1, "the mark stream is back")
            await until(lambda: following.checks.woken("mark prices stream back"), "re-read")
    finally:
        ledger.close()
        await pool.close()


def test_the_published_file_means_nothing_without_its_running_holder(tmp_path: Path) -> None:
    board = StreamBoard(tmp_path, pid=1)
    board.set("binance", "linear mark prices", False, "silent for 5 s")
    read = read_venue_streams(tmp_path, "binance")
    assert read is not None and read.pid == 1
    assert board.set("binance", "linear mark prices", False, "silent for 5 s") is False
    board.close()
    assert read_venue_streams(tmp_path, "binance") is None
