"""Unified-margin venues: spot holdings and perpetual positions share one collateral pool.

There is nothing to move between a spot and a futures wallet, so the policy says so instead of
planning a transfer, with the account's own margin figure where the venue reports one (read
from the answer the account's balance already comes in: no extra request). The account's mode
is read at connect time, never assumed: a mode whose margin is not shared refuses the hedges.
A venue of this kind subclasses `UnifiedMarginVenue` in its own folder, names its one account
in `traits.unified_account` (ccxt's name for it), reads its mode in `read_account_mode` and
decodes its figure in `account_margin`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from bot.model import AccountMargin, VenueState, Wallet
from bot.venues.generic import CcxtVenue


@dataclass(frozen=True)
class AccountMode:
    """The account's mode in the venue's words, and why hedges cannot run in it (None: they
    can)."""

    name: str
    refusal: str | None = None


class UnifiedMarginVenue(CcxtVenue):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._account_margin: AccountMargin | None = None  # of the latest balance read

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

    async def connect(self) -> None:
        await super().connect()
        if not self.hedges:
            return
        mode = await self.read_account_mode()
        if mode is None:
            return
        self.account_mode = mode.name
        if mode.refusal is not None:
            raise self.hedges_refused(mode.refusal)

    async def read_account_mode(self) -> AccountMode | None:
        """The account's mode, read from the venue (None where the venue has no such read)."""
        return None

    def account_margin(self, info: Any) -> AccountMargin | None:
        """The account's margin figure from the raw balance answer (ccxt's `info`); None where
        the venue reports none for the account's mode."""
        return None

    def parse_wallets(self, account: str, balance: Mapping[str, Any]) -> list[Wallet]:
        if account == self.unified_account and isinstance(balance, Mapping):
            self._account_margin = self.account_margin(balance.get("info"))
        return super().parse_wallets(account, balance)

    async def read_state(self) -> VenueState:
        self._account_margin = None
        state = await super().read_state()
        return replace(state, account_margin=self._account_margin)
