"""The Unified Trading Account's own margin figure, `accountMMRate`, from the answer of "Get
Wallet Balance" (`GET /v5/account/wallet-balance?accountType=UNIFIED`, the answer ccxt's
`fetch_balance` for the unified account already reads): the account's maintenance margin
(`totalMaintenanceMargin`) over its margin balance (`totalMarginBalance`), both in USD, so 1 is
liquidation and lower is safer (https://bybit-exchange.github.io/docs/v5/account/wallet-balance).
Bybit sends them as empty strings where the account is in isolated margin mode: then there is
no account figure.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Final

from bot.model import AccountMargin
from bot.venues.decode import Decoder, Sign

ENDPOINT: Final = "GET /v5/account/wallet-balance"
FIGURE: Final = "accountMMRate"
LIQUIDATION_AT: Final = Decimal(1)


def account_margin(decoder: Decoder, info: Any) -> AccountMargin | None:
    """`result.list[0].accountMMRate` with the two USD totals it is made of; None when Bybit
    sends it empty (isolated margin)."""
    result = decoder.mapping(decoder.field(info, "result"), "result")
    rows = decoder.sequence(
        decoder.field(result, "list", "result"), "result.list", allow_empty=False
    )
    path = "result.list[0]"
    raw = decoder.field(rows[0], FIGURE, path)
    if raw == "":
        return None
    value = decoder.number(raw, f"{path}.{FIGURE}", sign=Sign.NON_NEGATIVE)
    equity = decoder.number(
        decoder.field(rows[0], "totalMarginBalance", path), f"{path}.totalMarginBalance"
    )
    requirement = decoder.number(
        decoder.field(rows[0], "totalMaintenanceMargin", path),
        f"{path}.totalMaintenanceMargin",
        sign=Sign.NON_NEGATIVE,
    )
    return AccountMargin(
        figure=FIGURE,
        value=value,
        liquidation_at=LIQUIDATION_AT,
        higher_is_safer=False,
        equity=equity,
        requirement=requirement,
    )
