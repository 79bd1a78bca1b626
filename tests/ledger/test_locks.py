"""One actor per venue, on either backend: the second holder is refused and told who holds it;
releasing (or dying) frees the venue."""

from __future__ import annotations

import os
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from bot.ledger import db
from bot.ledger.locks import VenueBusy, file_venue_locks, postgres_venue_locks


def locker(ledger_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    if ledger_url.startswith("sqlite"):
        return lambda venues, command: file_venue_locks(tmp_path / "locks", venues, command)
    engines = [db.create_ledger_engine(ledger_url) for _ in range(2)]  # two "processes"
    calls = iter(engines * 4)
    return lambda venues, command: postgres_venue_locks(next(calls), venues, command)


def test_the_second_holder_is_told_who_holds_the_venue(ledger_url: str, tmp_path: Path) -> None:
    lock = locker(ledger_url, tmp_path)
    first: AbstractContextManager[None] = lock(["binance", "okx"], "bot run")
    with first:
        with pytest.raises(VenueBusy) as busy, lock(["binance"], "bot rebalance"):
            pass
        message = str(busy.value)
        assert message.startswith("venue binance is busy: held by")
        assert f"pid {os.getpid()}" in message and "bot run" in message
        with lock(["bybit"], "bot rebalance"):  # another venue is free
            pass
    with lock(["binance"], "bot rebalance"):  # released
        pass
