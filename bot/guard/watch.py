"""The margin guard between polls: the venues' own streams say when to look again.

For every connected venue that streams (`MarginStreams`: account changes and mark prices over
ccxt.pro, listen key kept alive), `MarginWatch` follows each stream and wakes that venue's
guard check at once when
- the account changed (a transfer, a funding payment, a trade): the last trusted read is
  stale, so read again;
- the streamed mark takes a hedge's estimated margin ratio (`guard_estimate`) under, or close
  to, `alerts.danger_margin_ratio` since the last trusted read.

A check is the guard itself (a REST read judged as every read is, a top-up under the venue
lock if still in danger), at most one at a time per venue and at most one per `min_gap`
seconds; wake-ups meanwhile are merged into the next check. A stream that fails (a dropped
socket, or one the venue's streams found silent beyond its cadence or on an expired listen key:
`StreamDown`) is logged once, shown down (`bot_guard_stream_up` 0, and in `bot status` through
the `StreamBoard` file) and retried on a new listen key, at once and then with backoff, while
the scheduled guard poll, which runs whatever the streams do, covers the venue. When it is back
(its first event, or a new listen key) the venue is read again. Trusted reads come in from every
job (`observe`), so the estimate always starts from the newest one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from typing import Any

from bot.config import Config
from bot.guard.estimate import check_reason, estimated_margins
from bot.health.streams import StreamBoard
from bot.model import State
from bot.policy.margin import HedgeMargin, hedge_margins
from bot.runtime.logs import log_context
from bot.runtime.redact import redact
from bot.venues.streams import (
    AccountChanged,
    Channel,
    KeptAlive,
    MarginStreams,
    MarksMoved,
    StreamEvent,
    Subscribed,
)

log = logging.getLogger(__name__)

#: the venues with streams right now (`OpenVenues.streams`); venues that connect later join
StreamsSource = Callable[[], Mapping[str, MarginStreams]]
#: run the guard on one venue now, for this reason
Check = Callable[[str, str], Awaitable[None]]

MIN_GAP_SECONDS = 1.0
BACKOFF_SECONDS = (1.0, 60.0)  # the wait before the second retry, the longest wait
JOIN_EVERY_SECONDS = 30.0  # how often venues that connected late are picked up


class MarginWatch:
    def __init__(
        self,
        config: Config,
        streams: StreamsSource,
        check: Check,
        *,
        metrics: Any = None,
        board: StreamBoard | None = None,
        min_gap: float = MIN_GAP_SECONDS,
        backoff: tuple[float, float] = BACKOFF_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.config = config
        self._streams = streams
        self._check = check
        self._metrics = metrics
        self.board = board if board is not None else StreamBoard(None)  # for `bot status`
        self.min_gap = min_gap
        self.backoff = backoff
        self._clock = clock
        self._sleep = sleep  # with `clock`, injected so a test can run the gaps without waiting
        self._trusted: dict[str, State] = {}  # venue -> the newest trusted read of it
        self._trusted_margins: dict[str, dict[str, HedgeMargin]] = {}  # venue -> as read
        self._marks: dict[str, dict[str, Decimal]] = {}  # venue -> last streamed marks
        self._wake: dict[str, asyncio.Event] = {}
        self._why: dict[str, str] = {}
        self._last_check: dict[str, float] = {}
        self._following: dict[str, list[asyncio.Task[None]]] = {}
        self._checking: set[str] = set()
        self._checkers: dict[str, asyncio.Task[None]] = {}
        self._stopping = False
        self._stop = asyncio.Event()

    # what the jobs tell it -------------------------------------------------------------------

    def observe(self, state: State) -> None:
        """A trusted read (any job's): the estimate of each venue in it starts from here."""
        for venue in state.venues:
            read = State(read_at=state.read_at, venues={venue: state.venues[venue]})
            self._trusted[venue] = read
            on_venue = {n: h for n, h in self.config.hedges.items() if h.venue == venue}
            self._trusted_margins[venue] = hedge_margins(read, on_venue)

    # running ---------------------------------------------------------------------------------

    async def run(self) -> None:
        """Follow every streaming venue until `stop`; venues that connect later join."""
        while not self._stopping:
            for venue, streams in self._streams().items():
                if venue not in self._following and streams.families:
                    self._follow(venue, streams)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), JOIN_EVERY_SECONDS)

    def following(self) -> list[str]:
        return sorted(self._following)

    def _follow(self, venue: str, streams: MarginStreams) -> None:
        self._wake[venue] = asyncio.Event()
        self._checkers[venue] = asyncio.create_task(self._checker(venue))
        channels = streams.channels()
        self._following[venue] = [
            asyncio.create_task(self._listen(venue, streams, name, channel))
            for name, channel in channels.items()
        ]
        log.info("%s: guard follows %s", venue, ", ".join(channels))

    async def stop(self) -> set[asyncio.Task[None]]:
        """No new check; streams closed. Returns the checks still running (a top-up finishing
        its transfer and ledger write), for the caller's bounded wait."""
        self._stopping = True
        self._stop.set()
        listeners = [t for tasks in self._following.values() for t in tasks]
        for task in listeners:
            task.cancel()
        await asyncio.gather(*listeners, return_exceptions=True)
        self.board.close()
        busy = set()
        for venue, checker in self._checkers.items():
            if venue in self._checking:
                busy.add(checker)
            else:
                checker.cancel()
        return busy

    async def _listen(
        self, venue: str, streams: MarginStreams, name: str, channel: Channel
    ) -> None:
        family = name.split(" ", 1)[0]
        failures = 0
        with log_context(venue=venue):
            while not self._stopping:
                try:
                    event = await channel()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    failures += 1
                    why = redact(str(exc)) or type(exc).__name__
                    self._up(venue, name, False, why)
                    if failures == 1:
                        log.warning(
                            "%s: %s stream failed (%s); the guard polls it meanwhile",
                            venue,
                            name,
                            why,
                        )
                    if not name.endswith("mark prices"):  # user data: ask for a new key
                        streams.reset(family)
                    await self._sleep(self._retry_after(failures))
                    continue
                if failures:
                    log.info("%s: %s stream is back", venue, name)
                    failures = 0
                    self._wake_up(venue, f"{name} stream back: read again")
                self._up(venue, name, True)
                self._on(event)

    def _retry_after(self, failures: int) -> float:
        """A dropped stream is tried again at once (Binance closes an expired key's stream),
        then after `backoff[0]`, doubling up to `backoff[1]`."""
        if failures <= 1:
            return 0.0
        return float(min(self.backoff[1], self.backoff[0] * 2 ** (failures - 2)))

    def _on(self, event: StreamEvent) -> None:
        if isinstance(event, KeptAlive | Subscribed):
            return
        if isinstance(event, AccountChanged):
            self._count(event.venue, "account")
            self._wake_up(event.venue, f"{event.family} {event.source} changed")
            return
        assert isinstance(event, MarksMoved)
        marks = self._marks.setdefault(event.venue, {})
        marks.update(event.marks)
        reason = self.reason(event.venue)
        if reason is not None:
            self._count(event.venue, "mark")
            self._wake_up(event.venue, reason)

    def reason(self, venue: str) -> str | None:
        """Why the streamed marks call for a check of `venue` now (None: they do not)."""
        trusted = self._trusted.get(venue)
        if trusted is None:
            # read once to have a start; a venue whose reads fail is not asked every tick
            last = self._last_check.get(venue)
            recent = last is not None and self._clock() - last < JOIN_EVERY_SECONDS
            return None if recent else "no trusted read yet"
        danger = self.config.alerts.danger_margin_ratio
        marks = self._marks.get(venue, {})
        read = self._trusted_margins[venue]
        for name, estimate in estimated_margins(trusted, venue, marks, self.config.hedges).items():
            if name in read:
                why = check_reason(read[name], estimate, danger)
                if why is not None:
                    return f"hedge {name}: {why}"
        return None

    def _wake_up(self, venue: str, why: str) -> None:
        if self._stopping or venue not in self._wake:
            return
        self._why.setdefault(venue, why)
        self._wake[venue].set()

    async def _checker(self, venue: str) -> None:
        wake = self._wake[venue]
        while not self._stopping:
            await wake.wait()
            since = self._clock() - self._last_check.get(venue, float("-inf"))
            if since < self.min_gap:
                await self._sleep(self.min_gap - since)
            if self._stopping:
                return
            wake.clear()
            why = self._why.pop(venue, "streamed")
            self._checking.add(venue)
            self._last_check[venue] = self._clock()
            try:
                with log_context(venue=venue):
                    log.info("%s: guard woken by the stream: %s", venue, why)
                await self._check(venue, why)
            except Exception as exc:  # the check records its own failure; the watch goes on
                log.warning("%s: guard check failed: %s", venue, redact(str(exc)))
            finally:
                self._checking.discard(venue)

    def _up(self, venue: str, channel: str, up: bool, why: str | None = None) -> None:
        if self._metrics is not None:
            self._metrics.stream_up.labels(venue, channel).set(1 if up else 0)
        self.board.set(venue, channel, up, why)

    def _count(self, venue: str, cause: str) -> None:
        if self._metrics is not None:
            self._metrics.stream_wakeups.labels(venue, cause).inc()
