"""Test hooks: every fault kind as the real ccxt client sees it, latency, admin routes, and the
threaded runner."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import aiohttp
import ccxt
import pytest

from bot.paper import PaperExchange, PaperExchangeThread, StateStore, binance_urls
from bot.paper.faults import FaultPlan
from tests.waiting import until

D = Decimal
HANG = 1.0  # seconds the server hangs; the client gives up after TIMEOUT_MS
TIMEOUT_MS = 300


@pytest.fixture
async def ready_client(exchange, client_factory):
    client = client_factory(exchange.base_url, timeout=TIMEOUT_MS)
    await client.load_markets()
    return client


def _usdm_usdt(exchange: PaperExchange) -> Decimal:
    return exchange.state.usdm["USDT"].wallet_balance


async def _transfer_once(client) -> None:
    await client.transfer("USDT", 100, "spot", "linear")


async def test_http_500_before_applies_nothing(ready_client, exchange):
    exchange.faults.add("http_500_before")
    with pytest.raises(ccxt.ExchangeNotAvailable):
        await _transfer_once(ready_client)
    assert _usdm_usdt(exchange) == D(4500) and exchange.state.transfers == ()
    await _transfer_once(ready_client)  # consumed: the next call goes through
    assert _usdm_usdt(exchange) == D(4600)


async def test_http_500_after_applies_and_the_history_shows_it(ready_client, exchange):
    exchange.faults.add("http_500_after")
    with pytest.raises(ccxt.ExchangeNotAvailable):
        await _transfer_once(ready_client)
    assert _usdm_usdt(exchange) == D(4600)
    listed = await ready_client.fetch_transfers(
        "USDT", None, None, {"fromAccount": "spot", "toAccount": "linear"}
    )
    assert [t["amount"] for t in listed] == [100.0]


async def test_http_429_applies_nothing(ready_client, exchange):
    exchange.faults.add("http_429")
    with pytest.raises(ccxt.DDoSProtection, match="-1003"):
        await _transfer_once(ready_client)
    assert _usdm_usdt(exchange) == D(4500)


async def test_http_429_carries_retry_after(exchange):
    exchange.faults.add("http_429", method="GET", path="/api/v3/time")
    async with (
        aiohttp.ClientSession() as session,
        session.get(exchange.base_url + "/api/v3/time") as response,
    ):
        assert response.status == 429
        assert response.headers["Retry-After"] == "1"
        assert (await response.json())["code"] == -1003


async def test_timeout_before_applies_nothing(ready_client, exchange):
    exchange.faults.add("timeout_before", hang=HANG)
    with pytest.raises(ccxt.RequestTimeout):
        await _transfer_once(ready_client)
    assert _usdm_usdt(exchange) == D(4500)


async def test_timeout_after_applies_and_persists(ready_client, exchange, state_path):
    exchange.faults.add("timeout_after", hang=HANG)
    with pytest.raises(ccxt.RequestTimeout):
        await _transfer_once(ready_client)
    assert _usdm_usdt(exchange) == D(4600)
    assert StateStore.load(state_path).usdm["USDT"].wallet_balance == D(4600)


async def test_reset_after_applies_and_drops_the_connection(ready_client, exchange, state_path):
    exchange.faults.add("reset_after")
    with pytest.raises(ccxt.NetworkError):
        await _transfer_once(ready_client)
    assert StateStore.load(state_path).usdm["USDT"].wallet_balance == D(4600)
    await _transfer_once(ready_client)  # the client reconnects
    assert _usdm_usdt(exchange) == D(4700)


@pytest.mark.parametrize(
    ("status", "code", "error"),
    [
        (400, -1021, ccxt.InvalidNonce),
        (401, -2015, ccxt.AuthenticationError),
        (503, -1006, ccxt.OperationFailed),
    ],
)
async def test_error_answers_without_applying(ready_client, exchange, status, code, error):
    exchange.faults.add("error", status=status, code=code)
    with pytest.raises(error, match=str(code)):
        await _transfer_once(ready_client)
    assert _usdm_usdt(exchange) == D(4500)


async def test_move_price_before_changes_what_can_leave(ready_client, exchange):
    # the client read 3000 withdrawable; the price moves against the short before the transfer
    balance = await ready_client.fetch_balance({"type": "swap", "subType": "linear"})
    assert balance["info"]["maxWithdrawAmount"] == "3000.00000000"
    exchange.faults.add("move_price_before", symbol="ETHUSDT", price="3100")
    with pytest.raises(ccxt.ExchangeError, match="-5013"):
        await ready_client.transfer("USDT", 2970, "linear", "spot")
    assert exchange.state.mark_prices["ETHUSDT"] == D(3100)
    assert _usdm_usdt(exchange) == D(4500)


async def test_faults_match_method_and_path_and_count(ready_client, exchange):
    exchange.faults.add("http_500_before", method="GET", path="/fapi/v3/account", times=2)
    await _transfer_once(ready_client)  # a POST elsewhere is untouched
    for _ in range(2):
        with pytest.raises(ccxt.ExchangeNotAvailable):
            await ready_client.fetch_balance({"type": "swap", "subType": "linear"})
    await ready_client.fetch_balance({"type": "swap", "subType": "linear"})
    assert exchange.faults.fired["http_500_before"] == 2
    assert exchange.faults.pending() == []


def test_fault_plan_validation_and_wildcards():
    plan = FaultPlan()
    with pytest.raises(ValueError):
        plan.add("no_such_kind")
    with pytest.raises(ValueError):
        plan.add("move_price_before")
    plan.add("error", method="*", path="*", times=None, code=-1006)
    for _ in range(3):
        fault = plan.take("GET", "/anything")
        assert fault is not None and fault.error_body()["code"] == -1006
    plan.clear()
    assert plan.take("GET", "/anything") is None
    assert plan.fired == {"error": 3}


async def test_latency_the_client_cannot_wait_for_times_out_every_request(ready_client, exchange):
    exchange.faults.latency = HANG  # longer than the client's TIMEOUT_MS
    with pytest.raises(ccxt.RequestTimeout):
        await ready_client.fetch_time()
    with pytest.raises(ccxt.RequestTimeout):
        await ready_client.fetch_balance()
    assert _usdm_usdt(exchange) == D(4500) and exchange.faults.fired == {}  # not a fault
    exchange.faults.latency = 0
    assert (await ready_client.fetch_balance())["USDT"]["free"] == 20000.0


async def test_stop_cuts_a_hanging_fault_short(state_path):
    """A fault hanging for an hour ends when the server stops: the waiting client gets the
    fault's own late answer (504) instead of the server waiting out the hang."""
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None)) as session,
        PaperExchange(StateStore(state_path)) as running,
    ):
        running.faults.add("timeout_before", method="GET", path="/api/v3/time", hang=3600)
        waiting = asyncio.create_task(_status(session, running.base_url + "/api/v3/time"))
        await until(lambda: running.faults.fired["timeout_before"] > 0, "the request hangs")
        await running.stop()
        assert await waiting == (504, "Gateway Time-out")


