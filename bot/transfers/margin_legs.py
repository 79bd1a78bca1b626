"""An isolated hedge's move in two legs, each with its own intent, attempts and outcome.

Top-up: leg 1 moves collateral spot -> futures wallet (the executor's exactly-once transfer),
leg 2 adds it to the position's isolated margin (`Venue.add_margin`). Return: leg 1 reduces the
position's margin (`Venue.reduce_margin`, never more than the venue lets leave), leg 2 moves it
futures -> spot (the executor again). A `margin_moves` row is committed before either leg; the
transfer leg names it in its figures (`margin_move`).

A crash or an unknown outcome between the legs leaves the first leg done and the second
pending: the next cycle settles an open margin leg against the venue's margin-change history
(`reconcile_margin`), then finishes the move (`MarginLegs.resume`), and until then the move is
reported by `half_done_moves` (collateral sits in the futures wallet, outside the position).

A stop request (a signal to `bot run`, see `bot.runtime.stopping`) never falls between the legs: a
move not begun is recorded not attempted (a failed transfer row, as the executor records any
transfer it does not start), a first leg whose outcome is being recorded is followed by its
second leg as usual, and only a half-done move of an earlier run is left for the next cycle
(it stays reported half done until then). A refused first reduce is not tried smaller.

A halted venue (a fatal refusal, `bot.venues.halts`) starts no move and finishes no half-done one
until the halt ends; a fatal refusal of a margin call halts the venue as the executor does for
a transfer. An isolated top-up whose sizing on the state read sends nothing stands as nothing
to move (no move row), as a cross transfer does in the executor.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal

from sqlalchemy.exc import SQLAlchemyError

from bot.errors import UnrecordedTransfer
from bot.ledger.margin_queries import MoveLegs
from bot.ledger.store import Ledger, MarginLegRecord, MarginMoveRecord
from bot.model import SPOT, PlannedTransfer, Rule, State, TransferStatus
from bot.money import ZERO, plain
from bot.runtime.failpoints import (
    AFTER_MARGIN_INTENT,
    AFTER_MARGIN_RESPONSE,
    BETWEEN_LEGS,
    failpoint,
)
from bot.runtime.logs import log_context
from bot.transfers.executor import ExecutionResult, Executor, LedgerBefore, VenueDone
from bot.transfers.half_done import (  # noqa: F401  (half_done_moves: re-exported)
    DONE_LEG,
    RETURN,
    TOP_UP,
    HalfDoneMove,
    _first_leg_open,
    _half_done,
    _second_leg_open,
    half_done_moves,
    open_moves,
)
from bot.transfers.send_loop import Attempt, Points, clock_offset, shrinking
from bot.transfers.sizing import size_transfer, sized_on
from bot.venues.base import Venue
from bot.venues.errors import ErrorKind, VenueError

log = logging.getLogger(__name__)

#: a half-done move's second leg is sent again at most this many times over later cycles
MAX_SECOND_LEGS = 3
#: an add follows the transfer that brought the collateral: it may put in all that arrived
NO_SAFETY = Decimal(1)


def _second_legs_sent(legs: MoveLegs) -> int:
    return len(legs.margin_legs) if legs.move.direction == TOP_UP else len(legs.transfers)


@dataclass(frozen=True)
class LedgerAtStart:
    """What the ledger said as the cycle began, read after its reconciliation and before its
    venues: the executor's `LedgerBefore` and the isolated moves. The read and the plan write
    nothing, so the plan's first sends are judged on it with no query between a venue's read
    and its send. Once the runner writes first (a half-done move to finish, an isolated line),
    the executor reads the ledger again instead."""

    transfers: LedgerBefore
    moves: list[MoveLegs]

    @classmethod
    def read(cls, ledger: Ledger) -> LedgerAtStart:
        return cls(LedgerBefore.read(ledger), open_moves(ledger))


@dataclass
class MarginLegsResult:
    """What the legs runner did this cycle, merged into the cycle's execution result."""

    execution: ExecutionResult
    legs: list[MarginLegRecord] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)  # one per margin leg / stopped move
    half_done: list[str] = field(default_factory=list)  # moves still half done after the run


