"""Executor sizing: the planned amount when what is transferable now covers it, else safety x
transferable; capped by max_amount, rounded down, skipped under min_amount; never more than
transferable."""

from decimal import Decimal as D

import pytest

from bot.transfers.sizing import Sizing, size_transfer


def size(
    planned: str, transferable: str, *, max_amount: str | None = None, min_amount: str = "10"
) -> Sizing:
    """USDT at safety 0.99 and a step of 1e-8."""
    return size_transfer(
        planned=D(planned),
        transferable=D(transferable),
        safety=D("0.99"),
        step=D("0.00000001"),
        min_amount=D(min_amount),
        max_amount=D(max_amount) if max_amount else None,
        asset="USDT",
    )


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
        # a need just covered goes whole, in one transfer (not 0.99 now, 0.01 next tick)
        ("3000", "3000", None, "3000", False),  # transferable is exactly the need
        ("3000", "3020", None, "3000", False),  # covered, though under need / safety (3030.30)
        ("3000", "3000.00000001", None, "3000", False),
        ("3000", "2999.99999999", None, "2969.99999999", False),  # a hair short: safety applies
        ("3000", "3000", "500", "500", False),  # covered, still capped by max_amount
        ("3000", "2000", "1500", "1500", False),  # short: safety x 2000 = 1980, max 1500 binds
        ("3000.123456789", "5000", None, "3000.12345678", False),  # planned, rounded down
        ("9.5", "9.5", None, "9.5", True),  # covered but under min_amount 10: skip
    ],
)
def test_size_transfer(
    planned: str, transferable: str, max_amount: str | None, expected: str, skipped: bool
) -> None:
    sizing = size(planned, transferable, max_amount=max_amount)
    assert sizing.amount == D(expected)
    assert (sizing.skip_reason is not None) is skipped


@pytest.mark.parametrize(
    ("planned", "transferable"),
    [("3000", "3000"), ("3000", "3010"), ("3000", "2999"), ("1", "0.5"), ("3000", "40000")],
)
def test_never_more_than_transferable(planned: str, transferable: str) -> None:
    sizing = size(planned, transferable, min_amount="0")
    assert sizing.amount <= D(transferable)
    if D(transferable) >= D(planned):
        assert sizing.amount == D(planned)  # one transfer for the whole need
    else:
        assert sizing.amount == D("0.99") * D(transferable)
