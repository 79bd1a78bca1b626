"""Binance Portfolio Margin's `GET /papi/v1/account`, decoded strictly: the `uniMMR` figure with
the equity and maintenance it is made of, what may leave, and every field required (the
documented example's shape, as the fake serves it)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from bot.venues.binance.portfolio_account import decode_portfolio_account
from bot.venues.decode import Decoder, Untrusted
from tests.fakes.binance.portfolio import account_information, portfolio_account


def answer(**changes: Any) -> dict[str, Any]:
    found = account_information(portfolio_account(), 1_700_000_000_000)
    found.update(changes)
    return {k: v for k, v in found.items() if v is not None}


def decode(raw: Any) -> Any:
    return decode_portfolio_account(Decoder("binance", "GET /papi/v1/account"), raw)


def test_the_figure_is_uni_mmr_higher_is_safer_liquidated_at_1_05() -> None:
    read = decode(answer())
    assert read.margin is not None
    assert (read.margin.figure, read.margin.value) == ("uniMMR", Decimal(3))
    assert (read.margin.liquidation_at, read.margin.higher_is_safer) == (Decimal("1.05"), True)
    assert (read.margin.equity, read.margin.requirement) == (Decimal(4500), Decimal(1500))
    # target 3 means equity 3 x the maintenance margin
    assert read.margin.equity_at(Decimal(4)) == Decimal(6000)
    assert read.may_leave == Decimal(2100)  # 4500 less the initial margin 300000 / 125
    assert read.status == "NORMAL"


def test_an_account_holding_nothing_has_no_figure_to_judge() -> None:
    read = decode(answer(accountMaintMargin="0.00000000", uniMMR="0.00000000"))
    assert read.margin is None


@pytest.mark.parametrize(
    "changes",
    [
        {"uniMMR": None},
        {"accountEquity": ""},
        {"accountMaintMargin": "-1"},
        {"virtualMaxWithdrawAmount": None},
        {"virtualMaxWithdrawAmount": "NaN"},
        {"accountStatus": "SOMETHING_NEW"},
    ],
)
def test_a_missing_or_absurd_field_refuses_the_read(changes: dict[str, Any]) -> None:
    with pytest.raises(Untrusted):
        decode(answer(**changes))
