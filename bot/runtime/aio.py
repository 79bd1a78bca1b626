"""Small asyncio helpers."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping
from typing import Any, TypeVar

T = TypeVar("T")


async def gather_or_cancel(*awaitables: Awaitable[Any]) -> list[Any]:
    """Run concurrently; on the first failure cancel the rest and raise that failure itself.

    `asyncio.gather` leaves the others running after a failure, and a `TaskGroup` raises an
    `ExceptionGroup`, which would hide the one-line error the CLI shows.
    """
    tasks = [asyncio.ensure_future(aw) for aw in awaitables]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


async def gather_each(named: Mapping[str, Awaitable[T]]) -> dict[str, T | Exception]:
    """Run concurrently; each one's exception is its own result and never cancels another.

    Only a `BaseException` that is not an `Exception` (cancellation, a simulated crash) is
    raised: it is not any one awaitable's failure.
    """
    names = list(named)
    results = await asyncio.gather(*(named[name] for name in names), return_exceptions=True)
    outcomes: dict[str, T | Exception] = {}
    for name, result in zip(names, results, strict=True):
        if isinstance(result, BaseException) and not isinstance(result, Exception):
            raise result
        outcomes[name] = result
    return outcomes
