"""A hand on the switch (issue 29): a hedge or a venue a person paused is read and reported but
never moved, by the rebalance or the guard; `bot status` names the pause of a hedge in danger;
a pause with `--for` ends by itself. Against the independent Binance fake, through the CLI."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.alerts.alerter import Alerter
from bot.alerts.channels import Channels
from bot.config import load_config
from bot.jobs.context import JobContext
from bot.ledger import Ledger
from bot.model import PauseScope
from bot.scheduler.runner import run_job
from tests.fakes.binance.config import HEDGES, write_binance_config
from tests.fakes.binance_server import BinanceFakeThread
from tests.integration.conftest import Invocation

Bot = Callable[..., Invocation]
TRANSFER = ("POST", "/sapi/v1/asset/transfer")
HEDGE = "eth_usdm_cross"


@pytest.fixture
def config(binance: BinanceFakeThread, binance_env: None, tmp_path: Path) -> Path:
    written = write_binance_config(tmp_path, binance.base_url, hedges={HEDGE: HEDGES[HEDGE]})
    binance.account.set_mark("ETHUSDT", "3700")  # 4500 - 7000 / 18500: under the danger 0.25
    return written


def pause_hedge(bot: Bot, config: Path, *extra: str) -> Invocation:
    paused = bot(
        "hedge", "pause", HEDGE, "--reason", "adjusting by hand", "--by", "alice", *extra,
        config=config,
    )  # fmt: skip
    assert paused.exit_code == 0, paused.stdout + paused.stderr
    return paused


def test_a_paused_hedge_in_danger_is_not_topped_up_and_status_names_the_pause(
    binance: BinanceFakeThread, config: Path, bot: Bot
) -> None:
    said = pause_hedge(bot, config, "--for", "2h")
    assert "hedge eth_usdm_cross paused by alice until" in said.stdout, said.stdout
    plan = bot("plan", config=config)
    assert plan.exit_code == 0, plan.stdout + plan.stderr
    assert "not moved: hedge eth_usdm_cross paused by alice" in plan.stdout, plan.stdout
    done = bot("rebalance", config=config)
    assert done.exit_code == 0, done.stdout + done.stderr
    assert binance.count(*TRANSFER) == 0
    status = bot("status", config=config)
    assert status.exit_code == 1, status.stdout
    line = [x for x in status.stdout.splitlines() if "does not move it" in x]
    assert line and "paused by alice" in line[0] and "adjusting by hand" in line[0], status.stdout
    shown = bot("status", "--json", config=config).json()
    assert shown["margins"][HEDGE]["paused"].startswith("hedge eth_usdm_cross paused by alice")
    page = config.parent / "report.html"
    assert bot("report", "--out", str(page), config=config).exit_code == 0
    html = page.read_text()
    assert "<h2>pauses</h2>" in html and "adjusting by hand" in html and ">alice<" in html
    resumed = bot("hedge", "resume", HEDGE, "--by", "alice", config=config)
    assert resumed.exit_code == 0, resumed.stdout + resumed.stderr
    assert bot("rebalance", config=config).exit_code == 0
    assert binance.count(*TRANSFER) == 1  # resumed: the top-up goes


async def test_the_guard_does_not_move_a_paused_venue(
    binance: BinanceFakeThread, config: Path, bot: Bot
) -> None:
    paused = bot("venue", "pause", "binance", "--reason", "key rotation", config=config)
    assert paused.exit_code == 0, paused.stdout + paused.stderr
    loaded = load_config(config)
    ledger = Ledger.open(loaded.ledger_url)
    try:
        alerter = Alerter(ledger, Channels(()), loaded.alerts)
        ctx = JobContext(config=loaded, ledger=ledger, alerter=alerter, say=lambda line: None)
        await run_job("guard", ctx, None)
        assert binance.count(*TRANSFER) == 0
        assert ledger.resume(PauseScope.VENUE, "binance", by="bob", reason="done") is not None
        await run_job("guard", ctx, None)
        assert binance.count(*TRANSFER) == 1
    finally:
        ledger.close()


def test_a_pause_ends_on_time_by_itself(config: Path) -> None:
    loaded = load_config(config)
    start = datetime(2026, 12, 7, 12, tzinfo=UTC)
    now = [start]
    ledger = Ledger.open(loaded.ledger_url, clock=lambda: now[0])
    try:
        until = start + timedelta(hours=2)
        record, new = ledger.pause(PauseScope.HEDGE, HEDGE, by="alice", reason="x", until=until)
        assert new and record.until == until
        assert [p.name for p in ledger.active_pauses(until - timedelta(seconds=1))] == [HEDGE]
        assert ledger.active_pauses(until) == []  # ends at its until, not a cycle later
        now[0] = until + timedelta(minutes=1)
        again, new = ledger.pause(PauseScope.HEDGE, HEDGE, by="bob", reason="y", until=None)
        assert new and again.id != record.id  # the expired one is written expired first
        (old,) = [p for p in ledger.pauses_since(None) if p.id == record.id]
        assert (old.state, old.ended_at) == ("expired", until)
    finally:
        ledger.close()


def test_an_expired_pause_lets_the_rebalance_move(
    binance: BinanceFakeThread, config: Path, bot: Bot
) -> None:
    loaded = load_config(config)
    past = datetime.now(UTC) - timedelta(hours=3)
    ledger = Ledger.open(loaded.ledger_url, clock=lambda: past)
    try:
        until = past + timedelta(hours=2)  # an hour ago
        ledger.pause(PauseScope.HEDGE, HEDGE, by="alice", reason="x", until=until)
    finally:
        ledger.close()
    assert bot("rebalance", config=config).exit_code == 0
    assert binance.count(*TRANSFER) == 1


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["hedge", "pause", HEDGE], "--reason: required"),
        (["hedge", "pause", "nope", "--reason", "x"], "hedge nope: not in config"),
        (["hedge", "pause", HEDGE, "--reason", "x", "--for", "soon"], "--for:"),
        (["hedge", "resume", HEDGE], "not paused"),
        (["venue", "pause", "nope", "--reason", "x"], "venue nope: not in config"),
    ],
)
def test_bad_arguments_are_one_line_and_record_nothing(
    binance: BinanceFakeThread, config: Path, bot: Bot, args: list[str], expected: str
) -> None:
    result = bot(*args, config=config)
    assert result.exit_code == 2, result.stdout + result.stderr
    assert expected in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert bot("rebalance", config=config).exit_code == 0
    assert binance.count(*TRANSFER) == 1  # nothing was paused


def test_pausing_twice_says_it_is_paused_already(config: Path, bot: Bot) -> None:
    pause_hedge(bot, config)
    again = bot("hedge", "pause", HEDGE, "--reason", "again", config=config)
    assert again.exit_code == 2 and "already paused" in again.stderr
