"""`bot status` tells from the ledger and the lock files alone whether the bot is healthy,
and exits 1 when something needs a person."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path

import pytest

from bot.health.status import STREAM_DOWN_ATTENTION
from bot.health.streams import StreamBoard, streams_dir
from bot.ledger import Ledger
from bot.ledger.run_lock import run_lock
from bot.model import PlannedTransfer, Rule, TransferStatus
from bot.paper import PaperExchangeThread
from tests.unattended.conftest import ETH_HEDGE, live_venue


@pytest.fixture
def config_path(
    paper: PaperExchangeThread, venue_env: None, write_config: Callable[..., Path]
) -> Path:
    return write_config({"binance": live_venue(paper.base_url)}, {"eth": ETH_HEDGE})


def test_status_after_a_rebalance_is_healthy_and_calls_no_venue(
    config_path: Path, bot: Callable[..., object], paper: PaperExchangeThread
) -> None:
    assert bot("rebalance", config=config_path).exit_code == 0  # type: ignore[attr-defined]
    paper.stop()  # status must not need the venue
    result = bot("status", config=config_path)
    assert result.exit_code == 0, result.stdout  # type: ignore[attr-defined]
    out = result.stdout  # type: ignore[attr-defined]
    assert "bot run: not running" in out and "job rebalance: never ran" in out
    # the margin after the top-up (0.30 before it): the cycle read the venue again after moving
    assert (
        "hedge eth: margin ratio 0.5000 (equity 7499.99999999 / notional 15000 USDT; "
        "cross linear USDT; band 0.4-0.6, danger 0.25) read " in out
    )
    assert "open transfers: none" in out and out.rstrip().endswith("ok")


def test_status_names_the_runner_and_what_needs_a_person(
    config_path: Path, bot: Callable[..., object], tmp_path: Path
) -> None:
    ledger = Ledger.open(f"sqlite:///{tmp_path}/data/ledger.sqlite")
    try:
        job = ledger.start_job("rebalance", scheduled_at=None, late=False)
        ledger.finish_job(job, "error", error="disk on fire")
        run_id = ledger.start_run("run", dry_run=False, config_digest="x")
        item = PlannedTransfer(
            venue="binance", hedges=("eth",), asset="USDT", from_account="spot",
            to_account="linear", amount=D("100"), rule=Rule.TOP_UP, reason="", figures={},
        )  # fmt: skip
        unknown = ledger.record_intent(run_id, item, amount=D("100"), inputs={})
        ledger.record_outcome(unknown.id, TransferStatus.UNKNOWN, error="timed out")
        ledger.fire_alert("job:rebalance", "job rebalance crashed: disk on fire", sent=True)
        with run_lock(ledger.engine, tmp_path / "data" / "locks", ["binance"]):
            result = bot("status", config=config_path)
            listed = bot("status", "--json", config=config_path)
    finally:
        ledger.close()
    assert result.exit_code == 1  # type: ignore[attr-defined]
    out = result.stdout  # type: ignore[attr-defined]
    assert f"bot run: running for binance: pid {os.getpid()}" in out
    assert "job rebalance: error" in out and "disk on fire" in out
    assert f"transfer {unknown.id}: unknown 100 USDT on binance" in out
    assert "alert: job rebalance crashed: disk on fire" in out
    assert "needs attention:" in out
    doc = listed.json()  # type: ignore[attr-defined]
    assert listed.exit_code == 1 and doc["needs_attention"] is True  # type: ignore[attr-defined]
    assert doc["run"]["running"] is True
    assert doc["run"]["venues"]["binance"]["pid"] == os.getpid()
    assert doc["jobs"]["rebalance"]["status"] == "error"
    assert [t["id"] for t in doc["open_transfers"]] == [unknown.id]
    assert [a["key"] for a in doc["alerts"]] == ["job:rebalance"]


def test_status_shows_the_guard_streams_bot_run_published(
    config_path: Path, bot: Callable[..., object], tmp_path: Path
) -> None:
    """`bot run` publishes its streams' states to the data dir (`StreamBoard`); status shows
    them while that run holds the venue: a stream down is information (the poll covers the
    venue) and needs a person only once down longer than `STREAM_DOWN_ATTENTION`."""
    data = tmp_path / "data"
    ledger = Ledger.open(f"sqlite:///{data}/ledger.sqlite")
    long_ago = datetime.now(UTC) - STREAM_DOWN_ATTENTION - timedelta(minutes=5)
    board = StreamBoard(streams_dir(data), clock=lambda: long_ago)
    board.set("binance", "linear balance", True)
    board.set("binance", "linear mark prices", False, "linear mark prices silent for 5 s")
    try:
        result = bot("status", config=config_path)
        assert "stream binance" not in result.stdout  # type: ignore[attr-defined]  # no holder
        with run_lock(ledger.engine, data / "locks", ["binance"]):
            result = bot("status", config=config_path)
            listed = bot("status", "--json", config=config_path)
    finally:
        ledger.close()
    out = result.stdout  # type: ignore[attr-defined]
    assert "streams binance: up: linear balance" in out
    down = "stream binance linear mark prices: down since "
    assert down in out and "silent for 5 s; the guard's poll covers the venue meanwhile" in out
    assert result.exit_code == 1 and "needs attention:" in out  # type: ignore[attr-defined]
    doc = listed.json()  # type: ignore[attr-defined]
    assert doc["streams"]["binance"]["linear mark prices"]["up"] is False
    assert any(line.startswith(down) for line in doc["attention"])
    board.close()
    assert "stream binance" not in bot("status", config=config_path).stdout  # type: ignore[attr-defined]
