"""CLI conventions a newcomer relies on: options anywhere, help that reads right, `bot run`
that says what it does and exits like `bot rebalance`, and no traceback whatever happens."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from bot.paper import PaperExchangeThread, StateStore
from tests.integration.conftest import ETH_HEDGE, Invocation, live_venue, set_spot

Bot = Callable[..., Invocation]
ROOT = Path(__file__).resolve().parents[2]


def run_bot(cwd: Path, *args: str, env: dict[str, str] | None = None) -> Invocation:
    """`python -m bot` as a user runs it, in its own process."""
    base = {k: v for k, v in os.environ.items() if k != "BOT_CONFIG"}
    result = subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )
    return Invocation(result.returncode, result.stdout, result.stderr)


def test_bare_bot_prints_help_and_succeeds(bot: Bot) -> None:
    result = bot()
    assert result.exit_code == 0
    assert "Usage: bot" in result.stdout and "rebalance" in result.stdout


def test_flags_show_no_metavar_in_help(bot: Bot) -> None:
    for command in ([], ["plan"], ["rebalance"], ["ledger", "list"]):
        text = bot(*command, "--help").stdout
        assert "<bool>" not in text and "<int>" not in text, text
    assert "--dry-run  " in bot("rebalance", "--help").stdout


def test_config_and_verbose_work_after_the_command(config_file: Path, bot: Bot) -> None:
    result = bot("plan", "--json", "--config", str(config_file), "-v")
    assert result.exit_code == 0, result.stderr
    assert result.json()["transfers"][0]["amount"] == "3000"
    assert bot("ledger", "list", f"--config={config_file}").exit_code == 0


def test_a_refused_database_is_one_line(tmp_path: Path, bot: Bot) -> None:
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    config["ledger"] = {"url": "postgresql+psycopg://bot@127.0.0.1:9/bot"}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    result = bot("ledger", "list", config=path)
    # a server that does not answer may be restarting: transient, exit 1 (systemd retries, up
    # to its start limit); a refused login or a missing database would be 2
    assert result.exit_code == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: cannot open ledger postgresql+psycopg://bot@127.0.0.1:9/bot")
    assert line.endswith("is the database server up? a later run may succeed")


def test_a_corrupt_paper_account_is_one_line_never_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text((ROOT / "config.yaml").read_text())
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "paper-paper.json").write_text("{ not json")
    reports = tmp_path / "tmp"  # where an unexpected error would leave its traceback
    reports.mkdir()
    result = run_bot(tmp_path, "rebalance", env={"TMPDIR": str(reports)})
    assert result.exit_code == 2
    assert "Traceback" not in result.stderr + result.stdout
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: paper account ") and "paper-paper.json: unreadable" in line
    assert "bot paper reset" in line
    assert list(reports.iterdir()) == []  # a known failure, not an unexpected one


def test_run_once_exits_like_rebalance(
    paper: PaperExchangeThread, venue_env: None, write_config: Callable[..., Path], bot: Bot
) -> None:
    config = write_config({"binance": live_venue(paper.base_url)}, {"eth": ETH_HEDGE})
    first = bot("run", "--once", config=config)
    assert first.exit_code == 0, first.stderr
    (line,) = first.stdout.strip().splitlines()
    assert line.startswith("run ") and "moved 2999.99999999 USDT spot -> linear" in line
    assert "nothing to move" in bot("run", "--once", config=config).stdout


def test_run_once_exits_1_when_money_that_should_move_did_not(
    paper: PaperExchangeThread, venue_env: None, write_config: Callable[..., Path], bot: Bot
) -> None:
    paper.faults.add("error", status=400, code=-5013, times=None)  # insufficient, every time
    config = write_config({"binance": live_venue(paper.base_url)}, {"eth": ETH_HEDGE})
    result = bot("run", "--once", config=config)
    assert result.exit_code == 1, (result.stdout, result.stderr)
    assert "failed" in result.stdout and paper.state.transfers == ()


def test_run_once_exits_2_when_a_fatal_refusal_halts_the_venue(
    paper: PaperExchangeThread, venue_env: None, write_config: Callable[..., Path], bot: Bot
) -> None:
    paper.faults.add("error", status=400, code=-2015, times=None)
    config = write_config({"binance": live_venue(paper.base_url)}, {"eth": ETH_HEDGE})
    for _ in range(2):  # the halt is for a person: the second run sends nothing
        result = bot("run", "--once", config=config)
        assert result.exit_code == 2, (result.stdout, result.stderr)
        assert "Universal Transfer" in result.stderr and "bot venue resume" in result.stderr
    assert paper.faults.fired["error"] == 1 and paper.state.transfers == ()


def test_run_refuses_a_bad_config_at_start(
    paper: PaperExchangeThread, write_config: Callable[..., Path], bot: Bot
) -> None:
    venue = live_venue(paper.base_url, api_key_env="UNSET_KEY_VAR", secret_env="UNSET_SECRET")
    config = write_config({"binance": venue}, {"eth": ETH_HEDGE})
    for args in (["run", "--once"], ["run"]):
        result = bot(*args, config=config)
        assert result.exit_code == 2, (args, result.stdout, result.stderr)
        assert "UNSET_KEY_VAR is not set" in result.stderr


def test_run_says_what_it_does(tmp_path: Path) -> None:
    """`bot run` prints one line when it starts and one per cycle, and stops on SIGTERM."""
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    config["schedule"] = {"interval_seconds": 10}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    env = {k: v for k, v in os.environ.items() if k != "BOT_CONFIG"}
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "run"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        start = process.stdout.readline()
        cycle = process.stdout.readline()
    finally:
        process.terminate()
        _, err = process.communicate(timeout=60)
    assert start.startswith("bot run: rebalance every 10s; venues paper (binance, paper)")
    assert "hedges eth" in start and "ledger sqlite:///" in start
    assert cycle.startswith("run 1: moved 2999.99999999 USDT spot -> linear on paper"), (cycle, err)
    assert process.returncode == 0, err
    assert "Traceback" not in err


@pytest.mark.parametrize("how", ["command", "delete the files"])
def test_starting_over_on_paper_keeps_ledger_and_wallet_in_agreement(
    tmp_path: Path, bot: Bot, how: str
) -> None:
    """The README's way to start over: rebalance, reset the paper account, rebalance again."""
    config = tmp_path / "config.yaml"
    config.write_text((ROOT / "config.yaml").read_text())
    assert bot("rebalance", config=config).exit_code == 0
    if how == "command":
        reset = bot("paper", "reset", "--keep-ledger", config=config)
        assert reset.exit_code == 0, reset.stderr
        assert not (tmp_path / "data" / "paper-paper.json").exists()
    else:
        (tmp_path / "data" / "paper-paper.json").unlink()
    again = bot("rebalance", config=config)
    assert again.exit_code == 0, again.stderr
    assert "Traceback" not in again.stderr
    assert bot("reconcile", config=config).exit_code == 0
    listed = bot("ledger", "list", "--json", config=config).json()
    rows = [r for r in listed if r["status"] == "confirmed"]
    paper = StateStore.load(tmp_path / "data" / "paper-paper.json")
    assert [r["exchange_id"] for r in rows][-1:] == [str(t.tran_id) for t in paper.transfers]
    assert len({r["exchange_id"] for r in rows}) == len(rows) == 2


def test_paper_reset_starts_a_new_ledger_too(tmp_path: Path, bot: Bot) -> None:
    config = tmp_path / "config.yaml"
    config.write_text((ROOT / "config.yaml").read_text())
    assert bot("rebalance", config=config).exit_code == 0
    reset = bot("paper", "reset", config=config)
    assert reset.exit_code == 0, reset.stderr
    assert not (tmp_path / "data" / "ledger.sqlite").exists()
    again = bot("rebalance", config=config)
    assert again.exit_code == 0 and "3000 USDT" in again.stdout


def test_paper_reset_refuses_to_drop_a_ledger_with_live_venues(
    paper: PaperExchangeThread, venue_env: None, write_config: Callable[..., Path], bot: Bot
) -> None:
    config = write_config(
        {"binance": live_venue(paper.base_url), "paper": {"exchange": "binance", "paper": True}},
        {"eth": ETH_HEDGE},
    )
    set_spot(paper, "USDT", "10000")
    result = bot("paper", "reset", config=config)
    assert result.exit_code == 2
    assert "--keep-ledger" in result.stderr
