"""The transport every ccxt client is built from (`clients.transport_class`), over HTTP against
the paper exchange and the CoinW/CoinSwitch fakes: exceptions carry the HTTP answer they were
raised for, and a dry-run client refuses everything but reads before a byte leaves."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import ccxt.async_support as ccxt_async
import pytest
from aiohttp import web

from bot.config import VenueConfig
from bot.paper import PAPER_API_KEY, PAPER_SECRET, PaperExchange, StateStore, binance_urls
from bot.venues.clients import (
    Credentials,
    DryRunRefused,
    build_client,
    build_ws_client,
    shared_ssl_context,
    speaks_tls,
)
from bot.venues.errors import http_body_of, http_status_of
from tests.fakes.coinswitch_server import CoinSwitchServer, new_key_pair
from tests.fakes.coinw_server import API_KEY as COINW_KEY
from tests.fakes.coinw_server import SECRET as COINW_SECRET
from tests.fakes.coinw_server import CoinWFakeServer

TRANSFER = "/sapi/v1/asset/transfer"
RAW_TRANSFER = {"type": "MAIN_UMFUTURE", "asset": "USDT", "amount": "1"}
HTML_502 = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
QUICK = {"enableRateLimit": False, "timeout": 3000}  # the fakes' rate limits are not tested here
PAPER_KEYS = Credentials(PAPER_API_KEY, PAPER_SECRET)
BINANCE = VenueConfig(
    exchange="binance",
    api_key_env="K",
    secret_env="S",
    ccxt={"enableRateLimit": False, "timeout": 3000},
)


class SeenPaperExchange(PaperExchange):
    """The paper exchange, noting every request that reaches its server (before routing, so
    unknown paths, refused methods and WebSocket handshakes count too)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.seen: list[tuple[str, str]] = []

    def build_app(self) -> web.Application:
        app = super().build_app()

        @web.middleware
        async def note(request: web.Request, handler: Any) -> web.StreamResponse:
            self.seen.append((request.method, request.path))
            return await handler(request)

        app.middlewares.append(note)
        return app


@pytest.fixture
async def paper(tmp_path: Path) -> AsyncIterator[SeenPaperExchange]:
    async with SeenPaperExchange(StateStore(tmp_path / "paper.json"), test_hooks=True) as running:
        yield running


@pytest.fixture
async def clients(paper: SeenPaperExchange) -> AsyncIterator[Callable[..., Any]]:
    """Build clients exactly as the bot does (`build_client` / `build_ws_client`)."""
    built: list[ccxt_async.Exchange] = []

    def rewrite(api: dict[str, Any]) -> dict[str, Any]:
        return binance_urls(paper.base_url, api, ws=True)

    def factory(*, dry_run: bool, ws: bool = False) -> Any:
        build = build_ws_client if ws else build_client
        client = build("binance", BINANCE, PAPER_KEYS, dry_run=dry_run, rewrite_api_urls=rewrite)
        assert client is not None
        client.timeout_on_exit = 0
        built.append(client)
        return client

    yield factory
    for client in built:
        await client.close()


async def raised(call: Awaitable[Any]) -> BaseException:
    try:
        await call
    except Exception as exc:
        return exc
    raise AssertionError("the call did not raise")


# every exception carries its HTTP answer ----------------------------------------------------


