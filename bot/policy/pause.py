"""A hand on the switch: what a person paused is read and reported, never moved. Pure.

A pause names one hedge or a whole venue (`bot hedge pause`, `bot venue pause`). Every planned
move that would touch it becomes a note that says who paused it, until when and why; the
danger and funding alerts still fire, because the trader who paused a hedge to adjust it by
hand is the one who most needs to know it is near liquidation. A pool's one transfer serves
every hedge in it, so one paused hedge holds its pool's transfer: moving the shared
collateral would move the paused hedge's margin too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from bot.model import Paused, PauseScope, Plan, PlannedTransfer, PlanNote
from bot.money import plain

#: how a held move's note says it (`held_by_pause` finds it again)
HELD = "not moved: "


def held_by_pause(plan: Plan, hedge: str) -> str | None:
    """The note of a move the plan held for `hedge` because of a pause, or None."""
    for note in plan.notes:
        if hedge in note.hedges and HELD in note.message and " paused by " in note.message:
            return note.message
    return None


def hold_paused(plan: Plan, paused: Sequence[Paused]) -> Plan:
    """The plan with every move touching a paused hedge or venue turned into a note."""
    if not paused:
        return plan
    hedges = {p.name: p for p in paused if p.scope is PauseScope.HEDGE}
    venues = {p.name: p for p in paused if p.scope is PauseScope.VENUE}
    kept: list[PlannedTransfer] = []
    held: list[PlanNote] = []
    for item in plan.transfers:
        why = [venues[item.venue]] if item.venue in venues else []
        why += [hedges[name] for name in item.hedges if name in hedges]
        if not why:
            kept.append(item)
            continue
        held.append(
            PlanNote(
                venue=item.venue,
                hedges=item.hedges,
                message=f"{plain(item.amount)} {item.asset} {item.from_account} -> "
                f"{item.to_account} ({item.rule.value}) {HELD}" + "; ".join(p.words() for p in why),
                figures=item.figures,
                flags=item.flags,
            )
        )
    return replace(plan, transfers=tuple(kept), notes=(*plan.notes, *held))
