"""Binance Portfolio Margin's account, from "Account Information" (`GET /papi/v1/account`,
https://developers.binance.com/docs/derivatives/portfolio-margin/account/Account-Information):
the one answer that gives both the account's own figure and what may leave it.

- `uniMMR`, the unified maintenance margin rate: `accountEquity` over `accountMaintMargin`
  (both USD), so higher is safer and Binance liquidates the account at 1.05;
- `virtualMaxWithdrawAmount` (USD): what a transfer out of the account may take;
- `accountStatus`: NORMAL, MARGIN_CALL, SUPPLY_MARGIN, REDUCE_ONLY, ACTIVE_LIQUIDATION,
  FORCE_LIQUIDATION or BANKRUPTED, shown as the account's mode.

Every figure is required and decoded from Binance's own text: a read without one sizes nothing.
An account that holds no position has no maintenance margin and so no figure to judge (None).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from bot.model import AccountMargin
from bot.venues.decode import Decoder, Sign

ENDPOINT: Final = "GET /papi/v1/account"
FIGURE: Final = "uniMMR"
LIQUIDATION_AT: Final = Decimal("1.05")
STATUSES: Final = frozenset(
    {
        "NORMAL",
        "MARGIN_CALL",
        "SUPPLY_MARGIN",
        "REDUCE_ONLY",
        "ACTIVE_LIQUIDATION",
        "FORCE_LIQUIDATION",
        "BANKRUPTED",
    }
)


@dataclass(frozen=True)
class PortfolioAccount:
    """One read of the PM account, in USD."""

    status: str
    equity: Decimal  # accountEquity
    maintenance: Decimal  # accountMaintMargin
    initial: Decimal  # accountInitialMargin
    may_leave: Decimal  # virtualMaxWithdrawAmount
    margin: AccountMargin | None  # the uniMMR figure; None while nothing is held


def decode_portfolio_account(decoder: Decoder, raw: Any) -> PortfolioAccount:
    answer = decoder.mapping(raw)
    path = "the answer"
    status = decoder.text(answer, "accountStatus", path)
    if status not in STATUSES:
        raise decoder.refuse(f"{path}.accountStatus is {status!r}, not a documented status")
    equity = decoder.decimal(answer, "accountEquity", path)
    maintenance = decoder.decimal(answer, "accountMaintMargin", path, sign=Sign.NON_NEGATIVE)
    initial = decoder.decimal(answer, "accountInitialMargin", path, sign=Sign.NON_NEGATIVE)
    may_leave = decoder.decimal(answer, "virtualMaxWithdrawAmount", path, sign=Sign.NON_NEGATIVE)
    value = decoder.decimal(answer, FIGURE, path, sign=Sign.NON_NEGATIVE)
    margin = None
    if maintenance > 0:
        margin = AccountMargin(
            figure=FIGURE,
            value=value,
            liquidation_at=LIQUIDATION_AT,
            higher_is_safer=True,
            equity=equity,
            requirement=maintenance,
        )
    return PortfolioAccount(status, equity, maintenance, initial, may_leave, margin)
