"""The venue applied the transfer, then the ledger refused to record it: one line, exit 1, the
row stays pending, and the next run settles it against the venue's history."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.ledger import Ledger, db
from bot.ledger.queries import TransferFilter, list_transfers
from bot.model import TransferStatus
from bot.paper import PaperExchangeThread
from bot.runtime import failpoints
from tests.integration.conftest import Invocation

Bot = Callable[..., Invocation]


@pytest.fixture(autouse=True)
def _disarm() -> Iterator[None]:
    yield
    failpoints.disarm_all()


def ledger_file(config: Path) -> Path:
    return config.parent / "data" / "ledger.sqlite"


def settled_by_the_next_run(paper: PaperExchangeThread, config: Path, bot: Bot) -> None:
    (pending,) = rows(config)
    assert pending.status is TransferStatus.PENDING  # neither failed nor lost
    after = bot("rebalance", config=config)
    assert after.exit_code == 0, after.stdout + after.stderr
    (settled,) = rows(config)
    (applied,) = paper.state.transfers  # moved once, never again
    assert settled.status is TransferStatus.CONFIRMED
    assert settled.exchange_id == str(applied.tran_id) and settled.amount == applied.amount


def rows(config: Path) -> list:  # type: ignore[type-arg]
    ledger = Ledger.open(f"sqlite:///{ledger_file(config)}")
    try:
        return list_transfers(ledger, TransferFilter())
    finally:
        ledger.close()


def test_a_ledger_locked_by_another_process_after_the_transfer(
    paper: PaperExchangeThread, config_file: Path, bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT_MS", 100)  # give up on the lock quickly
    other: list[sqlite3.Connection] = []

    def another_process_locks_the_ledger() -> None:
        connection = sqlite3.connect(ledger_file(config_file), isolation_level=None)
        connection.execute("BEGIN EXCLUSIVE")
        other.append(connection)

    failpoints.arm(failpoints.AFTER_RESPONSE, another_process_locks_the_ledger)
    refused = bot("rebalance", config=config_file)
    assert len(paper.state.transfers) == 1  # the venue applied it
    assert refused.exit_code == 1
    assert refused.stderr.strip().splitlines() == [
        "error: transfer 1 sent but not recorded (database is locked); it will be settled by "
        "reconciliation on the next run"
    ]
    other[0].rollback()
    other[0].close()
    settled_by_the_next_run(paper, config_file, bot)


def test_a_journal_the_disk_refuses_after_the_transfer(
    paper: PaperExchangeThread, config_file: Path, bot: Bot
) -> None:
    """The SQLite rollback journal cannot be created (here: a folder stands in its place, which
    even root cannot write over), as on a full or read-only disk."""
    journal = ledger_file(config_file).with_name("ledger.sqlite-journal")

    def the_disk_refuses() -> None:
        journal.unlink(missing_ok=True)
        journal.mkdir()

    failpoints.arm(failpoints.AFTER_RESPONSE, the_disk_refuses)
    refused = bot("rebalance", config=config_file)
    assert len(paper.state.transfers) == 1
    assert refused.exit_code == 1
    (line,) = refused.stderr.strip().splitlines()
    assert line.startswith("error: transfer 1 sent but not recorded (")
    assert line.endswith("); it will be settled by reconciliation on the next run")
    assert "Traceback" not in refused.stdout + refused.stderr
    shutil.rmtree(journal)
    settled_by_the_next_run(paper, config_file, bot)
