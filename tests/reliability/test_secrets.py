"""A canary API key and secret never appear in DEBUG logs, errors, or the ledger file."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from bot.paper import PaperExchangeThread, StateStore
from tests.integration.conftest import ETH_HEDGE, KEY_ENV, SECRET_ENV, live_venue

CANARY_KEY = "CANARYkey7f3a9c0e5b1d4f2a8c6e0b9d3f1a7c5e2b8d0f4a6c9e1b3d5f7a2c4e6b8"
CANARY_SECRET = "CANARYsecret0d9f8e7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3"


@pytest.fixture
def paper(tmp_path: Path) -> Iterator[PaperExchangeThread]:
    store = StateStore(tmp_path / "paper.json")
    with PaperExchangeThread(
        store, api_key=CANARY_KEY, secret=CANARY_SECRET, test_hooks=True
    ) as running:
        yield running


def run_bot(tmp_path: Path, base_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    config = {
        "ledger": {"url": "sqlite:///ledger.sqlite"},
        "transfers": {"settle_window_seconds": 0},
        "venues": {
            "binance": live_venue(base_url, ccxt={"enableRateLimit": False, "timeout": 500})
        },
        "hedges": {"eth": ETH_HEDGE},
    }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    env = {**os.environ, KEY_ENV: CANARY_KEY, SECRET_ENV: CANARY_SECRET}
    return subprocess.run(
        [sys.executable, "-m", "bot", "-vv", "--config", str(tmp_path / "config.yaml"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def assert_clean(text: str) -> None:
    assert CANARY_KEY not in text
    assert CANARY_SECRET not in text
    assert not re.search(r"signature=[0-9a-f]{16}", text), "a request signature leaked"


def test_canary_never_leaks(paper: PaperExchangeThread, tmp_path: Path) -> None:
    # a refused transfer (error path), a timeout (unknown path), then a good run
    paper.faults.add("error", status=401, code=-2015, msg="Invalid API-key, IP, or permissions.")
    refused = run_bot(tmp_path, paper.base_url, "rebalance")
    paper.faults.add("timeout_after", hang=2)
    lost = run_bot(tmp_path, paper.base_url, "rebalance")
    good = run_bot(tmp_path, paper.base_url, "rebalance")
    listed = run_bot(tmp_path, paper.base_url, "ledger", "list", "--json")
    help_text = run_bot(tmp_path, paper.base_url, "--help")
    assert (refused.returncode, lost.returncode, good.returncode) == (1, 1, 0)

    for result in (refused, lost, good, listed, help_text):
        assert_clean(result.stdout + result.stderr)
    # the DEBUG log really did include ccxt's requests, with the headers masked
    assert "X-MBX-APIKEY" in refused.stderr and "'***'" in refused.stderr
    assert "-2015" in listed.stdout  # the error was recorded, redacted
    assert_clean((tmp_path / "ledger.sqlite").read_bytes().decode("latin-1"))
