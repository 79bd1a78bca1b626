"""CoinSwitch PRO: the ccxt exchange `coinswitch` (`exchange`, no bot imports) and the bot's
`CoinSwitchVenue` (`venue`).

The venue names are loaded on first use, so `import bot.venues.coinswitch.exchange` stays free
of the bot: a package's `__init__` runs before any of its modules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.venues.coinswitch.exchange import EXCHANGE_ID, FUTURES, coinswitch

if TYPE_CHECKING:
    from bot.venues.coinswitch.venue import CoinSwitchVenue

__all__ = ["EXCHANGE_ID", "FUTURES", "CoinSwitchVenue", "coinswitch"]


def __getattr__(name: str) -> Any:
    if name == "CoinSwitchVenue":
        from bot.venues.coinswitch.venue import CoinSwitchVenue

        return CoinSwitchVenue
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
