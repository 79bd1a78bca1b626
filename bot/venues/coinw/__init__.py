"""CoinW: the ccxt exchange `coinw` (`exchange`, no bot imports) and the bot's `CoinWVenue`
(`venue`).

The venue names are loaded on first use, so `import bot.venues.coinw.exchange` stays free of
the bot: a package's `__init__` runs before any of its modules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.venues.coinw.exchange import EXCHANGE_ID, FUTURES, FUTURES_SETTLE, coinw

if TYPE_CHECKING:
    from bot.venues.coinw.venue import CoinWVenue

__all__ = ["EXCHANGE_ID", "FUTURES", "FUTURES_SETTLE", "CoinWVenue", "coinw"]


def __getattr__(name: str) -> Any:
    if name == "CoinWVenue":
        from bot.venues.coinw.venue import CoinWVenue

        return CoinWVenue
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
