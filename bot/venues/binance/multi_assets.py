"""Binance USD-M multi-assets mode: detected at connect, never assumed.

In multi-assets mode the USD-M wallet takes every margin asset (the spot leg's coin too, at the
venue's collateral rate) as one pool judged in USD; the bot's classic reading of that wallet
(the settle asset's `crossWalletBalance` + `crossUnPnl`) then disagrees with the venue. The
account answer the bot reads every cycle (`GET /fapi/v3/account`) does not say the mode (its
V2 did, in `multiAssetsMargin`; V3 only changes what its totals count), so the mode is read once
at connect from `GET /fapi/v1/multiAssetsMargin` ("Get Current Multi-Assets Mode") and saved
with the markets (`markets_cache`): a one-shot run with fresh cached markets asks nothing more.
The price: a mode switched on Binance is seen when the cached markets expire (an hour at most)
or at the next long-lived session's connect.

A classic venue (`venue.py`) refuses a multi-assets account's USD-M hedges in one line naming
the fix; a venue configured for the mode (ccxt `options: {multiAssetsMargin: true}`, the venue
class in `multi_assets_venue.py`) judges the USD-M pool by the venue's own account-level USD
figures instead, decoded here: `totalMarginBalance` over `totalMaintMargin` (`multiAssetsMMR`,
higher is safer; Binance liquidates when the maintenance margin reaches the margin balance, 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from typing import Any, Final

from bot.model import AccountMargin, CollateralRate
from bot.venues.decode import Decoder, Sign

MODE_PATH: Final = "GET /fapi/v1/multiAssetsMargin"
#: the key the mode is saved under with the markets (`CcxtVenue.connect_facts`)
FACT: Final = "usdm_multi_assets_margin"

MULTI_ASSETS: Final = "USD-M multi-assets mode"
SINGLE_ASSET: Final = "USD-M single-asset mode"

#: the ccxt option a venue's config sets to be served in multi-assets terms (not ccxt's own:
#: ccxt ignores it; `BinanceVenue.for_options` reads it)
OPTION: Final = "multiAssetsMargin"
FIGURE: Final = "multiAssetsMMR"
LIQUIDATION_AT: Final = Decimal(1)
ACCOUNT_PATH: Final = "GET /fapi/v3/account"
#: "Asset Index" (formerly "Multi-Assets Mode Asset Index"): each margin asset's USD index and
#: the haircut its balance is counted at
ASSET_INDEX_PATH: Final = "GET /fapi/v1/assetIndex"

REFUSAL: Final = (
    f"the Binance USD-M account is in multi-assets mode ({MODE_PATH} answers "
    "multiAssetsMargin: true), where every margin asset backs the USD-M positions: set ccxt: "
    f"{{options: {{{OPTION}: true}}}} and give its hedges target: {{{FIGURE}: ...}}, "
    "reserve_wallet: spot and spot_leg_wallets: [spot], or turn multi-assets mode off"
)
SINGLE_ON_MULTI_CONFIG: Final = (
    f"the Binance USD-M account is in single-asset mode ({MODE_PATH} answers "
    f"multiAssetsMargin: false): remove {OPTION} from ccxt.options, or turn multi-assets mode on"
)


def decode_mode(decoder: Decoder, raw: Any) -> bool:
    """`{"multiAssetsMargin": true}` (multi-assets) or `false` (single-asset); anything else
    is refused: a mode guessed wrong judges the pool by the wrong figures."""
    value = decoder.field(decoder.mapping(raw), "multiAssetsMargin", "the answer")
    if not isinstance(value, bool):
        raise decoder.refuse(f"the answer.multiAssetsMargin is {value!r}, not true or false")
    return value


def mode_name(multi_assets: bool) -> str:
    """The mode in the words `bot venues` shows."""
    return MULTI_ASSETS if multi_assets else SINGLE_ASSET


@dataclass(frozen=True)
class MultiAssetsAccount:
    """The USD-M account's own totals in multi-assets mode, in USD (V3 "multi-assets mode")."""

    equity: Decimal  # totalMarginBalance
    maintenance: Decimal  # totalMaintMargin
    initial: Decimal  # totalInitialMargin
    margin: AccountMargin | None  # the multiAssetsMMR figure; None while nothing is held


def decode_account_totals(decoder: Decoder, raw: Any) -> MultiAssetsAccount:
    """The account-level figures of `GET /fapi/v3/account`, each required: in multi-assets
    mode they are the whole pool valued in USD, which no single asset's figures are."""
    answer = decoder.mapping(raw)
    path = "the answer"
    equity = decoder.decimal(answer, "totalMarginBalance", path)
    maintenance = decoder.decimal(answer, "totalMaintMargin", path, sign=Sign.NON_NEGATIVE)
    initial = decoder.decimal(answer, "totalInitialMargin", path, sign=Sign.NON_NEGATIVE)
    margin = None
    if maintenance > 0:
        margin = AccountMargin(
            figure=FIGURE,
            # rounded down: shown to 4 places, never safer than it is
            value=(equity / maintenance).quantize(Decimal("0.0001"), rounding=ROUND_FLOOR),
            liquidation_at=LIQUIDATION_AT,
            higher_is_safer=True,
            equity=equity,
            requirement=maintenance,
        )
    return MultiAssetsAccount(equity, maintenance, initial, margin)


def index_symbol(asset: str) -> str:
    """The asset index's symbol for a coin (ETH -> ETHUSD)."""
    return f"{asset}USD"


def decode_collateral_rate(decoder: Decoder, raw: Any, asset: str) -> CollateralRate:
    """`GET /fapi/v1/assetIndex?symbol=ETHUSD`: a positive balance of the coin counts as margin
    at `bidRate` = `index` x (1 - `bidBuffer`). The venue's `bidRate` is the rate used; an answer
    for another symbol, or whose rate is not positive or above its index, is refused: a rate
    guessed high sizes a top-up too small."""
    answer = decoder.mapping(raw)
    path = "the answer"
    symbol = decoder.text(answer, "symbol", path)
    if symbol != index_symbol(asset):
        raise decoder.refuse(f"the answer is for {symbol}, not {index_symbol(asset)}")
    index = decoder.decimal(answer, "index", path, sign=Sign.POSITIVE)
    haircut = decoder.decimal(answer, "bidBuffer", path, sign=Sign.NON_NEGATIVE)
    rate = decoder.decimal(answer, "bidRate", path, sign=Sign.POSITIVE)
    if rate > index or haircut >= 1:
        raise decoder.refuse(
            f"{symbol}: bidRate {rate} and bidBuffer {haircut} do not discount index {index}"
        )
    return CollateralRate(asset=asset, index=index, haircut=haircut, rate=rate)
