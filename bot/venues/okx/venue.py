"""OKX: spot and swaps share the trading account (ccxt's `trading`, OKX's 18), so nothing
moves between them.

Our transfer id goes as `clientId`, 1-32 letters and digits (a UUID with dashes is refused).
"""

from __future__ import annotations

from bot.venues.base import ClientIdSupport, VenueTraits
from bot.venues.unified import UnifiedMarginVenue


class OkxVenue(UnifiedMarginVenue):
    exchange_ids = ("okx",)
    traits = VenueTraits(client_ids=ClientIdSupport(param="clientId"), unified_account="trading")
