"""The ledger's engine, clock and key, and its unit of work: one short transaction per fact,
committed before the bot acts on it. The base of every concern's records (`bot.ledger.store`
composes them into `Ledger`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Self

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from bot.ledger import db, journal

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class LedgerBase:
    """The ledger's connection and its units of work, which every concern's records share.

    `key` chains the journal under HMAC-SHA256 (None: unkeyed SHA-256); `anchor_file`, when
    set, receives the chain head after each run (the log always does)."""

    def __init__(
        self,
        engine: Engine,
        clock: Clock = utc_now,
        *,
        key: bytes | None = None,
        anchor_file: Path | None = None,
    ) -> None:
        self.engine = engine
        self.key = key
        self.anchor_file = anchor_file
        self._sessions = journal.journaled_sessions(engine, key)
        self._clock = clock

    @classmethod
    def open(
        cls,
        url: str,
        clock: Clock = utc_now,
        *,
        key: bytes | None = None,
        anchor_file: Path | None = None,
    ) -> Self:
        """Open the ledger at `url`, migrate it to the newest schema, and start the chain in
        this writer's mode (keyed or not) if it is not in it already."""
        engine = db.create_ledger_engine(url)
        try:
            db.upgrade(engine)
            ledger = cls(engine, clock, key=key, anchor_file=anchor_file)
            with ledger._transaction() as session:
                journal.start_chain(session, clock())
        except DBAPIError as exc:
            engine.dispose()
            raise db.explain(exc, url) from None
        except BaseException:
            engine.dispose()
            raise
        return ledger

    @classmethod
    def open_read_only(cls, url: str, *, key: bytes | None = None) -> Self:
        """Open the ledger for an audit: the database refuses every write (SQLite `mode=ro`,
        PostgreSQL read-only transactions); never migrates, never waits on a writer for long."""
        engine = db.create_read_only_engine(url)
        return cls(engine, key=key)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _transaction(self, at: datetime | None = None) -> Iterator[Session]:
        """One unit of work, committed on leaving it (rolled back on an exception). Every
        journaled row it inserts or changes is journaled on commit (`journal.journaled_sessions`)
        with `at`, the time its entries carry: a transaction that writes one must give it."""
        with self._sessions.begin() as session:
            session.info[journal.AT_INFO] = at
            yield session
