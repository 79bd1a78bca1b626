"""Funding rules: the buffer a paying short keeps, and how long funding has been against it.

Positive funding: longs pay shorts (the hedge earns). Negative: the short pays every period,
|rate| x notional, out of the futures equity. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from bot.money import ZERO


def against_the_short(rate: Decimal | None) -> bool:
    return rate is not None and rate < 0


def buffer(rate: Decimal | None, notional: Decimal, periods: int) -> Decimal:
    """The next `periods` payments at the current (or predicted) rate and notional, in the
    settle asset; 0 while funding pays the short."""
    if not against_the_short(rate) or periods <= 0:
        return ZERO
    assert rate is not None
    return -rate * notional * periods


@dataclass(frozen=True, kw_only=True)
class Streak:
    """Funding periods in a row against the short, counting the current (predicted) one."""

    periods: int
    paid: Decimal  # estimated payments of the past periods of the streak, at today's notional


def streak(rate: Decimal | None, past: Sequence[Decimal], notional: Decimal) -> Streak:
    """`past` holds settled rates, oldest first; the streak ends at the first one that paid the
    short. Without history (`past` empty) only the current rate counts."""
    if not against_the_short(rate):
        return Streak(periods=0, paid=ZERO)
    periods, paid = 1, ZERO
    for settled in reversed(past):
        if not against_the_short(settled):
            break
        periods += 1
        paid += -settled * notional
    return Streak(periods=periods, paid=paid)