async def _status(session: aiohttp.ClientSession, url: str) -> tuple[int, str]:
    async with session.get(url) as response:
        return response.status, await response.text()


async def test_admin_routes_are_absent_without_test_hooks(exchange):
    async with aiohttp.ClientSession() as session:
        for method, path in (
            ("GET", "/_paper/state"),
            ("POST", "/_paper/mark"),
            ("POST", "/_paper/fault"),
            ("POST", "/_paper/clock"),
            ("POST", "/_paper/ws"),
        ):
            async with session.request(method, exchange.base_url + path, json={}) as response:
                assert response.status == 404, path


async def test_admin_routes_drive_the_exchange(hooked_exchange, client_factory):
    base = hooked_exchange.base_url
    client = client_factory(base, timeout=TIMEOUT_MS)
    async with aiohttp.ClientSession() as session:
        async with session.get(base + "/_paper/state") as response:
            state = await response.json()
        assert state["usdm"]["USDT"]["wallet_balance"] == "4500"
        assert state["transfers"] == []

        async with session.post(base + "/_paper/mark", json={"symbol": "ETHUSDT", "price": "3100"}):
            pass
        assert hooked_exchange.state.mark_prices["ETHUSDT"] == D(3100)
        async with session.post(base + "/_paper/mark", json={"symbol": "X", "price": "1"}) as bad:
            assert bad.status == 400

        async with session.post(base + "/_paper/fault", json={"kind": "http_500_after"}) as r:
            assert r.status == 200
        with pytest.raises(ccxt.ExchangeNotAvailable):
            await client.transfer("USDT", 5, "spot", "linear")
        async with session.get(base + "/_paper/state") as response:
            state = await response.json()
        assert [t["amount"] for t in state["transfers"]] == ["5"]
        async with session.get(base + "/_paper/faults") as response:
            assert (await response.json())["fired"] == {"http_500_after": 1}
        async with session.post(base + "/_paper/fault", json={"kind": "bogus"}) as bad:
            assert bad.status == 400

        async with session.post(base + "/_paper/clock", json={"offset_ms": 30000}) as r:
            assert (await r.json())["offset_ms"] == 30000
        with pytest.raises(ccxt.InvalidNonce):
            await client.fetch_balance()
        async with session.post(base + "/_paper/clock", json={"offset_ms": 0}):
            pass

        async with session.post(base + "/_paper/latency", json={"seconds": 0.5}):
            pass
        with pytest.raises(ccxt.RequestTimeout):
            await client.fetch_balance()
        async with session.post(base + "/_paper/latency", json={"seconds": 0}):
            pass
        await client.fetch_balance()

        async with session.put(base + "/_paper/state", json=state) as r:
            assert r.status == 200


def test_thread_runner_serves_a_synchronous_client(tmp_path):
    with PaperExchangeThread(StateStore(tmp_path / "state.json"), test_hooks=True) as server:
        client = ccxt.binance(
            {"apiKey": "paper-api-key", "secret": "paper-secret", "enableRateLimit": False}
        )
        client.urls["api"] = binance_urls(server.base_url, client.urls["api"])
        client.transfer("USDT", 10, "spot", "linear")
        assert server.state.usdm["USDT"].wallet_balance == D(4510)
        server.set_mark_price("ETHUSDT", D("3100"))
        balance = client.fetch_balance({"type": "swap", "subType": "linear"})
        assert balance["info"]["assets"][0]["unrealizedProfit"] == "-500.00000000"
        server.faults.add("http_500_before")
        with pytest.raises(ccxt.ExchangeNotAvailable):
            client.transfer("USDT", 10, "spot", "linear")
    assert StateStore.load(tmp_path / "state.json").usdm["USDT"].wallet_balance == D(4510)
