"""Executor sizing: min(planned, safety x transferable, max), rounded down, skipped under min."""

from decimal import Decimal as D

import pytest

from bot.executor import size_transfer


@pytest.mark.parametrize(
    ("planned", "transferable", "max_amount", "expected", "skipped"),
    [
        ("3000", "20000", None, "3000", False),  # planned is the binding cap
        ("3000", "2000", None, "1980", False),  # 99% of what is transferable now
        ("3000", "2000.123456789", None, "1980.12222222", False),  # rounded down, not to nearest
        ("3000", "20000", "500", "500", False),  # max_amount caps
        ("3000", "9", None, "8.91", True),  # under min_amount 10: skip
        ("3000", "0", None, "0", True),
        ("3000", "-5", None, "0", True),  # negative transferable is nothing
    ],
)
def test_size_transfer(
    planned: str, transferable: str, max_amount: str | None, expected: str, skipped: bool
) -> None:
    sizing = size_transfer(
        planned=D(planned),
        transferable=D(transferable),
        safety=D("0.99"),
        step=D("0.00000001"),
        min_amount=D("10"),
        max_amount=D(max_amount) if max_amount else None,
        asset="USDT",
    )
    assert sizing.amount == D(expected)
    assert (sizing.skip_reason is not None) is skipped
