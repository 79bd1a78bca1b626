"""The COIN-M WebSocket API (/ws-dapi/v1) against the real ccxt.pro binance client (4.5.90),
unmodified but for its URLs, and against a bare aiohttp socket for the protocol details.

Which field is transferable: in `account.balance` (as in REST /dapi/v1/balance) it is
`withdrawAvailable`, the same figure as `maxWithdrawAmount` in REST /dapi/v1/account (what
ccxt's REST `fetch_balance` for inverse returns): wallet balance minus initial margin, lowered by
an unrealized loss and never raised by an unrealized profit. `availableBalance` (ccxt's `free`)
includes unrealized profit, so it can exceed what a COIN-M -> spot transfer accepts.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import sys
import urllib.request
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import aiohttp
import ccxt
import ccxt.pro as ccxtpro
import pytest

from bot.paper import (
    PAPER_API_KEY,
    PAPER_SECRET,
    PaperExchange,
    PaperExchangeThread,
    StateStore,
    binance_urls,
    binance_ws_urls,
    routes_ws,
)
from bot.paper.auth import Credentials
from tests.waiting import DEADLINE

D = Decimal
INVERSE = {"type": "swap", "subType": "inverse"}
WS_BALANCE = {**INVERSE, "method": "account.balance"}
WAIT = DEADLINE  # ccxt.pro puts no timeout on a ws request; never let a test hang on one
LATENCY = 1.0  # seconds the server delays each answer, well past CALLER_WAIT
CALLER_WAIT = 0.2


@pytest.fixture
async def pro(exchange: PaperExchange, pro_factory) -> ccxtpro.binance:
    return pro_factory(exchange.base_url)


async def ws_balance(client: ccxtpro.binance, **params: Any) -> dict[str, Any]:
    return await asyncio.wait_for(client.fetch_balance_ws({**WS_BALANCE, **params}), WAIT)


def only_btc(balance: dict[str, Any]) -> dict[str, Any]:
    (row,) = balance["info"]
    assert row["asset"] == "BTC"
    return row


# --- URLs -------------------------------------------------------------------------------------


def test_binance_urls_with_ws_points_the_coinm_ws_api_at_the_paper_host():
    template = ccxtpro.binance().urls["api"]
    urls = binance_urls("http://127.0.0.1:5555/", template, ws=True)
    assert urls["ws"]["ws-api"]["inverse"] == "ws://127.0.0.1:5555/ws-dapi/v1"
    assert urls["ws"]["ws-api"]["spot"] == "ws://127.0.0.1:5555/ws-api/v3"  # :443 dropped
    assert urls["ws"]["spot"] == "ws://127.0.0.1:5555/ws"  # :9443 dropped
    assert template["ws"]["ws-api"]["inverse"] == "wss://ws-dapi.binance.com/ws-dapi/v1"
    rest_only = binance_urls("http://127.0.0.1:5555/", template)
    assert rest_only["ws"] == template["ws"]  # unchanged without ws=True
    assert {k: v for k, v in urls.items() if k != "ws"} == {
        k: v for k, v in rest_only.items() if k != "ws"
    }
    other = {"a": "wss://example.com/binance.com/ws", "b": {"c": "wss://fstream.binance.com/ws"}}
    assert binance_ws_urls("https://paper.local:8443", other) == {
        "a": "wss://example.com/binance.com/ws",
        "b": {"c": "wss://paper.local:8443/ws"},
    }


# --- ccxt.pro fetch_balance_ws ----------------------------------------------------------------


async def test_account_balance_matches_rest_exactly(pro, exchange):
    exchange.set_mark_price("BTCUSD_PERP", D("50000"))  # short 300 x 100 USD gains 0.1 BTC
    ws = only_btc(await ws_balance(pro))
    assert list(ws) == list(routes_ws.BALANCE_FIELDS)  # the documented shape, nothing more

    rest = (await pro.fetch_balance(INVERSE))["info"]["assets"][0]  # /dapi/v1/account
    assert D(ws["balance"]) == D(rest["walletBalance"]) == D("0.3")
    assert D(ws["crossWalletBalance"]) == D(rest["crossWalletBalance"])
    assert D(ws["crossUnPnl"]) == D(rest["unrealizedProfit"]) == D(rest["crossUnPnl"]) == D("0.1")
    assert D(ws["availableBalance"]) == D(rest["availableBalance"]) == D("0.34")
    assert D(ws["withdrawAvailable"]) == D(rest["maxWithdrawAmount"]) == D("0.24")
    assert ws["updateTime"] == rest["updateTime"]

    (raw,) = await pro.dapiPrivateGetBalance()  # the same function serves REST and WS
    assert {k: raw[k] for k in routes_ws.BALANCE_FIELDS} == ws


async def test_unified_structure_of_account_balance_differs_from_rest(pro, exchange):
    """ccxt parses account.balance with total = `balance` (wallet, no unrealized PnL), free =
    availableBalance and used = total - free, so `used` goes negative on a profit; REST (and
    account.status) give total = marginBalance and used = initial margin."""
    exchange.set_mark_price("BTCUSD_PERP", D("50000"))
    ws = await ws_balance(pro)
    assert ws["BTC"] == {"free": 0.34, "used": pytest.approx(-0.04), "total": 0.3}
    assert ws["timestamp"] is None and ws["datetime"] is None
    rest = await pro.fetch_balance(INVERSE)
    assert rest["BTC"] == {"free": 0.34, "used": 0.06, "total": 0.4}
    status = await asyncio.wait_for(pro.fetch_balance_ws(INVERSE), WAIT)  # account.status
    assert status["BTC"] == rest["BTC"]
    assert status["info"]["assets"] == rest["info"]["assets"]


async def test_withdraw_available_is_exactly_what_a_transfer_accepts(pro, exchange):
    exchange.set_mark_price("BTCUSD_PERP", D("50000"))
    row = only_btc(await ws_balance(pro))
    transferable = D(row["withdrawAvailable"])
    assert D(row["availableBalance"]) > transferable  # profit is available, not transferable
    with pytest.raises(ccxt.ExchangeError, match="-5013"):
        await pro.transfer("BTC", float(transferable + D("0.00000001")), "inverse", "spot")
    await pro.transfer("BTC", float(transferable), "inverse", "spot")
    assert D(only_btc(await ws_balance(pro))["withdrawAvailable"]) == 0


async def test_price_move_shows_in_cross_unpnl_on_the_same_socket(pro, exchange):
    first = only_btc(await ws_balance(pro))
    assert (D(first["crossUnPnl"]), D(first["withdrawAvailable"])) == (0, D("0.25"))
    exchange.set_mark_price("BTCUSD_PERP", D("75000"))  # short 30000 USD loses 0.1 BTC
    moved = only_btc(await ws_balance(pro))
    assert D(moved["crossUnPnl"]) == D("-0.1")
    assert D(moved["availableBalance"]) == D(moved["withdrawAvailable"]) == D("0.16")
    assert D(moved["balance"]) == D("0.3")  # the wallet itself has not changed
    assert exchange.ws_api.connections == 1


async def test_options_instead_of_params(exchange, pro_factory, monkeypatch):
    """type/subType given as params ride along in the signed ws params (harmless here); given as
    options they do not. `options['fetchBalanceWs']['method']` replaces the method param."""
    seen: list[dict[str, Any]] = []
    verify = routes_ws.verify_ws_params

    def spy(params, credentials, server_time):
        seen.append(dict(params))
        return verify(params, credentials, server_time)

    monkeypatch.setattr(routes_ws, "verify_ws_params", spy)
    options = {
        "defaultType": "swap",
        "defaultSubType": "inverse",
        "fetchBalanceWs": {"method": "account.balance"},
    }
    client = pro_factory(exchange.base_url, options=options)
    balance = await asyncio.wait_for(client.fetch_balance_ws(), WAIT)
    assert balance["BTC"]["total"] == 0.3
    assert set(seen[0]) == {"apiKey", "recvWindow", "returnRateLimits", "timestamp", "signature"}
    assert seen[0]["recvWindow"] == 10000 and seen[0]["returnRateLimits"] is False
    await ws_balance(client)
    assert seen[1]["type"] == "swap" and seen[1]["subType"] == "inverse"


# --- errors and fallback ----------------------------------------------------------------------


async def test_wrong_secret_or_key_raises_authentication_error(exchange, pro_factory):
    bad_secret = pro_factory(exchange.base_url, secret="not-the-secret")
    with pytest.raises(ccxt.AuthenticationError, match="-1022"):
        await ws_balance(bad_secret)
    bad_key = pro_factory(exchange.base_url, apiKey="not-the-key")
    with pytest.raises(ccxt.AuthenticationError, match="-2015"):
        await ws_balance(bad_key)


async def test_disabled_ws_refuses_the_handshake_and_rest_still_answers(pro, exchange):
    await pro.load_markets()
    exchange.ws_enabled = False
    with pytest.raises(ccxt.NetworkError, match="503"):  # refused, not left waiting
        await ws_balance(pro)
    assert exchange.ws_connections == 0
    rest = await pro.fetch_balance(INVERSE)  # the fallback
    assert rest["info"]["assets"][0]["maxWithdrawAmount"] == "0.25000000"

    exchange.ws_enabled = True  # ccxt redials after its dial backoff (0.2 s after one failure)
    assert only_btc(await ws_balance(pro))["withdrawAvailable"] == "0.25000000"


async def test_disabling_ws_drops_an_open_socket_on_its_next_request(pro, exchange):
    await ws_balance(pro)
    assert exchange.ws_api.connections == 1
    exchange.ws_enabled = False
    with pytest.raises(ccxt.NetworkError, match="closing code 1001"):
        await ws_balance(pro)
    with pytest.raises(ccxt.NetworkError, match="503"):
        await ws_balance(pro)


async def test_switching_ws_off_closes_open_sockets_at_once_and_refuses_new_ones(pro, exchange):
    await ws_balance(pro)
    assert exchange.ws_connections == 1
    assert await exchange.set_ws_enabled(False) == 1
    assert exchange.ws_connections == 0 and not exchange.ws_enabled
    with pytest.raises(ccxt.NetworkError, match="closing code 1001"):  # ccxt saw the close
        await ws_balance(pro)
    with pytest.raises(ccxt.NetworkError, match="503"):  # it redials: refused
        await ws_balance(pro)
    rest = await pro.fetch_balance(INVERSE)  # the fallback
    assert rest["info"]["assets"][0]["maxWithdrawAmount"] == "0.25000000"
    assert await exchange.set_ws_enabled(True) == 0
    assert only_btc(await ws_balance(pro))["withdrawAvailable"] == "0.25000000"
    assert exchange.ws_connections == 1


async def test_admin_route_switches_ws_off_and_on(hooked_exchange):
    base = hooked_exchange.base_url
    async with aiohttp.ClientSession() as session:
        open_socket = await session.ws_connect(base + routes_ws.WS_DAPI_PATH)
        async with session.get(base + "/_paper/ws") as response:
            assert await response.json() == {"enabled": True, "connections": 1}
        async with session.post(base + "/_paper/ws", json={"enabled": False}) as response:
            assert await response.json() == {"enabled": False, "closed": 1}
        closing = await asyncio.wait_for(open_socket.receive(), WAIT)
        assert closing.type == aiohttp.WSMsgType.CLOSE and closing.data == 1001
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(base + routes_ws.WS_DAPI_PATH)
        assert refused.value.status == 503
        async with session.get(base + "/_paper/ws") as response:
            assert await response.json() == {"enabled": False, "connections": 0}
        async with session.post(base + "/_paper/ws", json={"enabled": "no"}) as response:
            assert response.status == 400 and "true or false" in (await response.json())["error"]
        async with session.post(base + "/_paper/ws", json={"enabled": True}) as response:
            assert await response.json() == {"enabled": True, "closed": 0}
        async with session.ws_connect(base + routes_ws.WS_DAPI_PATH) as again:
            assert not again.closed


def test_thread_runner_switches_ws_from_synchronous_code(tmp_path):
    with PaperExchangeThread(StateStore(tmp_path / "state.json"), test_hooks=True) as server:
        assert server.set_ws_enabled(False) == 0
        assert not server.exchange.ws_enabled
        request = urllib.request.Request(
            server.base_url + "/_paper/ws", data=b'{"enabled": true}', method="POST"
        )
        with urllib.request.urlopen(request) as response:  # as a test in another process would
            assert json.loads(response.read()) == {"enabled": True, "closed": 0}
        assert server.exchange.ws_enabled


async def test_a_served_exchange_switches_ws_for_a_client_in_another_process(tmp_path, pro_factory):
    """`bot paper serve --test-hooks` in its own process, steered over /_paper/ws only."""
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
        "--test-hooks",
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = (await process.stdout.readline()).decode()
        assert line.startswith("paper exchange on http://127.0.0.1:"), line
        base_url = line.split()[3]
        client = pro_factory(base_url)
        assert only_btc(await ws_balance(client))["withdrawAvailable"] == "0.25000000"
        async with aiohttp.ClientSession() as session:
            async with session.post(base_url + "/_paper/ws", json={"enabled": False}) as off:
                assert await off.json() == {"enabled": False, "closed": 1}
            with pytest.raises(ccxt.NetworkError):
                await ws_balance(client)
            rest = await client.fetch_balance(INVERSE)
            assert rest["info"]["assets"][0]["maxWithdrawAmount"] == "0.25000000"
            async with session.post(base_url + "/_paper/ws", json={"enabled": True}) as on:
                assert await on.json() == {"enabled": True, "closed": 0}
    finally:
        process.terminate()
        await process.wait()


async def test_ws_faults_and_latency(pro, exchange):
    await ws_balance(pro)
    exchange.faults.add("reset_after", method="WS", path="account.balance")
    with pytest.raises(ccxt.NetworkError):
        await ws_balance(pro)
    exchange.faults.add("error", method="WS", path="account.balance", code=-1021)
    with pytest.raises(ccxt.InvalidNonce):  # a NetworkError subclass in ccxt
        await ws_balance(pro)
    exchange.faults.add("move_price_before", method="WS", path="*", symbol="BTC", price="75000")
    assert only_btc(await ws_balance(pro))["crossUnPnl"] == "-0.10000000"
    assert exchange.faults.fired["reset_after"] == 1


async def test_latency_longer_than_the_caller_waits_delays_the_answer_past_it(pro, exchange):
    await ws_balance(pro)
    exchange.faults.latency = LATENCY
    with pytest.raises(TimeoutError):  # the bound a caller must put on a ws request itself
        await asyncio.wait_for(pro.fetch_balance_ws(WS_BALANCE), CALLER_WAIT)
    exchange.faults.latency = 0
    assert only_btc(await ws_balance(pro))["withdrawAvailable"] == "0.25000000"
    assert exchange.faults.fired == {}  # latency is not a fault


async def test_stop_closes_open_sockets(state_path, pro_factory):
    async with PaperExchange(StateStore(state_path)) as server:
        client = pro_factory(server.base_url)
        await ws_balance(client)
        assert server.ws_api.connections == 1
    assert server.ws_api.connections == 0
    with pytest.raises(ccxt.NetworkError):  # the client saw its socket go
        await ws_balance(client)


# --- the protocol, without ccxt ---------------------------------------------------------------


def _signed(secret: str = PAPER_SECRET, **params: Any) -> dict[str, Any]:
    text = {
        k: ("true" if v is True else "false" if v is False else str(v)) for k, v in params.items()
    }
    payload = "&".join(f"{k}={text[k]}" for k in sorted(text))
    signature = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
    return {**params, "signature": signature}


@pytest.fixture
async def socket(exchange) -> AsyncIterator[Callable[[Any], Any]]:
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(exchange.base_url + routes_ws.WS_DAPI_PATH) as ws,
    ):

        async def ask(request: Any) -> dict[str, Any]:
            await ws.send_str(request if isinstance(request, str) else json.dumps(request))
            return json.loads(await asyncio.wait_for(ws.receive_str(), WAIT))

        yield ask


@pytest.fixture
async def raw_socket(exchange) -> AsyncIterator[Callable[[Any], Any]]:
    """Ask a signed method, get the answer frame as text (an override may not send JSON)."""
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(exchange.base_url + routes_ws.WS_DAPI_PATH) as ws,
    ):

        async def ask(method: str, *, timestamp: int | None = None) -> str:
            now = exchange.server_time() if timestamp is None else timestamp
            params = _signed(apiKey=PAPER_API_KEY, timestamp=now)
            await ws.send_str(json.dumps({"id": "r1", "method": method, "params": params}))
            return await asyncio.wait_for(ws.receive_str(), WAIT)

        yield ask


async def test_protocol_success_shape_and_rate_limits(socket, exchange):
    now = exchange.server_time()
    params = _signed(apiKey=PAPER_API_KEY, timestamp=now, recvWindow=5000)
    answer = await socket({"id": "9328e612", "method": "account.balance", "params": params})
    assert set(answer) == {"id", "status", "result", "rateLimits"}
    assert (answer["id"], answer["status"]) == ("9328e612", 200)
    assert [row["asset"] for row in answer["result"]] == ["BTC"]
    assert answer["result"][0]["accountAlias"] and answer["result"][0]["updateTime"] > 0
    (limit,) = answer["rateLimits"]
    assert limit["rateLimitType"] == "REQUEST_WEIGHT" and limit["interval"] == "MINUTE"
    assert (limit["intervalNum"], limit["limit"], limit["count"]) == (1, 2400, 5)

    params = _signed(apiKey=PAPER_API_KEY, timestamp=now, returnRateLimits=False)
    answer = await socket({"id": 7, "method": "account.status", "params": params})
    assert answer["id"] == 7 and "rateLimits" not in answer
    assert answer["result"]["assets"][0]["maxWithdrawAmount"] == "0.25000000"
    assert answer["result"]["positions"][0]["symbol"] == "BTCUSD_PERP"


async def test_protocol_errors(socket, exchange):
    now = exchange.server_time()
    unknown = await socket({"id": "u1", "method": "order.place", "params": {}})
    assert unknown["id"] == "u1" and unknown["status"] == 400
    assert unknown["error"] == {"code": -1020, "msg": "Unknown method."}

    garbled = await socket("{not json")
    assert garbled["id"] is None and garbled["status"] == 400
    assert garbled["error"]["code"] == -1135

    stale = _signed(apiKey=PAPER_API_KEY, timestamp=now - 6000)
    answer = await socket({"id": 1, "method": "account.balance", "params": stale})
    assert answer["status"] == 400 and answer["error"]["code"] == -1021

    tampered = {**_signed(apiKey=PAPER_API_KEY, timestamp=now), "recvWindow": 6000}
    answer = await socket({"id": 2, "method": "account.balance", "params": tampered})
    assert answer["status"] == 400 and answer["error"]["code"] == -1022

    answer = await socket({"id": 3, "method": "account.balance", "params": {"timestamp": now}})
    assert answer["status"] == 401 and answer["error"]["code"] == -2014

    foreign = _signed(apiKey="ключ", timestamp=now)
    answer = await socket({"id": 4, "method": "account.balance", "params": foreign})
    assert answer["status"] == 401 and answer["error"]["code"] == -2015

    answer = await socket({"id": 5, "method": "account.balance", "params": ["x"]})
    assert answer["id"] == 5 and answer["error"]["code"] == -1135


async def test_ccxt_sign_params_agrees_with_the_server_rule(exchange):
    client = ccxtpro.binance({"apiKey": PAPER_API_KEY, "secret": PAPER_SECRET})
    signed = client.sign_params({"returnRateLimits": False, "note": "a b&c", "size": 1.5})
    credentials = Credentials(api_key=PAPER_API_KEY, secret=PAPER_SECRET)
    wire = json.loads(json.dumps(signed), parse_float=str)  # as the server reads the frame
    params = routes_ws.verify_ws_params(wire, credentials, exchange.server_time())
    assert params["returnRateLimits"] == "false" and params["size"] == "1.5"
    assert params["note"] == "a b&c" and "signature" not in params


# --- overrides --------------------------------------------------------------------------------


async def test_override_answers_a_raw_text_frame_then_the_real_one(raw_socket, exchange):
    exchange.faults.add("override", method="WS", path="account.balance", body="<html>oops", times=2)
    assert [await raw_socket("account.balance") for _ in range(2)] == ["<html>oops"] * 2
    real = json.loads(await raw_socket("account.balance"))
    assert (real["id"], real["status"]) == ("r1", 200)
    assert exchange.faults.fired == {"override": 2}


async def test_override_on_one_ws_method_leaves_the_others(raw_socket, exchange):
    exchange.faults.add("override", method="WS", path="account.status", body="")
    assert json.loads(await raw_socket("account.balance"))["status"] == 200
    assert await raw_socket("account.status") == ""


async def test_override_mutates_the_frame_ccxt_reads(pro, exchange):
    exchange.faults.add(
        "override",
        method="WS",
        path="account.balance",
        mutations=[
            {"op": "set", "path": "result.0.withdrawAvailable", "value": "NaN"},
            {"op": "duplicate", "path": "result.0"},
            {"op": "delete", "path": "result.*.updateTime"},
        ],
    )
    first, second = (await ws_balance(pro))["info"]
    assert first == second and first["withdrawAvailable"] == "NaN"
    assert "updateTime" not in first and first["balance"] == "0.30000000"
    assert only_btc(await ws_balance(pro))["withdrawAvailable"] == "0.25000000"  # once only


async def test_override_writes_raw_numbers_and_breaks_the_id(raw_socket, exchange):
    exchange.faults.add(
        "override",
        method="WS",
        path="account.balance",
        mutations=[
            {"op": "set", "path": "result.0.balance", "value": "1e30", "raw_number": True},
            {"op": "set", "path": "id", "value": None},
        ],
    )
    text = await raw_socket("account.balance")
    assert text.startswith('{"id":null,"status":200,"result":[{')
    assert '"balance":1e30,' in text


async def test_override_mutates_an_error_frame_too(raw_socket, exchange):
    exchange.faults.add(
        "override",
        method="WS",
        path="*",
        mutations=[{"op": "set", "path": "status", "value": 200}],
    )
    stale = exchange.server_time() - 60_000
    answer = json.loads(await raw_socket("account.balance", timestamp=stale))
    assert answer["status"] == 200 and answer["error"]["code"] == -1021


async def test_override_path_that_does_not_resolve_is_reported(raw_socket, exchange):
    exchange.faults.add(
        "override",
        method="WS",
        path="account.balance",
        mutations=[{"op": "delete", "path": "result.5"}],
    )
    text = await raw_socket("account.balance")
    assert text.startswith("paper override on ws account.balance failed:")
    assert exchange.faults.report()["errors"] == [text]


async def test_admin_route_queues_a_ws_override(hooked_exchange, pro_factory):
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            hooked_exchange.base_url + "/_paper/fault",
            json={
                "kind": "override",
                "method": "WS",
                "path": "account.balance",
                "mutations": [{"op": "set", "path": "result", "value": []}],
            },
        ) as response,
    ):
        assert response.status == 200
    client = pro_factory(hooked_exchange.base_url)
    assert (await ws_balance(client))["info"] == []
