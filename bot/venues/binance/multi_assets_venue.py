"""Binance USD-M in multi-assets mode: the USD-M wallet is one pool of every margin asset,
judged by the venue's own account-level USD figures (`multiAssetsMMR`, `multi_assets.py`) and
fed from the spot wallet, as a unified account is.

Chosen by the config (`ccxt: {options: {multiAssetsMargin: true}}` on the venue,
`BinanceVenue.for_options`) and verified at connect by `GET /fapi/v1/multiAssetsMargin` (saved
with the cached markets): a single-asset account is refused in one line naming the fix.

- The pool is the USD-M account (`linear`); its figure is `totalMarginBalance` over
  `totalMaintMargin` of `GET /fapi/v3/account`, the read the classic venue makes anyway. The
  hedge's settle-asset wallet carries the pool's USD equity (what the account policy sizes,
  moved one for one, as on Portfolio Margin) and what the venue lets leave in that asset
  (its own `maxWithdrawAmount`).
- The spot leg and the reserve are in the spot wallet (`spot_leg_wallets: [spot]`).
- Positions and moves are the classic USD-M ones (`/fapi/v3/positionRisk`, universal transfer
  `MAIN_UMFUTURE` / `UMFUTURE_MAIN`); Binance allows no isolated position in this mode.
- A hedge may take the spot leg's own coin as collateral (`collateral: [USDT, ETH]`): its
  coin in the USD-M wallet is read with the pool (and counted in the spot leg), and its
  collateral rate (`GET /fapi/v1/assetIndex`, `bidRate`: the index less Binance's haircut)
  with every state, one request per coin; the policy then sizes a coin top-up at that rate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any, ClassVar

from bot.config import HedgeConfig
from bot.errors import VenueUnusable
from bot.model import SPOT, CollateralRate, MarketKind, VenueState, Wallet
from bot.runtime.aio import gather_or_cancel
from bot.venues.binance import multi_assets
from bot.venues.binance.streams import BinanceStreams
from bot.venues.binance.usd_pool import check_usd_pool_hedge
from bot.venues.binance.venue import (
    BINANCE_TRAITS,
    ENDPOINTS,
    LINEAR,
    BinanceVenue,
    decode_futures_account,
)
from bot.venues.decode import Decoder
from bot.venues.unified import AccountMode, UnifiedMarginVenue

MULTI_ASSETS_TRAITS = replace(
    BINANCE_TRAITS,
    unified_account=LINEAR,
    # REST only: the guard polls the account's totals, which the streams do not carry
    stream_classes={},
)


class BinanceMultiAssetsVenue(UnifiedMarginVenue, BinanceVenue):
    """A Binance venue whose USD-M account is in multi-assets mode (not found by exchange id:
    the classic venue hands its class over when the config asks for the mode)."""

    traits = MULTI_ASSETS_TRAITS
    account_figure = multi_assets.FIGURE
    reserve_account = SPOT
    reserve_label = "spot"
    wallet_codes: ClassVar[Mapping[str, str]] = {SPOT: "MAIN", LINEAR: "UMFUTURE"}
    reads_usdm_asset_mode = False  # read as this class's account mode instead
    takes_coin_collateral = True

    @classmethod
    def reads_over_websocket(cls, hedges: Mapping[str, HedgeConfig]) -> bool:
        return False

    @classmethod
    def futures_families(cls, hedges: Mapping[str, HedgeConfig]) -> set[str]:
        return set()

    def margin_streams(self) -> BinanceStreams | None:
        return None

    @property
    def spot_account(self) -> str:
        """The spot leg stays in the spot wallet, beside the reserve."""
        return SPOT

    # the account's mode ---------------------------------------------------------------------

    async def read_account_mode(self) -> AccountMode:
        multi = self.connect_facts.get(multi_assets.FACT)
        if not isinstance(multi, bool):
            raw = await self.call(self.client.fapiPrivateGetMultiAssetsMargin)
            multi = multi_assets.decode_mode(Decoder(self.name, multi_assets.MODE_PATH), raw)
            self.connect_facts[multi_assets.FACT] = multi
        if not multi:
            return AccountMode(multi_assets.SINGLE_ASSET, multi_assets.SINGLE_ON_MULTI_CONFIG)
        return AccountMode(multi_assets.MULTI_ASSETS)

    def check_account_terms(self, hedge_name: str, hedge: HedgeConfig) -> None:
        super().check_account_terms(hedge_name, hedge)
        if self._perps[hedge.perp].kind is not MarketKind.LINEAR:
            raise VenueUnusable(
                f"hedges.{hedge_name}.perp: multi-assets mode is USD-M's; {hedge.perp} is not "
                "a USD-M perpetual"
            )
        check_usd_pool_hedge(
            hedge_name, hedge, f"{self.name}'s USD-M multi-assets pool", self.normalize_account
        )

    # reading --------------------------------------------------------------------------------

    @property
    def collateral_coins(self) -> list[str]:
        """The coins hedges here take as collateral (`HedgeConfig.collateral`), besides the
        settle assets."""
        return sorted({h.base for h in self.hedges.values() if h.coin_collateral})

    async def read_state(self) -> VenueState:
        coins = self.collateral_coins
        if not coins:
            return await super().read_state()
        state, rates = await gather_or_cancel(
            super().read_state(),
            gather_or_cancel(*(self.read_collateral_rate(coin) for coin in coins)),
        )
        return replace(
            state,
            collateral_rates={rate.asset: rate for rate in rates},
            transfer_steps={
                **state.transfer_steps,
                **{coin: self.transfer_step(coin) for coin in coins},
            },
        )

    async def read_collateral_rate(self, coin: str) -> CollateralRate:
        raw = await self.call(
            self.client.fapiPublicGetAssetIndex, {"symbol": multi_assets.index_symbol(coin)}
        )
        decoder = Decoder(self.name, multi_assets.ASSET_INDEX_PATH)
        return multi_assets.decode_collateral_rate(decoder, raw, coin)

    async def read_wallets(self, account: str) -> list[Wallet]:
        account = self.normalize_account(account)
        if account != LINEAR:
            return await super().read_wallets(account)
        endpoint = ENDPOINTS[LINEAR]
        raw = await self.call(getattr(self.client, endpoint.method), {})
        self.sources[LINEAR] = "rest"
        decoder = Decoder(self.name, endpoint.path)
        settles = self._settles(LINEAR)
        wallets, held = decode_futures_account(decoder, raw, LINEAR, settles)
        self._held_margin[LINEAR] = held
        totals = multi_assets.decode_account_totals(decoder, raw)
        self._account_margin = totals.margin
        pool = [
            Wallet(
                account=LINEAR,
                asset=w.asset,
                free=w.transferable,
                used=totals.initial,
                balance=totals.equity,
                transferable=w.transferable,
            )
            for w in wallets
            if w.asset in settles
        ]
        # a collateral coin in the pool: in its own units (the spot leg counts it)
        coins = set(self.collateral_coins) - settles
        return pool + [w for w in wallets if w.asset in coins]

    def balance_params(self, account: str) -> dict[str, Any]:
        """Binance's own account types (the unified default would send `linear`)."""
        return BinanceVenue.balance_params(self, account)
