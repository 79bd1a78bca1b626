"""Unified-margin venues (Bybit's unified trading account, OKX's trading account).

There spot holdings and perpetual positions share one collateral pool, so there is nothing to
move between a spot and a futures wallet: the policy says so instead of planning a transfer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.venues.generic import CcxtVenue

# ccxt's account name for the one account that holds both legs.
UNIFIED_ACCOUNTS: Mapping[str, str] = {"bybit": "unified", "okx": "trading"}


class UnifiedMarginVenue(CcxtVenue):
    shared_collateral = True

    @property
    def unified_account(self) -> str:
        return UNIFIED_ACCOUNTS.get(self.client.id, "unified")

    @property
    def spot_account(self) -> str:
        return self.unified_account

    def futures_account(self, market: Mapping[str, Any]) -> str:
        return self.unified_account

    def balance_params(self, account: str) -> dict[str, Any]:
        return {"type": account}
