"""Binance's futures push streams on the paper exchange: the USD-M and COIN-M user-data streams
(listen keys, `ACCOUNT_UPDATE`, `listenKeyExpired`) and the mark-price market streams, enough
for ccxt.pro's binance `watch_balance`, `watch_positions` and `watch_mark_prices` with its own
listen-key keepalive.

Listen keys (USER_STREAM security: the X-MBX-APIKEY header, no signature), weight 1 each:
- `POST /fapi/v1/listenKey`, `POST /dapi/v1/listenKey` -> `{"listenKey": K}`; while the
  family's key is valid the same key comes back, extended (valid 60 min after the last
  POST/PUT, on the paper's clock, so POST /_paper/clock can run it out).
- `PUT` the same path extends the key (USD-M answers `{"listenKey": K}`, COIN-M `{}`); with no
  valid key: 400 -1125 "This listenKey does not exist.".
- `DELETE` invalidates the key and closes its sockets (1000); answers `{}`.

Sockets (both Binance hosts rewrite onto the one paper port, so a listen key names its family):
- USD-M user data: `/private/ws?listenKey=K` (ccxt.pro's URL) or `/private/ws/K`.
- COIN-M user data: `/ws/K` (a USD-M key there serves USD-M, as Binance's legacy URL did).
- USD-M market: `/market/ws/<any>`; COIN-M market: `/ws/<any>` that is not a listen key.
  `{"method": "SUBSCRIBE"|"UNSUBSCRIBE", "params": [...], "id": N}` answers
  `{"result": null, "id": N}`; `LIST_SUBSCRIPTIONS` answers the names. `<symbol>@markPrice@1s`
  (every `mark_stream_interval`, default 1 s), `<symbol>@markPrice` (every third interval) and
  `!markPrice@arr[@1s]` (a list for every perpetual of the family) carry `markPriceUpdate`;
  any other name is accepted and carries nothing. A path that names a mark stream
  (`/ws/btcusd_perp@markPrice@1s`, Binance's raw stream) starts subscribed to it.
A handshake with an unknown, expired or deleted listen key is refused with HTTP 400. Events come
from the paper state's commits (`StateStore.add_observer`): `ACCOUNT_UPDATE` to the family's
user streams when a futures wallet or a position changed (see `stream_events`), and a
`markPriceUpdate` at once to subscribers of a mark that moved, besides the steady ticks.
Ping frames are answered by aiohttp (autoping).

Test hooks:
- `PaperExchange.mark_stream_interval` (seconds, settable, also POST /_paper/streams
  {"mark_stream_interval": 0.05}): the tick of the mark streams and of the listen-key expiry
  check.
- `await PaperExchange.expire_listen_key(key_or_family)` (family "usdm"/"coinm";
  `PaperExchangeThread.expire_listen_key`, POST /_paper/listen-key/expire {"listenKey": K} or
  {"family": "usdm"}): the key expires now; its sockets hear `listenKeyExpired` and close (1000).
  With `close=False` (`{"close": false}`) the sockets stay open, as Binance's do: they hear
  `listenKeyExpired` and then nothing more, since events go only to a valid key's sockets.
  With `tell=False` (`{"tell": false}`) no event is sent either: a key that died unannounced,
  which only a keepalive PUT finds out.
- `PaperExchange.marks_silent` (settable, also POST /_paper/streams {"marks_silent": true}): the
  mark streams push nothing (neither ticks nor moves) while every socket stays open, answers
  pings and SUBSCRIBE frames: a stream that is connected but silent.
- `PaperExchange.stream_sockets_opened`: how many user-data and market sockets were ever opened
  (`{"user": n, "market": m}`; also in GET /_paper/streams as `opened`), so a test sees a
  reconnect.
- `PaperExchange.listen_key_keepalives(key)`: how many PUTs extended that key; GET
  /_paper/streams lists every key issued (key, family, valid, expires_at, keepalives), the open
  stream sockets and the settings.
- `await PaperExchange.set_streams_enabled(False)` (`PaperExchangeThread.set_streams_enabled`,
  POST /_paper/streams {"enabled": false}): stream handshakes are refused with HTTP 503 and open
  stream sockets close at once (1001); True serves again. Separate from `set_ws_enabled` (the
  WebSocket API), so a test can lose one and keep the other.
- `faults.latency` delays every pushed frame.
On shutdown every stream socket is closed (1001) and the tick task is cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import string
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiohttp import WSCloseCode, WSMsgType, web

from bot.paper.faults import FaultPlan
from bot.paper.model import MarketKind, PaperState
from bot.paper.routing import Call, Endpoint
from bot.paper.state import StateStore
from bot.paper.stream_events import (
    MarkStream,
    account_update,
    listen_key_expired,
    mark_price_update,
    moved_marks,
    parse_mark_stream,
)
from bot.paper.wire import BinanceError, dumps

logger = logging.getLogger(__name__)

USDM_LISTEN_KEY_PATH = "/fapi/v1/listenKey"
COINM_LISTEN_KEY_PATH = "/dapi/v1/listenKey"
USDM_USER_PATH = "/private/ws"
USDM_MARKET_PATH = "/market/ws"
COINM_PATH = "/ws"  # COIN-M user streams (/ws/<key>) and market streams (/ws/<name>)
LISTEN_KEY_VALIDITY_MS = 60 * 60 * 1000
LISTEN_KEY_LENGTH = 64
DEFAULT_MARK_STREAM_INTERVAL = 1.0  # seconds, as Binance's @1s
SLOW_MARK_TICKS = 3  # a stream without @1s updates every 3 s on Binance
MIN_TICK = 0.01  # seconds; a smaller interval would spin the loop
CLOSE_WAIT = 2.0  # seconds a closing socket may take before shutdown moves on

FAMILIES = {"usdm": MarketKind.LINEAR, "coinm": MarketKind.INVERSE}
FAMILY_NAMES = {kind: name for name, kind in FAMILIES.items()}
LISTEN_KEY_MISSING = BinanceError(400, -1125, "This listenKey does not exist.")
_KEY_ALPHABET = string.ascii_letters + string.digits


class StreamTarget(Protocol):
    store: StateStore
    faults: FaultPlan

    def server_time(self) -> int: ...


@dataclass
class ListenKey:
    key: str
    kind: MarketKind
    expires_at: int  # paper ms
    valid: bool = True
    keepalives: int = 0

    def live(self, now: int) -> bool:
        return self.valid and now < self.expires_at

    def report(self) -> dict[str, Any]:
        return {
            "listenKey": self.key,
            "family": FAMILY_NAMES[self.kind],
            "valid": self.valid,
            "expires_at": self.expires_at,
            "keepalives": self.keepalives,
        }


@dataclass(frozen=True)
class _Close:
    code: int
    message: bytes


@dataclass(eq=False)
class _Socket:
    """One open stream socket: what it carries, and the queue its writer drains in order."""

    ws: web.WebSocketResponse
    kind: MarketKind
    listen_key: str | None  # None: a market-stream socket
    queue: asyncio.Queue[str | _Close] = field(default_factory=asyncio.Queue)
    streams: dict[str, MarkStream | None] = field(default_factory=dict)
    finished: asyncio.Event = field(default_factory=asyncio.Event)

    def push(self, payload: Any) -> None:
        self.queue.put_nowait(dumps(payload))


def new_listen_key() -> str:
    return "".join(secrets.choice(_KEY_ALPHABET) for _ in range(LISTEN_KEY_LENGTH))


def _looks_like_listen_key(text: str) -> bool:
    return len(text) == LISTEN_KEY_LENGTH and all(c in _KEY_ALPHABET for c in text)


def _request_error(code: int, msg: str, request_id: Any) -> dict[str, Any]:
    return {"error": {"code": code, "msg": msg}, "id": request_id}


class StreamHub:
    """The push streams of one paper exchange: listen keys, sockets, the mark tick."""

    def __init__(self, target: StreamTarget, *, sleep: Callable[[float], Awaitable[None]]) -> None:
        self._target = target
        self._sleep = sleep
        self.enabled = True
        self.mark_stream_interval = DEFAULT_MARK_STREAM_INTERVAL
        self.marks_silent = False  # connected, answering pings, pushing no mark
        self.opened = {"user": 0, "market": 0}  # sockets ever opened, by kind
        self._keys: dict[str, ListenKey] = {}
        self._current: dict[MarketKind, str] = {}
        self._sockets: set[_Socket] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._ticker: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None

    # --- lifecycle ----------------------------------------------------------------------------

    def mount(self, app: web.Application) -> None:
        """Add the socket routes (before any catch-all); close every socket on shutdown."""
        app.router.add_get(USDM_USER_PATH, self._usdm_user)
        app.router.add_get(USDM_USER_PATH + "/{key}", self._usdm_user)
        app.router.add_get(USDM_MARKET_PATH, self._usdm_market)
        app.router.add_get(USDM_MARKET_PATH + "/{name}", self._usdm_market)
        app.router.add_get(COINM_PATH, self._coinm)
        app.router.add_get(COINM_PATH + "/{name}", self._coinm)
        app.on_shutdown.append(self._on_shutdown)

    def start(self) -> None:
        """Listen to the state and start the tick; call inside the serving loop."""
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._target.store.add_observer(self._on_commit)
        self._ticker = asyncio.create_task(self._tick(), name="paper-mark-stream")

    async def stop(self) -> None:
        """Stop listening, cancel the tick and pending work, close every socket."""
        self._target.store.remove_observer(self._on_commit)
        ticker, self._ticker = self._ticker, None
        pending = [t for t in (ticker, *self._tasks) if t is not None]
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.close_sockets(WSCloseCode.GOING_AWAY, b"paper exchange stopping")
        self._loop = None

    async def _on_shutdown(self, app: web.Application) -> None:
        await self.close_sockets(WSCloseCode.GOING_AWAY, b"paper exchange stopping")

    @property
    def connections(self) -> int:
        return len(self._sockets)

    async def close_sockets(self, code: int, message: bytes, *, key: str | None = None) -> int:
        """Close the open stream sockets (those of `key` only, if given); how many there were."""
        chosen = [s for s in self._sockets if key is None or s.listen_key == key]
        for sock in chosen:
            sock.queue.put_nowait(_Close(code, message))
        for sock in chosen:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(sock.finished.wait(), CLOSE_WAIT)
        return len(chosen)

    async def set_enabled(self, enabled: bool) -> int:
        self.enabled = enabled
        if enabled:
            return 0
        return await self.close_sockets(WSCloseCode.GOING_AWAY, b"streams disabled")

    # --- listen keys --------------------------------------------------------------------------

    def endpoints(self) -> tuple[Endpoint, ...]:
        """The listen-key REST endpoints, bound to this hub."""
        table = []
        for kind, path in (
            (MarketKind.LINEAR, USDM_LISTEN_KEY_PATH),
            (MarketKind.INVERSE, COINM_LISTEN_KEY_PATH),
        ):
            for method, handler in (
                ("POST", self._post_key),
                ("PUT", self._put_key),
                ("DELETE", self._delete_key),
            ):
                table.append(Endpoint(method, path, _bind(handler, kind), keyed=True, weight=1))
        return tuple(table)

    def _live_key(self, kind: MarketKind, now: int) -> ListenKey | None:
        current = self._keys.get(self._current.get(kind, ""))
        if current is None:
            return None
        if current.valid and not current.live(now):
            self._schedule(self._expire(current))  # ran out between ticks
            return None
        return current if current.valid else None

    def _post_key(self, call: Call, kind: MarketKind) -> dict[str, Any]:
        current = self._live_key(kind, call.now)
        if current is None:
            current = ListenKey(key=new_listen_key(), kind=kind, expires_at=0)
            self._keys[current.key] = current
            self._current[kind] = current.key
        current.expires_at = call.now + LISTEN_KEY_VALIDITY_MS
        return {"listenKey": current.key}

    def _put_key(self, call: Call, kind: MarketKind) -> dict[str, Any]:
        current = self._live_key(kind, call.now)
        if current is None:
            raise LISTEN_KEY_MISSING
        current.expires_at = call.now + LISTEN_KEY_VALIDITY_MS
        current.keepalives += 1
        return {"listenKey": current.key} if kind == MarketKind.LINEAR else {}

    def _delete_key(self, call: Call, kind: MarketKind) -> dict[str, Any]:
        current = self._live_key(kind, call.now)
        if current is None:
            raise LISTEN_KEY_MISSING
        current.valid = False
        self._schedule(self.close_sockets(1000, b"listenKey deleted", key=current.key))
        return {}

    def keepalives(self, key: str) -> int:
        found = self._keys.get(key)
        return found.keepalives if found is not None else 0

    def listen_keys(self) -> list[dict[str, Any]]:
        return [key.report() for key in self._keys.values()]

    def current_key(self, kind: MarketKind) -> str | None:
        return self._current.get(kind)

    async def expire_listen_key(
        self, key_or_family: str, *, close: bool = True, tell: bool = True
    ) -> int:
        """Expire a key now (or the family's current one); its sockets closed (how many), or
        with `close=False` left open, hearing nothing more (how many heard the event)."""
        kind = FAMILIES.get(key_or_family)
        key = self._current.get(kind) if kind is not None else key_or_family
        found = self._keys.get(key or "")
        if found is None:
            raise KeyError(f"no listen key {key_or_family!r}")
        return await self._expire(found, close=close, tell=tell)

    def _expire(self, key: ListenKey, *, close: bool = True, tell: bool = True) -> Awaitable[int]:
        """Binance's expiry: `listenKeyExpired` to the key's sockets at once (so a tick cannot
        expire it twice), then (paper, unless `close` is off) the closing of those sockets, to
        await. Binance itself may leave them open: a client must act on the event."""
        now = self._target.server_time()
        key.valid = False
        key.expires_at = min(key.expires_at, now)
        event = listen_key_expired(key.key, now)
        told = [sock for sock in self._sockets if sock.listen_key == key.key and tell]
        for sock in told:
            sock.push(event)
        if close:
            return self.close_sockets(1000, b"listenKey expired", key=key.key)
        return _done(len(told))

    def _schedule(self, work: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- sockets ------------------------------------------------------------------------------

    async def _usdm_user(self, request: web.Request) -> web.StreamResponse:
        key = request.match_info.get("key") or request.query.get("listenKey", "")
        return await self._user(request, key, (MarketKind.LINEAR,))

    async def _usdm_market(self, request: web.Request) -> web.StreamResponse:
        return await self._serve(request, MarketKind.LINEAR, None, request.match_info.get("name"))

    async def _coinm(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info.get("name", "")
        if name in self._keys or _looks_like_listen_key(name):
            return await self._user(request, name, (MarketKind.INVERSE, MarketKind.LINEAR))
        return await self._serve(request, MarketKind.INVERSE, None, name)

    async def _user(
        self, request: web.Request, key: str, kinds: tuple[MarketKind, ...]
    ) -> web.StreamResponse:
        if not self.enabled:
            raise web.HTTPServiceUnavailable(text="streams disabled")
        found = self._keys.get(key)
        if found is None or found.kind not in kinds or not found.live(self._target.server_time()):
            raise web.HTTPBadRequest(text="invalid listenKey")
        return await self._serve(request, found.kind, found.key)

    async def _serve(
        self,
        request: web.Request,
        kind: MarketKind,
        listen_key: str | None,
        raw_stream: str | None = None,
    ) -> web.StreamResponse:
        """One socket; a market path naming a mark stream (`/ws/btcusd_perp@markPrice@1s`, a
        Binance raw stream) starts subscribed to it."""
        if not self.enabled:
            raise web.HTTPServiceUnavailable(text="streams disabled")
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        sock = _Socket(ws=ws, kind=kind, listen_key=listen_key)
        self.opened["market" if listen_key is None else "user"] += 1
        if raw_stream:
            markets = self._target.store.state.markets_of(kind)
            parsed = parse_mark_stream(raw_stream, markets)
            if parsed is not None:
                sock.streams[raw_stream] = parsed
        self._sockets.add(sock)
        reader = asyncio.create_task(self._read(sock))
        try:
            while True:
                item = await sock.queue.get()
                if isinstance(item, _Close):
                    await ws.close(code=item.code, message=item.message)
                    break
                if self._target.faults.latency > 0:
                    await self._sleep(self._target.faults.latency)
                if ws.closed:
                    break
                with contextlib.suppress(ConnectionError):
                    await ws.send_str(item)
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
            self._sockets.discard(sock)
            sock.finished.set()
        return ws

    async def _read(self, sock: _Socket) -> None:
        """Answer method frames; when the client goes away, end the writer."""
        try:
            async for message in sock.ws:
                if message.type == WSMsgType.TEXT:
                    sock.push(self._answer(sock, message.data))
        finally:
            sock.queue.put_nowait(_Close(WSCloseCode.OK, b""))

    def _answer(self, sock: _Socket, raw: str) -> dict[str, Any]:
        try:
            request = json.loads(raw)
        except ValueError:
            return _request_error(3, "Invalid JSON: expected value at line 1 column 1", None)
        if not isinstance(request, dict):
            return _request_error(2, "Invalid request: request must be an object", None)
        request_id = request.get("id")
        method = request.get("method")
        params = request.get("params", [])
        if method == "LIST_SUBSCRIPTIONS":
            return {"result": list(sock.streams), "id": request_id}
        if method not in ("SUBSCRIBE", "UNSUBSCRIBE"):
            return _request_error(2, "Invalid request: unknown method", request_id)
        if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
            return _request_error(2, "Invalid request: params must be a list of names", request_id)
        markets = self._target.store.state.markets_of(sock.kind)
        for name in params:
            if method == "SUBSCRIBE":
                sock.streams[name] = parse_mark_stream(name, markets)
            else:
                sock.streams.pop(name, None)
        return {"result": None, "id": request_id}

    # --- events -------------------------------------------------------------------------------

    def _on_commit(self, before: PaperState, after: PaperState, reason: str | None) -> None:
        loop = self._loop
        if loop is None or not self._sockets:
            return
        if threading.get_ident() == self._loop_thread:
            self._publish(before, after, reason)
        else:
            loop.call_soon_threadsafe(self._publish, before, after, reason)

    def _publish(self, before: PaperState, after: PaperState, reason: str | None) -> None:
        now = self._target.server_time()
        for kind in (MarketKind.LINEAR, MarketKind.INVERSE):
            listeners = [
                s
                for s in self._sockets
                if s.kind == kind and s.listen_key is not None and self._keys[s.listen_key].valid
            ]
            if not listeners:
                continue
            event = account_update(before, after, kind, now=now, hint=reason)
            if event is not None:
                for sock in listeners:
                    sock.push(event)
        moved = moved_marks(before, after)
        if moved:
            self._push_marks(after, now, include_slow=True, only=moved)

    def _push_marks(
        self,
        state: PaperState,
        now: int,
        *,
        include_slow: bool,
        only: frozenset[str] | None = None,
    ) -> None:
        if self.marks_silent:
            return
        for sock in self._sockets:
            markets = state.markets_of(sock.kind)
            for stream in sock.streams.values():
                if stream is None or not (stream.every_second or include_slow):
                    continue
                chosen = [
                    m
                    for m in markets
                    if stream.symbol in (None, m.symbol) and (only is None or m.symbol in only)
                ]
                if not chosen:
                    continue
                events = [mark_price_update(state, m, now) for m in chosen]
                sock.push(events if stream.symbol is None else events[0])

    async def _tick(self) -> None:
        """The steady mark streams and the listen-key expiry check."""
        ticks = 0
        while True:
            await asyncio.sleep(max(MIN_TICK, self.mark_stream_interval))
            ticks += 1
            now = self._target.server_time()
            for key in list(self._keys.values()):
                if key.valid and not key.live(now):
                    self._schedule(self._expire(key))
            slow = ticks % SLOW_MARK_TICKS == 0
            self._push_marks(self._target.store.state, now, include_slow=slow)


async def _done(count: int) -> int:
    return count


def _bind(
    handler: Callable[[Call, MarketKind], dict[str, Any]], kind: MarketKind
) -> Callable[[Call], dict[str, Any]]:
    def bound(call: Call) -> dict[str, Any]:
        return handler(call, kind)

    return bound
