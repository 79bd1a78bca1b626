"""What every venue fake shares: an aiohttp server on an ephemeral loopback port, started and
stopped by `async with`, with the calls it received counted and its clock offsettable.

A fake subclasses `LoopbackFake` and writes `_dispatch` (its routes, signing and faults), or
routes its own in `build_app`. A request held to play a timeout waits on `_stopping`, so
stopping the fake releases it.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from types import TracebackType
from typing import Any, Self, TypeVar

from aiohttp import web

from bot.venues.clients import no_ca_ssl_context

C = TypeVar("C")


class LoopbackFake:
    """`async with SomeFake() as fake:` serves on `fake.base_url` until the block ends."""

    def __init__(self, *, clock_offset_ms: int = 0) -> None:
        self.clock_offset_ms = clock_offset_ms
        self.calls: Counter[tuple[str, str]] = Counter()  # (METHOD, path) -> how many arrived
        self.unserved: list[tuple[str, str]] = []  # calls of a route the fake does not serve
        self.base_url = ""
        self._runner: web.AppRunner | None = None
        self._stopping: asyncio.Event | None = None

    def now(self) -> int:
        """The fake's clock, milliseconds since the epoch (offset to play a skewed venue)."""
        return int(time.time() * 1000) + self.clock_offset_ms

    def build_app(self) -> web.Application:
        """The fake's application: every request to `_dispatch`, unless a fake routes its own."""
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        return app

    async def start(self) -> None:
        self._stopping = asyncio.Event()
        runner = web.AppRunner(self.build_app(), access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runner = runner
        host, port = next(a for a in runner.addresses if isinstance(a, tuple))[:2]
        self.base_url = f"http://{host}:{port}"

    async def stop(self) -> None:
        if self._stopping is not None:
            self._stopping.set()  # releases held (timed-out) requests
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    def count(self, method: str, path: str) -> int:
        """How many calls of METHOD `path` arrived (faulted ones included)."""
        return self.calls[(method.upper(), path)]

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        raise NotImplementedError


def on_loopback(client: C) -> C:
    """A ccxt client a test builds itself for a loopback fake, set as the bot sets its own for
    plain http (`bot.venues.clients`): no 250 ms sleep in `close()` (a wait for a TLS teardown
    that never happens) and no CA file read per client for a TLS never spoken (ccxt builds an
    SSL context per client: ~20 ms of CPU, a fifth of the venue fakes' tests)."""
    loopback: Any = client
    loopback.timeout_on_exit = 0
    loopback.ssl_context = no_ca_ssl_context()
    return client
