"""Binance's push streams, for the margin guard: account changes and mark prices.

Built on ccxt.pro's unified `watch_balance`, `watch_positions` and `watch_mark_prices` where the
venue's class has them (`has[...]`), one client and one set of streams per futures family of
the hedged perpetuals (Binance: USD-M `linear`, COIN-M `inverse`, each over its own user-data
stream). ccxt.pro creates the listen key; the bot keeps it alive itself, a PUT every
`listenKeyRefreshRate` (ccxt's option, 20 minutes; Binance drops a key 60 minutes after the last),
because ccxt.pro 4.5's Python port sends its own keepalive once and never again. When a stream
fails, the next call asks for a new key (`reset`), since Binance closes the stream of an expired
key.

What comes out is only a wake-up for the guard: an account changed, or these are the marks.
Marks are decoded strictly from the venue's own text (`p` of Binance's `markPriceUpdate`); an
event that cannot be trusted is refused with `Untrusted` like any read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
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
    StreamEvent,
)

WATCHES = ("watchBalance", "watchPositions", "watchMarkPrices")
DEFAULT_REFRESH_MS = 1_200_000  # ccxt.pro binance's listenKeyRefreshRate


class BinanceStreams(MarginStreams):
    """One venue's streams over ccxt.pro clients (by family) that share the REST markets."""

    def __init__(
        self, venue: str, clients: Mapping[str, Any], perps: Mapping[str, PerpMarket]
    ) -> None:
        self.venue = venue
        self.clients = dict(clients)
        self.families: dict[str, list[str]] = {}
        for symbol, market in sorted(perps.items()):
            self.families.setdefault(market.kind.value, []).append(symbol)

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
        every = float(client.options.get("listenKeyRefreshRate") or DEFAULT_REFRESH_MS) / 1000

        async def next_keepalive() -> StreamEvent:
            await asyncio.sleep(every)
            # with no key yet (or one ccxt.pro dropped) there is nothing to extend: the next
            # watch asks for a new one
            await client.keep_alive_listen_key(params)
            return KeptAlive(self.venue, family)

        return next_keepalive

    def _account(self, family: str, source: str) -> Channel:
        client = self.clients[family]
        params = {"type": "swap", "subType": family}

        async def next_change() -> StreamEvent:
            if source == "balance":
                await client.watch_balance(params)
            else:
                await client.watch_positions(None, None, None, params)
            return AccountChanged(self.venue, family, source)

        return next_change

    def _marks(self, family: str, symbols: list[str]) -> Channel:
        client = self.clients[family]

        async def next_marks() -> StreamEvent:
            tickers = await client.watch_mark_prices(symbols)
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
        bucket = self.clients[family].options.get(family)
        if isinstance(bucket, dict):
            bucket["listenKey"] = None
            bucket["lastAuthenticatedTime"] = 0
