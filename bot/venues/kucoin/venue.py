"""KuCoin: the generic ccxt venue, with our transfer id as `clientOid`: ccxt makes a fresh one
per call unless given one, which would turn a re-send into a second transfer."""

from __future__ import annotations

from bot.venues.base import ClientIdSupport, VenueTraits
from bot.venues.generic import CcxtVenue


class KucoinVenue(CcxtVenue):
    exchange_ids = ("kucoin", "kucoinfutures")
    traits = VenueTraits(client_ids=ClientIdSupport(param="clientOid"))
