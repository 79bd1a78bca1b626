"""COIN-M WebSocket API at /ws-dapi/v1: Binance's request/response protocol over one socket, enough
for ccxt.pro's binance `fetch_balance_ws` with `subType: inverse`.

A request is a JSON text frame `{"id", "method", "params"}`; each gets one frame back,
`{"id", "status": 200, "result", "rateLimits"}` or `{"id", "status": 4xx/5xx, "error": {"code",
"msg"}, "rateLimits"}`, with `rateLimits` left out when the request says `returnRateLimits: false`
(ccxt.pro sends false by default). Signed methods carry `apiKey`, `timestamp`, optional
`recvWindow` and `signature` in `params`: HMAC-SHA256 hex, keyed by the secret, over every other
parameter sorted by name and joined `k=v&...` with raw values (booleans as true/false). That is
what ccxt.pro's `sign_params` produces (keysort, then rawencode); the key, signature and timestamp
rules and their errors are the REST side's (`auth`).

Methods answer from the same functions as REST (`routes_coinm`), so the figures cannot drift:
`account.balance` is `/dapi/v1/balance` (the same field set: Binance documents both with
`withdrawAvailable` and neither with `maxWithdrawAmount`), `account.status` is `/dapi/v1/account`
plus the two position fields its documented example adds (`notionalValue`, `isolatedWallet`).

Test hooks:
- `await PaperExchange.set_ws_enabled(False)` (`PaperExchangeThread.set_ws_enabled`, or
  POST /_paper/ws {"enabled": false}): the handshake is refused with HTTP 503 (a client sees a
  network error at once and can fall back to REST) and open sockets are closed at once (1001);
  True serves again. Setting `ws_enabled = False` alone refuses handshakes, and closes a socket
  already open (1001) on its next request, unanswered.
- `faults.latency` delays every answer.
- Faults queued with `method="WS"` and `path=<ws method>` (e.g. "account.balance"), or "*", fire
  on WebSocket requests: error/http_429/http_500_* answer an error frame, timeout_before hangs and
  then answers -1007, timeout_after hangs and then answers normally, reset_after drops the
  connection unanswered, move_price_before moves the price first, override answers a raw text
  frame or the real frame mutated (paths from the frame: "result.0.balance"; see `faults`).
  ccxt.pro puts no timeout on a WebSocket request, so a caller must bound its wait itself.
"""

from __future__ import annotations

import contextlib
import copy
import hmac
import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from aiohttp import WSCloseCode, WSMsgType, web

from bot.paper import routes_coinm
from bot.paper.auth import (
    API_KEY_FORMAT_INVALID,
    INVALID_API_KEY,
    INVALID_SIGNATURE,
    Credentials,
    check_timestamp,
    sign,
)
from bot.paper.faults import (
    KNOWN_MESSAGES,
    WS_METHOD,
    Fault,
    FaultKind,
    FaultPlan,
    MutationError,
    Override,
)
from bot.paper.routing import Call, Handler
from bot.paper.state import StateStore
from bot.paper.wire import BinanceError, dumps, mandatory_missing

logger = logging.getLogger(__name__)

WS_DAPI_PATH = "/ws-dapi/v1"
WS_FAULT_METHOD = WS_METHOD  # FaultPlan method that targets WebSocket requests; path = ws method
REQUEST_WEIGHT_LIMIT = 2400  # per minute, as the COIN-M WS API reports it

# The response fields of COIN-M `account.balance` (Binance's example, as for REST /dapi/v1/balance).
BALANCE_FIELDS = (
    "accountAlias",
    "asset",
    "balance",
    "withdrawAvailable",
    "crossWalletBalance",
    "crossUnPnl",
    "availableBalance",
    "updateTime",
)

INVALID_JSON = BinanceError(400, -1135, "Invalid JSON request.")
NOT_AN_OBJECT = BinanceError(400, -1135, "JSON request is not an object.")
INVALID_METHOD = BinanceError(400, -1135, "Invalid 'method' in JSON request; expected a string.")
INVALID_PARAMS = BinanceError(400, -1135, "Invalid 'params' in JSON request; expected an object.")
# Our choice, after UNSUPPORTED_OPERATION; the live message for an unknown method is not documented.
UNKNOWN_METHOD = BinanceError(400, -1020, "Unknown method.")
_SERVER_ERROR = BinanceError(500, -1000, KNOWN_MESSAGES[-1000])
_TIMEOUT = BinanceError(503, -1007, KNOWN_MESSAGES[-1007])
_TOO_MANY = BinanceError(429, -1003, KNOWN_MESSAGES[-1003])

