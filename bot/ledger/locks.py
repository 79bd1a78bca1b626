"""One actor per venue: an exclusive lock per venue, held for the length of a cycle.

With a SQLite ledger the lock is an OS file lock (`flock`) on a file per venue beside the
ledger; with a PostgreSQL ledger (processes may then run on several hosts) it is a session
advisory lock on the server. The kernel, or the server when the session ends, drops the lock
however the holder exits (a SIGKILL included), so a crash never leaves a venue locked; and the
holder leaves its name (the file's content, the session's application_name) so that the
second process can say who is in the way.
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
from typing import IO, Any

from sqlalchemy import Engine, text

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


def advisory_key(venue: str) -> int:
    """A stable signed 64-bit advisory-lock key for a venue name."""
    digest = hashlib.sha256(f"bot venue lock:{venue}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextmanager
def postgres_venue_locks(engine: Engine, venues: Iterable[str], command: str) -> Iterator[None]:
    """Session advisory locks on one dedicated connection, held for the block."""
    info = holder_info(command)
    name = f"bot {command} pid {info['pid']} on {info['host']}"[:63]
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("SELECT set_config('application_name', :name, false)"), {"name": name})
        try:
            for venue in sorted(set(venues)):
                key = advisory_key(venue)
                if not conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar():
                    raise VenueBusy(_postgres_holder(conn, venue, key))
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock_all()"))


def advisory_holder(conn: Any, key: int) -> Any:
    """The session holding advisory lock `key` (its application_name and backend_start, from
    pg_locks and pg_stat_activity), or None."""
    return conn.execute(
        text(
            "SELECT a.application_name, a.backend_start FROM pg_locks l "
            "JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
            "AND l.classid = :classid AND l.objid = :objid"
        ),
        {"classid": (key >> 32) & 0xFFFFFFFF, "objid": key & 0xFFFFFFFF},
    ).first()


def _postgres_holder(conn, venue: str, key: int) -> str:  # type: ignore[no-untyped-def]
    """Name the session holding the lock, from pg_locks and pg_stat_activity."""
    row = advisory_holder(conn, key)
    if row is None:
        return describe_holder(venue, None)
    since = row.backend_start.isoformat(timespec="seconds") if row.backend_start else "?"
    return f"venue {venue} is busy: held by {row.application_name} since {since}; wait for it"
