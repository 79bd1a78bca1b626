"""Waiting only when a venue's limit is actually near, and never before a send.

ccxt's own limiter (`enableRateLimit`) spaces every request by the venue's `rateLimit` times
its cost: on Binance it serialises one venue's concurrent reads and sleeps about 1 s a cycle,
some of it between the fresh read and the transfer (design invariant 4). Binance's real limits
are weights per minute that a cycle uses a fraction of a percent of, and every answer says how
much is used. So the bot's clients run with ccxt's limiter off and one of these instead:

- `UsageLimiter`: the venue's published per-minute limits, kept up to date from the usage
  headers of its answers (Binance: `X-MBX-USED-WEIGHT-1M`, `X-SAPI-USED-IP-WEIGHT-1M`,
  `X-SAPI-USED-UID-WEIGHT-1M`). A read waits for the next minute only when the weight used so
  far plus what is in flight would pass `headroom` of the limit.
- `BurstLimiter`, for venues that publish a request rate but send no usage headers: a token
  bucket that lets a cycle's few requests go at once and holds the long-run rate to ccxt's
  `rateLimit`.

A request that is not a read (the transfer) never waits in either: it follows the fresh read at
once, and a venue that refuses it for its rate answers 429, which changes nothing and is
retried with backoff (`executor.after_failure`). Pure bookkeeping with an injected clock and
sleep, so it is tested without sleeping.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class Bucket:
    """One published limit: requests whose URL path starts with `prefix` count against it,
    the venue reports its use in `header`; `per_endpoint` buckets count each method and path
    apart (Binance's POST /sapi/v1/asset/transfer is UID-limited, its GET IP-limited)."""

    prefix: str
    limit: int
    header: str
    per_endpoint: bool = False
    #: headers naming the same bucket with another limit (Binance's sapi UID weight)
    other_headers: Mapping[str, int] = field(default_factory=dict)


@dataclass
class _Use:
    window: int = -1  # the minute the figure belongs to
    used: int = 0  # as the venue last reported it
    in_flight: int = 0  # our estimate of requests sent and not yet answered
    limit: int = 0


class UsageLimiter:
    """Per-minute weight limits, learnt from the venue's own usage headers."""

    def __init__(
        self,
        buckets: tuple[Bucket, ...],
        *,
        headroom: float = 0.9,
        window_seconds: float = 60.0,
        clock: Clock = time.time,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._buckets = buckets
        self._headroom = headroom
        self._window = window_seconds
        self._clock = clock
        self._sleep = sleep
        self._use: dict[tuple[str, str], _Use] = {}
        self.waited_seconds = 0.0  # total, for the benchmark and tests

    def _key(self, method: str, url: str) -> tuple[tuple[str, str], Bucket] | None:
        path = urlsplit(url).path or "/"
        for bucket in self._buckets:
            if path.startswith(bucket.prefix):
                endpoint = f"{method.upper()} {path}" if bucket.per_endpoint else ""
                return (bucket.prefix, endpoint), bucket
        return None

    def _current(self, key: tuple[str, str], bucket: Bucket) -> _Use:
        use = self._use.setdefault(key, _Use(limit=bucket.limit))
        window = int(self._clock() // self._window)
        if use.window != window:  # a new minute: the venue's count starts again
            use.window, use.used = window, 0
        return use

    def delay(self, method: str, url: str, cost: float) -> float:
        """Seconds a read of `url` costing `cost` should wait now (0 almost always)."""
        found = self._key(method, url)
        if found is None:
            return 0.0
        use = self._current(*found)
        if use.used + use.in_flight + cost <= self._headroom * use.limit:
            return 0.0
        return (use.window + 1) * self._window - self._clock()

    async def before(self, method: str, url: str, cost: float, *, is_read: bool) -> None:
        """Called before a request leaves; only a read may wait."""
        found = self._key(method, url)
        if found is None:
            return
        if is_read:
            wait = self.delay(method, url, cost)
            if wait > 0:
                self.waited_seconds += wait
                await self._sleep(wait)
        self._current(*found).in_flight += int(cost)

    def after(self, method: str, url: str, cost: float, headers: Mapping[str, str] | None) -> None:
        """Called with each answer's headers (or None when no answer came back)."""
        found = self._key(method, url)
        if found is None:
            return
        key, bucket = found
        use = self._current(key, bucket)
        use.in_flight = max(0, use.in_flight - int(cost))
        for name, value in (headers or {}).items():
            lowered = name.lower()
            limit = None
            if lowered == bucket.header.lower():
                limit = bucket.limit
            else:
                limit = next(
                    (v for h, v in bucket.other_headers.items() if h.lower() == lowered), None
                )
            if limit is None:
                continue
            try:
                reported = int(str(value).strip())
            except ValueError:
                continue  # a header we cannot read says nothing; the answer itself still counts
            use.limit = limit
            use.used = max(use.used, reported)


class BurstLimiter:
    """A token bucket: `capacity` requests at once, refilled at one per `interval` seconds."""

    def __init__(
        self,
        interval: float,
        *,
        capacity: int = 10,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._interval = max(interval, 0.0)
        self._capacity = capacity
        self._tokens = float(capacity)
        self._clock = clock
        self._sleep = sleep
        self._at = clock()
        self.waited_seconds = 0.0

    def _refill(self) -> None:
        now = self._clock()
        if self._interval > 0:
            self._tokens = min(self._capacity, self._tokens + (now - self._at) / self._interval)
        else:
            self._tokens = float(self._capacity)
        self._at = now

    async def before(self, method: str, url: str, cost: float, *, is_read: bool) -> None:
        self._refill()
        if is_read and self._tokens < 1:
            wait = (1 - self._tokens) * self._interval
            self.waited_seconds += wait
            await self._sleep(wait)
            self._refill()
        self._tokens -= 1  # a send may take the bucket below zero: later reads pay for it

    def after(self, method: str, url: str, cost: float, headers: Mapping[str, str] | None) -> None:
        return None


Limiter = UsageLimiter | BurstLimiter
