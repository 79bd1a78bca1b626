"""The futures push streams (user data and mark price) against the real ccxt.pro binance client
(4.5.90), unmodified but for its URLs, and against a bare aiohttp socket for protocol details:
listen keys and ccxt's own keepalive, `watch_balance`, `watch_positions` and `watch_mark_prices`
fed by state changes made through REST and the test hooks, expiry, refusal and shutdown."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Awaitable
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import ccxt
import ccxt.pro as ccxtpro
import pytest

from bot.paper import (
    PAPER_API_KEY,
    PaperExchange,
    PaperExchangeThread,
    StateStore,
    default_state,
)
from bot.paper.model import ISOLATED, MarketKind
from bot.paper.routes_ws import websocket_base
from tests.waiting import DEADLINE, bounded, until, until_sync

D = Decimal
LINEAR = {"type": "swap", "subType": "linear"}
INVERSE = {"type": "swap", "subType": "inverse"}
FAST = 0.05  # seconds between mark ticks in these tests


@pytest.fixture
async def streaming(state_path: Path) -> AsyncIterator[PaperExchange]:
    async with PaperExchange(StateStore(state_path), test_hooks=True) as running:
        running.mark_stream_interval = FAST
        yield running


@pytest.fixture
async def pro(streaming: PaperExchange, pro_factory) -> ccxtpro.binance:
    return pro_factory(streaming.base_url)


async def open_user_stream(exchange: PaperExchange, watch: Awaitable[Any]) -> asyncio.Task[Any]:
    """Start a ccxt.pro watch and return once its socket is open on the paper side."""
    opened = exchange.stream_connections
    task = asyncio.ensure_future(watch)
    await until(lambda: exchange.stream_connections > opened or task.done(), "socket opened")
    if task.done():
        task.result()  # raise what went wrong
    return task


def keyed_headers() -> dict[str, str]:
    return {"X-MBX-APIKEY": PAPER_API_KEY}


# --- listen keys over REST --------------------------------------------------------------------


async def test_listen_key_is_one_per_family_and_a_post_extends_it(streaming):
    async with aiohttp.ClientSession(headers=keyed_headers()) as http:
        base = streaming.base_url
        first = await (await http.post(base + "/fapi/v1/listenKey")).json()
        again = await (await http.post(base + "/fapi/v1/listenKey")).json()
        coinm = await (await http.post(base + "/dapi/v1/listenKey")).json()
        assert first == again and len(first["listenKey"]) == 64
        assert coinm["listenKey"] != first["listenKey"]

        put = await http.put(base + "/fapi/v1/listenKey")
        assert (put.status, await put.json()) == (200, first)  # USD-M names the key
        put = await http.put(base + "/dapi/v1/listenKey")
        assert (put.status, await put.json()) == (200, {})  # COIN-M answers {}
        assert streaming.listen_key_keepalives(first["listenKey"]) == 1

        deleted = await http.delete(base + "/fapi/v1/listenKey")
        assert (deleted.status, await deleted.json()) == (200, {})
        refused = await http.put(base + "/fapi/v1/listenKey")
        assert refused.status == 400
        assert await refused.json() == {"code": -1125, "msg": "This listenKey does not exist."}
        fresh = await (await http.post(base + "/fapi/v1/listenKey")).json()
        assert fresh["listenKey"] != first["listenKey"]


async def test_listen_key_wants_the_api_key_header_but_no_signature(streaming):
    async with aiohttp.ClientSession() as http:
        bare = await http.post(streaming.base_url + "/fapi/v1/listenKey")
        assert (bare.status, (await bare.json())["code"]) == (401, -2014)
        wrong = await http.post(
            streaming.base_url + "/dapi/v1/listenKey", headers={"X-MBX-APIKEY": "nope"}
        )
        assert (wrong.status, (await wrong.json())["code"]) == (401, -2015)


async def test_a_key_runs_out_an_hour_after_its_last_keepalive(streaming):
    async with aiohttp.ClientSession(headers=keyed_headers()) as http:
        base = streaming.base_url
        key = (await (await http.post(base + "/dapi/v1/listenKey")).json())["listenKey"]
        streaming.faults.clock_offset_ms = 59 * 60 * 1000
        assert (await http.put(base + "/dapi/v1/listenKey")).status == 200  # extended
        streaming.faults.clock_offset_ms = 2 * 59 * 60 * 1000
        assert (await http.put(base + "/dapi/v1/listenKey")).status == 200
        streaming.faults.clock_offset_ms = 4 * 60 * 60 * 1000
        assert (await http.put(base + "/dapi/v1/listenKey")).status == 400
        renewed = (await (await http.post(base + "/dapi/v1/listenKey")).json())["listenKey"]
        assert renewed != key


# --- ccxt.pro user data -----------------------------------------------------------------------


async def test_ccxt_sends_its_keepalive_put_once(streaming, pro_factory):
    """ccxt.pro 4.5.90 (Python) sends the keepalive PUT only when `defaultType` resolves to the
    stream's family (it drops the call's own type), and never schedules a second one: its
    re-arm looks for `subscriptions` with `safe_dict` on Client objects, which are not dicts.
    A key then lives on through the POST its next watch call makes once the refresh period
    is past. This pins that behaviour, so a ccxt upgrade that changes it shows up here."""
    refresh_ms = 100
    pro = pro_factory(
        streaming.base_url, options={"listenKeyRefreshRate": refresh_ms, "defaultType": "swap"}
    )
    watch = await open_user_stream(streaming, pro.watch_balance(LINEAR))
    key = pro.options["linear"]["listenKey"]
    await until(lambda: streaming.listen_key_keepalives(key) == 1, "the keepalive PUT")
    assert ("PUT", "/fapi/v1/listenKey", {}) in streaming.requests
    await asyncio.sleep(4 * refresh_ms / 1000)
    assert streaming.listen_key_keepalives(key) == 1  # no second PUT
    assert not watch.done()  # the stream stays open meanwhile
    watch.cancel()


async def test_watch_balance_usdm_sees_a_transfer_in(pro, streaming):
    watch = await open_user_stream(streaming, pro.watch_balance(LINEAR))
    await pro.sapiPostAssetTransfer({"type": "MAIN_UMFUTURE", "asset": "USDT", "amount": "100"})
    balance = await bounded(watch)
    assert balance["USDT"]["total"] == 4600.0
    event = balance["info"]
    assert event["e"] == "ACCOUNT_UPDATE" and event["E"] == event["T"]
    assert "i" not in event  # the account alias is COIN-M's
    assert event["a"] == {
        "m": "DEPOSIT",
        "B": [{"a": "USDT", "wb": "4600.00000000", "cw": "4600.00000000", "bc": "100.00000000"}],
        "P": [],  # no position changed
    }


async def test_watch_balance_coinm_sees_a_transfer_out(pro, streaming):
    watch = await open_user_stream(streaming, pro.watch_balance(INVERSE))
    await pro.transfer("BTC", 0.1, "inverse", "spot")
    balance = await bounded(watch)
    assert balance["BTC"]["total"] == pytest.approx(0.2)
    event = balance["info"]
    assert event["i"] == "SgsR"
    assert event["a"]["m"] == "WITHDRAW"
    assert event["a"]["B"] == [
        {"a": "BTC", "wb": "0.20000000", "cw": "0.20000000", "bc": "-0.10000000"}
    ]
    (position,) = event["a"]["P"]  # COIN-M pushes every position
    assert position["s"] == "BTCUSD_PERP" and position["pa"] == "-300"


async def test_a_mark_move_alone_is_no_account_update(pro, streaming):
    """Binance pushes no ACCOUNT_UPDATE for unrealized PnL; the next one carries the new up."""
    watch = await open_user_stream(streaming, pro.watch_balance(INVERSE))
    streaming.set_mark_price("BTCUSD_PERP", D("50000"))
    # no wait here: events go out from the state's commits, in order on the one socket, so an
    # ACCOUNT_UPDATE for the mark move would come before the transfer's and fail the test below
    await pro.transfer("BTC", 0.01, "spot", "inverse")
    event = (await bounded(watch))["info"]
    assert event["a"]["m"] == "DEPOSIT"
    assert event["a"]["P"][0]["up"] == "0.10000000"  # short 300 x 100 USD, 60000 -> 50000


async def test_watch_positions_coinm_sees_a_funding_payment(pro, streaming):
    symbol = "BTC/USD:BTC"
    snapshot = await bounded(pro.watch_positions([symbol], None, None, INVERSE))
    # ccxt 4.5.90's snapshot for an inverse watch reads /fapi/v3/positionRisk (USD-M), so the
    # COIN-M short is missing from it; the stream below is what reports it
    assert snapshot == []
    watch = await open_user_stream(streaming, pro.watch_positions([symbol], None, None, INVERSE))
    async with aiohttp.ClientSession() as http:
        booked = await http.post(
            streaming.base_url + "/_paper/funding", json={"symbol": "BTCUSD_PERP"}
        )
        assert booked.status == 200
    (position,) = await bounded(watch)
    assert position["symbol"] == symbol and position["side"] == "short"
    assert position["contracts"] == 300.0 and position["entryPrice"] == 60000.0
    info = position["info"]
    assert info == {
        "s": "BTCUSD_PERP",
        "pa": "-300",
        "ep": "60000.0",
        "bep": info["bep"],
        "cr": "0",
        "up": "0.00000000",
        "mt": "cross",
        "iw": "0.00000000",
        "ps": "BOTH",
    }
    assert D(info["bep"]) < D("60000")  # a short breaks even below its entry
    balance = pro.balance["inverse"]["info"]["a"]
    assert balance["m"] == "FUNDING_FEE"
    # the short receives |notional| x rate: 300 x 100 / 60000 x 0.0001 BTC
    assert balance["B"] == [
        {"a": "BTC", "wb": "0.30005000", "cw": "0.30005000", "bc": "0.00005000"}
    ]


@pytest.fixture
async def isolated_exchange(tmp_path: Path) -> AsyncIterator[PaperExchange]:
    """The default account with its ETHUSDT short isolated on 1500 USDT of its own margin."""
    state = default_state(now=0)
    positions = tuple(
        replace(p, margin_type=ISOLATED, isolated_wallet=D("1500"))
        if p.kind == MarketKind.LINEAR
        else p
        for p in state.positions
    )
    store = StateStore(tmp_path / "isolated.json", initial=replace(state, positions=positions))
    async with PaperExchange(store, test_hooks=True) as running:
        yield running


async def test_watch_positions_usdm_sees_isolated_margin_added(isolated_exchange, pro_factory):
    exchange = isolated_exchange
    pro = pro_factory(exchange.base_url)
    symbol = "ETH/USDT:USDT"
    await bounded(pro.watch_positions([symbol], None, None, LINEAR))  # the snapshot
    watch = await open_user_stream(exchange, pro.watch_positions([symbol], None, None, LINEAR))
    await pro.add_margin(symbol, 250)
    (position,) = await bounded(watch)
    assert position["marginMode"] == "isolated" and position["contracts"] == 5.0
    assert position["info"]["iw"] == "1750.00000000"
    assert position["info"]["pa"] == "-5.000"
    event = pro.balance["linear"]["info"]
    assert event["a"]["m"] == "MARGIN_TRANSFER"
    # the wallet is unchanged; the cross wallet gave the 250
    assert event["a"]["B"] == [
        {"a": "USDT", "wb": "4500.00000000", "cw": "2750.00000000", "bc": "0.00000000"}
    ]


async def test_watch_positions_usdm_funding_on_a_cross_position_has_no_position(pro, streaming):
    """Binance: a cross position's FUNDING_FEE carries only the balance."""
    watch = await open_user_stream(streaming, pro.watch_balance(LINEAR))
    async with aiohttp.ClientSession() as http:
        await http.post(streaming.base_url + "/_paper/funding", json={"symbol": "ETHUSDT"})
    event = (await bounded(watch))["info"]
    assert event["a"]["m"] == "FUNDING_FEE" and event["a"]["P"] == []
    assert event["a"]["B"][0]["bc"] == "1.50000000"  # 5 x 3000 x 0.0001 to the short


