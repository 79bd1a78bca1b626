"""Unified-margin venues: spot holdings and perpetual positions share one collateral pool.

There is nothing to move between a spot and a futures wallet, so the policy says so instead of
planning a transfer. A venue of this kind subclasses `UnifiedMarginVenue` in its own folder
and names its one account in `traits.unified_account` (ccxt's name for it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.venues.generic import CcxtVenue


class UnifiedMarginVenue(CcxtVenue):
    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.traits.unified_account is None:
            raise TypeError(
                f"{cls.__qualname__}: a unified-margin venue names its one account in "
                "traits.unified_account"
            )

    @property
    def unified_account(self) -> str:
        account = self.traits.unified_account
        assert account is not None  # checked when the class was defined
        return account

    @property
    def spot_account(self) -> str:
        return self.unified_account

    def futures_account(self, market: Mapping[str, Any]) -> str:
        return self.unified_account

    def balance_params(self, account: str) -> dict[str, Any]:
        return {"type": account}
