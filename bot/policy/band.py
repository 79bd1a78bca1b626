"""The band rules: below the band, top futures up to the target; above it, return the excess
to spot. In equity terms (`targets.Needs`), so every kind of target shares them. Pure."""

from __future__ import annotations

from decimal import Decimal

from bot.money import plain, round_down
from bot.policy.targets import Needs


def top_up_need(equity: Decimal, needs: Needs, step: Decimal) -> Decimal | None:
    """What brings equity back to the target, when it is below the band; else None."""
    if equity >= needs.lower:
        return None
    return round_down(needs.target - equity, step)


def excess(equity: Decimal, needs: Needs, step: Decimal) -> Decimal | None:
    """What is above the target, when equity is above the band; else None."""
    if equity <= needs.upper:
        return None
    return round_down(equity - needs.target, step)


def where(equity: Decimal, needs: Needs) -> str:
    """`<shape> is below <band>`, saying when the funding buffer is what moved the band."""
    buffered = " (with the funding buffer)" if needs.buffer else ""
    if equity < needs.lower:
        side = "below"
    elif equity > needs.upper:
        side = "above"
    else:
        side = "inside"
    return f"{needs.shape} is {side} {needs.band}{buffered}"


def top_up_reason(
    equity: Decimal, needs: Needs, amount: Decimal, need: Decimal, asset: str, route: str
) -> str:
    partial = f"; spot can cover only {plain(amount)} of {plain(need)}" if amount < need else ""
    move = f"move {plain(amount)} {asset} {route}"
    return f"{where(equity, needs)}: {move} toward {needs.toward}{partial}"


def return_reason(equity: Decimal, needs: Needs, amount: Decimal, asset: str, route: str) -> str:
    return f"{where(equity, needs)}: return {plain(amount)} {asset} {route} toward {needs.toward}"