# --- expiry and refusal -----------------------------------------------------------------------


async def test_expiry_pushes_listen_key_expired_then_closes(pro, streaming):
    watch = await open_user_stream(streaming, pro.watch_balance(LINEAR))
    key = pro.options["linear"]["listenKey"]
    url = f"{websocket_base(streaming.base_url)}/private/ws?listenKey={key}"
    async with aiohttp.ClientSession() as http, http.ws_connect(url) as ws:
        await until(lambda: streaming.stream_connections == 2, "second socket")
        async with aiohttp.ClientSession() as admin:
            answer = await admin.post(
                streaming.base_url + "/_paper/listen-key/expire", json={"family": "usdm"}
            )
            assert await answer.json() == {"closed": 2}
        message = await bounded(ws.receive())
        event = json.loads(message.data)
        assert event["e"] == "listenKeyExpired" and event["listenKey"] == key
        assert int(event["E"]) > 0
        closing = await bounded(ws.receive())
        assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    with pytest.raises(ccxt.NetworkError):
        await bounded(watch)  # ccxt's watch fails with the closed socket
    refused = aiohttp.ClientSession()
    try:
        with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
            await refused.ws_connect(url)
        assert caught.value.status == 400  # an expired key is refused at the handshake
    finally:
        await refused.close()


