"""The margin guard's streams as `bot run` last saw them, for `bot status` in another process.

`bot status` never calls a venue and shares nothing with `bot run` but the data dir and the
ledger, so `bot run` writes each venue's stream states to a small JSON file in
`<data_dir>/streams/` whenever one goes up or down (written whole and renamed into place, so a
reader never sees half a file), and removes it when it stops. The file names the writer's pid:
status believes it only while that pid holds the venue's run lock, so a file a killed run left
behind says nothing. One file per venue, as `bot run`s with disjoint venues may share a data
dir. No venue code: `bot status` must not pay for ccxt here.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.ledger.locks import lock_file_name

STREAMS_DIR = "streams"


@dataclass(frozen=True)
class StreamState:
    """One stream of one venue: delivering (`up`) or not, since when, and why it went down."""

    up: bool
    since: datetime
    why: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"up": self.up, "since": _iso(self.since), "why": self.why}


@dataclass(frozen=True)
class VenueStreams:
    """What one `bot run` (`pid`) last published of one venue's streams."""

    venue: str
    pid: int
    streams: dict[str, StreamState]


def streams_dir(data_dir: Path) -> Path:
    return data_dir / STREAMS_DIR


def venue_file(folder: Path, venue: str) -> Path:
    return folder / lock_file_name(venue).replace(".lock", ".json")


class StreamBoard:
    """The stream states of this process's venues, published on every change of one."""

    def __init__(
        self,
        folder: Path | None,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        pid: int | None = None,
    ) -> None:
        self.folder = folder  # None: kept in memory only (tests, a watch without a data dir)
        self._clock = clock
        self.pid = os.getpid() if pid is None else pid
        self.states: dict[str, dict[str, StreamState]] = {}

    def set(self, venue: str, stream: str, up: bool, why: str | None = None) -> bool:
        """Record a stream's state; publish the venue's file if it changed (up/down, or a new
        reason). Returns whether it changed."""
        streams = self.states.setdefault(venue, {})
        old = streams.get(stream)
        if old is not None and old.up == up and (up or old.why == why):
            return False
        since = old.since if old is not None and old.up == up else self._clock()
        streams[stream] = StreamState(up, since, None if up else why)
        self._publish(venue)
        return True

    def close(self) -> None:
        """`bot run` stops: its files go, so status does not show streams nobody follows."""
        if self.folder is None:
            return
        for venue in self.states:
            with contextlib.suppress(FileNotFoundError):
                venue_file(self.folder, venue).unlink()

    def _publish(self, venue: str) -> None:
        if self.folder is None:
            return
        body = {
            "venue": venue,
            "pid": self.pid,
            "streams": {name: s.as_json() for name, s in sorted(self.states[venue].items())},
        }
        self.folder.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.folder, prefix=".streams-", suffix=".tmp")
        try:
            with os.fdopen(handle, "w") as out:
                json.dump(body, out)
            os.replace(temporary, venue_file(self.folder, venue))
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise


def read_venue_streams(folder: Path, venue: str) -> VenueStreams | None:
    """The venue's published streams, or None (no file, or one that cannot be read)."""
    try:
        body = json.loads(venue_file(folder, venue).read_text())
        streams = {
            name: StreamState(
                up=bool(s["up"]), since=datetime.fromisoformat(s["since"]), why=s.get("why")
            )
            for name, s in body["streams"].items()
        }
        return VenueStreams(venue=str(body["venue"]), pid=int(body["pid"]), streams=streams)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _iso(at: datetime) -> str:
    return at.isoformat(timespec="seconds").replace("+00:00", "Z")
