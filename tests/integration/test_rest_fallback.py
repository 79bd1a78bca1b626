"""The REST fallback end to end, as an operator would see it: `bot` runs as its own process
against a paper exchange running in this test, the COIN-M hedge's balance is read over the
WebSocket API while it answers, and over REST once the WebSocket API is switched off through
the paper's admin route (POST /_paper/ws, what a test in another process can reach). The run
still succeeds, and its log says REST was read."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.paper import PAPER_API_KEY, PAPER_SECRET, PaperExchangeThread
from tests.integration.conftest import ETH_HEDGE, KEY_ENV, SECRET_ENV, live_venue

ROOT = Path(__file__).resolve().parents[2]
BTC_HEDGE = {
    **ETH_HEDGE,
    "spot": "BTC/USDT",
    "perp": "BTC/USD:BTC",
    "target_margin_ratio": "0.4",
    "band": ["0.3", "0.5"],
}
FALLBACK_LOG = "COIN-M balance over WebSocket failed"


def admin(paper: PaperExchangeThread, method: str, path: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        paper.base_url + path,
        data=data,
        method=method,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.load(answer)


def run_bot(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "BOT_CONFIG"}
    env.update({KEY_ENV: PAPER_API_KEY, SECRET_ENV: PAPER_SECRET, "PYTHONPATH": str(ROOT)})
    return subprocess.run(
        [sys.executable, "-m", "bot", "-v", "--config", str(config), *args],
        cwd=config.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def coinm_requests(paper: PaperExchangeThread) -> list[str]:
    return [path for _, path, _ in paper.exchange.requests if path.startswith("/dapi/v1/account")]


def test_bot_reads_coinm_over_rest_when_the_websocket_api_is_switched_off(
    paper: PaperExchangeThread, write_config: Callable[..., Path]
) -> None:
    ws = paper.base_url.replace("http://", "ws://") + "/ws-dapi/v1"
    venue = live_venue(paper.base_url, websocket=True)
    venue["urls"] = {**venue["urls"], "ws.ws-api.inverse": ws}
    config = write_config(
        {"binance": venue},
        {"btc": BTC_HEDGE},
        transfers={"safety": "0.99", "min_amount": {"BTC": "0.001"}},
    )

    over_ws = run_bot(config, "balances", "--json")  # the control: the socket answers
    assert over_ws.returncode == 0, over_ws.stderr
    assert FALLBACK_LOG not in over_ws.stderr
    assert coinm_requests(paper) == []  # REST /dapi/v1/account was not needed

    assert admin(paper, "POST", "/_paper/ws", {"enabled": False})["enabled"] is False
    assert admin(paper, "GET", "/_paper/ws") == {"enabled": False, "connections": 0}

    over_rest = run_bot(config, "balances", "--json")
    assert over_rest.returncode == 0, over_rest.stderr
    assert f"{FALLBACK_LOG} (" in over_rest.stderr and "reading REST" in over_rest.stderr
    assert coinm_requests(paper) == ["/dapi/v1/account"]
    # the same figures either way: 0.3 BTC, 0.25 of it transferable (0.05 held as margin)
    read = {**json.loads(over_rest.stdout), "read_at": None}
    assert read == {**json.loads(over_ws.stdout), "read_at": None}
    (btc,) = [w for w in read["venues"]["binance"]["wallets"] if w["account"] == "inverse"]
    assert (btc["asset"], btc["balance"], btc["transferable"]) == ("BTC", "0.3", "0.25")
