"""Isolated hedges' two-leg moves left half done, read from the ledger alone.

Split from `bot.transfers.margin_legs` (which re-exports it) so that `bot status` and the alerts can
tell a half-done move without importing the executor, the venues or ccxt.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from weakref import WeakKeyDictionary

from bot.ledger.margin_queries import MoveLegs, moves
from bot.ledger.store import Ledger, MarginMoveRecord
from bot.model import SPOT, TransferStatus
from bot.money import plain

TOP_UP, RETURN = "top_up", "return"
DONE_LEG = (TransferStatus.CONFIRMED, TransferStatus.DRY_RUN)


@dataclass(frozen=True, kw_only=True)
class HalfDoneMove:
    """A move whose first leg is done and whose second is not: collateral outside the position
    (top-up: in the futures wallet, not yet in the position's margin; return: out of the
    position, not yet back on spot)."""

    move: MarginMoveRecord
    moved: Decimal
    message: str


#: per ledger, the moves found settled for good: none is read again by this process
_SETTLED: WeakKeyDictionary[Ledger, set[int]] = WeakKeyDictionary()


def open_moves(
    ledger: Ledger, *, venue: str | None = None, dry_run: bool = False
) -> list[MoveLegs]:
    """The moves that may still need the runner or a person: half done, or with a leg still
    open. A move neither is settled for good (its legs are final rows, which never change, and
    no cycle adds a leg to it), so this process remembers it and never reads it again: a bot
    that has made thousands of moves reads only its newest each cycle, not all of its history."""
    settled = _SETTLED.setdefault(ledger, set())
    found = []
    for legs in moves(ledger, venue=venue, dry_run=dry_run, skip=settled):
        if _half_done(legs) is None and not _first_leg_open(legs) and not _second_leg_open(legs):
            settled.add(legs.move.id)
        else:
            found.append(legs)
    return found


def _first_leg_open(legs: MoveLegs) -> bool:
    """The first leg's outcome is not known yet (reconciliation settles it first)."""
    if legs.move.direction == TOP_UP:
        first = legs.transfer
        return first is not None and not first.status.is_final
    return any(not leg.status.is_final for leg in legs.margin_legs)


def _second_leg_open(legs: MoveLegs) -> bool:
    if legs.move.direction == TOP_UP:
        return any(not leg.status.is_final for leg in legs.margin_legs)
    return any(not t.status.is_final for t in legs.transfers)


def half_done_moves(ledger: Ledger, venue: str | None = None) -> list[HalfDoneMove]:
    """Every move whose first leg is done and whose second is not (for `bot status`, alerts)."""
    found = []
    for legs in open_moves(ledger, venue=venue):
        half = _half_done(legs)
        if half is not None:
            found.append(half)
    return found


def _first_leg_done(legs: MoveLegs) -> Decimal | None:
    """The amount the first leg moved, or None while it is not (or never will be) done."""
    if legs.move.direction == TOP_UP:
        first = legs.transfer
        ok = first is not None and first.status in DONE_LEG and first.amount is not None
        return first.amount if ok else None  # type: ignore[union-attr]
    done = [leg for leg in legs.margin_legs if leg.status in DONE_LEG]
    return done[-1].amount if done else None


def _second_leg_done(legs: MoveLegs) -> bool:
    if legs.move.direction == TOP_UP:
        last = legs.margin_leg
        return last is not None and last.status in (*DONE_LEG, TransferStatus.SKIPPED)
    # a skipped transfer back (nothing transferable just then) leaves the collateral out of
    # the position and off spot: still half done, tried again next cycle
    last_transfer = legs.transfer
    return last_transfer is not None and last_transfer.status in (
        *DONE_LEG,
        TransferStatus.MANUAL,
    )


def _half_done(legs: MoveLegs) -> HalfDoneMove | None:
    moved = _first_leg_done(legs)
    if moved is None or _second_leg_done(legs):
        return None
    move = legs.move
    if move.direction == TOP_UP:
        where = (
            f"{plain(moved)} {move.asset} moved {SPOT} -> {move.futures_account} but not yet "
            f"added to {move.symbol}'s isolated margin"
        )
    else:
        where = (
            f"{plain(moved)} {move.asset} taken out of {move.symbol}'s isolated margin but not "
            f"yet moved {move.futures_account} -> {SPOT}"
        )
    return HalfDoneMove(move=move, moved=moved, message=f"{move.venue} move {move.id}: {where}")