async def test_expiry_without_close_tells_the_socket_and_then_sends_it_nothing(streaming):
    """Binance may send listenKeyExpired and leave the socket open: the key is dead (a PUT is
    refused) and no account event reaches that socket any more."""
    async with aiohttp.ClientSession() as http:
        key, ws = await coinm_user_socket(http, streaming)
        told = await streaming.expire_listen_key("coinm", close=False)
        assert told == 1
        event = await bounded(ws.receive_json())
        assert event == {"e": "listenKeyExpired", "E": event["E"], "listenKey": key}
        refused = await http.put(streaming.base_url + "/dapi/v1/listenKey", headers=keyed_headers())
        assert refused.status == 400
        # a change the key's socket would have heard: it hears nothing, and stays open
        await http.post(streaming.base_url + "/_paper/funding", json={"symbol": "BTCUSD_PERP"})
        await ws.ping()
        assert streaming.stream_connections == 1 and not ws.closed
        async with aiohttp.ClientSession() as admin:
            answer = await admin.post(
                streaming.base_url + "/_paper/listen-key/expire",
                json={"family": "coinm", "close": "no"},
            )
            assert answer.status == 400
        await ws.close()


async def coinm_user_socket(
    http: aiohttp.ClientSession, exchange: PaperExchange
) -> tuple[str, aiohttp.ClientWebSocketResponse]:
    answer = await http.post(exchange.base_url + "/dapi/v1/listenKey", headers=keyed_headers())
    key = (await answer.json())["listenKey"]
    ws = await http.ws_connect(f"{websocket_base(exchange.base_url)}/ws/{key}")
    await until(lambda: exchange.stream_connections == 1, "COIN-M user socket")
    return key, ws


