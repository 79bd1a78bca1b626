"""One actor per venue, and `bot reconcile` on demand."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.ledger.locks import VenueBusy, file_venue_locks, lock_file_name
from bot.paper import PaperExchangeThread
from tests.integration.conftest import Invocation
from tests.waiting import DEADLINE, until_sync

Bot = Callable[..., Invocation]


def test_a_second_process_on_the_same_venue_says_who_holds_it(
    paper: PaperExchangeThread, config_file: Path, bot: Bot, tmp_path: Path
) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time\n"
            "from pathlib import Path\n"
            "from bot.ledger.locks import file_venue_locks\n"
            f"locks = Path({str(tmp_path / 'data' / 'locks')!r})\n"
            "with file_venue_locks(locks, ['binance'], 'bot run'):\n"
            "    print('held', flush=True)\n"
            "    time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        result = bot("rebalance", config=config_file)
        assert result.exit_code == 2
        assert f"venue binance is busy: held by pid {holder.pid} (bot run)" in result.stderr
        assert paper.state.transfers == ()
    finally:
        holder.kill()
        holder.wait()
    # the kernel dropped the lock with the process: the venue is usable again
    assert bot("rebalance", config=config_file).exit_code == 0
    assert len(paper.state.transfers) == 1


def test_locks_of_different_venues_do_not_conflict(tmp_path: Path) -> None:
    with file_venue_locks(tmp_path, ["a"], "one"):
        with file_venue_locks(tmp_path, ["b"], "two"):
            holder = json.loads((tmp_path / lock_file_name("b")).read_text())
            assert holder["command"] == "two" and holder["pid"] == os.getpid()
        # the same venue is refused even from this process (a lock per open file), so the
        # pass above is two locks that each hold, not locks that hold nothing
        refused = pytest.raises(VenueBusy, match=r"venue a is busy: .*\(one\)")
        with refused, file_venue_locks(tmp_path, ["a"], "three"):
            pass


def test_reconcile_settles_a_lost_answer_on_demand(
    paper: PaperExchangeThread, config_file: Path, bot: Bot
) -> None:
    paper.faults.add("timeout_after", hang=5)
    assert bot("rebalance", config=config_file).exit_code == 1
    (row,) = bot("ledger", "list", "--json", config=config_file).json()
    assert row["status"] == "unknown"
    result = bot("reconcile", config=config_file)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert f"is confirmed as {paper.state.transfers[0].tran_id}" in result.stdout
    (row,) = bot("ledger", "list", "--json", config=config_file).json()
    assert row["status"] == "confirmed" and row["attempts"] == 2
    assert bot("reconcile", config=config_file).stdout.strip() == "Reconcile: nothing open."
    assert os.path.exists(config_file)


def test_bot_run_cycles_until_sigterm(
    paper: PaperExchangeThread, config_file: Path, tmp_path: Path
) -> None:
    import signal

    from tests.integration.conftest import KEY_ENV, SECRET_ENV

    env = {**os.environ, KEY_ENV: "paper-api-key", SECRET_ENV: "paper-secret"}
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "-v", "--config", str(config_file), "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        until_sync(lambda: bool(paper.state.transfers), "bot run's first cycle to move money")
    finally:
        process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=DEADLINE)
    assert process.returncode == 0, err
    assert len(paper.state.transfers) == 1
    assert "moved 2999.99999999 USDT spot -> linear on binance" in out