class MarginLegs:
    """Runs isolated hedges' moves: the executor for the wallet leg, the venue for the margin."""

    def __init__(self, executor: Executor) -> None:
        self._executor = executor
        self._venues = executor.venues
        self._ledger = executor.ledger
        self._rules = executor.rules
        self._dry_run = executor.dry_run
        self._policy = executor.policy
        self._timing = executor.timing
        self._clock = executor.clock

    async def execute(
        self,
        run_id: int,
        items: tuple[PlannedTransfer, ...],
        state: State | None = None,
        *,
        whole_plan: bool = True,
        before: LedgerAtStart | None = None,
        done: VenueDone | None = None,
    ) -> MarginLegsResult:
        """Finish earlier half-done moves, then run the plan: cross transfers through the
        executor, isolated moves in two legs. Venues act in order here (a margin leg is one
        call); a venue's failure stops only that venue's moves. With `state` (the cycle's read,
        a rebalance's: every hedge planned), lines are sized on it first, and nothing-to-move
        conditions no longer planned are cleared at the end; not after a plan narrowed to some
        hedges (`whole_plan` False: the guard's), which says nothing of the others. `before`:
        the ledger read as the cycle began; `done`: told of each venue whose lines are all
        done (a venue with an isolated move is not: its moves finish after the others')."""
        result = MarginLegsResult(ExecutionResult([], []))
        busy = await self.resume(run_id, result, before.moves if before is not None else None)
        if state is not None:
            items = sized_on(items, state, self._rules)
            self._executor.size_on(state)  # a young read is the fresh read of the first send
        unmoved: set[int] = set()  # isolated top-ups with nothing to move (stood first)
        for index, item in enumerate(items):
            if item.isolated_perp is None or item.from_account != SPOT:
                continue
            if item.venue in self._venues and self._executor.halt_of(item.venue) is None:
                standing = self._executor.stand_if_nothing_to_move(item)
                if standing is not None:
                    result.execution.not_moved.append(standing)
                    unmoved.add(index)
        plain_items = tuple(i for i in items if i.isolated_perp is None)
        isolated_venues = {i.venue for i in items if i.isolated_perp is not None}
        unwritten = before is not None and not busy and not isolated_venues

        def plain_done(venue: str, executed: ExecutionResult) -> None:
            if done is not None and venue not in isolated_venues:
                done(venue, executed)

        executed = await self._executor.execute(
            run_id,
            plain_items,
            before=before.transfers if unwritten and before is not None else None,
            done=plain_done,
        )
        _merge(result.execution, executed)
        for index, item in enumerate(items):
            if item.isolated_perp is None or item.venue not in self._venues:
                continue
            halt = self._executor.halt_of(item.venue)
            if halt is not None:  # refused for good: no move begins on it
                result.execution.halted[item.venue] = halt
                continue
            if index in unmoved:
                continue
            if (item.venue, item.isolated_perp) in busy:
                result.lines.append(
                    f"{item.venue} {item.isolated_perp}: not moved, an earlier move of it is "
                    "being finished first"
                )
                continue
            if self._executor.stopping:  # no move begins: neither leg is sent
                stopped = self._executor.record_not_attempted(run_id, item)
                result.execution.transfers.append(stopped)
                continue
            try:
                with log_context(venue=item.venue):
                    await self._run_move(run_id, item, result)
            except VenueError as exc:
                result.execution.errors.setdefault(item.venue, exc)
        result.execution.transfers.sort(key=lambda r: r.id)
        unrecorded = any(
            isinstance(e, UnrecordedTransfer) for e in result.execution.errors.values()
        )
        if state is not None and whole_plan and not unrecorded:  # not while the ledger refuses
            try:
                self._executor.clear_unseen(state)
            except SQLAlchemyError as exc:  # housekeeping: the next rebalance clears them
                log.debug("could not clear nothing-to-move conditions", exc_info=exc)
        result.execution.halted.update(self._executor.recorded_halts)
        touched = busy or any(item.isolated_perp is not None for item in items)
        if touched and not self._dry_run:
            try:
                result.half_done = [half.message for half in half_done_moves(self._ledger)]
            except SQLAlchemyError as exc:  # the ledger refused a read: the next run says it
                log.warning("could not list half-done moves: %s", exc)
        return result

    def _stopped(self) -> str:
        stop = self._executor.stop
        return stop.not_attempted() if stop is not None else "not attempted"

    # resuming -------------------------------------------------------------------------------

    async def resume(
        self, run_id: int, result: MarginLegsResult, recorded: list[MoveLegs] | None = None
    ) -> set[tuple[str, str]]:
        """Send the second leg of every half-done move whose first leg is settled done and
        whose second is absent or failed; returns the (venue, perp) pairs still busy.
        `recorded`: the moves as the cycle read them (else read now)."""
        busy: set[tuple[str, str]] = set()
        if recorded is None:
            recorded = open_moves(self._ledger)
        for legs in recorded:
            move = legs.move
            venue = self._venues.get(move.venue)
            if venue is None or self._dry_run:
                if _half_done(legs) is not None:
                    busy.add((move.venue, move.symbol))
                continue
            half = _half_done(legs)
            if half is None:
                if _first_leg_open(legs):
                    busy.add((move.venue, move.symbol))
                continue
            busy.add((move.venue, move.symbol))
            if _second_leg_open(legs):
                continue  # reconciliation has not settled it: never send it twice
            if _second_legs_sent(legs) >= MAX_SECOND_LEGS:
                result.lines.append(
                    f"{half.message}; tried {MAX_SECOND_LEGS} times: move it by hand"
                )
                continue
            if self._executor.stopping:  # a new send: left for the next cycle, still half done
                result.lines.append(f"{half.message}; finished next cycle ({self._stopped()})")
                continue
            halt = self._executor.halt_of(move.venue)
            if halt is not None:  # finished once the halt ends
                result.execution.halted[move.venue] = halt
                result.lines.append(f"{half.message}; not finished: {move.venue} is halted")
                continue
            log.info("finishing %s", half.message)
            try:
                with log_context(venue=move.venue):
                    await self._second_leg(run_id, venue, move, half.moved, result)
            except VenueError as exc:
                result.execution.errors.setdefault(move.venue, exc)
        return busy

    # one move -------------------------------------------------------------------------------

    async def _run_move(self, run_id: int, item: PlannedTransfer, result: MarginLegsResult) -> None:
        venue = self._venues[item.venue]
        assert item.isolated_perp is not None
        direction = TOP_UP if item.from_account == SPOT else RETURN
        futures_account = item.to_account if direction == TOP_UP else item.from_account
        move = self._ledger.record_margin_move(
            run_id,
            item,
            symbol=item.isolated_perp,
            futures_account=futures_account,
            direction=direction,
            dry_run=self._dry_run,
        )
        if direction == TOP_UP:
            moved = await self._transfer_leg(run_id, move, item.amount, item, result)
        else:
            target = item.figures.get("target")
            moved = await self._margin_leg(
                venue,
                move,
                add=False,
                planned=item.amount,
                result=result,
                keep_ratio=target if isinstance(target, Decimal) else None,
                first=True,
            )
        if moved is None:
            return
        failpoint(BETWEEN_LEGS)
        await self._second_leg(run_id, venue, move, moved, result, item=item)

    async def _second_leg(
        self,
        run_id: int,
        venue: Venue,
        move: MarginMoveRecord,
        moved: Decimal,
        result: MarginLegsResult,
        *,
        item: PlannedTransfer | None = None,
    ) -> None:
        if move.direction == TOP_UP:
            await self._margin_leg(venue, move, add=True, planned=moved, result=result)
        else:  # finishes the move even when a stop was requested after the first leg
            await self._transfer_leg(run_id, move, moved, item, result, finishing=True)

    async def _transfer_leg(
        self,
        run_id: int,
        move: MarginMoveRecord,
        amount: Decimal,
        item: PlannedTransfer | None,
        result: MarginLegsResult,
        *,
        finishing: bool = False,
    ) -> Decimal | None:
        """The wallet transfer through the executor; the amount it moved, or None. A second
        leg (`finishing`) is sent whether or not a stop was requested since the first."""
        source, target = (
            (SPOT, move.futures_account)
            if move.direction == TOP_UP
            else (move.futures_account, SPOT)
        )
        base = item or PlannedTransfer(
            venue=move.venue,
            hedges=tuple(move.hedges.split(",")),
            asset=move.asset,
            from_account=source,
            to_account=target,
            amount=amount,
            rule=_rule_of(move),
            reason=f"finishing move {move.id}: {move.reason}",
            figures={},
            isolated_perp=move.symbol,
        )
        leg = replace(
            base,
            from_account=source,
            to_account=target,
            amount=amount,
            figures={**base.figures, "margin_move": str(move.id)},
        )
        executor = self._executor.without_stop() if finishing else self._executor
        executed = await executor.execute(run_id, (leg,))
        _merge(result.execution, executed)
        last = executed.transfers[-1] if executed.transfers else None
        if last is None or last.status not in DONE_LEG or last.amount is None:
            return None
        return last.amount

    async def _margin_leg(
        self,
        venue: Venue,
        move: MarginMoveRecord,
        *,
        add: bool,
        planned: Decimal,
        result: MarginLegsResult,
        keep_ratio: Decimal | None = None,
        first: bool = False,
    ) -> Decimal | None:
        """Add or reduce the position's margin: the clock, a fresh read, sizing, intent, the
        call, the outcome; a definite refusal reads again and tries less, `shrink_attempts`
        times. A reduce never takes the position below `keep_ratio` (the hedge's target) as
        read now: a refusal means the mark moved, and what was excess may no longer be."""
        verb = "add" if add else "reduce"

        async def one(
            refused: MarginLegRecord | None,
        ) -> tuple[MarginLegRecord, VenueError | None]:
            offset = await clock_offset(venue)  # before the fresh read: nothing slow after it
            read, safety, limit, inputs = await self._margin_read(venue, move, add, keep_ratio)
            step = venue.transfer_step(move.asset)
            minimum = self._rules.min_for(move.asset)
            sizing = size_transfer(
                planned=refused.amount if refused is not None else planned,
                transferable=read,
                safety=safety,
                step=step,
                min_amount=minimum,
                max_amount=limit,
                asset=move.asset,
            )
            if sizing.skip_reason is None:
                return await self._send_margin(
                    venue, move, add, sizing.amount, inputs, offset, first=first
                )
            why = (
                f"{verb} {move.symbol}'s isolated margin: {plain(sizing.amount)} {move.asset} "
                f"may {'go in' if add else 'come out'} now (read {plain(read)}), under "
                f"min_amount {plain(minimum)}; stopped"
            )
            skipped = self._ledger.record_margin_intent(
                move.id,
                add=add,
                amount=sizing.amount,
                inputs=inputs,
                dry_run=self._dry_run,
                status=TransferStatus.SKIPPED,
                error=why,
            )
            return skipped, None

        # a first leg (nothing moved yet) stops between tries when asked; a second finishes
        stop = self._executor.stop if first else None
        shrunk = await shrinking(self._rules.shrink_attempts + 1, one, stop=stop)
        result.legs += shrunk.records
        leg = shrunk.records[-1]
        said = f"{move.venue} move {move.id}:"
        if leg.status in DONE_LEG:
            result.lines.append(
                f"{said} {verb} {plain(leg.amount)} {move.asset} "
                f"{'to' if add else 'from'} {move.symbol}'s isolated margin: {leg.status}"
            )
            return leg.amount
        if leg.status is TransferStatus.SKIPPED:
            result.lines.append(f"{said} {leg.error}")
        elif shrunk.stopped:
            result.lines.append(f"{said} {verb}: {self._stopped()}")
        elif shrunk.error is not None and shrunk.error.kind is ErrorKind.INSUFFICIENT:
            result.lines.append(
                f"{said} {verb} {move.symbol}'s isolated margin refused "
                f"{self._rules.shrink_attempts + 1} times; stopped"
            )
        else:
            result.lines.append(f"{said} {verb} margin: {leg.error}")
        return None

    async def _margin_read(
        self, venue: Venue, move: MarginMoveRecord, add: bool, keep_ratio: Decimal | None
    ) -> tuple[Decimal, Decimal, Decimal | None, dict[str, object]]:
        """What may go in (the futures wallet's transferable amount) or come out (what the
        position lets leave), read now; with the safety to size it at and the limit above it
        (a reduce keeps the position at `keep_ratio`), for `size_transfer`."""
        read_at = self._clock()
        # An add follows the transfer that brought the collateral: no safety margin on it.
        if add and self._dry_run:  # the transfer before it was not made: nothing to read
            return Decimal("Infinity"), NO_SAFETY, None, {"dry_run": "true", "read_at": read_at}
        if add:
            cap = await venue.read_transferable(move.futures_account, move.asset)
            return cap, NO_SAFETY, None, {"futures_transferable": cap, "read_at": read_at}
        position = await venue.read_position(move.symbol)
        if position is None or not position.isolated:
            flat = {"removable": ZERO, "read_at": read_at, "position": "flat or cross"}
            return ZERO, self._rules.safety, None, flat
        # What may leave an isolated position moves with the mark, so a reduce keeps a safety
        # margin when it would take nearly all of it.
        removable = position.removable_margin
        limit = None
        if keep_ratio is not None:
            above_target = position.isolated_equity - keep_ratio * abs(position.notional)
            limit = max(ZERO, above_target)
        return (
            removable,
            self._rules.safety,
            limit,
            {
                "removable": removable,
                "keep_ratio": keep_ratio if keep_ratio is not None else "none",
                "isolated_wallet": position.isolated_wallet or ZERO,
                "unrealized_pnl": position.unrealized_pnl,
                "initial_margin": position.initial_margin or ZERO,
                "read_at": read_at,
            },
        )

    async def _send_margin(
        self,
        venue: Venue,
        move: MarginMoveRecord,
        add: bool,
        amount: Decimal,
        inputs: Mapping[str, object],
        offset: int | None,
        *,
        first: bool,
    ) -> tuple[MarginLegRecord, VenueError | None]:
        """Commit the leg's intent, then the call through the one send loop; a first leg (a
        reduce, nothing moved yet) hears a stop request, a second one finishes its move."""
        leg = self._ledger.record_margin_intent(
            move.id, add=add, amount=amount, inputs=inputs, dry_run=self._dry_run
        )

        async def call() -> None:
            if add:
                await venue.add_margin(move.symbol, amount)
            else:
                await venue.reduce_margin(move.symbol, amount)

        record, error = await self._executor.loop.send(
            call,
            MarginRows(self._ledger, leg.id),
            venue=venue,
            amount=amount,
            offset=offset,
            points=POINTS,
            stop=self._executor.stop if first else None,
        )
        if error is not None and error.kind is ErrorKind.FATAL and record.status.is_final:
            self._executor.record_halt(venue, error, margin_leg_id=leg.id)  # refused again else
        return record, error


