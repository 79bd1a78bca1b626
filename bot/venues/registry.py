"""Which classes serve which exchange id: our ccxt `Exchange` subclasses for venues ccxt lacks,
and the `Venue` subclass that adapts each family to the bot's interface."""

from __future__ import annotations

import ccxt.async_support as ccxt_async

from bot.errors import ConfigError
from bot.venues.base import Venue
from bot.venues.binance import BinanceVenue
from bot.venues.coinswitch import CoinSwitchVenue, coinswitch
from bot.venues.coinw import CoinWVenue, coinw
from bot.venues.generic import CcxtVenue
from bot.venues.unified import UnifiedMarginVenue

# ccxt lacks these venues: our own ccxt Exchange subclasses, built like ccxt's.
CUSTOM_EXCHANGES: dict[str, type[ccxt_async.Exchange]] = {
    "coinswitch": coinswitch,
    "coinw": coinw,
}

VENUE_CLASSES: dict[str, type[Venue]] = {
    "binance": BinanceVenue,
    "binanceusdm": BinanceVenue,
    "binancecoinm": BinanceVenue,
    "coinswitch": CoinSwitchVenue,
    "coinw": CoinWVenue,
    "bybit": UnifiedMarginVenue,
    "okx": UnifiedMarginVenue,
}


def known_exchange_ids() -> list[str]:
    return sorted({*ccxt_async.exchanges, *CUSTOM_EXCHANGES})


def exchange_class(name: str, exchange_id: str) -> type[ccxt_async.Exchange]:
    """The ccxt async class for `exchange_id`; a one-line config error when there is none."""
    if exchange_id in CUSTOM_EXCHANGES:
        return CUSTOM_EXCHANGES[exchange_id]
    cls = getattr(ccxt_async, exchange_id, None) if exchange_id in ccxt_async.exchanges else None
    if cls is None:
        raise ConfigError(
            f"venues.{name}.exchange: unknown exchange id {exchange_id!r}; use a ccxt id such as "
            "binance, bybit or okx, or coinswitch / coinw"
        )
    return cls


def venue_class(exchange_id: str) -> type[Venue]:
    return VENUE_CLASSES.get(exchange_id, CcxtVenue)
