"""Bybit's Unified Trading Account: spot and perpetuals share one collateral pool (ccxt's
account `unified`), judged by its `accountMMRate`; fresh collateral comes from the FUND wallet
(ccxt's `funding`) and excess goes back to it.

Our transfer id goes as `transferId`, a UUID with hyphens: ccxt makes a fresh one per call
unless given one, which would turn a re-send into a second transfer; Bybit refuses a repeated
id (retCode 131214 "TransferId exist") and the first one stands.

The account's mode is read at connect time (`account_mode.py`): a classic account, or inverse
hedges on UTA 1.0, are refused in one line instead of being read as one shared pool.
"""

from __future__ import annotations

from typing import Any

from bot.model import AccountMargin, MarketKind
from bot.venues.base import ClientIdSupport, VenueTraits
from bot.venues.bybit import account_margin, account_mode
from bot.venues.decode import Decoder
from bot.venues.unified import AccountMode, UnifiedMarginVenue


class BybitVenue(UnifiedMarginVenue):
    exchange_ids = ("bybit",)
    traits = VenueTraits(
        client_ids=ClientIdSupport(param="transferId", uuid_format=True, dedupes=True),
        unified_account="unified",
    )
    account_figure = account_margin.FIGURE
    reserve_label = "FUND"

    async def read_account_mode(self) -> AccountMode:
        answer = await self.call(self.client.private_get_v5_account_info)
        status = account_mode.unified_margin_status(
            Decoder(self.name, account_mode.ENDPOINT), answer
        )
        inverse = [
            symbol
            for symbol, market in self.perp_markets.items()
            if market.kind is MarketKind.INVERSE
        ]
        return AccountMode(
            f"{account_mode.NAMES[status]} (unifiedMarginStatus {status})",
            account_mode.refusal(status, inverse),
        )

    def account_margin(self, info: Any) -> AccountMargin | None:
        return account_margin.account_margin(Decoder(self.name, account_margin.ENDPOINT), info)