async def test_a_key_left_without_keepalive_expires_on_the_tick(streaming):
    async with aiohttp.ClientSession() as http:
        key, ws = await coinm_user_socket(http, streaming)
        streaming.faults.clock_offset_ms = 60 * 60 * 1000  # the hour has passed
        event = await bounded(ws.receive_json())
        assert event["e"] == "listenKeyExpired" and event["listenKey"] == key
        assert (await bounded(ws.receive())).type in (
            aiohttp.WSMsgType.CLOSE,
            aiohttp.WSMsgType.CLOSED,
        )
        assert ws.close_code == 1000
        (report,) = streaming.listen_keys()
        assert report["valid"] is False and report["keepalives"] == 0


async def test_delete_closes_the_keys_sockets_without_an_event(streaming):
    async with aiohttp.ClientSession() as http:
        _, ws = await coinm_user_socket(http, streaming)
        receiving = asyncio.ensure_future(ws.receive())
        deleted = await http.delete(
            streaming.base_url + "/dapi/v1/listenKey", headers=keyed_headers()
        )
        assert deleted.status == 200
        closing = await bounded(receiving)
        assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        await until(lambda: streaming.stream_connections == 0, "socket gone")


def test_the_thread_server_pushes_commits_made_from_another_thread(state_path):
    """A synchronous test commits on its own thread; the event still reaches the socket."""

    async def listen(base_url: str, opened: threading.Event) -> dict[str, Any]:
        async with aiohttp.ClientSession() as http:
            key = (
                await (
                    await http.post(base_url + "/dapi/v1/listenKey", headers=keyed_headers())
                ).json()
            )["listenKey"]
            async with http.ws_connect(f"{websocket_base(base_url)}/ws/{key}") as ws:
                opened.set()
                return await bounded(ws.receive_json())

    with PaperExchangeThread(StateStore(state_path), test_hooks=True) as server:
        opened = threading.Event()
        result: list[dict[str, Any]] = []
        listener = threading.Thread(
            target=lambda: result.append(asyncio.run(listen(server.base_url, opened)))
        )
        listener.start()
        assert opened.wait(DEADLINE)
        until_sync(lambda: server.exchange.stream_connections == 1, "socket open")
        state = server.store.state
        btc = state.coinm["BTC"]
        moved = replace(btc, wallet_balance=btc.wallet_balance + D("0.5"))
        server.store.commit(replace(state, coinm={"BTC": moved}))  # on this thread
        listener.join(DEADLINE)
        (event,) = result
        assert event["a"]["m"] == "ADJUSTMENT"
        assert event["a"]["B"][0]["wb"] == "0.80000000"
        until_sync(lambda: server.exchange.stream_connections == 0, "listener gone")
        assert server.expire_listen_key("coinm") == 0
        assert server.set_streams_enabled(False) == 0
        assert server.exchange.streams_enabled is False


