"""One `bot run` per venue: a lock per venue held for the life of `bot run`.

Beside the per-venue cycle locks (bot/ledger/locks.py, held for one cycle, which `bot
rebalance` also takes), `bot run` holds a run lock on each of its venues from start to exit: a
second `bot run` whose venues overlap is refused at start with the holder's pid, command and
start time; `bot run`s with disjoint venues share one ledger (on PostgreSQL, from several
hosts). File locks beside a SQLite ledger, session advisory locks on PostgreSQL: the kernel or
the server drops them however the holder dies. `bot status` reads them without taking them.
"""

from __future__ import annotations

import fcntl
import json
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

from bot.ledger.locks import (
    VenueBusy,
    advisory_holder,
    advisory_key,
    holder_info,
    lock_file_name,
)

RUN_PREFIX = "run-"


def run_lock_key(venue: str) -> int:
    return advisory_key(f"bot run:{venue}")


def describe(venue: str, holder: dict[str, Any] | None) -> str:
    if not holder:
        return f"venue {venue}: another bot run already runs it; stop that one first"
    return (
        f"venue {venue}: bot run is already running it: pid {holder.get('pid')} "
        f"({holder.get('command')}) on {holder.get('host')} since {holder.get('since')}; "
        "stop that one first, or give each bot run its own venues"
    )


@contextmanager
def run_lock(
    engine: Engine, lock_dir: Path, venues: Iterable[str], command: str = "bot run"
) -> Iterator[dict[str, Any]]:
    """Hold the run lock of every venue; raise `VenueBusy` (exit 2) naming the holder."""
    wanted = sorted(set(venues))
    if engine.dialect.name == "postgresql":
        with _postgres_run_lock(engine, wanted, command) as info:
            yield info
        return
    lock_dir.mkdir(parents=True, exist_ok=True)
    info = holder_info(command)
    with ExitStack() as stack:
        for venue in wanted:
            handle = stack.enter_context(
                (lock_dir / (RUN_PREFIX + lock_file_name(venue))).open("a+")
            )
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                raise VenueBusy(describe(venue, _parse(handle.read()))) from None
            handle.seek(0)
            handle.truncate()
            handle.write(json.dumps({**info, "venue": venue}))
            handle.flush()
            stack.callback(fcntl.flock, handle, fcntl.LOCK_UN)
        yield info


@contextmanager
def _postgres_run_lock(engine: Engine, venues: list[str], command: str) -> Iterator[dict[str, Any]]:
    info = holder_info(command)
    name = f"bot run pid {info['pid']} on {info['host']}"[:63]
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("SELECT set_config('application_name', :name, false)"), {"name": name})
        try:
            for venue in venues:
                key = run_lock_key(venue)
                if not conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar():
                    raise VenueBusy(describe(venue, _postgres_holder(conn, key)))
            yield info
        finally:
            conn.execute(text("SELECT pg_advisory_unlock_all()"))


def _postgres_holder(conn: Any, key: int) -> dict[str, Any] | None:
    row = advisory_holder(conn, key)
    if row is None:
        return None
    parts = str(row.application_name).split()  # "bot run pid N on HOST"
    pid = parts[3] if len(parts) > 3 else "?"
    host = parts[5] if len(parts) > 5 else "?"
    since = row.backend_start.isoformat(timespec="seconds") if row.backend_start else "?"
    return {"pid": pid, "command": "bot run", "host": host, "since": since}


def run_holders(engine: Engine, lock_dir: Path, venues: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Which venues a `bot run` holds now, and who: read without keeping any lock."""
    found: dict[str, dict[str, Any]] = {}
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            for venue in sorted(set(venues)):
                holder = _postgres_holder(conn, run_lock_key(venue))
                if holder is not None:
                    found[venue] = holder
        return found
    for venue in sorted(set(venues)):
        path = lock_dir / (RUN_PREFIX + lock_file_name(venue))
        if not path.exists():
            continue
        with path.open("a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                found[venue] = _parse(handle.read()) or {}
            else:
                fcntl.flock(handle, fcntl.LOCK_UN)
    return found


def _parse(content: str) -> dict[str, Any] | None:
    try:
        value = json.loads(content or "null")
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
