"""Each rule on its own: funding buffer and streak, integrity guard, priority. Pure tables."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from bot.model import Flag
from bot.policy import funding
from bot.policy.integrity import Integrity


@pytest.mark.parametrize(
    ("rate", "notional", "periods", "expected"),
    [
        ("0.0001", "15000", 3, "0"),  # shorts are paid: no buffer
        ("0", "15000", 3, "0"),
        (None, "15000", 3, "0"),  # no rate read: nothing to add
        ("-0.0001", "15000", 3, "4.5"),  # 3 x 0.0001 x 15000
        ("-0.00375", "0.5", 2, "0.00375"),  # inverse: the coin notional
        ("-0.0001", "15000", 0, "0"),
    ],
)
def test_funding_buffer(rate: str | None, notional: str, periods: int, expected: str) -> None:
    assert funding.buffer(D(rate) if rate else None, D(notional), periods) == D(expected)


@pytest.mark.parametrize(
    ("rate", "past", "periods", "paid"),
    [
        ("0.0001", ["-0.001", "-0.001"], 0, "0"),  # paid now: no streak, whatever came before
        ("-0.0001", [], 1, "0"),  # without history only the current period counts
        ("-0.0001", ["-0.0002", "-0.0003"], 3, "7.5"),  # (0.0002 + 0.0003) x 15000
        ("-0.0001", ["-0.0002", "0.0001", "-0.0003"], 2, "4.5"),  # the streak starts after +
    ],
)
def test_funding_streak(rate: str, past: list[str], periods: int, paid: str) -> None:
    streak = funding.streak(D(rate), [D(p) for p in past], D(15000))
    assert (streak.periods, streak.paid) == (periods, D(paid))


@pytest.mark.parametrize(
    ("spot", "short", "flags", "blocks"),
    [
        ("5", "5", (), False),
        ("4.91", "5", (), False),  # 1.8 % apart: inside 2 %
        ("4.8", "5", (Flag.UNBALANCED,), True),  # spot sold in part: the short is larger
        ("0", "5", (Flag.UNBALANCED, Flag.NAKED_SHORT), True),  # spot sold: naked short
        ("5", "2.5", (Flag.UNBALANCED,), False),  # short partly closed: spot larger, may return
    ],
)
def test_integrity(spot: str, short: str, flags: tuple[Flag, ...], blocks: bool) -> None:
    found = Integrity(
        hedge="eth", spot_base=D(spot), short_base=D(short), tolerance=D("0.02"), base="ETH"
    )
    assert found.flags == flags
    assert found.blocks_returns is blocks
    if flags:
        assert f"spot {spot} ETH vs short {short} ETH" in found.message()