@pytest.mark.parametrize(
    "path",
    [
        "/private/ws?listenKey=" + "x" * 64,
        "/private/ws?listenKey=",
        "/ws/" + "Y" * 64,
    ],
)
async def test_an_unknown_listen_key_is_refused_at_the_handshake(streaming, path):
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
            await http.ws_connect(websocket_base(streaming.base_url) + path)
        assert caught.value.status == 400


async def test_a_listen_key_serves_only_its_own_family_on_the_usdm_path(streaming):
    async with aiohttp.ClientSession(headers=keyed_headers()) as http:
        coinm = (await (await http.post(streaming.base_url + "/dapi/v1/listenKey")).json())[
            "listenKey"
        ]
        ws_base = websocket_base(streaming.base_url)
        with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
            await http.ws_connect(f"{ws_base}/private/ws?listenKey={coinm}")
        assert caught.value.status == 400
        async with http.ws_connect(f"{ws_base}/ws/{coinm}"):
            await until(lambda: streaming.stream_connections == 1, "COIN-M user socket")


async def test_ccxt_pings_are_answered(streaming, pro_factory):
    """ccxt.pro pings every keepAlive ms; the paper's aiohttp autoping answers each with a pong.

    What is asserted is that pongs arrive, not how soon: ccxt's own ping-pong timeout (two
    missed periods, 40 ms here) is set out of reach, since a loaded machine can delay any
    frame by more than that, and would fail the socket for the machine's sake, not the
    exchange's. ccxt sets `lastPong` once itself when its loop starts; every later change is a
    pong it received."""
    keep_alive_ms = 20
    pro = pro_factory(
        streaming.base_url,
        streaming={"keepAlive": keep_alive_ms, "maxPingPongMisses": 10**9},
    )
    watch = await open_user_stream(streaming, pro.watch_balance(LINEAR))
    (client,) = [c for c in pro.clients.values() if "/private/ws" in c.url]
    seen: set[int] = set()

    def pongs_arrived() -> bool:
        if client.lastPong is not None:
            seen.add(client.lastPong)
        return len(seen) >= 4  # ccxt's own first value, then three pongs

    await until(pongs_arrived, "three pongs answered the client's pings")
    assert not watch.done()  # the stream is still open
    watch.cancel()


# --- mark price -------------------------------------------------------------------------------