_BINANCE_WS_HOST = re.compile(r"^wss?://[A-Za-z0-9.-]*binance\.com(?::[0-9]+)?(?=/|$)")


def websocket_base(base_url: str) -> str:
    """http://host:port -> ws://host:port (https -> wss)."""
    base = base_url.rstrip("/")
    for http, ws in (("https://", "wss://"), ("http://", "ws://")):
        if base.startswith(http):
            return ws + base[len(http) :]
    return base


def binance_ws_urls(base_url: str, template: Mapping[str, Any]) -> dict[str, Any]:
    """Point a ccxt.pro client's `urls['api']['ws']` at the paper exchange: every
    wss://*.binance.com[:port] URL, nested maps included, keeps its path under the ws:// form of
    `base_url`, so `['ws-api']['inverse']` becomes ws://127.0.0.1:<port>/ws-dapi/v1. The other
    streams then fail fast on loopback instead of reaching Binance. Other values are copied."""
    ws_base = websocket_base(base_url)
    result: dict[str, Any] = {}
    for key, value in template.items():
        if isinstance(value, str):
            result[key] = _BINANCE_WS_HOST.sub(ws_base, value, count=1)
        elif isinstance(value, Mapping):
            result[key] = binance_ws_urls(base_url, value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def _account_balance(call: Call) -> list[dict[str, Any]]:
    return [{name: row[name] for name in BALANCE_FIELDS} for row in routes_coinm.balance(call)]


@dataclass(frozen=True)
class WsMethod:
    name: str
    handler: Handler
    weight: int
    signed: bool = True


METHODS: Mapping[str, WsMethod] = {
    method.name: method
    for method in (
        WsMethod("account.balance", _account_balance, weight=5),
        WsMethod("account.status", routes_coinm.account_status, weight=5),
    )
}


class WsTarget(Protocol):
    store: StateStore
    faults: FaultPlan
    ws_enabled: bool

    def server_time(self) -> int: ...

    def set_mark_price(self, symbol: str, price: Decimal) -> None: ...


@dataclass(frozen=True)
class _Request:
    id: Any
    method: str
    params: Mapping[str, Any]

    @property
    def wants_rate_limits(self) -> bool:
        return self.params.get("returnRateLimits") is not False


def _param_text(name: str, value: Any) -> str:
    """A parameter as Binance reads it for signing: strings raw, booleans true/false."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int):
        return str(value)
    raise mandatory_missing(name)  # null, object or array


def verify_ws_params(
    params: Mapping[str, Any], credentials: Credentials, server_time: int
) -> dict[str, str]:
    """Key, signature, then timestamp, as REST checks them; the parameters (as text) without the
    signature."""
    api_key = params.get("apiKey")
    if not isinstance(api_key, str) or not api_key:
        raise API_KEY_FORMAT_INVALID
    if not hmac.compare_digest(api_key.encode(), credentials.api_key.encode()):
        raise INVALID_API_KEY
    signature = params.get("signature")
    if not isinstance(signature, str) or not signature:
        raise mandatory_missing("signature")
    text = {name: _param_text(name, value) for name, value in params.items() if name != "signature"}
    payload = "&".join(f"{name}={text[name]}" for name in sorted(text))
    expected = sign(credentials.secret, payload)
    if not hmac.compare_digest(signature.lower().encode(), expected.encode()):
        raise INVALID_SIGNATURE
    check_timestamp(text, server_time)
    return text


class _Invalid(Exception):
    """A request with a readable id but an unusable body."""

    def __init__(self, request_id: Any, error: BinanceError) -> None:
        super().__init__(str(error))
        self.request_id = request_id
        self.error = error


def _parse(raw: str) -> _Request:
    try:
        # floats stay as their literal text, so a signed value reads back exactly as it was sent
        message = json.loads(raw, parse_float=str)
    except ValueError as error:
        raise INVALID_JSON from error
    if not isinstance(message, dict):
        raise NOT_AN_OBJECT
    method = message.get("method")
    params = message.get("params", {})
    if not isinstance(method, str):
        raise _Invalid(message.get("id"), INVALID_METHOD)
    if not isinstance(params, dict):
        raise _Invalid(message.get("id"), INVALID_PARAMS)
    return _Request(id=message.get("id"), method=method, params=params)


class WsApi:
    """The /ws-dapi/v1 endpoint of one paper exchange."""

    def __init__(
        self,
        target: WsTarget,
        *,
        credentials: Credentials,
        sleep: Callable[[float], Awaitable[None]],
    ) -> None:
        self._target = target
        self._credentials = credentials
        self._sleep = sleep
        self._sockets: set[web.WebSocketResponse] = set()
        self._minute = -1
        self._weight = 0

    def mount(self, app: web.Application) -> None:
        """Add the route (before any catch-all) and close open sockets on shutdown."""
        app.router.add_get(WS_DAPI_PATH, self.handle)
        app.on_shutdown.append(self._close_all)

    @property
    def connections(self) -> int:
        return len(self._sockets)

    async def close_connections(self, code: int = WSCloseCode.GOING_AWAY) -> int:
        """Close every open socket (a client sees the connection drop); how many there were."""
        sockets = list(self._sockets)
        for ws in sockets:
            await ws.close(code=code, message=b"closed by the paper exchange")
            self._sockets.discard(ws)
        return len(sockets)

    async def _close_all(self, app: web.Application) -> None:
        await self.close_connections(WSCloseCode.GOING_AWAY)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if not self._target.ws_enabled:
            raise web.HTTPServiceUnavailable(text="WebSocket API disabled")
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._sockets.add(ws)
        try:
            async for message in ws:
                if message.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                    continue
                if not self._target.ws_enabled:
                    await ws.close(code=WSCloseCode.GOING_AWAY, message=b"WebSocket API disabled")
                    break
                raw = message.data if message.type == WSMsgType.TEXT else ""
                if not await self._serve(ws, request, raw):
                    break
        finally:
            self._sockets.discard(ws)
        return ws

    async def _serve(self, ws: web.WebSocketResponse, request: web.Request, raw: str) -> bool:
        """Answer one request frame; False when the connection was dropped."""
        if self._target.faults.latency > 0:
            await self._sleep(self._target.faults.latency)
        try:
            parsed = _parse(raw)
        except _Invalid as invalid:
            await self._send_error(ws, invalid.request_id, invalid.error, self._count(1))
            return True
        except BinanceError as error:
            await self._send_error(ws, None, error, self._count(1))
            return True
        method = METHODS.get(parsed.method)
        weight = self._count(method.weight if method else 1)
        if method is None:
            await self._send_error(ws, parsed.id, UNKNOWN_METHOD, weight, parsed)
            return True
        fault = self._target.faults.take(WS_FAULT_METHOD, parsed.method)
        if fault is not None and fault.override is not None:
            logger.info("override on ws %s (applied: %s)", parsed.method, fault.override.apply)
            await self._answer_override(ws, fault.override, method, parsed, weight)
            return True
        if fault is not None:
            logger.info("fault %s on ws %s", fault.kind, parsed.method)
            if fault.kind == FaultKind.MOVE_PRICE_BEFORE:
                assert fault.symbol is not None and fault.price is not None
                self._target.set_mark_price(fault.symbol, fault.price)
            else:
                before = await self._fault_before(fault)
                if before is not None:
                    await self._send_error(ws, parsed.id, before, weight, parsed)
                    return True
        try:
            result = self._run(method, parsed)
        except BinanceError as error:
            await self._send_error(ws, parsed.id, error, weight, parsed)
            return True
        if fault is not None and fault.kind == FaultKind.RESET_AFTER:
            if request.transport is not None:
                request.transport.abort()
            return False
        if fault is not None and fault.kind == FaultKind.HTTP_500_AFTER:
            await self._send_error(ws, parsed.id, _SERVER_ERROR, weight, parsed)
            return True
        if fault is not None and fault.kind == FaultKind.TIMEOUT_AFTER:
            await self._sleep(fault.hang)
        await self._send(ws, self._result_frame(parsed, result, weight))
        return True

    async def _answer_override(
        self,
        ws: web.WebSocketResponse,
        override: Override,
        method: WsMethod,
        parsed: _Request,
        weight: int,
    ) -> None:
        """The queued raw frame, or the real frame (result or error) mutated; the method runs
        first only when the override applies."""
        frame: dict[str, Any] | None = None
        if override.apply:
            try:
                frame = self._result_frame(parsed, self._run(method, parsed), weight)
            except BinanceError as error:
                frame = self._error_frame(parsed.id, error, weight, parsed)
        if override.body is not None:
            await self._send_text(ws, override.body)
            return
        assert frame is not None  # mutations always apply
        try:
            text = dumps(override.mutate(frame))
        except MutationError as error:
            text = f"paper override on ws {parsed.method} failed: {error}"
            logger.error("%s", text)
            self._target.faults.record_error(text)
        await self._send_text(ws, text)

    def _result_frame(self, parsed: _Request, result: Any, weight: int) -> dict[str, Any]:
        frame: dict[str, Any] = {"id": parsed.id, "status": 200, "result": result}
        if parsed.wants_rate_limits:
            frame["rateLimits"] = self._rate_limits(weight)
        return frame

    async def _fault_before(self, fault: Fault) -> BinanceError | None:
        """The error a fault answers with before anything runs; None for the after-kinds."""
        if fault.kind == FaultKind.ERROR:
            body = fault.error_body()
            return BinanceError(fault.status, body["code"], body["msg"])
        if fault.kind == FaultKind.HTTP_429:
            return BinanceError(429, _TOO_MANY.code, fault.msg or _TOO_MANY.msg)
        if fault.kind == FaultKind.HTTP_500_BEFORE:
            return _SERVER_ERROR
        if fault.kind == FaultKind.TIMEOUT_BEFORE:
            await self._sleep(fault.hang)
            return _TIMEOUT
        return None

    def _run(self, method: WsMethod, parsed: _Request) -> Any:
        """Synchronous like REST's `_run`: the check and the answer cannot interleave."""
        now = self._target.server_time()
        try:
            if method.signed:
                params = verify_ws_params(parsed.params, self._credentials, now)
            else:
                params = {name: _param_text(name, value) for name, value in parsed.params.items()}
            return method.handler(Call(params=params, now=now, store=self._target.store))
        except BinanceError:
            raise
        except Exception as error:
            logger.exception("paper exchange failed on ws %s", method.name)
            raise _SERVER_ERROR from error

    def _count(self, weight: int) -> int:
        minute = self._target.server_time() // 60_000
        if minute != self._minute:
            self._minute, self._weight = minute, 0
        self._weight += weight
        return self._weight

    @staticmethod
    def _rate_limits(used: int) -> list[dict[str, Any]]:
        return [
            {
                "rateLimitType": "REQUEST_WEIGHT",
                "interval": "MINUTE",
                "intervalNum": 1,
                "limit": REQUEST_WEIGHT_LIMIT,
                "count": used,
            }
        ]

    async def _send_error(
        self,
        ws: web.WebSocketResponse,
        request_id: Any,
        error: BinanceError,
        used: int,
        parsed: _Request | None = None,
    ) -> None:
        await self._send(ws, self._error_frame(request_id, error, used, parsed))

    def _error_frame(
        self, request_id: Any, error: BinanceError, used: int, parsed: _Request | None
    ) -> dict[str, Any]:
        frame: dict[str, Any] = {"id": request_id, "status": error.status, "error": error.body()}
        if parsed is None or parsed.wants_rate_limits:
            frame["rateLimits"] = self._rate_limits(used)
        return frame

    @classmethod
    async def _send(cls, ws: web.WebSocketResponse, body: Mapping[str, Any]) -> None:
        await cls._send_text(ws, dumps(body))

    @staticmethod
    async def _send_text(ws: web.WebSocketResponse, text: str) -> None:
        with contextlib.suppress(ConnectionError):  # the client went away; nothing to tell it
            await ws.send_str(text)
