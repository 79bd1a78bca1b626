"""Binance's push streams, for the margin guard: account changes and mark prices.

Built on ccxt.pro's unified `watch_balance`, `watch_positions` and `watch_mark_prices` where the
venue's class has them (`has[...]`), one client and one set of streams per futures family of
the hedged perpetuals (Binance: USD-M `linear`, COIN-M `inverse`, each over its own user-data
stream).

Staying live, since a stream that says nothing looks the same as a calm market:
- Listen key: the account channels ask for it themselves (ccxt.pro's `authenticate`, a POST)
  whenever the family has none, and say so (`Subscribed`: read again). The bot keeps it alive
  itself, a PUT every `keepalive_every` (3 minutes, at most ccxt's `listenKeyRefreshRate`;
  Binance drops a key 60 minutes after the last), because ccxt.pro 4.5's Python port sends its
  own keepalive once and never again. That PUT is also the user-data stream's liveness check
  (it pushes only on changes, so silence proves nothing): a refused PUT drops the key and closes
  its socket, and the account channels get a new key at once.
- `listenKeyExpired`: Binance sends it WITHOUT closing the socket, and ccxt.pro 4.5.90 has no
  handler for it (its `handle_message` ignores the event), so the stream would sit dead until
  the next keepalive. Each client's `handle_message` is wrapped here (`hook_listen_key_expiry`):
  the event drops the key and fails the socket with `StreamDown`, so the watches fail and the
  next call asks for a new key at once.
- Marks: `markPrice@1s` pushes every second, so a mark channel that hears nothing for
  `mark_silence` (5 s: five cadences) fails its socket with `StreamDown`; ccxt.pro dials again
  on the next watch. A market stream needs no key (`reset` is for user data only).

What comes out is only a wake-up for the guard: an account changed, or these are the marks.
Marks are decoded strictly from the venue's own text (`p` of Binance's `markPriceUpdate`); an
event that cannot be trusted is refused with `Untrusted` like any read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from bot.model import PerpMarket
from bot.venues.decode import Decoder, Sign
from bot.venues.streams import (
    AccountChanged,
    Channel,
    KeptAlive,
    MarginStreams,
    MarksMoved,
    StreamDown,
    StreamEvent,
    Subscribed,
)

WATCHES = ("watchBalance", "watchPositions", "watchMarkPrices")
DEFAULT_REFRESH_MS = 1_200_000  # ccxt.pro binance's listenKeyRefreshRate
MARK_CADENCE_SECONDS = 1.0  # markPrice@1s: Binance pushes the mark every second
MARK_SILENCE_SECONDS = 5 * MARK_CADENCE_SECONDS  # silent this long: the mark stream is down
KEEPALIVE_CHECK_SECONDS = 180.0  # the user-data stream's liveness check (a PUT, weight 1)
HOOKED = "bot_listen_key_expiry_hooked"


class BinanceStreams(MarginStreams):
    """One venue's streams over ccxt.pro clients (by family) that share the REST markets."""

    def __init__(
        self,
        venue: str,
        clients: Mapping[str, Any],
        perps: Mapping[str, PerpMarket],
        *,
        mark_silence: float = MARK_SILENCE_SECONDS,
        keepalive_every: float = KEEPALIVE_CHECK_SECONDS,
    ) -> None:
        self.venue = venue
        self.clients = dict(clients)
        self.mark_silence = mark_silence
        self.keepalive_every = keepalive_every
        self.families: dict[str, list[str]] = {}
        for symbol, market in sorted(perps.items()):
            self.families.setdefault(market.kind.value, []).append(symbol)
        for family, client in self.clients.items():
            hook_listen_key_expiry(client, family)

    @staticmethod
    def supported(client: Any) -> bool:
        has = getattr(client, "has", {}) or {}
        return all(has.get(name) for name in WATCHES)

    def channels(self) -> dict[str, Channel]:
        """Each stream as a coroutine that waits for its next event, by a name for the logs."""
        found: dict[str, Channel] = {}
        for family, symbols in self.families.items():
            found[f"{family} balance"] = self._account(family, "balance")
            found[f"{family} positions"] = self._account(family, "positions")
            found[f"{family} mark prices"] = self._marks(family, symbols)
            found[f"{family} listen key"] = self._keepalive(family)
        return found

    def _keepalive(self, family: str) -> Channel:
        client = self.clients[family]
        params = {"type": "swap", "subType": family}
        refresh = float(client.options.get("listenKeyRefreshRate") or DEFAULT_REFRESH_MS) / 1000
        every = min(refresh, self.keepalive_every)

        async def next_keepalive() -> StreamEvent:
            await asyncio.sleep(every)
            # with no key yet (or one ccxt.pro dropped) there is nothing to extend: the account
            # channels ask for a new one
            kept = listen_key(client, family)
            await client.keep_alive_listen_key(params)
            if kept is not None and listen_key(client, family) is None:
                # refused (the key is unknown or expired): ccxt.pro failed the watches on it
                # and dropped it, but leaves its socket open; close that too
                dead: str = kept
                why = f"{family} listen key refused at its keepalive"
                fail_sockets(client, lambda ws: dead in ws.url, StreamDown(why))
            return KeptAlive(self.venue, family)

        return next_keepalive

    def _account(self, family: str, source: str) -> Channel:
        client = self.clients[family]
        params = {"type": "swap", "subType": family}
        watched: str | None = None  # the key this channel last watched on

        async def next_change() -> StreamEvent:
            nonlocal watched
            if listen_key(client, family) is None:
                await client.authenticate(params)  # a new key now (one POST for both channels)
            key = listen_key(client, family)
            if key is not None and key != watched:
                watched = key
                return Subscribed(self.venue, family)
            if source == "balance":
                await client.watch_balance(params)
            else:
                await client.watch_positions(None, None, None, params)
            return AccountChanged(self.venue, family, source)

        return next_change

    def _marks(self, family: str, symbols: list[str]) -> Channel:
        client = self.clients[family]

        async def next_marks() -> StreamEvent:
            watch = asyncio.ensure_future(client.watch_mark_prices(symbols))
            try:
                while not watch.done():
                    await asyncio.wait({watch}, timeout=self.mark_silence)
                    if watch.done() or dialling(client):
                        continue  # a socket still dialling is bounded by ccxt's own timeout
                    why = f"{family} mark prices silent for {self.mark_silence:g} s"
                    fail_sockets(client, is_mark_socket, StreamDown(why))
                    raise StreamDown(why)
                tickers = watch.result()
            finally:
                if not watch.done():
                    watch.cancel()
            return MarksMoved(self.venue, self.decode_marks(client, tickers, symbols))

        return next_marks

    def decode_marks(self, client: Any, tickers: Any, symbols: list[str]) -> dict[str, Decimal]:
        """The mark of each watched symbol in the update, from the event's own `p` text."""
        decoder = Decoder(self.venue, "mark price stream")
        found: dict[str, Decimal] = {}
        for symbol, ticker in decoder.mapping(tickers, "the update").items():
            if symbol not in symbols:
                continue
            path = f"the update[{symbol}]"
            info = decoder.mapping(decoder.mapping(ticker, path).get("info"), f"{path}.info")
            expected = client.market(symbol)["id"]
            if decoder.text(info, "s", f"{path}.info") != expected:
                raise decoder.refuse(f"{path}.info.s is not {expected}")
            found[symbol] = decoder.decimal(info, "p", f"{path}.info", sign=Sign.POSITIVE)
        return found

    def reset(self, family: str) -> None:
        """Make the next watch of `family` ask for a new listen key (ccxt.pro's bucket)."""
        drop_listen_key(self.clients[family], family)


