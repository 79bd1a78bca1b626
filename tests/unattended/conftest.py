"""Fixtures for unattended operation: a loopback webhook that records what apprise posts
(the `json://` alert target), configs for `bot run` against a paper exchange, a ledger."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bot.config import Config, parse_config
from bot.ledger import Ledger
from tests.integration.conftest import (  # noqa: F401  (fixtures)
    ETH_HEDGE,
    bot,
    live_venue,
    paper,
    venue_env,
    write_config,
)
from tests.waiting import found_sync


class Hook:
    """An aiohttp server on its own thread and loop; `posts` holds every JSON body posted to
    /hook, `gets` the path of every GET (a heartbeat's pings)."""

    def __init__(self, status: int = 200, delay: float = 0.0) -> None:
        self.status = status
        #: seconds the sink takes to answer (a slow channel)
        self.delay = delay
        self.posts: list[dict[str, Any]] = []
        self.gets: list[str] = []
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.port = 0

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._start())
        self._ready.set()
        self._loop.run_forever()

    async def _start(self) -> None:
        #: set when the hook stops: a slow answer still pending is given at once, so that
        #: stopping the server does not wait out the delay
        self._stopping = asyncio.Event()
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        app.router.add_get("/{path:.*}", self._got)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def _handle(self, request: web.Request) -> web.Response:
        body = json.loads(await request.text() or "{}")
        with self._lock:
            self.posts.append(body)
        if self.delay:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.delay)
        return web.json_response({"ok": True}, status=self.status)

    async def _got(self, request: web.Request) -> web.Response:
        with self._lock:
            self.gets.append(request.path)
        return web.Response(text="OK", status=self.status)

    def pings(self, path: str) -> int:
        """How many GETs reached exactly `path`."""
        with self._lock:
            return self.gets.count(path)

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.port}/hook"

    def messages(self) -> list[str]:
        with self._lock:
            return [str(post.get("message", "")) for post in self.posts]

    def types(self) -> list[str]:
        """apprise's notify type of each post (`json://` posts it as `type`)."""
        with self._lock:
            return [str(post.get("type", "")) for post in self.posts]

    def wait_for(self, predicate: Callable[[str], bool]) -> str:
        """The first message that satisfies `predicate`, waiting for it (within the deadline)."""

        def first() -> str | None:
            return next((m for m in self.messages() if predicate(m)), None)

        try:
            return found_sync(first, "an alert that satisfies the predicate", poll=0.1)
        except AssertionError as missing:
            raise AssertionError(f"{missing}; the alerts: {self.messages()}") from None

    def __enter__(self) -> Hook:
        self._thread.start()
        self._ready.wait()
        return self

    def __exit__(self, *exc: object) -> None:
        async def stop() -> None:
            self._stopping.set()
            await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)


@pytest.fixture
def hook() -> Iterator[Hook]:
    with Hook() as running:
        yield running


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    opened = Ledger.open(f"sqlite:///{tmp_path}/data/ledger.sqlite")
    yield opened
    opened.close()


def make_config(tmp_path: Path, venues: dict[str, Any], **extra: Any) -> Config:
    raw = {
        "ledger": {"url": "sqlite:///data/ledger.sqlite"},
        "transfers": {"safety": "0.99", "min_amount": "10", "max_amount": None},
        "venues": venues,
        "hedges": {"eth": ETH_HEDGE},
        **extra,
    }
    return parse_config(raw, base_dir=tmp_path)
