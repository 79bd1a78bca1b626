"""The checks every hedge's short gets (cross pool leg and isolated hedge alike): one signature,
`(venue state, leg, funding history) -> LegFacts`, applied in order by `compose.LEG_CHECKS`.
A check raises flags, alerts for a person, and reasons to hold collateral back from spot; it
decides no transfer. Pure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from bot.model import Flag, PlanAlert, VenueState
from bot.policy.assess import HedgeLeg

#: settled funding rates per (venue, perp), oldest first: the streak's history, where known
FundingHistory = Mapping[tuple[str, str], Sequence[Decimal]]


@dataclass(frozen=True)
class LegFacts:
    """What the checks found about one hedge's short."""

    flags: tuple[Flag, ...] = ()
    alerts: tuple[PlanAlert, ...] = ()
    #: why no collateral may go back to spot (the plan notes it instead of returning)
    held: tuple[str, ...] = ()

    def __add__(self, other: LegFacts) -> LegFacts:
        return LegFacts(
            self.flags + other.flags, self.alerts + other.alerts, self.held + other.held
        )


LegCheck = Callable[[VenueState, HedgeLeg, FundingHistory], LegFacts]


def apply(
    checks: Iterable[LegCheck], venue_state: VenueState, leg: HedgeLeg, history: FundingHistory
) -> LegFacts:
    """Every check on one leg, their facts in the checks' order."""
    found = LegFacts()
    for check in checks:
        found = found + check(venue_state, leg, history)
    return found
