"""Bybit's Unified Trading Account: spot and perpetuals share one collateral pool (ccxt's
account `unified`), so nothing moves between them.

Our transfer id goes as `transferId`, a UUID with hyphens: ccxt makes a fresh one per call
unless given one, which would turn a re-send into a second transfer; Bybit refuses a repeated
id (retCode 131214 "TransferId exist") and the first one stands.
"""

from __future__ import annotations

from bot.venues.base import ClientIdSupport, VenueTraits
from bot.venues.unified import UnifiedMarginVenue


class BybitVenue(UnifiedMarginVenue):
    exchange_ids = ("bybit",)
    traits = VenueTraits(
        client_ids=ClientIdSupport(param="transferId", uuid_format=True, dedupes=True),
        unified_account="unified",
    )
