"""The margin guard between polls: `bot run` follows Binance's user-data and mark-price streams
(ccxt.pro against the paper exchange's streams) and tops up as soon as a streamed mark takes the
short under the danger line, with its poll an hour away. The listen key is kept alive, and a
key that expires is replaced."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from decimal import Decimal as D
from pathlib import Path

import yaml

from bot.paper import PAPER_API_KEY, PAPER_SECRET, PaperExchangeThread
from bot.paper.routes_ws import websocket_base
from tests.integration.conftest import KEY_ENV, SECRET_ENV
from tests.unattended.conftest import ETH_HEDGE, live_venue
from tests.unattended.test_run_end_to_end import ROOT, Output, ledger_rows


def streamed_venue(base_url: str) -> dict:  # type: ignore[type-arg]
    """The paper exchange over REST and, through `ws.*` urls, its streams."""
    venue = live_venue(base_url)
    ws = websocket_base(base_url)
    venue["urls"] |= {"ws.linear": f"{ws}/ws", "ws.inverse": f"{ws}/ws"}
    # a keepalive every 300 ms instead of 20 min, so the test sees ccxt.pro send it
    venue["ccxt"] |= {"options": {"listenKeyRefreshRate": 300}}
    return venue


def test_a_streamed_rally_is_topped_up_without_waiting_for_the_poll(
    tmp_path: Path, paper: PaperExchangeThread, venue_env: None
) -> None:
    config = tmp_path / "config.yaml"
    hourly = {"every": "1h"}
    config.write_text(
        yaml.safe_dump(
            {
                "ledger": {"url": "sqlite:///data/ledger.sqlite"},
                "venues": {"binance": streamed_venue(paper.base_url)},
                "hedges": {"eth": ETH_HEDGE},
                # the rebalance runs once at start; the guard's poll is an hour away
                "schedule": {"rebalance": hourly, "snapshot": hourly, "reconcile": hourly},
                "alerts": {"danger_margin_ratio": "0.25"},
            }
        )
    )
    ledger = tmp_path / "data" / "ledger.sqlite"
    env = {**os.environ, KEY_ENV: PAPER_API_KEY, SECRET_ENV: PAPER_SECRET}
    env.pop("BOT_CONFIG", None)
    errors = (tmp_path / "stderr.txt").open("w+")
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "--config", str(config), "run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=errors,
        text=True,
    )
    try:
        output = Output(process.stdout)
        output.wait_for(r"^run 1: moved 2999\.9999\d* USDT spot -> linear on binance")
        first_key = _wait_for_keepalive(paper)

        # the rally: the mark stream carries it; the guard reads, judges, tops up
        paper.set_mark_price("ETHUSDT", D("3700"))
        output.wait_for(r"^guard run \d+: margin under 0\.25: topped up 5249\.9999\d* USDT")

        # the key expires (Binance closes the stream): the bot gets a new one and goes on
        assert paper.expire_listen_key(first_key) >= 1
        second_key = _wait_for_new_key(paper, first_key)
        paper.set_mark_price("ETHUSDT", D("4500"))
        output.wait_for(r"^guard run \d+: margin under 0\.25: topped up \d+\.\d+ USDT.*transfer 3")
        assert second_key != first_key
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        errors.seek(0)
        stderr = errors.read()
        errors.close()
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr, stderr
    # the streams closed with the process: no socket, session or task left behind
    for leak in ("Unclosed", "was never retrieved", "was destroyed but it is pending"):
        assert leak not in stderr, stderr
    output.wait_for(r"^stopped$")

    # both top-ups came from the stream: a guard job row per wake, none from the schedule
    guards = ledger_rows(ledger, "SELECT scheduled_at FROM job_runs WHERE kind = 'guard'")
    assert guards and all(scheduled is None for (scheduled,) in guards), guards
    rows = ledger_rows(ledger, "SELECT status, from_account, amount FROM transfers ORDER BY id")
    assert (
        [status for status, _, _ in rows]
        == ["confirmed"] * 3
        == ["confirmed"] * len(paper.state.transfers)
    )
    into_futures = sum(D(amount) for _, source, amount in rows if source == "spot")
    assert paper.state.usdm["USDT"].wallet_balance == D("4500") + into_futures


def _listen_keys(paper: PaperExchangeThread) -> list[dict]:  # type: ignore[type-arg]
    """The USD-M listen keys the paper exchange issued (its test hook GET /_paper/streams)."""
    with urllib.request.urlopen(f"{paper.base_url}/_paper/streams", timeout=10) as answer:
        keys = json.load(answer)["listen_keys"]
    return [key for key in keys if key["family"] == "usdm"]


def _wait_for_keepalive(paper: PaperExchangeThread, polls: int = 300) -> str:
    """The USD-M listen key, once ccxt.pro has kept it alive at least once."""
    for _ in range(polls):
        kept = [k for k in _listen_keys(paper) if k["valid"] and k["keepalives"] >= 1]
        if kept:
            return str(kept[0]["listenKey"])
        time.sleep(0.05)
    raise AssertionError(f"no keepalive: {_listen_keys(paper)}")


def _wait_for_new_key(paper: PaperExchangeThread, old: str, polls: int = 300) -> str:
    for _ in range(polls):
        fresh = [k for k in _listen_keys(paper) if k["valid"] and k["listenKey"] != old]
        if fresh:
            return str(fresh[0]["listenKey"])
        time.sleep(0.05)
    raise AssertionError(f"no new listen key after {old} expired: {_listen_keys(paper)}")
