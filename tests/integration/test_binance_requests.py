"""What BinanceVenue sends, checked against ccxt's own recorded requests, and the COIN-M
balance read over the WebSocket API with its REST fallback."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from decimal import Decimal as D
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from bot.config import Config, parse_config
from bot.paper import PAPER_API_KEY, PAPER_SECRET, PaperExchange, StateStore
from bot.venues.session import open_venues
from tests.integration.conftest import KEY_ENV, SECRET_ENV, paper_api_urls

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ccxt-static"
SKIP = {"timestamp", "recvWindow", "signature"}


@pytest.fixture
async def paper(tmp_path: Path) -> AsyncIterator[PaperExchange]:
    async with PaperExchange(StateStore(tmp_path / "paper.json"), test_hooks=True) as running:
        yield running


@pytest.fixture
def config(paper: PaperExchange, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Config:
    monkeypatch.setenv(KEY_ENV, PAPER_API_KEY)
    monkeypatch.setenv(SECRET_ENV, PAPER_SECRET)
    ws = paper.base_url.replace("http://", "ws://") + "/ws-dapi/v1"
    hedge = {"target_margin_ratio": "0.4", "band": ["0.3", "0.5"]}
    raw = {
        "venues": {
            "binance": {
                "exchange": "binance",
                "api_key_env": KEY_ENV,
                "secret_env": SECRET_ENV,
                "urls": {**paper_api_urls(paper.base_url), "ws.ws-api.inverse": ws},
                "ccxt": {"enableRateLimit": False, "timeout": 1000},
            }
        },
        "hedges": {
            "eth": {"venue": "binance", "spot": "ETH/USDT", "perp": "ETH/USDT:USDT", **hedge},
            "btc": {"venue": "binance", "spot": "BTC/USDT", "perp": "BTC/USD:BTC", **hedge},
        },
    }
    return parse_config(raw, base_dir=tmp_path)


def recorded(method: str) -> list[dict]:
    data = json.loads((FIXTURES / "binance_request_fixtures.json").read_text())
    return data["methods"][method]


def expected_request(case: dict) -> tuple[str, dict[str, str]]:
    url = urlsplit(case["url"])
    query = url.query or case.get("output") or ""
    params = dict(p.split("=", 1) for p in query.split("&") if p)
    return url.path, {k: v for k, v in params.items() if k not in SKIP}


def sent(paper: PaperExchange, path: str) -> list[dict[str, str]]:
    return [
        {k: v for k, v in params.items() if k not in SKIP}
        for _, p, params in paper.requests
        if p == path
    ]


async def test_reads_and_transfers_match_ccxts_recorded_requests(
    paper: PaperExchange, config: Config
) -> None:
    async with open_venues(config, dry_run=False) as venues:
        venue = venues["binance"]
        venue.ws_client = None  # REST only here: the requests under test
        await venue.read_state()
        await venue.transfer("USDT", D("1"), "spot", "linear", "c" * 32)
        await venue.transfer("USDT", D("1"), "future", "spot", "c" * 32)  # 'future' is mapped
    balances = {
        tuple(c["input"][0].items()) if c["input"] else (): c for c in recorded("fetchBalance")
    }
    for key in [(), (("type", "swap"),), (("type", "swap"), ("subType", "inverse"))]:
        path, params = expected_request(balances[key])
        assert sent(paper, path), f"no {path} request"
        assert all(p == params for p in sent(paper, path))
    spot_to_linear = next(c for c in recorded("transfer") if c["input"][2:] == ["spot", "linear"])
    path, params = expected_request(spot_to_linear)
    assert path == "/sapi/v1/asset/transfer"
    transfers = sent(paper, path)
    assert transfers[0] == params  # asset=USDT, amount=1, type=MAIN_UMFUTURE
    assert transfers[1]["type"] == "UMFUTURE_MAIN"
    linear_positions = next(c for c in recorded("fetchPositions") if not c["input"])
    assert sent(paper, expected_request(linear_positions)[0])
    inverse_positions = next(
        c for c in recorded("fetchPositions") if c["input"][1:] == [{"subType": "inverse"}]
    )
    assert sent(paper, expected_request(inverse_positions)[0])


async def test_coinm_balances_over_the_websocket_api(paper: PaperExchange, config: Config) -> None:
    async with open_venues(config, dry_run=True) as venues:
        state = await venues["binance"].read_state()
    assert state.sources["inverse"] == "websocket"
    assert paper.ws_api.connections == 0  # the socket was closed with the venue
    btc = state.wallet("inverse", "BTC")
    assert (btc.balance, btc.transferable, btc.unrealized_pnl) == (D("0.3"), D("0.25"), D(0))
    assert not sent(paper, "/dapi/v1/account")  # REST was not needed


async def test_coinm_falls_back_to_rest_when_the_socket_is_refused(
    paper: PaperExchange, config: Config
) -> None:
    async with open_venues(config, dry_run=True) as venues:
        over_ws = (await venues["binance"].read_state()).wallet("inverse", "BTC")
    paper.ws_enabled = False
    paper.set_mark_price("BTCUSD_PERP", D("50000"))  # the short gains: WS and REST must agree
    async with open_venues(config, dry_run=True) as venues:
        state = await venues["binance"].read_state()
    assert state.sources["inverse"] == "rest"
    btc = state.wallet("inverse", "BTC")
    assert btc.balance == over_ws.balance
    assert btc.unrealized_pnl > 0 and btc.transferable == D("0.24")  # profit does not add
    paper.ws_enabled = True
    async with open_venues(config, dry_run=True) as venues:
        again = (await venues["binance"].read_state()).wallet("inverse", "BTC")
    assert (again.unrealized_pnl, again.transferable) == (btc.unrealized_pnl, btc.transferable)


async def test_a_silent_socket_is_bounded_by_the_timeout_then_rest(
    paper: PaperExchange, config: Config
) -> None:
    # the answer hangs twice the client's 1 s timeout: the read gives up first, whatever the load
    paper.faults.add("timeout_after", method="WS", path="account.balance", hang=2)
    async with open_venues(config, dry_run=True) as venues:
        state = await venues["binance"].read_state()
    assert state.sources["inverse"] == "rest"
    assert state.wallet("inverse", "BTC").transferable == D("0.25")
