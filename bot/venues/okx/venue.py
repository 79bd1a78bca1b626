"""OKX: spot and swaps share the trading account (ccxt's `trading`, OKX's 18), so nothing
moves between them.

Our transfer id goes as `clientId`, 1-32 letters and digits (a UUID with dashes is refused).

The account's mode is read at connect time (`account_mode.py`): an account in Spot mode cannot
hold the short, and its hedges are refused in one line.
"""

from __future__ import annotations

from typing import Any

from bot.errors import VenueUnusable
from bot.model import AccountMargin
from bot.venues.base import ClientIdSupport, VenueTraits
from bot.venues.decode import Decoder
from bot.venues.okx import account_margin, account_mode
from bot.venues.unified import UnifiedMarginVenue


class OkxVenue(UnifiedMarginVenue):
    exchange_ids = ("okx",)
    traits = VenueTraits(client_ids=ClientIdSupport(param="clientId"), unified_account="trading")

    async def connect(self) -> None:
        await super().connect()
        if not self.hedges:
            return
        answer = await self.call(self.client.private_get_account_config)
        level = account_mode.account_level(Decoder(self.name, account_mode.ENDPOINT), answer)
        self.account_mode = f"{account_mode.NAMES[level]} (acctLv {level})"
        refused = account_mode.refusal(level)
        if refused is not None:
            names = ", ".join(sorted(self.hedges))
            raise VenueUnusable(f"venues.{self.name}: {refused} (hedges: {names})")

    def account_margin(self, info: Any) -> AccountMargin | None:
        return account_margin.account_margin(Decoder(self.name, account_margin.ENDPOINT), info)
