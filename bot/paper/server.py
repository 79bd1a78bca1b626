"""The paper exchange's HTTP server: one aiohttp app on loopback that answers Binance's spot,
wallet, USD-M and COIN-M paths, so the real ccxt binance client runs against it unchanged.

I/O lives here: reading requests, sleeping for faults, writing responses. The rules live in
`auth`, `transfers` and `accounting`; the shapes in the `routes_*` modules.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import re
import threading
from collections import deque
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import TracebackType
from typing import Any

from aiohttp import web

from bot.paper import (
    routes_coinm,
    routes_funding,
    routes_income,
    routes_margin,
    routes_market,
    routes_spot,
    routes_usdm,
    routes_wallet,
)
from bot.paper.auth import PAPER_API_KEY, PAPER_SECRET, Credentials, parse_params, verify_api_key
from bot.paper.auth import verify_signed_request as _verify
from bot.paper.faults import (
    AFTER_KINDS,
    BEFORE_KINDS,
    KNOWN_MESSAGES,
    Fault,
    FaultKind,
    FaultPlan,
    MutationError,
    Override,
)
from bot.paper.limits import WeightMeter
from bot.paper.model import PaperState, now_ms
from bot.paper.routes_admin import admin_handler
from bot.paper.routes_stream import StreamHub
from bot.paper.routes_ws import WsApi, binance_ws_urls
from bot.paper.routing import Call, Endpoint, endpoints_by_route
from bot.paper.state import StateStore
from bot.paper.transfers import apply_outside_transfer
from bot.paper.wire import BinanceError, dumps

logger = logging.getLogger(__name__)

REQUEST_LOG_SIZE = 1000
ADMIN_PREFIX = "/_paper"
ALL_ENDPOINTS = (
    routes_market.ENDPOINTS,
    routes_spot.ENDPOINTS,
    routes_usdm.ENDPOINTS,
    routes_coinm.ENDPOINTS,
    routes_wallet.ENDPOINTS,
    routes_margin.ENDPOINTS,
    routes_income.ENDPOINTS,
    routes_funding.ENDPOINTS,
)
_BINANCE_HOST = re.compile(r"^https?://[A-Za-z0-9.-]*binance\.com(?=/|$)")
_UNKNOWN_ERROR = BinanceError(500, -1000, "An unknown error occurred while processing the request.")
_INTERNAL_ERROR_HTML = "<html><body><h1>500 Internal Server Error</h1></body></html>"


@dataclass(frozen=True)
class _Answer:
    """What a handler answered, before encoding, so an override can change it."""

    status: int
    payload: Any


def binance_urls(base_url: str, template: Mapping[str, Any], *, ws: bool = False) -> dict[str, Any]:
    """Point a ccxt client's `urls['api']` at `base_url`: every https://*.binance.com URL keeps
    its path under the new scheme and host; other values are copied unchanged. With `ws=True`,
    nested maps (ccxt.pro's `['ws']`) are rewritten by `binance_ws_urls` too, so the COIN-M
    WebSocket API URL becomes ws://host:port/ws-dapi/v1."""
    base = base_url.rstrip("/")
    result: dict[str, Any] = {}
    for key, value in template.items():
        if isinstance(value, str):
            result[key] = _BINANCE_HOST.sub(base, value, count=1)
        elif ws and isinstance(value, Mapping):
            result[key] = binance_ws_urls(base, value)
        else:
            result[key] = copy.deepcopy(value)
    return result


class PaperExchange:
    """The server, run inside the caller's event loop (`async with PaperExchange(store)`)."""

    def __init__(
        self,
        store: StateStore,
        *,
        api_key: str = PAPER_API_KEY,
        secret: str = PAPER_SECRET,
        test_hooks: bool = False,
        clock: Callable[[], int] = now_ms,
        enforce_weight_limits: bool = True,
    ) -> None:
        """`enforce_weight_limits=False` still counts and reports weight but never answers 429:
        for load runs that send faster than Binance allows on purpose (see `limits`)."""
        self.store = store
        self.enforce_weight_limits = enforce_weight_limits
        self.faults = FaultPlan()
        self.test_hooks = test_hooks
        self.ws_enabled = True  # False: /ws-dapi/v1 refuses handshakes (503); see set_ws_enabled
        self.base_url = ""
        self._credentials = Credentials(api_key=api_key, secret=secret)
        self.ws_api = WsApi(self, credentials=self._credentials, sleep=self._sleep)
        self.streams = StreamHub(self, sleep=self._sleep)
        self._clock = clock
        self._routes = endpoints_by_route((*ALL_ENDPOINTS, self.streams.endpoints()))
        self._paths = {path for _, path in self._routes}
        self._weights = WeightMeter()
        # the last requests as (method, path, params), so tests can check what a client sent
        self.requests: deque[tuple[str, str, dict[str, str]]] = deque(maxlen=REQUEST_LOG_SIZE)
        self._runner: web.AppRunner | None = None
        self._stopping: asyncio.Event | None = None

    @property
    def state(self) -> PaperState:
        return self.store.state

    def server_time(self) -> int:
        """Milliseconds, with the test clock offset applied."""
        return self._clock() + self.faults.clock_offset_ms

    def set_mark_price(self, symbol: str, price: Decimal) -> None:
        """Move a base asset's price everywhere ("ETHUSDT" moves spot and both perps); persists."""
        self.store.commit(self.store.state.with_mark_price(symbol, Decimal(price)))

    def record_outside_transfer(
        self, asset: str, amount: Decimal, transfer_type: str, *, at_ms: int | None = None
    ) -> int:
        """A universal transfer the user made by hand, not through the API client: balances
        move as for a real one, and the history lists it with its own new tranId at `at_ms`
        (default: the paper's now, clock offset included). Persists; returns the tranId.
        Raises `BinanceError` where Binance would refuse it (-5013 insufficient balance...)."""
        now = self.server_time()
        new_state, record = apply_outside_transfer(
            self.store.state,
            asset=asset,
            amount=amount,
            transfer_type=transfer_type,
            now=now,
            at=now if at_ms is None else at_ms,
        )
        self.store.commit(new_state)
        logger.info(
            "outside transfer %s %s %s at %s", record.tran_id, amount, asset, record.timestamp
        )
        return record.tran_id

    @property
    def ws_connections(self) -> int:
        return self.ws_api.connections

    async def set_ws_enabled(self, enabled: bool) -> int:
        """Switch the WebSocket API, so a test can make a client fall back to REST: off refuses
        new handshakes (HTTP 503) and closes open sockets at once (1001); on serves again.
        Returns how many sockets were closed."""
        self.ws_enabled = enabled
        if enabled:
            return 0
        return await self.ws_api.close_connections()

    @property
    def mark_stream_interval(self) -> float:
        """Seconds between the mark streams' steady updates (Binance's @1s: 1.0)."""
        return self.streams.mark_stream_interval

    @mark_stream_interval.setter
    def mark_stream_interval(self, seconds: float) -> None:
        self.streams.mark_stream_interval = seconds

    @property
    def stream_connections(self) -> int:
        return self.streams.connections

    @property
    def streams_enabled(self) -> bool:
        return self.streams.enabled

    async def set_streams_enabled(self, enabled: bool) -> int:
        """Switch the push streams (user data and mark price): off refuses new handshakes (HTTP
        503) and closes open stream sockets at once (1001); on serves again. Returns how many
        sockets were closed."""
        return await self.streams.set_enabled(enabled)

    async def expire_listen_key(
        self, key_or_family: str, *, close: bool = True, tell: bool = True
    ) -> int:
        """Expire a listen key now ("usdm"/"coinm": that family's current key): its sockets
        hear `listenKeyExpired` and close (`close=False`: stay open, hearing nothing more, as
        Binance's may; `tell=False`: without the event). Returns how many sockets were closed
        (or told)."""
        return await self.streams.expire_listen_key(key_or_family, close=close, tell=tell)

    @property
    def marks_silent(self) -> bool:
        """Whether the mark streams push nothing while their sockets stay open."""
        return self.streams.marks_silent

    @marks_silent.setter
    def marks_silent(self, silent: bool) -> None:
        self.streams.marks_silent = silent

    @property
    def stream_sockets_opened(self) -> dict[str, int]:
        """Stream sockets ever opened, by kind (`user`, `market`)."""
        return dict(self.streams.opened)

    def listen_key_keepalives(self, listen_key: str) -> int:
        """How many keepalive PUTs extended `listen_key`."""
        return self.streams.keepalives(listen_key)

    def listen_keys(self) -> list[dict[str, Any]]:
        return self.streams.listen_keys()

    def build_app(self) -> web.Application:
        app = web.Application()
        if self.test_hooks:
            app.router.add_route("*", ADMIN_PREFIX + "/{tail:.*}", admin_handler(self))
        self.ws_api.mount(app)
        self.streams.mount(app)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        if self._runner is not None:
            raise RuntimeError("paper exchange already started")
        self._stopping = asyncio.Event()
        runner = web.AppRunner(self.build_app(), access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        self._runner = runner
        bound_port = port
        for address in runner.addresses:
            if isinstance(address, tuple):
                bound_port = address[1]
                break
        self.base_url = f"http://{host}:{bound_port}"
        self.streams.start()
        logger.info("paper exchange listening on %s", self.base_url)

    async def stop(self) -> None:
        if self._runner is None:
            return
        if self._stopping is not None:
            self._stopping.set()  # cut fault hangs short
        runner, self._runner = self._runner, None
        await self.streams.stop()
        await runner.cleanup()
        logger.info("paper exchange on %s stopped", self.base_url)

    async def __aenter__(self) -> PaperExchange:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _sleep(self, seconds: float) -> None:
        """Sleep, but wake when the server stops so shutdown never waits on a fault."""
        if seconds <= 0:
            return
        assert self._stopping is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/"):
            raise web.HTTPNotFound()  # admin routes exist only with test_hooks
        if self.faults.latency > 0:
            await self._sleep(self.faults.latency)
        endpoint = self._routes.get((request.method, path))
        if endpoint is None:
            if path in self._paths:
                raise web.HTTPMethodNotAllowed(request.method, self._methods(path))
            raise web.HTTPNotFound()
        usage = self._weights.add(
            request.method, path, endpoint.weight, endpoint.limit, self.server_time()
        )
        headers = usage.headers()
        if usage.refusal is not None and self.enforce_weight_limits:
            logger.info("rate limit on %s %s: %s used", request.method, path, usage.used)
            refused = {**headers, "Retry-After": str(usage.retry_after_seconds)}
            return _json(usage.refusal.body(), status=usage.refusal.status, headers=refused)
        fault = self.faults.take(request.method, path)
        if fault is not None and fault.override is not None:
            logger.info(
                "override on %s %s (applied: %s)", request.method, path, fault.override.apply
            )
            return await self._answer_override(fault.override, endpoint, request, headers)
        if fault is not None and fault.kind in BEFORE_KINDS:
            logger.info("fault %s on %s %s (not applied)", fault.kind, request.method, path)
            return await self._answer_fault_before(fault, headers)
        if fault is not None and fault.kind == FaultKind.MOVE_PRICE_BEFORE:
            assert fault.symbol is not None and fault.price is not None
            self.set_mark_price(fault.symbol, fault.price)
        raw_body = await request.text() if request.can_read_body else ""
        answer = self._run(endpoint, request, raw_body)
        response = _json(answer.payload, status=answer.status, headers=headers)
        if fault is not None and fault.kind in AFTER_KINDS:
            logger.info("fault %s on %s %s (applied)", fault.kind, request.method, path)
            return await self._answer_fault_after(fault, request, response, headers)
        return response

    def _methods(self, path: str) -> list[str]:
        return sorted(method for method, known in self._routes if known == path)

    def _run(self, endpoint: Endpoint, request: web.Request, raw_body: str) -> _Answer:
        """Authenticate, then run the handler; synchronous, so the check, the change and the
        persisting of the change cannot interleave with another request."""
        now = self.server_time()
        raw_query = request.rel_url.raw_query_string
        self.requests.append((request.method, request.path, parse_params(raw_query, raw_body)))
        try:
            if endpoint.signed:
                params = _verify(
                    api_key=request.headers.get("X-MBX-APIKEY"),
                    raw_query=raw_query,
                    raw_body=raw_body,
                    credentials=self._credentials,
                    server_time=now,
                )
            else:
                if endpoint.keyed:
                    verify_api_key(request.headers.get("X-MBX-APIKEY"), self._credentials)
                params = parse_params(raw_query, raw_body)
            payload = endpoint.handler(Call(params=params, now=now, store=self.store))
        except BinanceError as error:
            return _Answer(error.status, error.body())
        except Exception:
            logger.exception("paper exchange failed on %s %s", request.method, request.path)
            return _Answer(_UNKNOWN_ERROR.status, _UNKNOWN_ERROR.body())
        return _Answer(200, payload)

    async def _answer_override(
        self, override: Override, endpoint: Endpoint, request: web.Request, headers: dict[str, str]
    ) -> web.Response:
        """The queued raw answer, or the real one mutated; the handler runs first only when the
        override applies (its change is then persisted whatever the client hears)."""
        answer: _Answer | None = None
        if override.apply:
            raw_body = await request.text() if request.can_read_body else ""
            answer = self._run(endpoint, request, raw_body)
        extra = {**headers, **override.headers}
        if override.body is not None:
            status = override.status if override.status is not None else 200
            return _raw(
                override.body, status=status, content_type=override.content_type, headers=extra
            )
        assert answer is not None  # mutations always apply
        try:
            text = dumps(override.mutate(answer.payload))
        except MutationError as error:
            message = f"paper override on {request.method} {request.path} failed: {error}"
            logger.error("%s", message)
            self.faults.record_error(message)
            return _raw(message, status=500, content_type="text/plain", headers=headers)
        status = override.status if override.status is not None else answer.status
        return _raw(text, status=status, content_type=override.content_type, headers=extra)

    async def _answer_fault_before(self, fault: Fault, headers: dict[str, str]) -> web.Response:
        if fault.kind == FaultKind.HTTP_500_BEFORE:
            return _html_500(headers)
        if fault.kind == FaultKind.HTTP_429:
            body = {"code": -1003, "msg": fault.msg or KNOWN_MESSAGES[-1003]}
            return _json(body, status=429, headers={**headers, "Retry-After": "1"})
        if fault.kind == FaultKind.TIMEOUT_BEFORE:
            await self._sleep(fault.hang)
            return web.Response(status=504, text="Gateway Time-out", headers=headers)
        return _json(fault.error_body(), status=fault.status, headers=headers)

    async def _answer_fault_after(
        self, fault: Fault, request: web.Request, response: web.Response, headers: dict[str, str]
    ) -> web.StreamResponse:
        if fault.kind == FaultKind.HTTP_500_AFTER:
            return _html_500(headers)
        if fault.kind == FaultKind.TIMEOUT_AFTER:
            await self._sleep(fault.hang)
            return response
        # RESET_AFTER: the change is applied and persisted; the client never hears back.
        if request.transport is not None:
            request.transport.abort()
        return response


def _json(payload: Any, *, status: int, headers: Mapping[str, str]) -> web.Response:
    return web.Response(
        status=status, text=dumps(payload), content_type="application/json", headers=headers
    )


def _raw(text: str, *, status: int, content_type: str, headers: Mapping[str, str]) -> web.Response:
    """Exactly `text` with exactly `content_type` (no charset added); "" sends none of ours."""
    all_headers = dict(headers)
    if content_type:
        all_headers["Content-Type"] = content_type
    return web.Response(status=status, body=text.encode("utf-8"), headers=all_headers)


def _html_500(headers: Mapping[str, str]) -> web.Response:
    return web.Response(
        status=500, text=_INTERNAL_ERROR_HTML, content_type="text/html", headers=headers
    )


class PaperExchangeThread:
    """The same server on its own thread and event loop, for synchronous tests and for tests
    that drive the bot as a subprocess. Use as a context manager."""

    def __init__(
        self,
        store: StateStore | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str = PAPER_API_KEY,
        secret: str = PAPER_SECRET,
        test_hooks: bool = False,
    ) -> None:
        self.exchange = PaperExchange(
            store if store is not None else StateStore(None),
            api_key=api_key,
            secret=secret,
            test_hooks=test_hooks,
        )
        self._host = host
        self._port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def base_url(self) -> str:
        return self.exchange.base_url

    @property
    def store(self) -> StateStore:
        return self.exchange.store

    @property
    def state(self) -> PaperState:
        return self.exchange.state

    @property
    def faults(self) -> FaultPlan:
        return self.exchange.faults

    def start(self, timeout: float = 10.0) -> PaperExchangeThread:
        if self._thread is not None:
            raise RuntimeError("paper exchange thread already started")
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, name="paper-exchange", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError(f"paper exchange did not start within {timeout} s")
        if self._error is not None:
            raise RuntimeError("paper exchange failed to start") from self._error
        return self

    def _serve(self) -> None:
        loop = self._loop
        assert loop is not None
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self.exchange.start(self._host, self._port))
        except BaseException as error:
            self._error = error
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self.exchange.stop())
            loop.close()

    def call(self, function: Callable[[], Any], timeout: float = 10.0) -> Any:
        """Run `function` on the server's loop (so it never races a request) and return its
        result."""
        loop = self._loop
        if loop is None:
            return function()

        async def invoke() -> Any:
            return function()

        return asyncio.run_coroutine_threadsafe(invoke(), loop).result(timeout)

    def set_mark_price(self, symbol: str, price: Decimal) -> None:
        self.call(lambda: self.exchange.set_mark_price(symbol, price))

    def record_outside_transfer(
        self, asset: str, amount: Decimal, transfer_type: str, *, at_ms: int | None = None
    ) -> int:
        """`PaperExchange.record_outside_transfer` on the server's loop; returns the tranId."""
        return self.call(
            lambda: self.exchange.record_outside_transfer(asset, amount, transfer_type, at_ms=at_ms)
        )

    def set_ws_enabled(self, enabled: bool, timeout: float = 10.0) -> int:
        """`PaperExchange.set_ws_enabled` from a synchronous test; returns sockets closed."""
        loop = self._loop
        if loop is None:
            raise RuntimeError("paper exchange thread is not running")
        coroutine = self.exchange.set_ws_enabled(enabled)
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout)

    def set_streams_enabled(self, enabled: bool, timeout: float = 10.0) -> int:
        """`PaperExchange.set_streams_enabled` from a synchronous test; returns sockets closed."""
        return self._run_coroutine(self.exchange.set_streams_enabled(enabled), timeout)

    def expire_listen_key(
        self, key_or_family: str, timeout: float = 10.0, *, close: bool = True
    ) -> int:
        """`PaperExchange.expire_listen_key` from a synchronous test; returns sockets closed
        (or told, with `close=False`)."""
        coroutine = self.exchange.expire_listen_key(key_or_family, close=close)
        return self._run_coroutine(coroutine, timeout)

    def _run_coroutine(self, coroutine: Coroutine[Any, Any, Any], timeout: float) -> Any:
        loop = self._loop
        if loop is None:
            coroutine.close()
            raise RuntimeError("paper exchange thread is not running")
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if loop.is_running():
            asyncio.run_coroutine_threadsafe(self.exchange.stop(), loop).result(timeout)
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        self._loop, self._thread = None, None

    def __enter__(self) -> PaperExchangeThread:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


async def serve_forever(
    store: StateStore,
    host: str = "127.0.0.1",
    port: int = 8765,
    *,
    api_key: str = PAPER_API_KEY,
    secret: str = PAPER_SECRET,
    test_hooks: bool = False,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve until cancelled (the CLI's `bot paper serve`). The base URL is logged and handed to
    `on_ready`, which is where the CLI prints it."""
    exchange = PaperExchange(store, api_key=api_key, secret=secret, test_hooks=test_hooks)
    await exchange.start(host, port)
    try:
        if on_ready is not None:
            on_ready(exchange.base_url)
        await asyncio.Event().wait()
    finally:
        await exchange.stop()
