from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.money import BadAmount, plain, round_down, step_from_precision, to_decimal


@pytest.mark.parametrize(
    ("value", "expected"),
    [("12.345", D("12.345")), (3, D(3)), (D("1e-8"), D("1e-8")), (" 7 ", D(7))],
)
def test_to_decimal(value: object, expected: D) -> None:
    assert to_decimal(value) == expected


@pytest.mark.parametrize("value", ["abc", "NaN", "Infinity", True, None, [1], 0.1])
def test_to_decimal_rejects(value: object) -> None:
    with pytest.raises(BadAmount, match="maxWithdrawAmount"):
        to_decimal(value, "maxWithdrawAmount")


@pytest.mark.parametrize(
    ("amount", "step", "expected"),
    [
        ("2970.123456789", "0.00000001", "2970.12345678"),
        ("0.999999999", "0.00000001", "0.99999999"),
        ("10", "0.01", "10.00"),
        ("-5", "0.01", "0.00"),
        ("123.9", "1", "123"),
        ("0.00000001", "0.00000001", "0.00000001"),
    ],
)
def test_round_down(amount: str, step: str, expected: str) -> None:
    assert round_down(D(amount), D(step)) == D(expected)


@given(
    st.decimals(min_value=0, max_value=10**9, places=12, allow_nan=False, allow_infinity=False),
    st.sampled_from([D("1"), D("0.1"), D("0.01"), D("0.00000001"), D("0.000001")]),
)
def test_round_down_never_rounds_up_and_lands_on_the_grid(amount: D, step: D) -> None:
    rounded = round_down(amount, step)
    assert rounded <= amount
    assert amount - rounded < step
    assert rounded % step == 0


def test_step_from_precision() -> None:
    assert step_from_precision("1e-08", tick_size=True) == D("1e-8")
    assert step_from_precision(8, tick_size=False) == D("1e-8")
    assert step_from_precision(None, tick_size=True) is None


def test_plain_never_uses_exponents() -> None:
    assert plain(D("1E-8")) == "0.00000001"
    assert plain(D("3000.00000000")) == "3000"
    assert plain(D("1E+3")) == "1000"
