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

Until the bot judges a multi-assets pool by the venue's account-level USD figures, a hedge on
such an account is refused in one line naming the fix.
"""

from __future__ import annotations

from typing import Any, Final

from bot.venues.decode import Decoder

MODE_PATH: Final = "GET /fapi/v1/multiAssetsMargin"
#: the key the mode is saved under with the markets (`CcxtVenue.connect_facts`)
FACT: Final = "usdm_multi_assets_margin"

MULTI_ASSETS: Final = "USD-M multi-assets mode"
SINGLE_ASSET: Final = "USD-M single-asset mode"

REFUSAL: Final = (
    f"the Binance USD-M account is in multi-assets mode ({MODE_PATH} answers "
    "multiAssetsMargin: true), where every margin asset backs the USD-M positions and the bot "
    "cannot judge the pool yet: turn multi-assets mode off (switch the USD-M account to "
    "single-asset mode), or use Portfolio Margin (ccxt: {options: "
    "{portfolioMargin: true}})"
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
