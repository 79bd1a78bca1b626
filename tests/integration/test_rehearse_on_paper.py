"""Rehearsing a rally on the default config: `bot paper mark` moves the price of the paper
exchange that `bot run` keeps for its life (through its control socket), the margin guard
answers as it would on Binance; `bot paper reset` refuses while `bot run` holds the ledger; a
second `bot run` prints only its refusal. Every command beside `bot run` is a real subprocess
while it runs; once it has stopped, the paper commands run through the same CLI in this process
(a `bot` process costs most of a second of CPU, and what they print and exit with is the CLI's
either way)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.conftest import Invocation
from tests.unattended.test_run_end_to_end import Output

ROOT = Path(__file__).resolve().parents[2]


def bot_process(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ}
    env.pop("BOT_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_rally_rehearsed_under_bot_run_on_the_default_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bot: Callable[..., Invocation]
) -> None:
    shutil.copy(ROOT / "config.yaml", tmp_path / "config.yaml")
    env = {**os.environ}
    env.pop("BOT_CONFIG", None)
    errors = (tmp_path / "stderr.txt").open("w+")
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "run"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=errors,
        text=True,
    )
    try:
        output = Output(process.stdout)
        output.wait_for(r"^run 1: moved 2999\.9999\d* USDT spot -> linear on paper")
        control = tmp_path / "data" / "paper-control"
        sock = control / "paper-paper.sock"
        assert stat.S_IMODE(control.stat().st_mode) == 0o700
        assert stat.S_ISSOCK(sock.stat().st_mode)
        assert stat.S_IMODE(sock.stat().st_mode) == 0o600

        marked = bot_process(tmp_path, "paper", "mark", "ETH/USDT:USDT", "3900")
        assert marked.returncode == 0, marked.stderr
        assert marked.stdout.strip() == (
            "paper paper: ETH/USDT:USDT marked at 3900 (running exchange)"
        )
        # the running exchange moved: the guard sees the short under its danger line
        output.wait_for(r"^guard run \d+: margin under 0\.25: topped up [\d.]+ USDT spot -> linear")

        reset = bot_process(tmp_path, "paper", "reset")
        assert reset.returncode == 2
        assert reset.stdout == ""
        assert len(reset.stderr.splitlines()) == 1, reset.stderr
        assert reset.stderr.startswith(f"error: bot run (pid {process.pid}) is running venue")
        assert (tmp_path / "data" / "ledger.sqlite").exists()
        assert (tmp_path / "data" / "paper-paper.json").exists()

        second = bot_process(tmp_path, "run")
        assert second.returncode == 2
        assert second.stdout == "", "a refused bot run prints no start banner"
        refusal = [line for line in second.stderr.splitlines() if line.startswith("error:")]
        assert len(refusal) == 1 and "bot run is already running it" in refusal[0]
        assert "bot run: rebalance" not in second.stderr
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    assert not sock.exists(), "the control socket goes with its exchange"

    # no exchange running: the same command edits the account under its control lock
    monkeypatch.delenv("BOT_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)  # ./config.yaml, as the subprocesses above found it
    marked = bot("paper", "mark", "ETH/USDT:USDT", "3000", "--json")
    assert marked.exit_code == 0, marked.stderr
    answer = json.loads(marked.stdout)
    assert answer == {
        "schema": 1,
        "venue": "paper",
        "symbol": "ETHUSDT",
        "price": "3000",
        "applied_to": "state file",
    }
    saved = json.loads((tmp_path / "data" / "paper-paper.json").read_text())
    assert saved["mark_prices"]["ETHUSDT"] == "3000"

    funding = bot("paper", "funding", "ETH/USDT:USDT")
    assert funding.exit_code == 0, funding.stderr
    assert funding.stdout.startswith("paper paper: funding booked: ETHUSDT ")

    outside = bot("paper", "transfer", "USDT", "25", "--type", "UMFUTURE_MAIN")
    assert outside.exit_code == 0, outside.stderr
    assert "outside transfer" in outside.stdout and "(state file)" in outside.stdout

    refused = bot("paper", "transfer", "USDT", "99999999", "--type", "UMFUTURE_MAIN")
    assert refused.exit_code == 2
    assert refused.stderr.startswith("error: ") and "-5013" in refused.stderr

    assert bot("paper", "reset").exit_code == 0
    assert not (tmp_path / "data" / "ledger.sqlite").exists()


async def test_a_data_folder_deeper_than_a_socket_address_still_serves_the_control(
    tmp_path: Path,
) -> None:
    """A Unix socket address holds 107 bytes; a CI temp folder is deeper than that. The
    exchange binds, and a command reaches, the socket through its folder held open."""
    from bot.paper import PaperExchange, StateStore
    from bot.paper.control import claim, request, serve_control

    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    state_path = deep / "paper-paper.json"
    lock = claim(state_path)
    assert lock is not None
    async with PaperExchange(StateStore(state_path)) as exchange:
        control = await serve_control(exchange, lock, state_path)
        try:
            socket_path = deep / "paper-control" / "paper-paper.sock"
            assert len(str(socket_path)) > 107 and socket_path.exists()
            _, where = await asyncio.to_thread(
                request, state_path, "POST", "/_paper/mark", {"symbol": "ETHUSDT", "price": "3100"}
            )
            assert where == "running exchange"
            assert str(exchange.state.mark_price("ETHUSDT")) == "3100"
        finally:
            await control.stop()