def listen_key(client: Any, family: str) -> str | None:
    """The family's listen key in ccxt.pro's bucket (None: the next watch asks for one)."""
    bucket = client.options.get(family)
    return bucket.get("listenKey") if isinstance(bucket, dict) else None


def drop_listen_key(client: Any, family: str) -> None:
    bucket = client.options.get(family)
    if isinstance(bucket, dict):
        bucket["listenKey"] = None
        bucket["lastAuthenticatedTime"] = 0


def is_mark_socket(ws: Any) -> bool:
    """A ccxt.pro socket carrying a mark-price subscription (its hashes name `markPrice`)."""
    return any("markPrice" in str(name) for name in (*ws.futures, *ws.subscriptions))


def dialling(client: Any) -> bool:
    """Whether a mark socket is still being opened (its silence has not started)."""
    return any(
        ws.connection is None and ws.connecting
        for ws in list((client.clients or {}).values())
        if is_mark_socket(ws)
    )


def fail_sockets(client: Any, chosen: Callable[[Any], bool], error: Exception) -> int:
    """Fail the client's chosen sockets as ccxt.pro fails a dead one (its ping timeout path):
    every watch on them raises `error`, the socket closes and leaves `client.clients`, so the
    next watch dials afresh. Returns how many."""
    found = [ws for ws in list((client.clients or {}).values()) if chosen(ws)]
    for ws in found:
        ws.on_error(error)
    return len(found)


def hook_listen_key_expiry(client: Any, family: str) -> None:
    """Act on Binance's `listenKeyExpired` (sent without closing the socket; ccxt.pro 4.5.90
    ignores it): drop the key and fail its socket, so the watches fail now and the next one
    asks for a new key. Wraps the client's own `handle_message`, which ccxt.pro hands to each
    socket it opens (so this runs before the first watch); once per client."""
    if getattr(client, HOOKED, False):
        return
    dispatch = client.handle_message

    def handle_message(ws: Any, message: Any) -> Any:
        if isinstance(message, dict) and message.get("e") == "listenKeyExpired":
            expired = message.get("listenKey")
            if not isinstance(expired, str) or expired == listen_key(client, family):
                drop_listen_key(client, family)
            ws.on_error(StreamDown(f"{family} listen key expired (listenKeyExpired)"))
            return None
        return dispatch(ws, message)

    client.handle_message = handle_message
    setattr(client, HOOKED, True)
