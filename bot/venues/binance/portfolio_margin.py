"""Binance Portfolio Margin: USD-M, COIN-M and cross margin in one account (Binance's PM API,
`/papi/v1`), judged by its own `uniMMR` and fed from the spot wallet.

Chosen by the config with ccxt's own switch, `ccxt: {options: {portfolioMargin: true}}` on the
venue (`BinanceVenue.for_options`), and verified at connect by the read the balances need
anyway, `GET /papi/v1/account`: its answer is kept for the session's first state read, so the
mode costs no request of its own (`account_mode.py` says how a config that does not fit the
account is refused).

- The pool is the PM account (ccxt's and the bot's name: `portfolio`); its figure is `uniMMR`
  (`portfolio_account.py`), what may leave it `virtualMaxWithdrawAmount`, in USD: the account's
  wallet in a hedge's USD stablecoin is that USD view (equity, initial margin, what may leave),
  moved one for one, as the account policy sizes it.
- The spot leg and the reserve are in the spot wallet (`GET /api/v3/account`, as classic): a
  PM hedge says so (`spot_leg_wallets: [spot]`), as the policy counts a unified account's leg
  in the account itself; reading the PM account per coin (`GET /papi/v1/balance`) would cost the
  one-shot a sixth request before its transfer.
- Positions: `GET /papi/v1/um/positionRisk` and `/papi/v1/cm/positionRisk` (PM positions are
  cross; an isolated hedge is refused).
- Moves: ccxt's `transfer()` knows no PM account, so the universal transfer is sent as Binance
  documents it for PM, `POST /sapi/v1/asset/transfer` type `MAIN_PORTFOLIO_MARGIN` /
  `PORTFOLIO_MARGIN_MAIN`, and reconciled against `GET /sapi/v1/asset/transfer` of that type:
  the classic venue's own sending and reconciling, only the wallet codes differ.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import ccxt.async_support as ccxt_async

from bot.config import HedgeConfig
from bot.errors import VenueError
from bot.model import SPOT, MarketKind, Position, Wallet
from bot.runtime.aio import gather_or_cancel
from bot.venues.base import VenueTraits
from bot.venues.binance import account_mode
from bot.venues.binance.portfolio_account import (
    ENDPOINT,
    FIGURE,
    PortfolioAccount,
    decode_portfolio_account,
)
from bot.venues.binance.streams import BinanceStreams
from bot.venues.binance.usd_pool import check_usd_pool_hedge
from bot.venues.binance.venue import (
    BINANCE_LIMITS,
    BINANCE_TRAITS,
    BinanceVenue,
    Endpoint,
    decode_position_risk,
)
from bot.venues.decode import Decoder
from bot.venues.ratelimit import Bucket, Limiter, UsageLimiter
from bot.venues.unified import AccountMode, UnifiedMarginVenue

PORTFOLIO = "portfolio"

# Portfolio Margin "General Info": REQUEST_WEIGHT 6000 per minute, in X-MBX-USED-WEIGHT-1M
PAPI_LIMIT = Bucket("/papi/", 6000, "X-MBX-USED-WEIGHT-1M")

PM_POSITIONS = {
    MarketKind.LINEAR: Endpoint("papiGetUmPositionRisk", "GET /papi/v1/um/positionRisk"),
    MarketKind.INVERSE: Endpoint("papiGetCmPositionRisk", "GET /papi/v1/cm/positionRisk"),
}

PM_TRAITS = VenueTraits(
    funding_time_is_server_time=BINANCE_TRAITS.funding_time_is_server_time,
    funding_interval=BINANCE_TRAITS.funding_interval,
    account_aliases={
        "main": SPOT,
        "pm": PORTFOLIO,
        "papi": PORTFOLIO,
        "portfolio_margin": PORTFOLIO,
    },
    unified_account=PORTFOLIO,
    # REST only: ccxt.pro's Binance streams follow the classic futures accounts, so the guard
    # polls a PM account
)


class BinancePortfolioMarginVenue(UnifiedMarginVenue, BinanceVenue):
    """A Binance venue whose account is in Portfolio Margin (not found by exchange id: the
    classic venue hands its class over when the config asks for PM)."""

    traits = PM_TRAITS
    account_figure = FIGURE
    reserve_account = SPOT
    reserve_label = "spot"
    wallet_codes: ClassVar[Mapping[str, str]] = {SPOT: "MAIN", PORTFOLIO: "PORTFOLIO_MARGIN"}
    reads_usdm_asset_mode = False  # PM has no USD-M asset mode of its own

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: the answer the mode was verified by, kept for the first state read only
        self._verified_answer: Any = None

    @classmethod
    def reads_over_websocket(cls, hedges: Mapping[str, HedgeConfig]) -> bool:
        return False

    @classmethod
    def futures_families(cls, hedges: Mapping[str, HedgeConfig]) -> set[str]:
        return set()

    @classmethod
    def rate_limiter(cls, client: ccxt_async.Exchange) -> Limiter:
        return UsageLimiter((*BINANCE_LIMITS, PAPI_LIMIT))

    def margin_streams(self) -> BinanceStreams | None:
        return None

    @property
    def spot_account(self) -> str:
        """The spot leg stays in the spot wallet, beside the reserve."""
        return SPOT

    # the account's mode ---------------------------------------------------------------------

    async def read_account_mode(self) -> AccountMode:
        """`GET /papi/v1/account`: answered, the account is PM (its answer is the first read's);
        refused with -2015 while USD-M answers, it is a classic account and hedges are refused."""
        try:
            raw = await self.call(self.client.papiGetAccount)
        except VenueError as exc:
            if account_mode.key_refused(exc) and await account_mode.other_api_answers(
                lambda: self.call(self.client.fapiPrivateV3GetAccount)
            ):
                return AccountMode("a classic account", account_mode.PORTFOLIO_ON_CLASSIC)
            raise
        read = self._decode_account(raw)
        self._verified_answer = raw
        return AccountMode(f"Portfolio Margin (accountStatus {read.status})")

    def check_account_terms(self, hedge_name: str, hedge: HedgeConfig) -> None:
        super().check_account_terms(hedge_name, hedge)
        check_usd_pool_hedge(
            hedge_name, hedge, f"{self.name}'s Portfolio Margin account", self.normalize_account
        )

    # reading --------------------------------------------------------------------------------

    async def read_wallets(self, account: str) -> list[Wallet]:
        account = self.normalize_account(account)
        if account != PORTFOLIO:
            return await super().read_wallets(account)
        raw, self._verified_answer = self._verified_answer, None
        if raw is None:
            raw = await self.call(self.client.papiGetAccount)
        self.sources[PORTFOLIO] = "rest"
        read = self._decode_account(raw)
        self._account_margin = read.margin
        return [self._usd_wallet(asset, read) for asset in sorted(self._usd_settles())]

    def _decode_account(self, raw: Any) -> PortfolioAccount:
        return decode_portfolio_account(Decoder(self.name, ENDPOINT), raw)

    def _usd_settles(self) -> set[str]:
        """The USD-M hedges' settle stablecoins, in which the account's USD figures are held."""
        return {m.settle for m in self._perps.values() if m.kind is MarketKind.LINEAR}

    @staticmethod
    def _usd_wallet(asset: str, read: PortfolioAccount) -> Wallet:
        return Wallet(
            account=PORTFOLIO,
            asset=asset,
            free=read.may_leave,
            used=read.initial,
            balance=read.equity,
            transferable=read.may_leave,
        )

    async def read_positions(self, symbols: list[str]) -> list[Position]:
        by_kind: dict[MarketKind, list[str]] = {}
        for symbol in symbols:
            by_kind.setdefault(self._perps[symbol].kind, []).append(symbol)
        kinds = sorted(by_kind, key=lambda k: k.value)
        answers = await gather_or_cancel(
            *(self.call(getattr(self.client, PM_POSITIONS[k].method), {}) for k in kinds)
        )
        found: list[Position] = []
        for kind, raw in zip(kinds, answers, strict=True):
            markets = {self.client.market(s)["id"]: self._perps[s] for s in by_kind[kind]}
            found += decode_position_risk(Decoder(self.name, PM_POSITIONS[kind].path), raw, markets)
        return found
