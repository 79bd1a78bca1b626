"""Which classes serve which exchange id, found without a hand-kept table.

Every folder under `bot/venues/` is one venue, and its `venue` module defines the `Venue`
subclass(es) that serve it: each names the config `exchange:` ids it serves (`exchange_ids`)
and, where ccxt lacks the exchange, our own ccxt class for it (`ccxt_class`). Any other ccxt id
is served by the generic `CcxtVenue`. A new venue is one folder; nothing here changes.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Mapping

import ccxt.async_support as ccxt_async

import bot.venues
from bot.errors import ConfigError
from bot.venues.generic import CcxtVenue

VENUE_MODULE = "venue"  # the module of a venue folder that defines its Venue subclass(es)


def venue_folders() -> list[str]:
    """The venue folders: every package directly under `bot/venues/`."""
    return sorted(m.name for m in pkgutil.iter_modules(bot.venues.__path__) if m.ispkg)


@functools.cache
def served() -> Mapping[str, type[CcxtVenue]]:
    """Exchange id -> the Venue class that serves it, from every venue folder's `venue` module.
    Two classes claiming one id is a bug, refused at once."""
    found: dict[str, type[CcxtVenue]] = {}
    for folder in venue_folders():
        module = importlib.import_module(f"{bot.venues.__name__}.{folder}.{VENUE_MODULE}")
        for value in vars(module).values():
            if not (
                isinstance(value, type)
                and issubclass(value, CcxtVenue)
                and value.__module__ == module.__name__
                and "exchange_ids" in vars(value)
            ):
                continue
            for exchange_id in value.exchange_ids:
                if exchange_id in found:
                    raise RuntimeError(
                        f"exchange id {exchange_id!r} is claimed by both "
                        f"{found[exchange_id].__qualname__} and {value.__qualname__}"
                    )
                found[exchange_id] = value
    return found


def venue_class(exchange_id: str) -> type[CcxtVenue]:
    """The Venue class for `exchange_id`: its venue folder's, else the generic ccxt venue."""
    return served().get(exchange_id, CcxtVenue)


def own_exchanges() -> dict[str, type[ccxt_async.Exchange]]:
    """Our own ccxt `Exchange` classes, for the venues ccxt lacks, by exchange id."""
    return {
        exchange_id: cls.ccxt_class
        for exchange_id, cls in served().items()
        if cls.ccxt_class is not None
    }


def known_exchange_ids() -> list[str]:
    return sorted({*ccxt_async.exchanges, *own_exchanges()})


def paper_exchange_ids() -> list[str]:
    """The exchange ids whose dialect the built-in paper exchange speaks."""
    return sorted(exchange_id for exchange_id, cls in served().items() if cls.traits.paper)


def exchange_class(name: str, exchange_id: str) -> type[ccxt_async.Exchange]:
    """The ccxt async class for `exchange_id`; a one-line config error when there is none."""
    own = own_exchanges().get(exchange_id)
    if own is not None:
        return own
    cls = getattr(ccxt_async, exchange_id, None) if exchange_id in ccxt_async.exchanges else None
    if cls is None:
        adapted = ", ".join(sorted(served()))
        raise ConfigError(
            f"venues.{name}.exchange: unknown exchange id {exchange_id!r}; use one the bot "
            f"adapts ({adapted}) or any other ccxt id"
        )
    return cls
