"""CLI conventions: `-h` everywhere, shell completion, `--json` on every command that prints a
table, each JSON document versioned by `schema`, JSON Lines with no header, one money format,
and `bot venues` saying what an unreachable venue's class can do."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.conftest import ETH_HEDGE, Invocation, live_venue

Bot = Callable[..., Invocation]
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["rebalance"],
        ["venues"],
        ["reconcile"],
        ["ledger"],
        ["ledger", "list"],
        ["paper", "mark"],
        ["paper", "reset"],
        ["alerts", "send"],
        ["venue", "resume"],
    ],
)
def test_dash_h_is_help_everywhere(bot: Bot, command: list[str]) -> None:
    short, long = bot(*command, "-h"), bot(*command, "--help")
    assert short.exit_code == 0, short.stderr
    assert short.stdout == long.stdout and short.stdout.startswith("Usage: bot")
    assert "-h, --help" in short.stdout


def test_shell_completion_is_offered_and_completes_commands(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "_BOT_COMPLETE": "complete_bash",
        "COMP_WORDS": "bot pa",
        "COMP_CWORD": "1",
    }
    done = subprocess.run(
        [sys.executable, "-m", "bot"], env=env, capture_output=True, text=True, check=False
    )
    assert done.stdout.split() == ["paper"], done.stderr
    # typer detects the shell from the parent processes, which a test runner may not have
    # (pytest started by a daemon): name it, as `--show-completion bash` then does
    no_detection = {**os.environ, "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}
    shown = subprocess.run(
        [sys.executable, "-m", "bot", "--show-completion", "bash"],
        env=no_detection,
        capture_output=True,
        text=True,
        check=False,
    )
    assert shown.returncode == 0 and "_BOT_COMPLETE" in shown.stdout, shown.stderr


def test_json_documents_carry_their_schema_and_jsonl_has_no_header(
    config_file: Path, bot: Bot
) -> None:
    assert bot("rebalance", config=config_file).exit_code == 0
    for command in (
        ["venues", "--json"],
        ["reconcile", "--json"],
        ["plan", "--json"],
        ["balances", "--json"],
        ["status", "--json"],
        ["ledger", "summary", "--json"],
        ["ledger", "show", "1", "--json"],
    ):
        result = bot(*command, config=config_file)
        assert result.json()["schema"] == 1, command
    venues = bot("venues", "--json", config=config_file).json()["venues"]
    assert venues["binance"]["reachable"] and venues["binance"]["exchange_id"] == "binance"
    assert bot("reconcile", "--json", config=config_file).json()["unsettled"] == []
    (row,) = bot("ledger", "list", "--json", config=config_file).json()
    assert row["schema"] == 1
    lines = bot("ledger", "list", "--format", "jsonl", config=config_file).stdout.splitlines()
    (line,) = lines  # one transfer, one line: no {"columns": ...} first
    parsed = json.loads(line)
    assert parsed["schema"] == 1 and parsed["id"] == row["id"] and "columns" not in parsed


def test_equity_is_written_exact_in_every_command(config_file: Path, bot: Bot) -> None:
    """The same figure reads the same in bot balances (table and JSON) and bot status."""
    assert bot("rebalance", config=config_file).exit_code == 0
    margins = bot("balances", "--json", config=config_file).json()["margins"]
    equity = margins["eth"]["equity"]
    assert equity == "7499.99999999"
    assert equity in bot("balances", config=config_file).stdout
    assert equity in bot("status", config=config_file).stdout


def test_an_unreachable_venue_still_shows_its_exchange_and_class(
    venue_env: None, write_config: Callable[..., Path], bot: Bot
) -> None:
    venues = {"binance": live_venue("http://127.0.0.1:9")}
    config = write_config(venues, {"eth": ETH_HEDGE}, retry={"attempts": 1})
    table = bot("venues", config=config)
    assert table.exit_code == 1
    (row,) = [line for line in table.stdout.splitlines() if "binance (unreachable)" in line]
    cells = [cell.strip() for cell in row.strip("│ ").split("│")]
    assert cells[1:6] == ["binance", "yes", "yes", "yes", "yes"]  # exchange id, then its class
    assert cells[-1] == "-"  # its markets were never loaded
    shown = bot("venues", "--json", config=config)
    assert shown.exit_code == 1
    venue = shown.json()["venues"]["binance"]
    assert venue["reachable"] is False and venue["exchange_id"] == "binance"
    assert venue["transfer"] is True and venue["perpetuals"] is None
    assert "Cannot connect" in venue["error"]