async def test_watch_mark_prices_usdm_sees_a_mark_moved_through_the_hook(pro, streaming):
    symbol = "ETH/USDT:USDT"
    first = await bounded(pro.watch_mark_prices([symbol]))
    assert first[symbol]["markPrice"] == 3000.0
    info = first[symbol]["info"]
    assert info == {
        "e": "markPriceUpdate",
        "E": info["E"],
        "s": "ETHUSDT",
        "p": "3000.00000000",
        "i": "3000.00000000",
        "P": "3000.00000000",
        "r": "0.00010000",
        "T": info["T"],
    }
    assert info["T"] > info["E"]  # the next funding time is ahead
    async with aiohttp.ClientSession() as http:
        await http.post(
            streaming.base_url + "/_paper/mark", json={"symbol": "ETHUSDT", "price": "2500.5"}
        )
    async with asyncio.timeout(DEADLINE):
        while (await pro.watch_mark_prices([symbol]))[symbol]["markPrice"] != 2500.5:
            pass
    assert pro.tickers[symbol]["info"]["p"] == "2500.50000000"


async def test_watch_mark_prices_coinm_streams_steadily(pro, streaming):
    symbol = "BTC/USD:BTC"
    seen = [await bounded(pro.watch_mark_prices([symbol])) for _ in range(3)]
    times = [update[symbol]["timestamp"] for update in seen]
    assert times == sorted(times) and len(set(times)) == 3  # one event per tick
    assert seen[-1][symbol]["info"]["p"] == "60000.00000000"


async def test_a_mark_move_is_pushed_at_once_not_at_the_next_tick(pro, streaming):
    """The subscription is live once a tick reached it (no fixed pause: a loaded machine may
    answer the SUBSCRIBE late). The tick loop then finishes the FAST sleep it is in (one more
    tick) and sleeps an hour, so the moved mark can only come by the push at once."""
    symbol = "ETH/USDT:USDT"
    first = await bounded(pro.watch_mark_prices([symbol]))  # a tick: the subscription is live
    assert first[symbol]["markPrice"] == 3000.0
    streaming.mark_stream_interval = 3600.0
    await bounded(pro.watch_mark_prices([symbol]))  # the tick of the sleep under way
    streaming.set_mark_price("ETHUSDT", D("3100"))
    update = await bounded(pro.watch_mark_prices([symbol]))
    assert update[symbol]["markPrice"] == 3100.0


async def test_market_stream_protocol(streaming):
    url = websocket_base(streaming.base_url) + "/market/ws/0"
    async with aiohttp.ClientSession() as http, http.ws_connect(url) as ws:
        await ws.send_json({"method": "SUBSCRIBE", "params": ["btcusdt@markPrice@1s"], "id": 7})
        assert await bounded(ws.receive_json()) == {"result": None, "id": 7}
        await ws.send_json({"method": "LIST_SUBSCRIPTIONS", "id": 8})
        answer = await bounded(ws.receive_json())
        while "id" not in answer:  # an update may come first
            answer = await bounded(ws.receive_json())
        assert answer == {"result": ["btcusdt@markPrice@1s"], "id": 8}
        await ws.send_json({"method": "SUBSCRIBE", "params": ["!markPrice@arr@1s"], "id": 9})
        batch: Any = None
        async with asyncio.timeout(DEADLINE):
            while not isinstance(batch, list):
                batch = await ws.receive_json()
        perpetuals = [event["s"] for event in batch if "_" not in event["s"]]
        assert perpetuals == ["ETHUSDT", "BTCUSDT"]  # then the quarterly futures
        await ws.send_json({"method": "UNSUBSCRIBE", "params": ["!markPrice@arr@1s"], "id": 10})
        await ws.send_str("not json")
        frames = [await bounded(ws.receive_json()) for _ in range(4)]
        answers = [f for f in frames if isinstance(f, dict) and "e" not in f]
        assert {"result": None, "id": 10} in answers
        assert any(f.get("error", {}).get("code") == 3 for f in answers)


async def test_a_raw_stream_path_starts_subscribed(streaming):
    url = websocket_base(streaming.base_url) + "/ws/ethusd_perp@markPrice@1s"
    async with aiohttp.ClientSession() as http, http.ws_connect(url) as ws:
        event = await bounded(ws.receive_json())
        assert (event["e"], event["s"], event["p"]) == (
            "markPriceUpdate",
            "ETHUSD_PERP",
            "3000.00000000",
        )


