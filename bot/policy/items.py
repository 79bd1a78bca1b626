"""The plan's items, made the same way for every kind of pool: a transfer the policy wants and
a note of why it wants none, each naming the pool's venue, hedges and asset. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Protocol

from bot.model import Flag, PlannedTransfer, PlanNote, Rule


class PoolOfHedges(Protocol):
    """What an item names of the pool it is for (a cross pool, a unified account)."""

    @property
    def venue(self) -> str: ...

    @property
    def asset(self) -> str: ...

    @property
    def names(self) -> tuple[str, ...]: ...


def planned_transfer(
    pool: PoolOfHedges,
    rule: Rule,
    from_account: str,
    to_account: str,
    amount: Decimal,
    reason: str,
    figures: Mapping[str, Decimal | str],
    flags: tuple[Flag, ...],
    *,
    priority_note: str | None = None,
    asset: str | None = None,
) -> PlannedTransfer:
    """A transfer in the pool's asset, or in `asset` where the pool moves another (a coin
    taken as collateral)."""
    return PlannedTransfer(
        venue=pool.venue,
        hedges=pool.names,
        asset=asset or pool.asset,
        from_account=from_account,
        to_account=to_account,
        amount=amount,
        rule=rule,
        reason=reason if priority_note is None else f"{reason}; {priority_note}",
        figures=figures,
        flags=flags,
        priority=priority_note,
    )


def plan_note(
    pool: PoolOfHedges,
    message: str,
    figures: Mapping[str, Decimal | str],
    flags: tuple[Flag, ...],
) -> PlanNote:
    return PlanNote(
        venue=pool.venue, hedges=pool.names, message=message, figures=figures, flags=flags
    )
