"""Waiting for a condition in a test: a deadline, never a duration.

A wait polls its condition until it holds, and fails (naming what it waited for) only when
`DEADLINE` has passed. The deadline is a bound for a machine running the whole suite beside
other work, not the time the test expects: on an idle machine every wait here ends in
milliseconds, and a test that needs a wait to be *short* to pass is wrong.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

#: seconds: long enough for a loaded 2-core machine, short enough that a real hang still fails
DEADLINE = 60.0
POLL = 0.005


async def until(condition: Callable[[], bool], what: str, *, deadline: float = DEADLINE) -> None:
    """Return once `condition()` holds; fail naming `what` after `deadline` seconds."""
    loop = asyncio.get_running_loop()
    ends = loop.time() + deadline
    while not condition():
        if loop.time() > ends:
            raise AssertionError(f"not within {deadline:g} s: {what}")
        await asyncio.sleep(POLL)


def until_sync(
    condition: Callable[[], bool], what: str, *, deadline: float = DEADLINE, poll: float = POLL
) -> None:
    """`until` for a synchronous test (sleeps on an Event: interruptible, no busy loop). A
    condition that costs CPU to check (opening a SQLite file another process writes) takes a
    longer `poll`: it is checked while a subprocess works, on the same two cores."""
    pause = threading.Event()
    ends = time.monotonic() + deadline
    while not condition():
        if time.monotonic() > ends:
            raise AssertionError(f"not within {deadline:g} s: {what}")
        pause.wait(poll)


def found_sync(
    find: Callable[[], T | None], what: str, *, deadline: float = DEADLINE, poll: float = POLL
) -> T:
    """`until_sync` for a value: the first thing `find()` returns that is not None."""
    found: list[T] = []

    def holds() -> bool:
        value = find()
        if value is None:
            return False
        found.append(value)
        return True

    until_sync(holds, what, deadline=deadline, poll=poll)
    return found[0]


async def bounded(awaitable: Awaitable[T], *, deadline: float = DEADLINE) -> T:
    """Await something that has no timeout of its own (a ccxt.pro watch), within the deadline."""
    return await asyncio.wait_for(awaitable, deadline)
