"""The CLI's contract: commands, exit codes, one-line errors that name the field and the fix."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.paper import PaperExchangeThread, StateStore
from tests.integration.conftest import ETH_HEDGE, KEY_ENV, Invocation, live_venue
from tests.waiting import DEADLINE

Bot = Callable[..., Invocation]
ROOT = Path(__file__).resolve().parents[2]


def one_line_error(result: Invocation) -> str:
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_quick_start_on_a_fresh_machine(
    tmp_path: Path, bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's first command: the default config, the built-in paper exchange, no keys.
    The first run is a real `python -m bot` process; the second, which only has to find the
    first one's work, runs in-process in the same folder (a process start is seconds here)."""
    shutil.copy(ROOT / "config.yaml", tmp_path / "config.yaml")
    env = {k: v for k, v in os.environ.items() if k != "BOT_CONFIG"}
    first = subprocess.run(
        [sys.executable, "-m", "bot", "rebalance"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert first.returncode == 0, first.stderr
    assert "spot -> linear 3000 USDT" in first.stdout and "confirmed" in first.stdout
    state = StateStore.load(tmp_path / "data" / "paper-paper.json")
    assert [(t.type, str(t.amount)) for t in state.transfers] == [
        ("MAIN_UMFUTURE", "2999.99999999")
    ]  # intent 1: tag 0.00000001
    monkeypatch.delenv("BOT_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    second = bot("rebalance")
    assert second.exit_code == 0 and "nothing to move" in second.stdout, second.stderr
    assert len(StateStore.load(tmp_path / "data" / "paper-paper.json").transfers) == 1


def test_plan_and_balances_show_the_numbers(config_file: Path, bot: Bot) -> None:
    plan = bot("plan", "--json", config=config_file)
    assert plan.exit_code == 0
    (item,) = plan.json()["transfers"]
    assert item["amount"] == "3000" and item["figures"]["margin_ratio"] == "0.3"
    balances = bot("balances", config=config_file)
    assert balances.exit_code == 0
    for expected in ("linear", "USDT", "ETH/USDT:USDT", "short", "0.3", "[0.4, 0.6]"):
        assert expected in balances.stdout
    as_json = bot("balances", "--json", config=config_file).json()
    wallets = {(w["account"], w["asset"]): w for w in as_json["venues"]["binance"]["wallets"]}
    assert wallets[("linear", "USDT")]["transferable"] == "3000"  # 4500 - 1500 initial margin


def test_ledger_list_filters(paper: PaperExchangeThread, config_file: Path, bot: Bot) -> None:
    assert bot("rebalance", "--dry-run", config=config_file).exit_code == 0
    assert bot("rebalance", config=config_file).exit_code == 0
    rows = bot("ledger", "list", "--json", config=config_file).json()
    assert [r["status"] for r in rows] == ["dry_run", "confirmed"]
    for key in (
        "id",
        "run_id",
        "created_at",
        "venue",
        "asset",
        "from_account",
        "to_account",
        "planned_amount",
        "amount",
        "status",
        "exchange_id",
        "attempts",
        "error",
        "reason",
    ):
        assert key in rows[0]
    assert bot("ledger", "list", "--json", "--venue", "nope", config=config_file).json() == []
    assert (
        len(bot("ledger", "list", "--json", "--since", "2020-01-01", config=config_file).json())
        == 2
    )
    assert bot("ledger", "list", "--json", "--since", "2999-01-01", config=config_file).json() == []
    assert "confirmed" in bot("ledger", "list", config=config_file).stdout


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["ledger", "list", "--since", "garbage"],
            "error: --since: 'garbage' is not a date (use 2026-11-01",
        ),
        (
            ["ledger", "list", "--status", "done"],
            "error: --status: 'done' is not one of pending, unknown, confirmed",
        ),
        (["ledger", "list", "--limit", "0"], "error: --limit: must be 1 or more, got 0"),
        (["ledger", "list", "--limit", "many"], "error: --limit: 'many' is not a whole number"),
        (["rebalance", "--bogus"], "error: --bogus: no such option for bot rebalance"),
        (["rebalance", "--dry-rn"], "(did you mean --dry-run?)"),
        (["rebalanse"], "error: No such command 'rebalanse'"),
        (["paper", "serve", "--port", "70000"], "error: --port: 70000 is out of range"),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(
    config_file: Path, bot: Bot, args: list[str], expected: str
) -> None:
    line = one_line_error(bot(*args, config=config_file))
    assert line.startswith(expected) or expected in line, line
    assert "Value error" not in line and "╭" not in line


@pytest.mark.parametrize(
    ("venue_change", "hedge_change", "expected"),
    [
        ({"exchange": "binanse"}, {}, "venues.binance.exchange: unknown exchange id 'binanse'"),
        (  # the misspelt id is the problem, not the key variables nobody set for it
            {"exchange": "binanse", "api_key_env": "UNSET_KEY", "secret_env": "UNSET_SECRET"},
            {},
            "venues.binance.exchange: unknown exchange id 'binanse'",
        ),
        (
            {"api_key_env": "NOT_SET_ANYWHERE"},
            {},
            "venues.binance.api_key_env: environment variable NOT_SET_ANYWHERE is not set",
        ),
        (
            {},
            {"perp": "ETH/USDT"},
            "hedges.eth.perp: ETH/USDT is not a linear or inverse perpetual swap",
        ),
        (
            {},
            {"perp": "DOGE/USDT:USDT"},
            "hedges.eth.perp: DOGE/USDT:USDT is not a market on binance",
        ),
        ({}, {"spot": "ETH/BTC"}, "hedges.eth.spot: ETH/BTC is not a spot market"),
        (
            {"urls": {"nope": "http://127.0.0.1:1"}},
            {},
            "venues.binance.urls.nope: not a key of binance's urls['api']",
        ),
    ],
)
def test_config_check_names_the_field_and_the_fix(
    paper: PaperExchangeThread,
    venue_env: None,
    write_config: Callable[..., Path],
    bot: Bot,
    venue_change: dict,
    hedge_change: dict,
    expected: str,
) -> None:
    venue = live_venue(paper.base_url)
    venue.update(venue_change) if "urls" not in venue_change else venue["urls"].update(
        venue_change["urls"]
    )
    config = write_config({"binance": venue}, {"eth": {**ETH_HEDGE, **hedge_change}})
    for command in (["config", "check"], ["rebalance"]):
        assert expected in one_line_error(bot(*command, config=config))
    assert paper.state.transfers == ()


def test_config_check_passes_and_never_prints_secrets(
    config_file: Path, bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = bot("config", "check", config=config_file)
    assert result.exit_code == 0, result.stderr
    assert "config ok" in result.stdout and "venue binance" in result.stdout
    assert os.environ[KEY_ENV] not in result.stdout


def test_missing_config_file_is_exit_2(tmp_path: Path, bot: Bot) -> None:
    line = one_line_error(bot("plan", config=tmp_path / "missing.yaml"))
    assert "config file not found" in line


def test_unreachable_venue_is_one_line_and_exit_1(
    venue_env: None, write_config: Callable[..., Path], bot: Bot
) -> None:
    venues = {"binance": live_venue("http://127.0.0.1:9")}
    config = write_config(venues, {"eth": ETH_HEDGE}, retry={"attempts": 1})
    result = bot("rebalance", config=config)
    assert result.exit_code == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: venue binance:") and "Cannot connect" in line


def test_help_shows_no_secrets(bot: Bot, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT_CONFIG", "config.yaml")
    result = bot("--help")
    assert result.exit_code == 0 and "rebalance" in result.stdout
    assert json.dumps(result.stdout)  # printable


async def test_paper_serve_alone_serves_any_ccxt_binance_client(tmp_path: Path) -> None:
    """`bot paper serve` runs the paper exchange on its own port for any ccxt client."""
    import asyncio

    import ccxt.async_support as ccxt_async

    from bot.paper import PAPER_API_KEY, PAPER_SECRET, binance_urls

    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "paper",
        "serve",
        "--port",
        "0",
        "--state",
        str(tmp_path / "served.json"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), DEADLINE)).decode()
        assert line.startswith("paper exchange on http://127.0.0.1:"), line
        base_url = line.split()[3]
        client = ccxt_async.binance({"apiKey": PAPER_API_KEY, "secret": PAPER_SECRET})
        client.urls["api"] = binance_urls(base_url, client.urls["api"])
        balance = await client.fetch_balance({"type": "swap", "subType": "linear"})
        await client.close()
        assert balance["USDT"]["total"] == 4500
    finally:
        process.terminate()
        await process.wait()
    assert (tmp_path / "served.json").exists()