async def test_an_answer_s_status_and_body_ride_on_the_exception(
    paper: SeenPaperExchange, clients: Callable[..., Any]
) -> None:
    client = clients(dry_run=False)
    await client.load_markets()
    paper.faults.add("error", method="POST", path=TRANSFER, status=503, code=-1008)
    paper.faults.add(
        "override",
        method="POST",
        path=TRANSFER,
        status=500,
        body='{"code":-1000,"msg":"x"}',
        apply=True,
    )
    paper.faults.add(
        "override",
        method="POST",
        path=TRANSFER,
        status=502,
        body=HTML_502,
        content_type="text/html",
    )

    unavailable = await raised(client.transfer("USDT", "1", "spot", "linear"))
    applied = await raised(client.sapi_post_asset_transfer(RAW_TRANSFER))
    gateway = await raised(client.sapiPostAssetTransfer(RAW_TRANSFER))

    assert (unavailable.http_status, http_status_of(unavailable)) == (503, 503)  # type: ignore[attr-defined]
    assert '"code":-1008' in unavailable.http_body  # type: ignore[attr-defined]
    assert (http_status_of(applied), http_body_of(applied)) == (500, '{"code":-1000,"msg":"x"}')
    assert http_status_of(gateway) == 502 and http_body_of(gateway) == HTML_502
    assert [type(e) for e in (unavailable, applied, gateway)] == [
        ccxt_async.ExchangeError,  # Binance's -1008 by message, before the status
        ccxt_async.OperationFailed,  # -1000 "unknown"; it was applied
        ccxt_async.ExchangeNotAvailable,  # ccxt's handle_http_status_code
    ]


async def test_the_status_is_found_through_the_cause_and_context_chain(
    paper: SeenPaperExchange, clients: Callable[..., Any]
) -> None:
    client = clients(dry_run=False)
    paper.faults.add("error", method="GET", path="/api/v3/account", status=418, code=-1003)
    answered = await raised(client.fetch_balance())
    try:
        try:
            raise answered
        except Exception as inner:
            raise RuntimeError("wrapped") from inner
    except RuntimeError as outer:
        assert http_status_of(outer) == 418
    try:
        try:
            raise answered
        except Exception:
            raise ValueError("while handling") from None
    except ValueError as later:  # `from None` hides the context from tracebacks, not from us
        assert http_status_of(later) == 418
    assert http_status_of(ValueError("no answer")) is None and http_status_of(None) is None


async def test_a_request_that_got_no_answer_carries_no_status(
    paper: SeenPaperExchange, clients: Callable[..., Any]
) -> None:
    client = clients(dry_run=False)
    await client.load_markets()
    client.timeout = 200
    paper.faults.add("timeout_before", method="POST", path=TRANSFER, hang=1)
    lost = await raised(client.transfer("USDT", "1", "spot", "linear"))
    assert isinstance(lost, ccxt_async.RequestTimeout) and http_status_of(lost) is None
    paper.faults.add("reset_after", method="POST", path=TRANSFER)
    reset = await raised(client.sapi_post_asset_transfer(RAW_TRANSFER))
    assert isinstance(reset, ccxt_async.NetworkError) and http_status_of(reset) is None


async def test_a_method_refusing_an_answer_after_fetch_carries_that_answer() -> None:
    # CoinW's ccxt class decodes the answer after ccxt's fetch returned it: "later" for the
    # same answer, the path ccxt's own handle_errors never sees.
    async with CoinWFakeServer() as fake:
        fake.state.raw_bodies["/v1/perpum/account/getUserAssets"] = '{"code":0,"data":[1,2]}'
        venue = VenueConfig(exchange="coinw", api_key_env="K", secret_env="S", ccxt=QUICK)
        venue = venue.model_copy(update={"urls": {"rest": fake.base_url}})
        client = build_client("coinw", venue, Credentials(COINW_KEY, COINW_SECRET), dry_run=False)
        client.timeout_on_exit = 0
        try:
            refused = await raised(client.fetch_balance({"type": "swap"}))
        finally:
            await client.close()
    assert isinstance(refused, ccxt_async.BadResponse)
    assert http_status_of(refused) == 200 and http_body_of(refused) == '{"code":0,"data":[1,2]}'


# dry run refuses at the transport -------------------------------------------------------------


