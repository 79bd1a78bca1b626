"""Table-driven tests of the pure accounting rules (Binance's cross-margin definitions)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.paper.accounting import (
    account_figures,
    available_balance,
    bracket_for,
    initial_margin,
    liquidation_price,
    maintenance_margin,
    max_withdraw_amount,
    notional,
    unrealized_pnl,
)
from bot.paper.model import MarketKind, brackets_from_tiers, default_state
from bot.paper.wire import fmt8

D = Decimal
LINEAR = MarketKind.LINEAR
INVERSE = MarketKind.INVERSE
TIERS = brackets_from_tiers(
    [
        ("0", "50000", "0.005", 125),
        ("50000", "600000", "0.01", 50),
        ("600000", "3000000", "0.025", 20),
    ]
)


@pytest.mark.parametrize(
    ("kind", "amount", "entry", "mark", "size", "expected"),
    [
        (LINEAR, "-5", "3000", "3000", "1", "0"),
        (LINEAR, "-5", "3000", "3100", "1", "-500"),
        (LINEAR, "-5", "3000", "2900", "1", "500"),
        (LINEAR, "0.009", "67445.9", "67502.68519858", "1", "0.51106679"),
        (INVERSE, "-300", "60000", "60000", "100", "0"),
        (INVERSE, "-300", "60000", "50000", "100", "0.1"),  # short gains coin when price falls
        (INVERSE, "-300", "60000", "75000", "100", "-0.1"),
        (INVERSE, "10", "2000", "2500", "10", "0.01"),
        (LINEAR, "0", "0", "3000", "1", "0"),
    ],
)
def test_unrealized_pnl(kind, amount, entry, mark, size, expected):
    result = unrealized_pnl(kind, D(amount), D(entry), D(mark), D(size))
    assert result.quantize(D("1E-8")) == D(expected).quantize(D("1E-8"))


@pytest.mark.parametrize(
    ("kind", "amount", "mark", "size", "expected"),
    [
        (LINEAR, "-5", "3000", "1", "-15000"),
        (LINEAR, "0.009", "67502.68519858", "1", "607.52416678722"),
        (INVERSE, "-300", "60000", "100", "-0.5"),
        (INVERSE, "-3", "68234.2", "100", "-0.004396621"),
    ],
)
def test_notional_is_signed(kind, amount, mark, size, expected):
    result = notional(kind, D(amount), D(mark), D(size))
    assert abs(result - D(expected)) < D("1E-8")


@pytest.mark.parametrize(
    ("notional_value", "leverage", "expected"),
    [("-15000", 10, "1500"), ("15000", 20, "750"), ("-0.5", 10, "0.05"), ("0", 10, "0")],
)
def test_initial_margin(notional_value, leverage, expected):
    assert initial_margin(D(notional_value), leverage) == D(expected)


@pytest.mark.parametrize(
    ("notional_value", "bracket", "expected"),
    [
        ("-15000", 1, "75"),  # 0.5 % of 15000
        ("49999", 1, "249.995"),
        ("50000", 2, "250"),  # 1 % of 50000 minus cum 250: continuous at the tier edge
        ("100000", 2, "750"),
        ("-700000", 3, "8250"),  # 2.5 % of 700000 - cum (250 + 600000 * 0.015 = 9250)
    ],
)
def test_maintenance_margin_by_bracket(notional_value, bracket, expected):
    assert bracket_for(TIERS, abs(D(notional_value))).bracket == bracket
    assert maintenance_margin(D(notional_value), TIERS) == D(expected)


def test_maintenance_margin_without_table_is_half_a_percent():
    assert maintenance_margin(D("-15000"), ()) == D("75")


@pytest.mark.parametrize(
    ("kind", "amount", "entry", "wallet", "size", "expected"),
    [
        # 4500 USDT against short 5 ETH @ 3000: (4500 + 15000) / (5 * 1.005)
        (LINEAR, "-5", "3000", "4500", "1", "3880.59701492"),
        # long 1 BTC @ 60000 with 10000 USDT: (10000 - 60000) / (0.005 - 1)
        (LINEAR, "1", "60000", "10000", "1", "50251.25628140"),
        # a long worth less than the wallet cannot be liquidated
        (LINEAR, "1", "3000", "5000", "1", "0"),
        # 0.3 BTC against short 300 x 100 USD @ 60000
        (INVERSE, "-300", "60000", "0.3", "100", "149250"),
        # a short fully covered by coin collateral cannot be liquidated
        (INVERSE, "-300", "60000", "0.6", "100", "0"),
        (LINEAR, "0", "0", "100", "1", "0"),
    ],
)
def test_liquidation_price(kind, amount, entry, wallet, size, expected):
    result = liquidation_price(
        kind,
        D(amount),
        D(entry),
        wallet_balance=D(wallet),
        maint_margin_ratio=D("0.005"),
        contract_size=D(size),
    )
    assert fmt8(result) == fmt8(D(expected))  # served rounded down to 8 places


@pytest.mark.parametrize(
    ("wallet", "upnl", "im", "available", "max_withdraw"),
    [
        ("4500", "0", "1500", "3000", "3000"),
        ("4500", "-500", "1500", "2500", "2500"),  # loss lowers both
        ("4500", "500", "1500", "3500", "3000"),  # profit raises available, not withdrawable
        ("1000", "-2000", "1500", "0", "0"),  # underwater: never negative
        ("0.3", "0", "0.05", "0.25", "0.25"),
    ],
)
def test_available_and_max_withdraw(wallet, upnl, im, available, max_withdraw):
    assert available_balance(D(wallet), D(upnl), D(im)) == D(available)
    assert max_withdraw_amount(D(wallet), D(upnl), D(im)) == D(max_withdraw)


def test_default_state_figures():
    state = default_state(now=1_700_000_000_000)
    usdm = account_figures(state, LINEAR)
    usdt = usdm.wallets["USDT"]
    assert (usdt.wallet_balance, usdt.unrealized_pnl, usdt.initial_margin) == (
        D(4500),
        D(0),
        D(1500),
    )
    assert (usdt.available_balance, usdt.max_withdraw_amount) == (D(3000), D(3000))
    eth = usdm.positions["ETHUSDT"]
    assert eth.notional == D(-15000) and eth.maint_margin == D(75)
    assert usdt.margin_balance / abs(eth.notional) == D("0.3")  # the quick start's ratio

    coinm = account_figures(state, INVERSE)
    btc = coinm.wallets["BTC"]
    assert (btc.initial_margin, btc.available_balance) == (D("0.05"), D("0.25"))
    assert coinm.positions["BTCUSD_PERP"].liquidation_price == D(149250)


def test_a_second_position_shares_the_cross_wallet():
    from dataclasses import replace

    from bot.paper.model import Position

    state = default_state(now=1)
    btc_long = Position(
        kind=LINEAR, symbol="BTCUSDT", amount=D("0.1"), entry_price=D("50000"), update_time=1
    )
    state = replace(state, positions=(*state.positions, btc_long))
    figures = account_figures(state, LINEAR)
    usdt = figures.wallets["USDT"]
    # ETH short IM 1500 + BTC long IM 600 (notional 6000 / 10); BTC long is up 1000 USDT.
    assert usdt.initial_margin == D(2100)
    assert usdt.unrealized_pnl == D(1000)
    assert usdt.available_balance == D(3400)
    assert usdt.max_withdraw_amount == D(2400)  # the profit is not withdrawable


amounts = st.decimals(min_value=D("0.001"), max_value=D("1000"), places=3)
prices = st.decimals(min_value=D("10"), max_value=D("100000"), places=2)
wallets = st.decimals(min_value=D("1"), max_value=D("1000000"), places=2)


@settings(max_examples=200, deadline=None)
@given(amount=amounts, entry=prices, wallet=wallets, short=st.booleans())
def test_linear_liquidation_price_is_where_equity_meets_maintenance(amount, entry, wallet, short):
    signed = -amount if short else amount
    price = liquidation_price(
        LINEAR, signed, entry, wallet_balance=wallet, maint_margin_ratio=D("0.005")
    )
    if price == 0:
        return
    equity = wallet + unrealized_pnl(LINEAR, signed, entry, price)
    maint = abs(notional(LINEAR, signed, price)) * D("0.005")
    assert abs(equity - maint) <= D("1E-6") * max(D(1), maint)


@settings(max_examples=200, deadline=None)
@given(
    contracts=st.integers(min_value=1, max_value=10000),
    entry=prices,
    wallet=st.decimals(min_value=D("0.001"), max_value=D("100"), places=4),
    short=st.booleans(),
)
def test_inverse_liquidation_price_is_where_equity_meets_maintenance(
    contracts, entry, wallet, short
):
    signed = D(-contracts if short else contracts)
    price = liquidation_price(
        INVERSE,
        signed,
        entry,
        wallet_balance=wallet,
        maint_margin_ratio=D("0.005"),
        contract_size=D(100),
    )
    if price == 0:
        return
    equity = wallet + unrealized_pnl(INVERSE, signed, entry, price, D(100))
    maint = abs(notional(INVERSE, signed, price, D(100))) * D("0.005")
    assert abs(equity - maint) <= D("1E-9") * max(D(1), maint)


@settings(max_examples=200, deadline=None)
@given(
    wallet=wallets,
    upnl=st.decimals(min_value=D("-100000"), max_value=D("100000"), places=2),
    im=st.decimals(min_value=D("0"), max_value=D("100000"), places=2),
)
def test_max_withdraw_never_exceeds_available_nor_counts_profit(wallet, upnl, im):
    withdrawable = max_withdraw_amount(wallet, upnl, im)
    assert D(0) <= withdrawable <= available_balance(wallet, upnl, im)
    assert withdrawable <= max(D(0), wallet - im)