async def test_silent_marks_keep_the_socket_open_and_push_nothing(streaming):
    """`marks_silent`: the mark socket stays connected, answers pings and SUBSCRIBE frames,
    and pushes no update until the marks speak again; every socket opened is counted."""
    url = websocket_base(streaming.base_url) + "/market/ws/0"
    async with aiohttp.ClientSession() as http, http.ws_connect(url) as ws:
        await ws.send_json({"method": "SUBSCRIBE", "params": ["ethusdt@markPrice@1s"], "id": 1})
        frame = await bounded(ws.receive_json())
        while "id" not in frame:
            frame = await bounded(ws.receive_json())
        answer = await http.post(
            streaming.base_url + "/_paper/streams", json={"marks_silent": True}
        )
        assert await answer.json() == {"marks_silent": True}
        # drain what was pushed before the switch, then a request that needs an answer: the
        # first frame after it is that answer, not an update (a move is pushed at once too)
        streaming.set_mark_price("ETHUSDT", D("3100"))
        await ws.send_json({"method": "LIST_SUBSCRIPTIONS", "id": 2})
        frame = await bounded(ws.receive_json())
        while frame.get("id") != 2:
            assert frame.get("E", 0) > 0  # an update sent before the switch
            frame = await bounded(ws.receive_json())
        await ws.send_json({"method": "LIST_SUBSCRIPTIONS", "id": 3})
        assert await bounded(ws.receive_json()) == {"result": ["ethusdt@markPrice@1s"], "id": 3}
        await ws.ping()  # answered: the socket is alive
        state = await (await http.get(streaming.base_url + "/_paper/streams")).json()
        assert state["marks_silent"] is True and state["opened"] == {"user": 0, "market": 1}
        streaming.marks_silent = False
        update = await bounded(ws.receive_json())
        assert update["e"] == "markPriceUpdate" and update["p"] == "3100.00000000"


# --- switches and shutdown --------------------------------------------------------------------


async def test_streams_disabled_refuse_handshakes_and_close_sockets(pro, streaming):
    watch = await open_user_stream(streaming, pro.watch_balance(LINEAR))
    assert await streaming.set_streams_enabled(False) == 1
    with pytest.raises(ccxt.NetworkError):
        await bounded(watch)
    url = websocket_base(streaming.base_url) + "/market/ws/0"
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
            await http.ws_connect(url)
        assert caught.value.status == 503
        answer = await http.post(streaming.base_url + "/_paper/streams", json={"enabled": True})
        assert await answer.json() == {"enabled": True, "closed": 0}
        async with http.ws_connect(url):
            await until(lambda: streaming.stream_connections == 1, "served again")
        state = await (await http.get(streaming.base_url + "/_paper/streams")).json()
        assert state["enabled"] is True and state["mark_stream_interval"] == FAST
        (key,) = state["listen_keys"]
        assert key["family"] == "usdm" and key["valid"] is True


async def test_shutdown_closes_every_stream_socket(state_path, pro_factory):
    exchange = PaperExchange(StateStore(state_path))
    await exchange.start()
    pro = pro_factory(exchange.base_url)
    user = await open_user_stream(exchange, pro.watch_balance(INVERSE))
    market = asyncio.ensure_future(pro.watch_mark_prices(["BTC/USD:BTC"]))
    await until(lambda: exchange.stream_connections == 2, "two sockets")
    url = websocket_base(exchange.base_url) + "/ws/0"
    async with aiohttp.ClientSession() as http, http.ws_connect(url) as ws:
        await until(lambda: exchange.stream_connections == 3, "three sockets")
        receiving = asyncio.ensure_future(ws.receive())  # a client reads, so it answers the close
        await exchange.stop()
        closing = await bounded(receiving)
        assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        assert ws.close_code == aiohttp.WSCloseCode.GOING_AWAY
    assert exchange.stream_connections == 0
    with pytest.raises(ccxt.NetworkError):
        await bounded(user)
    market.cancel()
    leftover = [
        t
        for t in asyncio.all_tasks()
        if t is not asyncio.current_task() and t.get_name() == "paper-mark-stream"
    ]
    assert leftover == []