#: where the crash tests kill a margin leg's send (`bot.runtime.failpoints`)
POINTS = Points(after_intent=AFTER_MARGIN_INTENT, after_response=AFTER_MARGIN_RESPONSE)


class MarginRows:
    """A margin leg's attempts and outcome, for the send loop."""

    def __init__(self, ledger: Ledger, leg_id: int) -> None:
        self._ledger, self._id = ledger, leg_id
        self.label = f"margin leg {leg_id}"

    async def attempt(self, attempt: Attempt) -> MarginLegRecord:
        return self._ledger.record_margin_attempt(self._id, **attempt.columns())

    def failed(self, error: str) -> MarginLegRecord:
        return self._ledger.record_margin_outcome(self._id, TransferStatus.FAILED, error=error)


def _rule_of(move: MarginMoveRecord) -> Rule:
    return Rule.TOP_UP if move.direction == TOP_UP else Rule.RETURN_EXCESS


def _merge(into: ExecutionResult, other: ExecutionResult) -> None:
    into.transfers += other.transfers
    into.blocked += other.blocked
    into.halted.update(other.halted)
    into.not_moved += other.not_moved
    for venue, error in other.errors.items():
        into.errors.setdefault(venue, error)


async def run_margin_legs(
    executor: Executor,
    run_id: int,
    items: tuple[PlannedTransfer, ...],
    *,
    state: State | None = None,
    whole_plan: bool = True,
    before: LedgerAtStart | None = None,
    done: VenueDone | None = None,
) -> MarginLegsResult:
    """The cycle's hook: finish half-done moves and run the plan, with the executor's venues,
    ledger, rules and clock. Open margin legs were settled before, by the cycle's
    reconciliation (`bot.transfers.reconcile.Reconciler`, which settles both kinds of open rows)."""
    return await MarginLegs(executor).execute(
        run_id, items, state, whole_plan=whole_plan, before=before, done=done
    )