async def test_dry_run_refuses_every_state_change_before_a_byte_is_sent(
    paper: SeenPaperExchange, clients: Callable[..., Any]
) -> None:
    client = clients(dry_run=True)
    await client.load_markets()
    ws = clients(dry_run=True, ws=True)
    ws.set_markets(client.markets, client.currencies)
    paper.faults.add("error", method="*", path="*", status=500)  # would fire on any request
    before, seen = paper.state, len(paper.seen)

    refusals = {
        "sapi_post_asset_transfer": client.sapi_post_asset_transfer(RAW_TRANSFER),
        "fapiPrivatePostOrder": client.fapiPrivatePostOrder({"symbol": "ETHUSDT"}),
        "transfer": client.transfer("USDT", "1", "spot", "linear"),
        "create_order": client.create_order("ETH/USDT", "limit", "buy", 1, 1000),
        "cancel_order": client.cancel_order("1", "ETH/USDT"),
        "cancel_all_orders": client.cancel_all_orders("ETH/USDT:USDT"),
        "set_leverage": client.set_leverage(3, "ETH/USDT:USDT"),
        "create_order_ws": ws.create_order_ws("BTC/USD:BTC", "limit", "buy", 1, 50000),
    }
    messages = {}
    for name, call in refusals.items():
        refused = await raised(call)
        assert type(refused) is DryRunRefused, (name, refused)  # unwrapped by ccxt
        assert http_status_of(refused) is None
        messages[name] = str(refused)

    assert messages == {
        "sapi_post_asset_transfer": "dry run: POST /sapi/v1/asset/transfer was not sent",
        "fapiPrivatePostOrder": "dry run: POST /fapi/v1/order was not sent",
        "transfer": "dry run: POST /sapi/v1/asset/transfer was not sent",
        "create_order": "dry run: POST /api/v3/order was not sent",
        "cancel_order": "dry run: DELETE /api/v3/order was not sent",
        "cancel_all_orders": "dry run: DELETE /fapi/v1/allOpenOrders was not sent",
        "set_leverage": "dry run: POST /fapi/v1/leverage was not sent",
        "create_order_ws": "dry run: WebSocket order.place was not sent",
    }
    assert paper.seen[seen:] == []  # not a request, not a WebSocket handshake
    assert paper.ws_connections == 0
    assert paper.faults.fired == {} and len(paper.faults.pending()) == 1
    assert paper.state == before and paper.state.transfers == before.transfers


async def test_dry_run_still_reads(paper: SeenPaperExchange, clients: Callable[..., Any]) -> None:
    client = clients(dry_run=True)
    await client.load_markets()
    ws = clients(dry_run=True, ws=True)
    ws.set_markets(client.markets, client.currencies)
    before = paper.state

    spot = await client.fetch_balance()
    positions = await client.fetch_positions(["ETH/USDT:USDT"])
    history = await client.fetch_transfers("USDT", None, 10, {"type": "MAIN_UMFUTURE"})
    over_ws = await ws.fetch_balance_ws()

    assert spot["USDT"]["free"] and positions and history == []
    assert over_ws["BTC"]["total"] == "0.30000000"  # account.balance over the WebSocket API
    assert {method for method, _ in paper.seen} == {"GET"}  # the handshake is a GET too
    assert paper.state == before


