"""The Unified Trading Account's coins from "Get Wallet Balance"'s own rows, not ccxt's.

ccxt gives a UTA coin `used` = locked + the coin's position and order initial margin, and
`free` = walletBalance - used. On a unified account the positions' margin is the account's, met
by all its collateral: a short's USDT margin covered by the spot leg's BTC makes ccxt's USDT
`free` negative, and a hedge funded that way (the very set-up a unified account is for) would
be refused as unreadable. Here a coin's own holds are what its row says holds it (`locked`,
`totalOrderIM`); what may leave the account is the venue's own figure, read apart
(`BybitVenue.read_transferable`, `transferBalance`)."""

from __future__ import annotations

from typing import Any

from bot.model import Wallet
from bot.money import ZERO
from bot.venues.decode import Decoder, Sign


def unified_wallets(decoder: Decoder, info: Any, account: str) -> list[Wallet]:
    """One wallet per coin row of `result.list[0].coin`."""
    result = decoder.mapping(decoder.field(info, "result"), "result")
    rows = decoder.sequence(
        decoder.field(result, "list", "result"), "result.list", allow_empty=False
    )
    coins = decoder.sequence(
        decoder.field(rows[0], "coin", "result.list[0]"), "result.list[0].coin"
    )
    wallets = []
    for index, row in enumerate(coins):
        path = f"result.list[0].coin[{index}]"
        held = decoder.decimal(row, "walletBalance", path, sign=Sign.NON_NEGATIVE)
        locked = decoder.optional_decimal(row, "locked", path, sign=Sign.NON_NEGATIVE)
        orders = decoder.optional_decimal(row, "totalOrderIM", path, sign=Sign.NON_NEGATIVE)
        used = min(held, (locked or ZERO) + (orders or ZERO))
        wallets.append(
            Wallet(
                account=account,
                asset=decoder.text(row, "coin", path),
                free=held - used,
                used=used,
                balance=held,
                transferable=held - used,
            )
        )
    decoder.unique((w.asset for w in wallets), "the coin")
    return wallets
