"""One actor per venue: an exclusive lock per venue, held for the length of a cycle.

The lock is an OS file lock (`flock`) on a file per venue beside the ledger. The kernel drops
it when the process exits, however it exits (a SIGKILL included), so a crash never leaves a
venue locked; the file keeps who holds it, so the second process can say who is in the way.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import socket
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from bot.errors import UserFacingError


class VenueBusy(UserFacingError):
    """Another process is acting on the venue right now."""


def holder_info(command: str) -> dict[str, object]:
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "command": command,
        "since": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
    }


def describe_holder(venue: str, holder: dict[str, object] | None) -> str:
    if not holder:
        return f"venue {venue} is busy: another bot process holds its lock; wait for it to finish"
    return (
        f"venue {venue} is busy: held by pid {holder.get('pid')} ({holder.get('command')}) on "
        f"{holder.get('host')} since {holder.get('since')}; wait for it to finish or stop it"
    )


def lock_file_name(venue: str) -> str:
    """A file name for any venue name (config keys may hold characters a path cannot)."""
    slug = re.sub(r"[^A-Za-z0-9_.-]", "_", venue)[:40]
    digest = hashlib.sha256(venue.encode()).hexdigest()[:8]
    return f"{slug}-{digest}.lock"


@contextmanager
def file_venue_locks(lock_dir: Path, venues: Iterable[str], command: str) -> Iterator[None]:
    """Hold an exclusive lock on each venue (taken in sorted order, so two processes that
    want overlapping sets cannot deadlock); raise `VenueBusy` naming the holder otherwise."""
    lock_dir.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        for venue in sorted(set(venues)):
            handle = stack.enter_context((lock_dir / lock_file_name(venue)).open("a+"))
            _take(handle, venue, command)
            stack.callback(fcntl.flock, handle, fcntl.LOCK_UN)
        yield


def _take(handle: IO[str], venue: str, command: str) -> None:
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        try:
            holder = json.loads(handle.read() or "null")
        except ValueError:
            holder = None
        raise VenueBusy(describe_holder(venue, holder)) from None
    handle.seek(0)
    handle.truncate()
    handle.write(json.dumps(holder_info(command)))
    handle.flush()
