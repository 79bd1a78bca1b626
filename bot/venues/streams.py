"""A venue's push streams, for the margin guard: what they say, and the interface the guard
follows (`MarginStreams`). A venue that streams implements it in its own folder
(`binance/streams.py`) and returns it from `Venue.margin_streams()`.

What comes out is only a wake-up for the guard: an account changed, or these are the marks
(decoded strictly from the venue's own text; an event that cannot be trusted is refused with
`Untrusted` like any read), or a user-data stream holds a new key (read again: what was pushed
meanwhile is lost). A stream that is connected but cannot be trusted to deliver (silent beyond
its cadence, its listen key expired or refused) fails its channel with `StreamDown`, its socket
already closed, so the next call starts afresh.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class AccountChanged:
    """The venue pushed a wallet or position change of one futures family."""

    venue: str
    family: str
    source: str  # balance | positions


@dataclass(frozen=True)
class KeptAlive:
    """The family's stream was kept alive (a listen key extended)."""

    venue: str
    family: str


@dataclass(frozen=True)
class Subscribed:
    """The family's user-data stream holds a new listen key (at start, or after the last one
    expired or was refused): changes pushed while it had none are lost, so read again."""

    venue: str
    family: str


class StreamDown(Exception):
    """A connected stream that cannot be trusted to deliver: silent beyond its documented
    cadence, or its listen key expired. Its socket is closed, so the next watch reconnects."""


@dataclass(frozen=True)
class MarksMoved:
    venue: str
    marks: Mapping[str, Decimal]  # unified perp symbol -> mark price


StreamEvent = AccountChanged | MarksMoved | KeptAlive | Subscribed
Channel = Callable[[], Awaitable[StreamEvent]]


class MarginStreams(ABC):
    """One venue's streams, per futures family of its hedged perpetuals."""

    venue: str
    #: futures family (`linear`, `inverse`) -> the hedged perpetuals streamed in it
    families: dict[str, list[str]]

    @abstractmethod
    def channels(self) -> dict[str, Channel]:
        """Each stream as a coroutine that waits for its next event, by a name for the logs."""

    @abstractmethod
    def reset(self, family: str) -> None:
        """After a stream of `family` failed: make its next watch start afresh."""
