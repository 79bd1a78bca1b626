"""Unified-margin venues: spot holdings and perpetual positions share one collateral pool.

There is nothing to move between a spot and a futures wallet: the account is judged by its own
margin figure (read from the answer the account's balance already comes in: no extra request),
and fresh collateral comes from a reserve wallet outside it (`bot.policy.account`). The
account's mode is read at connect time, never assumed: a mode whose margin is not shared
refuses the hedges, and so does a hedge whose target is not in the account's figure or that
names no reserve. A venue of this kind subclasses `UnifiedMarginVenue` in its own folder, names
its one account in `traits.unified_account` (ccxt's name for it) and its figure in
`account_figure`, reads its mode in `read_account_mode` and decodes its figure in
`account_margin`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from bot.config import HedgeConfig
from bot.errors import VenueUnusable
from bot.model import AccountMargin, VenueState, Wallet
from bot.runtime.aio import gather_or_cancel
from bot.venues.generic import CcxtVenue


@dataclass(frozen=True)
class AccountMode:
    """The account's mode in the venue's words, and why hedges cannot run in it (None: they
    can)."""

    name: str
    refusal: str | None = None


class UnifiedMarginVenue(CcxtVenue):
    #: the account's own margin figure, as the venue names it (a hedge's target is in it)
    account_figure: ClassVar[str]
    #: the wallet fresh collateral comes from (ccxt's account name) and the venue's name for it
    reserve_account: ClassVar[str] = "funding"
    reserve_label: ClassVar[str] = "funding"
    #: the account's settle-asset wallets carry what the venue says may leave them
    #: (`read_transferable`, its own figure), not ccxt's `free`: a sweep is capped by it, and
    #: ccxt's figure ignores the account's other collateral (the spot leg's coin)
    reads_pool_transferable: ClassVar[bool] = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._account_margin: AccountMargin | None = None  # of the latest balance read

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not getattr(cls, "account_figure", None):
            raise TypeError(f"{cls.__qualname__}: a unified-margin venue names its account_figure")
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
        if mode is not None:
            self.account_mode = mode.name
            if mode.refusal is not None:
                raise self.hedges_refused(mode.refusal)
        for hedge_name, hedge in self.hedges.items():
            self.check_account_terms(hedge_name, hedge)

    def check_hedge_terms(self, hedge_name: str, hedge: HedgeConfig) -> None:
        """Checked after the account's mode is read (`check_account_terms`)."""

    def check_account_terms(self, hedge_name: str, hedge: HedgeConfig) -> None:
        """A hedge here is judged in the account's own figure and draws on the reserve wallet:
        a target in other terms, or no reserve, is refused in one line naming the fix."""
        account = f"{self.name}'s account is {self.account_mode or 'unified'}"
        target = hedge.account_target
        if target is None or target.figure != self.account_figure:
            given = f", not {target.figure}" if target is not None else ""
            raise VenueUnusable(
                f"hedges.{hedge_name}.target: {account}, judged by its {self.account_figure}"
                f"{given}: set target: {{{self.account_figure}: ...}} and band in its terms"
            )
        if hedge.reserve_wallet is None:
            raise VenueUnusable(
                f"hedges.{hedge_name}: {account}; its hedges draw collateral from the "
                f"{self.reserve_label} wallet: set reserve_wallet: {self.reserve_account}"
            )
        reserve = self.normalize_account(hedge.reserve_wallet)
        accounts = self.client.options.get("accountsByType")
        if reserve == self.unified_account or (
            isinstance(accounts, Mapping) and reserve not in accounts
        ):
            raise VenueUnusable(
                f"hedges.{hedge_name}.reserve_wallet: {hedge.reserve_wallet!r} is not a wallet "
                f"{self.name} can move collateral from; set reserve_wallet: {self.reserve_account}"
            )

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

    async def read_wallets(self, account: str) -> list[Wallet]:
        wallets = await super().read_wallets(account)
        if not self.reads_pool_transferable or account != self.unified_account:
            return wallets
        assets = sorted({w.asset for w in wallets} & {m.settle for m in self.perp_markets.values()})
        figures = await gather_or_cancel(*(self.read_transferable(account, a) for a in assets))
        may_leave = dict(zip(assets, figures, strict=True))
        return [
            replace(w, transferable=may_leave[w.asset]) if w.asset in may_leave else w
            for w in wallets
        ]

    async def read_state(self) -> VenueState:
        self._account_margin = None
        state = await super().read_state()
        return replace(state, account_margin=self._account_margin)
