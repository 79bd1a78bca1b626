"""Any loopback fake on its own event loop in a background thread, for synchronous tests and
for the bot's CLI (which runs its own loop): `with FakeThread(BybitFake()) as fake:`.
`fake.account`, `fake.faults`, `fake.calls`... are the running fake's own (`BinanceFakeThread`
is this one around the Binance fake)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any, Generic, Self, TypeVar

from tests.fakes.loopback import LoopbackFake

F = TypeVar("F", bound=LoopbackFake)


class FakeThread(Generic[F]):
    def __init__(self, fake: F) -> None:
        self.fake = fake
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.fake, name)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self.fake.start())
        except BaseException as exc:  # reported by __enter__
            self._failure = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        loop.run_forever()
        loop.run_until_complete(self.fake.stop())
        loop.close()

    def call(self, fn: Callable[[], Awaitable[Any]]) -> Any:
        """Run a coroutine on the fake's loop and return its result."""
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(fn(), self._loop).result()

    def __enter__(self) -> Self:
        name = f"{type(self.fake).__name__}-thread"
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._failure is not None:
            raise self._failure
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None and self._thread is not None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
