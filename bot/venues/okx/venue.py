"""OKX: spot and swaps share the trading account (ccxt's `trading`, OKX's 18), judged by its
`mgnRatio`; fresh collateral comes from the funding account (6) and excess goes back to it.

Our transfer id goes as `clientId`, 1-32 letters and digits (a UUID with dashes is refused).

The account's mode is read at connect time (`account_mode.py`): an account in Spot mode cannot
hold the short, and its hedges are refused in one line.
"""

from __future__ import annotations

from typing import Any

from bot.model import AccountMargin
from bot.venues.base import ClientIdSupport, VenueTraits
from bot.venues.decode import Decoder
from bot.venues.okx import account_margin, account_mode
from bot.venues.unified import AccountMode, UnifiedMarginVenue


class OkxVenue(UnifiedMarginVenue):
    exchange_ids = ("okx",)
    traits = VenueTraits(client_ids=ClientIdSupport(param="clientId"), unified_account="trading")
    account_figure = account_margin.FIGURE

    async def read_account_mode(self) -> AccountMode:
        answer = await self.call(self.client.private_get_account_config)
        level = account_mode.account_level(Decoder(self.name, account_mode.ENDPOINT), answer)
        return AccountMode(
            f"{account_mode.NAMES[level]} (acctLv {level})", account_mode.refusal(level)
        )

    def account_margin(self, info: Any) -> AccountMargin | None:
        return account_margin.account_margin(Decoder(self.name, account_margin.ENDPOINT), info)
