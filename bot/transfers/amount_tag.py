"""Identifiable amounts: a per-intent tag in the last digits of a transfer's amount.

Binance's universal transfer takes no client id, so in its history a transfer the user made by
hand for the same amount looks exactly like the bot's. After rounding down, the executor
subtracts a tag made of the intent's ledger id, in units of the venue's transfer step: with
Binance's 8 decimals, intent 1234 sends 2969.99987660 instead of 2970.00000000, at most
0.00009999 less. Reconciliation then matches exact amounts only, and consecutive intents never
share a tag (ids 1..9999 give tags 1..9999 steps; 10000 starts again at 1), so look-alikes
typed by hand (round figures) never match.

The tag is on by default where the venue takes no client id and its step is fine enough that
the largest tag stays within `MAX_TAG` of the asset, or within a cent of a USD stablecoin
(`MAX_TAG_USD`: Hyperliquid moves USDC in 6 decimals, where a tag takes at most 0.009999, and
an untagged amount could be told from a hand transfer of the same amount only by a person);
elsewhere (a client id identifies the transfer, or the step is too coarse) it is off.
`transfers.amount_tag` overrides.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from bot.money import USD_STABLECOINS

#: Tags use this many digits: 9999 distinct tags before one repeats.
TAG_DIGITS = 4
TAGS = 10**TAG_DIGITS - 1
#: The most a tag may take off a transfer where it is on by default (in the asset).
MAX_TAG = Decimal("0.0001")
#: ... and off a USD stablecoin's, a cent
MAX_TAG_USD = Decimal("0.01")

Setting = Literal["auto", "on", "off"]


def tag_for(intent_id: int, step: Decimal) -> Decimal:
    """The tag of intent `intent_id`: 1 to 9999 steps, never 0 (an untagged amount is what a
    person types). Pure."""
    return ((intent_id - 1) % TAGS + 1) * step


def tags_on(
    setting: Setting, *, has_client_ids: bool, step: Decimal, asset: str | None = None
) -> bool:
    """Whether this venue's amounts in `asset` are tagged. Pure."""
    if setting != "auto":
        return setting == "on"
    largest = MAX_TAG_USD if asset in USD_STABLECOINS else MAX_TAG
    return not has_client_ids and TAGS * step <= largest


def tag_to_subtract(amount: Decimal, intent_id: int, step: Decimal) -> Decimal:
    """The tag to subtract from `amount`; 0 when the amount is too small to carry it."""
    tag = tag_for(intent_id, step)
    return tag if tag < amount else Decimal(0)
