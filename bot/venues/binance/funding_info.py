"""Binance's funding intervals: `GET /fapi/v1/fundingInfo` (USD-M) and `GET /dapi/v1/fundingInfo`
(COIN-M) list the symbols whose funding is adjusted, with `fundingIntervalHours`; a symbol not
listed is paid every 8 hours ("Get Funding Rate Info").

One request (weight 1) per futures family, kept for `TTL`: every per-symbol funding read of a
cycle shares it, and a `bot run` sees a change within the hour. Read at connect and saved with
the cached markets (`FACT`, as the markets they are kept an hour), so a one-shot command with
fresh cached markets asks nothing. A failed read leaves the interval unknown (None) rather
than assumed."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import Any

from bot.errors import VenueError
from bot.venues.funding_interval import parse_interval

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = timedelta(hours=8)
#: the key the listed intervals are saved under with the markets (`CcxtVenue.connect_facts`):
#: family -> unified symbol -> whole seconds
FACT = "funding_intervals"
TTL_SECONDS = 3600.0

Reader = Callable[[str], Awaitable[Any]]  # family -> ccxt's fetch_funding_intervals answer


def decode_intervals(raw: Any) -> dict[str, timedelta]:
    """ccxt's answer (unified symbol -> funding-rate structure) as symbol -> interval, from
    the venue's own `fundingIntervalHours` (ccxt's `interval` where that is missing)."""
    found: dict[str, timedelta] = {}
    if not isinstance(raw, Mapping):
        return found
    for symbol, item in raw.items():
        if not isinstance(item, Mapping):
            continue
        info = item.get("info")
        stated = info.get("fundingIntervalHours") if isinstance(info, Mapping) else None
        interval = parse_interval(stated) or parse_interval(item.get("interval"))
        if interval is not None:
            found[str(symbol)] = interval
    return found


class FundingInfo:
    """The adjusted intervals of each family, read at most once per `ttl`."""

    def __init__(self, read: Reader, *, ttl: float = TTL_SECONDS) -> None:
        self._read = read
        self._ttl = ttl
        self._held: dict[str, tuple[float, dict[str, timedelta] | None]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def interval(self, family: str, symbol: str) -> timedelta | None:
        """`symbol`'s interval: listed, else the 8-hour default; None if the list was not
        read."""
        listed = await self._listed(family)
        if listed is None:
            return None
        return listed.get(symbol, DEFAULT_INTERVAL)

    def seed(self, saved: Mapping[str, Any], families: list[str]) -> bool:
        """Take the intervals saved with the cached markets (`FACT`); False when they lack a
        family or are malformed (they are read again)."""
        seeded: dict[str, dict[str, timedelta]] = {}
        for family in families:
            listed = saved.get(family)
            if not isinstance(listed, Mapping):
                return False
            seeded[family] = {}
            for symbol, seconds in listed.items():
                if not isinstance(seconds, int) or seconds <= 0:
                    return False
                seeded[family][str(symbol)] = timedelta(seconds=seconds)
        for family, listed_now in seeded.items():
            self._held[family] = (time.monotonic(), listed_now)
        return True

    async def fact(self, families: list[str]) -> dict[str, dict[str, int]] | None:
        """The families' intervals read now, as saved with the markets; None if one failed."""
        saved: dict[str, dict[str, int]] = {}
        for family in families:
            listed = await self._listed(family)
            if listed is None:
                return None
            saved[family] = {s: int(i.total_seconds()) for s, i in sorted(listed.items())}
        return saved

    async def _listed(self, family: str) -> dict[str, timedelta] | None:
        lock = self._locks.setdefault(family, asyncio.Lock())
        async with lock:  # the cycle's concurrent funding reads share one request
            held = self._held.get(family)
            if held is not None and time.monotonic() - held[0] < self._ttl:
                return held[1]
            try:
                listed: dict[str, timedelta] | None = decode_intervals(await self._read(family))
            except VenueError as exc:
                log.warning("funding intervals not read (%s); interval unknown", exc)
                listed = None
            self._held[family] = (time.monotonic(), listed)
            return listed
