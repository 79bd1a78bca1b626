"""Admin routes under /_paper/ so a test in another process can read and steer the exchange.

Served only when the exchange runs with `test_hooks=True`; plain JSON, not Binance's dialect.
POST /_paper/fault takes `FaultPlan.add`'s keywords as fields, "kind" included (overrides too:
{"kind": "override", "method": "GET", "path": "/fapi/v3/account", "mutations": [...]}).
POST /_paper/transfer records a transfer made by hand, outside the bot:
{"asset": "USDT", "amount": "100.5", "type": "MAIN_UMFUTURE", "at_ms": 1700000000000} (at_ms
optional, default the paper's now) answers {"tranId": n}; 400 with Binance's code when refused.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from aiohttp import web

from bot.paper.faults import FaultKind, FaultPlan
from bot.paper.routes_income import book_funding
from bot.paper.state import StateStore, state_from_json, state_to_json
from bot.paper.wire import BinanceError


class AdminTarget(Protocol):
    store: StateStore
    faults: FaultPlan
    ws_enabled: bool

    def set_mark_price(self, symbol: str, price: Decimal) -> None: ...

    def record_outside_transfer(
        self, asset: str, amount: Decimal, transfer_type: str, *, at_ms: int | None = None
    ) -> int: ...

    def server_time(self) -> int: ...

    @property
    def ws_connections(self) -> int: ...

    async def set_ws_enabled(self, enabled: bool) -> int: ...

    mark_stream_interval: float

    @property
    def stream_connections(self) -> int: ...

    @property
    def streams_enabled(self) -> bool: ...

    async def set_streams_enabled(self, enabled: bool) -> int: ...

    async def expire_listen_key(
        self, key_or_family: str, *, close: bool = True, tell: bool = True
    ) -> int: ...

    marks_silent: bool

    @property
    def stream_sockets_opened(self) -> dict[str, int]: ...

    def listen_keys(self) -> list[dict[str, Any]]: ...


class AdminError(Exception):
    """A bad admin request; answered as HTTP 400 with the reason."""


AdminHandler = Callable[[AdminTarget, dict[str, Any]], Any]  # may return an awaitable


def post_funding(target: Any, body: dict[str, Any]) -> Any:
    """The admin hook: book a funding payment now ({"symbol"?: market id})."""
    symbol = body.get("symbol")
    if symbol is not None and not isinstance(symbol, str):
        raise AdminError("field 'symbol' must be a market id such as ETHUSDT")
    try:
        added = book_funding(target.store, target.server_time(), symbol)
    except KeyError as error:
        raise AdminError(str(error)) from error
    return {"booked": [{k: v for k, v in r.items() if k != "kind"} for r in added]}


def _decimal(body: dict[str, Any], name: str) -> Decimal:
    if name not in body:
        raise AdminError(f"missing field '{name}'")
    try:
        value = Decimal(str(body[name]))
    except InvalidOperation as error:
        raise AdminError(f"field '{name}' must be a decimal number, got {body[name]!r}") from error
    return value


def get_state(target: AdminTarget, body: dict[str, Any]) -> Any:
    return {**state_to_json(target.store.state), "server_time": target.server_time()}


def put_state(target: AdminTarget, body: dict[str, Any]) -> Any:
    try:
        new_state = state_from_json(body)
    except (KeyError, ValueError, TypeError, InvalidOperation) as error:
        raise AdminError(f"not a paper state: {error}") from error
    target.store.commit(new_state)
    return {"ok": True}


def post_mark(target: AdminTarget, body: dict[str, Any]) -> Any:
    symbol = body.get("symbol")
    if not isinstance(symbol, str):
        raise AdminError("field 'symbol' must be a market id such as ETHUSDT")
    price = _decimal(body, "price")
    try:
        target.set_mark_price(symbol, price)
    except (KeyError, ValueError) as error:
        raise AdminError(str(error)) from error
    return {"symbol": symbol, "price": f"{price:f}"}


def post_transfer(target: AdminTarget, body: dict[str, Any]) -> Any:
    """A transfer the user made by hand: {"asset", "amount", "type", "at_ms"?}."""
    unknown = set(body) - {"asset", "amount", "type", "at_ms"}
    if unknown:
        raise AdminError(f"unknown transfer fields {sorted(unknown)}")
    asset, transfer_type, at_ms = body.get("asset"), body.get("type"), body.get("at_ms")
    if not isinstance(asset, str) or not asset:
        raise AdminError("field 'asset' must be an asset such as USDT")
    if not isinstance(transfer_type, str) or not transfer_type:
        raise AdminError("field 'type' must be a transfer type such as MAIN_UMFUTURE")
    if at_ms is not None and (not isinstance(at_ms, int) or isinstance(at_ms, bool)):
        raise AdminError("field 'at_ms' must be an integer number of milliseconds")
    amount = _decimal(body, "amount")
    try:
        tran_id = target.record_outside_transfer(asset, amount, transfer_type, at_ms=at_ms)
    except BinanceError as error:
        raise AdminError(f"refused: {error.code} {error.msg}") from error
    return {"tranId": tran_id}


def post_fault(target: AdminTarget, body: dict[str, Any]) -> Any:
    options = dict(body)
    kind = options.pop("kind", None)
    if kind not in {k.value for k in FaultKind}:
        raise AdminError(f"field 'kind' must be one of {[k.value for k in FaultKind]}")
    allowed = {
        "method",
        "path",
        "times",
        "hang",
        "status",
        "code",
        "msg",
        "symbol",
        "price",
        "body",
        "content_type",
        "headers",
        "apply",
        "mutations",
    }
    unknown = set(options) - allowed
    if unknown:
        raise AdminError(f"unknown fault fields {sorted(unknown)}; allowed: {sorted(allowed)}")
    try:
        target.faults.add(kind, **options)
    except (TypeError, ValueError) as error:
        raise AdminError(str(error)) from error
    return {"ok": True, "pending": len(target.faults.pending())}


def get_faults(target: AdminTarget, body: dict[str, Any]) -> Any:
    return target.faults.report()


def delete_faults(target: AdminTarget, body: dict[str, Any]) -> Any:
    target.faults.clear()
    return {"ok": True}


def post_latency(target: AdminTarget, body: dict[str, Any]) -> Any:
    seconds = _decimal(body, "seconds")
    if seconds < 0:
        raise AdminError("field 'seconds' must be 0 or more")
    target.faults.latency = float(seconds)  # a delay, not money
    return {"latency": f"{seconds:f}"}


def post_clock(target: AdminTarget, body: dict[str, Any]) -> Any:
    offset = body.get("offset_ms")
    if not isinstance(offset, int) or isinstance(offset, bool):
        raise AdminError("field 'offset_ms' must be an integer number of milliseconds")
    target.faults.clock_offset_ms = offset
    return {"offset_ms": offset, "server_time": target.server_time()}


def get_ws(target: AdminTarget, body: dict[str, Any]) -> Any:
    return {"enabled": target.ws_enabled, "connections": target.ws_connections}


async def post_ws(target: AdminTarget, body: dict[str, Any]) -> Any:
    """Switch the WebSocket API: {"enabled": false} refuses handshakes and closes open sockets,
    so a bot in another process falls back to REST; {"enabled": true} serves again."""
    enabled = body.get("enabled")
    if not isinstance(enabled, bool):
        raise AdminError("field 'enabled' must be true or false")
    closed = await target.set_ws_enabled(enabled)
    return {"enabled": enabled, "closed": closed}


def get_streams(target: AdminTarget, body: dict[str, Any]) -> Any:
    return {
        "enabled": target.streams_enabled,
        "connections": target.stream_connections,
        "mark_stream_interval": target.mark_stream_interval,
        "marks_silent": target.marks_silent,
        "opened": target.stream_sockets_opened,
        "listen_keys": target.listen_keys(),
    }


async def post_streams(target: AdminTarget, body: dict[str, Any]) -> Any:
    """Steer the push streams: {"enabled": false} refuses handshakes and closes open stream
    sockets; {"mark_stream_interval": seconds} sets the mark streams' tick; {"marks_silent":
    true} keeps the mark sockets open and pushes nothing on them. Any of them."""
    unknown = set(body) - {"enabled", "mark_stream_interval", "marks_silent"}
    if unknown or not body:
        raise AdminError(
            "fields: 'enabled' (true/false), 'mark_stream_interval' (seconds) and/or "
            "'marks_silent' (true/false)"
        )
    answer: dict[str, Any] = {}
    if "marks_silent" in body:
        silent = body["marks_silent"]
        if not isinstance(silent, bool):
            raise AdminError("field 'marks_silent' must be true or false")
        target.marks_silent = silent
        answer["marks_silent"] = silent
    if "mark_stream_interval" in body:
        seconds = _decimal(body, "mark_stream_interval")
        if seconds <= 0:
            raise AdminError("field 'mark_stream_interval' must be more than 0")
        target.mark_stream_interval = float(seconds)  # a delay, not money
        answer["mark_stream_interval"] = f"{seconds:f}"
    if "enabled" in body:
        enabled = body["enabled"]
        if not isinstance(enabled, bool):
            raise AdminError("field 'enabled' must be true or false")
        answer.update(enabled=enabled, closed=await target.set_streams_enabled(enabled))
    return answer


async def post_expire_listen_key(target: AdminTarget, body: dict[str, Any]) -> Any:
    """Expire a listen key now: {"listenKey": K} or {"family": "usdm"|"coinm"} (its current
    key); its sockets hear listenKeyExpired and close ({"close": false}: they stay open, as
    Binance may leave them; {"tell": false}: without the event either)."""
    key, family = body.get("listenKey"), body.get("family")
    close, tell = body.get("close", True), body.get("tell", True)
    if not isinstance(close, bool) or not isinstance(tell, bool):
        raise AdminError("fields 'close' and 'tell' must be true or false")
    if (key is None) == (family is None) or not isinstance(key or family, str):
        raise AdminError("give one of 'listenKey' (a key) or 'family' ('usdm' or 'coinm')")
    if family is not None and family not in ("usdm", "coinm"):
        raise AdminError("field 'family' must be 'usdm' or 'coinm'")
    try:
        closed = await target.expire_listen_key(key or family, close=close, tell=tell)
    except KeyError as error:
        raise AdminError(str(error)) from error
    return {"closed": closed}


ADMIN_ROUTES: dict[tuple[str, str], AdminHandler] = {
    ("GET", "/_paper/state"): get_state,
    ("PUT", "/_paper/state"): put_state,
    ("POST", "/_paper/mark"): post_mark,
    ("POST", "/_paper/fault"): post_fault,
    ("POST", "/_paper/transfer"): post_transfer,
    ("GET", "/_paper/faults"): get_faults,
    ("DELETE", "/_paper/faults"): delete_faults,
    ("POST", "/_paper/latency"): post_latency,
    ("POST", "/_paper/clock"): post_clock,
    ("GET", "/_paper/ws"): get_ws,
    ("POST", "/_paper/ws"): post_ws,
    ("GET", "/_paper/streams"): get_streams,
    ("POST", "/_paper/streams"): post_streams,
    ("POST", "/_paper/listen-key/expire"): post_expire_listen_key,
    ("POST", "/_paper/funding"): post_funding,  # book a funding payment (routes_income)
}


def admin_handler(target: AdminTarget) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle(request: web.Request) -> web.Response:
        handler = ADMIN_ROUTES.get((request.method, request.path))
        if handler is None:
            raise web.HTTPNotFound()
        body: dict[str, Any] = {}
        if request.can_read_body:
            try:
                # numbers with a fraction stay exact: an override's value may be money
                parsed = json.loads(await request.text() or "{}", parse_float=Decimal)
            except json.JSONDecodeError as error:
                return web.json_response({"error": f"body is not JSON: {error}"}, status=400)
            if not isinstance(parsed, dict):
                return web.json_response({"error": "body must be a JSON object"}, status=400)
            body = parsed
        try:
            result = handler(target, body)
            if inspect.isawaitable(result):
                result = await result
            return web.json_response(result)
        except AdminError as error:
            return web.json_response({"error": str(error)}, status=400)

    return handle
