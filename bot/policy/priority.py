"""The priority rule: the pool nearest to liquidation is served first.

It decides two things: the order of a venue's transfers (the executor sends them one after
another, so the first is the least likely to meet a stale read or a venue that stopped), and,
where pools draw on one spot budget (venue, asset), who gets it. Nearness is the liquidation
distance where it is known, else the margin ratio (both: how far the equity is from the
maintenance line, as a fraction). Pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from bot.money import ZERO, plain
from bot.policy.assess import Pool
from bot.policy.isolated import IsolatedAssessment

#: what may claim a share of a spot budget: a cross pool, or an isolated hedge (its own pool)
Claimant = Pool | IsolatedAssessment


def measure(pool: Claimant) -> tuple[str, Decimal] | None:
    """(what, value) that ranks the pool: smaller is nearer to liquidation."""
    nearest = pool.nearest
    if nearest is not None and nearest.distance is not None:
        return "liquidation distance", nearest.distance
    ratio = pool.margin_ratio
    if ratio is not None:
        return "margin ratio", ratio
    return None


def describe(pool: Claimant) -> str:
    found = measure(pool)
    if found is None:
        return f"{'/'.join(pool.names)} (flat)"
    what, value = found
    shown = f"{value * 100:.1f}%" if what == "liquidation distance" else f"{value:.4f}"
    return f"{'/'.join(pool.names)} ({what} {shown})"


def urgency(pool: Claimant) -> tuple[int, Decimal, str, str]:
    found = measure(pool)
    if found is None:
        return (1, ZERO, pool.venue, pool.futures_account)
    return (0, found[1], pool.venue, pool.futures_account)


@dataclass(frozen=True, kw_only=True)
class Grant:
    """One top-up request and what the shared spot budget could give it."""

    pool: Claimant
    need: Decimal
    budget: Decimal  # what was left in the budget when this pool's turn came
    granted: Decimal
    served_before: tuple[Claimant, ...]  # pools that drew on the same budget earlier
    served_after: tuple[Claimant, ...]

    @property
    def note(self) -> str | None:
        """Who was served first and why this pool got what it got, where pools competed."""
        asset = self.pool.asset
        if self.served_before and self.granted < self.need:
            first = ", ".join(describe(p) for p in self.served_before)
            return (
                f"priority: {first} nearer to liquidation, served first from spot {asset}; "
                f"{describe(self.pool)} gets {plain(self.granted)} of {plain(self.need)}"
            )
        if self.served_after:
            later = ", ".join(describe(p) for p in self.served_after)
            return (
                f"priority: {describe(self.pool)} nearest to liquidation, served first from "
                f"spot {asset}, before {later}"
            )
        return None


def allocate(
    requests: Sequence[tuple[Claimant, Decimal]], budgets: Mapping[tuple[str, str], Decimal]
) -> list[Grant]:
    """Give each top-up what it needs from its (venue, asset) spot budget, nearest first."""
    left = dict(budgets)
    ordered = sorted(requests, key=lambda r: urgency(r[0]))
    grants = []
    for pool, need in ordered:
        key = (pool.venue, pool.asset)
        budget = left.get(key, ZERO)
        granted = max(ZERO, min(need, budget))
        left[key] = budget - granted
        same = [p for p, _ in ordered if (p.venue, p.asset) == key]
        mine = same.index(pool)
        grants.append(
            Grant(
                pool=pool,
                need=need,
                budget=budget,
                granted=granted,
                served_before=tuple(same[:mine]),
                served_after=tuple(same[mine + 1 :]),
            )
        )
    return grants


def rank_note(position: int, ranked: Sequence[str], venue: str) -> str:
    """`priority: top-up 1 of 2 on binance, nearest to liquidation first: ...` for a venue with
    several top-ups; `ranked` describes each pool, nearest first."""
    ordinal = {1: "1st", 2: "2nd", 3: "3rd"}.get(position, f"{position}th")
    return (
        f"priority: top-up {ordinal} of {len(ranked)} on {venue}, nearest to liquidation "
        f"first: {', then '.join(ranked)}"
    )