async def test_the_venues_that_read_with_post_are_allowed_exactly_those() -> None:
    async with CoinWFakeServer() as fake:
        venue = VenueConfig(exchange="coinw", api_key_env="K", secret_env="S", ccxt=QUICK)
        venue = venue.model_copy(update={"urls": {"rest": fake.base_url}})
        client = build_client("coinw", venue, Credentials(COINW_KEY, COINW_SECRET), dry_run=True)
        client.timeout_on_exit = 0
        try:
            spot = await client.fetch_balance({"type": "spot"})  # POST returnCompleteBalances
            assert fake.state.hits["returnCompleteBalances"] == 1 and "USDT" in spot
            other = await raised(client.fetch2("returnOpenOrders", ["spot", "private"], "POST"))
            get_as_post = await raised(
                client.fetch2("v1/perpum/account/available", ["futures", "private"], "POST")
            )
        finally:
            await client.close()
    assert str(other) == "dry run: POST /api/v1/private was not sent"
    assert str(get_as_post) == "dry run: POST /v1/perpum/account/available was not sent"

    key, secret = new_key_pair()
    async with CoinSwitchServer(api_keys=[key]) as server:
        venue = VenueConfig(exchange="coinswitch", api_key_env="K", secret_env="S", ccxt=QUICK)
        venue = venue.model_copy(update={"urls": server.api_urls()})
        client = build_client("coinswitch", venue, Credentials(key, secret), dry_run=True)
        client.timeout_on_exit = 0
        try:
            markets = await client.load_markets()  # POST exchangePrecision among its reads
            order = await raised(client.fetch2("order", ["spot"], "POST", {"side": "buy"}))
        finally:
            await client.close()
    assert markets
    assert type(order) is DryRunRefused and "POST /trade/api/v2/order was not sent" in str(order)


async def test_every_client_is_built_quiet(clients: Callable[..., Any]) -> None:
    for client in (clients(dry_run=False), clients(dry_run=True, ws=True)):
        assert client.verbose is False
        assert type(client).__name__.startswith(("Bot", "DryRun"))


# a REST API moved elsewhere is never paired with Binance's own WebSocket API ---------------


async def test_rest_urls_without_a_websocket_url_read_balances_over_rest_only() -> None:
    """A testnet, proxy or fake named for REST alone: the COIN-M balance is not read from
    Binance's production WebSocket API with keys meant for another endpoint."""
    rest = "http://127.0.0.1:9/dapi/v1"
    moved = BINANCE.model_copy(update={"urls": {"dapiPrivate": rest}})
    assert build_ws_client("binance", moved, PAPER_KEYS, dry_run=True) is None
    both = BINANCE.model_copy(
        update={"urls": {"dapiPrivate": rest, "ws.ws-api.inverse": "ws://127.0.0.1:9/ws-dapi"}}
    )
    client = build_ws_client("binance", both, PAPER_KEYS, dry_run=True)
    assert client is not None
    try:
        assert client.urls["api"]["ws"]["ws-api"]["inverse"] == "ws://127.0.0.1:9/ws-dapi"
    finally:
        await client.close()


# TLS: the CA file and the closing wait only where a client speaks TLS -------------------------


async def test_a_client_of_plain_urls_loads_no_ca_file_waits_for_nothing_and_fails_closed(
    paper: SeenPaperExchange,
) -> None:
    """The paper exchange is plain http on loopback: reading ccxt's CA file would cost every
    command ~50 ms of CPU, and ccxt's 250 ms wait at close (for SSL transports) a quarter
    second per client, for nothing. Its context still demands a verified certificate, so a
    redirect to https would fail rather than go unverified."""
    client = build_client(
        "binance",
        BINANCE,
        PAPER_KEYS,
        dry_run=True,
        rewrite_api_urls=lambda api: binance_urls(paper.base_url, api, ws=True),
    )
    try:
        await client.load_markets()  # it works over plain http
    finally:
        await client.close()
    context = client.ssl_context
    assert context.cert_store_stats()["x509_ca"] == 0
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert client.timeout_on_exit == 0


def test_a_real_venue_s_client_verifies_with_ccxt_s_ca_file_and_its_session_waits_once() -> None:
    """ccxt would sleep 250 ms closing each client (TLS teardown): the venues' session waits
    once for all of them instead (`session.TLS_CLOSE_GRACE_SECONDS`)."""
    client = build_client("binance", BINANCE, PAPER_KEYS, dry_run=True)
    context = client.ssl_context
    assert context is shared_ssl_context(client.cafile)
    assert context.cert_store_stats()["x509_ca"] > 0
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert client.timeout_on_exit == 0 < type(client).timeout_on_exit
    assert speaks_tls(client.urls["api"])
