"""Bitget: the generic ccxt venue, with our transfer id as `clientOid` (a repeat is refused)."""

from __future__ import annotations

from bot.venues.base import ClientIdSupport, VenueTraits
from bot.venues.generic import CcxtVenue


class BitgetVenue(CcxtVenue):
    exchange_ids = ("bitget",)
    traits = VenueTraits(client_ids=ClientIdSupport(param="clientOid", dedupes=True))
