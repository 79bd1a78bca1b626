"""Carrying out a plan: intent, fresh read, sizing, transfer, outcome, one venue at a time each.

For every planned transfer the intent (the plan line) is committed first and the venue's clock
measured; then the source wallet is read again (a balance read a moment ago may no longer be
transferable), sized on it (`size_transfer`: the planned amount when it covers it, else
`safety` of it) and rounded down, the sized amount (less its amount tag
where the venue takes no client id, `amount_tag`) made durable in one small write on the
pending row, and `transfer()` called at once (invariant 1: never without a committed row;
invariant 4: nothing slow between the fresh read and the send). Each attempt records the
venue's clock offset, so that reconciliation can compare the venue's timestamps with ours.
The call, its retries and its records go through the one send loop (`bot.transfers.send_loop`),
which isolated margin legs share. What happens next depends on the classified answer:

- confirmed: recorded with the venue's transfer id; if another ledger row already holds that id
  (a venue that numbers its transfers again from the start), recorded `unknown` with a message
  naming both rows instead: the money moved, so it is neither a crash nor, later, `failed`;
- transient (429, connection refused: nothing happened): the same intent is tried again after a
  jittered backoff, within the retry policy's attempts and deadline;
- clock: the time difference is measured again once, then the same intent is tried again;
- insufficient (a definite refusal): this intent fails; the wallet is read again and a smaller
  new intent (a new id, `replaces_id` pointing back) is sent, at most `shrink_attempts` times;
- unknown (any 5xx, a "status unknown" code, a timeout or reset after sending, a 2xx without a
  well-formed transfer id): recorded `unknown` and never re-sent here; reconciliation settles
  it against the venue's history before anything new is sent;
- fatal (keys, permissions, bad request): failed, and the venue is halted (`bot.venues.halts`):
  the halt is recorded once, and until its config or key changes or a person resumes it
  (`bot venue resume`), no new transfer starts on it (`halt_of`, checked before each planned
  transfer, before its intent); reads and the other venues go on.

With `state` (what the cycle just read), each line is first sized on it as `bot plan` sizes it
(`preview.preview_sizing`): a line that sizing already skips (an empty source, an amount under
`min_amount`) commits no intent; it stands as one `nothing_to_move` row, counted each cycle
(`ExecutionResult.not_moved`), cleared when a cycle sends it or no longer plans it
(`clear_unseen`, after a rebalance, which plans every hedge). A skip found only by the fresh
read after the intent is a `skipped` row, as before.

A stop request (`bot.runtime.stopping`, the first SIGINT/SIGTERM) is checked where no call is in
flight: before each planned transfer, before a smaller new intent and before a retry. A
transfer already past its intent commit is sent and its answer recorded; every transfer not
started is recorded `failed` with "not attempted: ... is stopping (SIGTERM)", like those after
a fatal error: final rows, so nothing is blocked or left for reconciliation, and the run says
that its plan was not carried out. A transient failure not retried because of the stop is
`failed` (nothing reached the venue's books).

A ledger write refused after the call (`send_loop.recording_after_call`) leaves the row
`pending` and stops with `UnrecordedTransfer`: one line, exit 1, settled by the next run's
reconciliation.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from bot.config import TransfersConfig
from bot.errors import ErrorKind, VenueError
from bot.ledger.queries import open_transfers
from bot.ledger.standing import CLEARED, HaltRecord, MoveKey, NothingToMoveRecord
from bot.ledger.store import AttemptWrite, Clock, Ledger, TransferRecord, utc_now
from bot.model import PlannedTransfer, State, TransferStatus, VenueState
from bot.money import plain, round_down
from bot.runtime.aio import gather_each
from bot.runtime.failpoints import (
    AFTER_INTENT_COMMIT,
    AFTER_OUTCOME_COMMIT,
    AFTER_RESPONSE,
    BEFORE_INTENT,
    failpoint,
)
from bot.runtime.logs import log_context
from bot.runtime.redact import redact
from bot.runtime.retry import RetryPolicy, Timing
from bot.runtime.stopping import StopRequest
from bot.transfers.amount_tag import tag_to_subtract, tags_on
from bot.transfers.group_commit import OutcomeGroup
from bot.transfers.send_loop import Attempt, Points, SendLoop, clock_offset, shrinking
from bot.transfers.sizing import Sizing, size_transfer, sized_on
from bot.venues.base import Venue
from bot.venues.halts import BY_THE_BOT, CHANGED, fingerprint, new_salt

log = logging.getLogger(__name__)


#: where the reliability tests kill a transfer's send (`bot.runtime.failpoints`)
POINTS = Points(
    after_intent=AFTER_INTENT_COMMIT,
    after_response=AFTER_RESPONSE,
    after_outcome=AFTER_OUTCOME_COMMIT,
)


class TransferRows:
    """A transfer's attempts and outcome, for the send loop; the fresh read not yet recorded
    (`inputs`) goes with the first attempt. An attempt that ends the row (the usual one:
    confirmed) is committed with the other venues' outcomes of the same moment (`group`)."""

    def __init__(
        self,
        ledger: Ledger,
        transfer_id: int,
        inputs: Mapping[str, Any] | None,
        group: OutcomeGroup | None = None,
    ):
        self._ledger, self._id, self._inputs, self._group = ledger, transfer_id, inputs, group
        self.label = f"transfer {transfer_id}"

    async def attempt(self, attempt: Attempt) -> TransferRecord:
        columns = attempt.columns()
        status = columns.pop("status")
        if self._group is not None and status is not None:
            record = await self._group.record(
                AttemptWrite(
                    transfer_id=self._id,
                    status=status,
                    inputs=self._inputs,
                    exchange_id=attempt.exchange_id,
                    **columns,
                )
            )
        else:
            record = self._ledger.record_attempt(
                self._id,
                status=status,
                inputs=self._inputs,
                exchange_id=attempt.exchange_id,
                **columns,
            )
        self._inputs = None  # recorded with this attempt
        return record

    def failed(self, error: str) -> TransferRecord:
        return self._ledger.record_outcome(self._id, TransferStatus.FAILED, error=error)


@dataclass(frozen=True, kw_only=True)
class Blocked:
    """A planned transfer not sent because an earlier one on the venue is still unsettled."""

    item: PlannedTransfer
    open_transfer_id: int

    @property
    def message(self) -> str:
        return (
            f"{self.item.venue} {self.item.asset}: not sent, transfer {self.open_transfer_id} "
            "is still unsettled; reconciling instead of sending"
        )


@dataclass
class ExecutionResult:
    transfers: list[TransferRecord]
    blocked: list[Blocked]
    #: venues whose execution stopped on an unexpected error (their open rows stay open)
    errors: dict[str, Exception] = field(default_factory=dict)
    #: venues halted by a fatal refusal: their planned transfers were not started
    halted: dict[str, HaltRecord] = field(default_factory=dict)
    #: planned moves with nothing to move on the state read (no intent): standing conditions
    not_moved: list[NothingToMoveRecord] = field(default_factory=list)


@dataclass(frozen=True)
class Draft:
    """A line sized on the cycle's read: the intent to commit (amount, the read's figures, the
    amount tag given the row's id), or why nothing is sent."""

    item: PlannedTransfer
    amount: Decimal
    inputs: Mapping[str, Any]
    tag: Callable[[int], Decimal] | None
    skip_reason: str | None


#: told of a venue as its lines are done, before the other venues' (the cycle reads it again)
VenueDone = Callable[[str, ExecutionResult], None]


@dataclass(frozen=True)
class LedgerBefore:
    """What the ledger said as an execution began, read once for every venue: its standing
    halts, its open transfers, its open nothing-to-move conditions. Each venue's first line is
    judged on it, so no venue waits between its read and its send for three queries per venue
    before it (at 20 venues, sixty); a later line of a venue queries again, since that venue's
    own earlier transfer may have left a row open or a halt. A cycle reads it before its venues
    (`margin_legs.LedgerAtStart`), where it is as true at the sends (the read and the plan
    write nothing): then not even these three queries sit between a read and its send."""

    halts: Mapping[str, HaltRecord]
    open_transfers: Mapping[str, list[TransferRecord]]
    standing: frozenset[MoveKey]

    @classmethod
    def read(cls, ledger: Ledger) -> LedgerBefore:
        open_rows: dict[str, list[TransferRecord]] = defaultdict(list)
        for row in open_transfers(ledger):
            open_rows[row.venue].append(row)
        return cls(
            halts={halt.venue: halt for halt in ledger.open_halts()},
            open_transfers=dict(open_rows),
            standing=frozenset(record.key for record in ledger.open_nothing_to_move()),
        )


class Executor:
    """Executes plans against venues and records every step in the ledger."""

    def __init__(
        self,
        venues: Mapping[str, Venue],
        ledger: Ledger,
        rules: TransfersConfig,
        *,
        dry_run: bool,
        policy: RetryPolicy | None = None,
        timing: Timing | None = None,
        clock: Clock = utc_now,
        stop: StopRequest | None = None,
    ) -> None:
        self._venues = venues
        self._ledger = ledger
        self._rules = rules
        self._dry_run = dry_run
        self._policy = policy or RetryPolicy()
        self._timing = timing or Timing()
        self._clock = clock
        self._stop = stop
        self._loop = SendLoop(policy=self._policy, timing=self._timing, clock=clock)
        self._outcomes = OutcomeGroup(ledger)  # the venues' outcomes of a moment, one commit
        self._kept: set[MoveKey] = set()  # nothing-to-move conditions seen by this executor
        self._reads: dict[str, VenueState] = {}  # the cycle's reads (`size_on`)
        self._drawn: set[tuple[str, str, str]] = set()  # (venue, account, asset) sent from
        self._committed: dict[int, TransferRecord] = {}  # id(line) -> its intent, committed
        self._refused: set[str] = set()  # venues whose lines a halt refused
        self._recorded: dict[str, HaltRecord] = {}  # halts this executor's calls recorded

    # What a runner built on this executor (margin_legs) acts with, given once.
    @property
    def venues(self) -> Mapping[str, Venue]:
        return self._venues

    @property
    def ledger(self) -> Ledger:
        return self._ledger

    @property
    def rules(self) -> TransfersConfig:
        return self._rules

    @property
    def dry_run(self) -> bool:
        return self._dry_run

    @property
    def policy(self) -> RetryPolicy:
        return self._policy

    @property
    def timing(self) -> Timing:
        return self._timing

    @property
    def clock(self) -> Clock:
        return self._clock

    @property
    def stop(self) -> StopRequest | None:
        return self._stop

    @property
    def loop(self) -> SendLoop:
        return self._loop

    @property
    def stopping(self) -> bool:
        """A stop was requested: no new transfer may start."""
        return self._stop is not None and self._stop.requested

    def without_stop(self) -> Executor:
        """This executor, deaf to the stop request: for the second leg of a two-leg move whose
        first leg is done, which finishes the move rather than strand the collateral."""
        return Executor(
            self._venues,
            self._ledger,
            self._rules,
            dry_run=self._dry_run,
            policy=self._policy,
            timing=self._timing,
            clock=self._clock,
        )

    def size_on(self, state: State) -> None:
        """The cycle's read of each venue: while younger than `fresh_read_seconds`, the first
        transfer from a wallet is sized on it and sent without reading the wallet again (the
        read is as fresh as a second one would be, and a round trip sooner: the guard's
        reaction is push, read, send). A later transfer from the same wallet, a smaller new
        intent after a refusal, and every transfer once the read is older, read again."""
        self._reads.update(state.venues)

    def record_not_attempted(
        self, run_id: int, item: PlannedTransfer, replaces_id: int | None = None
    ) -> TransferRecord:
        """A planned transfer not started because a stop was requested: final, never sent."""
        assert self._stop is not None
        log.info(
            "%s %s %s -> %s: %s",
            item.venue,
            item.asset,
            item.from_account,
            item.to_account,
            self._stop.not_attempted(),
        )
        return self._record_final(
            run_id,
            item,
            TransferStatus.FAILED,
            amount=None,
            inputs={},
            error=self._stop.not_attempted(),
            replaces_id=replaces_id,
        )

    async def execute(
        self,
        run_id: int,
        transfers: tuple[PlannedTransfer, ...],
        *,
        state: State | None = None,
        before: LedgerBefore | None = None,
        done: VenueDone | None = None,
    ) -> ExecutionResult:
        """Run every planned transfer: venues in parallel, each venue's transfers in order;
        with `state`, sized on it first (a line it skips stands as nothing to move). `before`:
        the ledger as the cycle read it before its venues, when nothing was written since
        (else it is read now); `done`: told of each venue as its lines are done."""
        if state is not None:
            transfers = sized_on(transfers, state, self._rules)
            self.size_on(state)
        by_venue: dict[str, list[PlannedTransfer]] = defaultdict(list)
        for item in transfers:
            by_venue[item.venue].append(item)
        if by_venue and before is None:
            before = LedgerBefore.read(self._ledger)
        if by_venue and before is not None and self._reads:
            self._commit_first_intents(run_id, by_venue, before)
        # Each venue on its own: one venue's failure never cancels another's transfer in flight.
        outcomes = await gather_each(
            {
                venue: self._execute_venue(run_id, items, before, done)
                for venue, items in by_venue.items()
            }
        )
        results: list[ExecutionResult] = []
        errors: dict[str, Exception] = {}
        for venue, outcome in outcomes.items():
            if isinstance(outcome, Exception):
                with log_context(venue=venue):
                    log.debug("executing on %s failed", venue, exc_info=outcome)
                errors[venue] = outcome
            else:
                results.append(outcome)
        records = sorted((r for result in results for r in result.transfers), key=lambda r: r.id)
        blocked = [b for result in results for b in result.blocked]
        done = ExecutionResult(records, blocked, errors)
        for result in results:
            done.halted.update(result.halted)
            done.not_moved += result.not_moved
        done.halted.update(self._recorded)
        return done

    # halts and nothing to move ----------------------------------------------------------------

    def halt_of(self, name: str, before: LedgerBefore | None = None) -> HaltRecord | None:
        """The venue's standing halt (as `before` read it, else queried now), or None. A halt
        whose fingerprint no longer matches the venue's config section and API key (a person
        changed them) is cleared here."""
        halt = before.halts.get(name) if before is not None else self._ledger.halt_of(name)
        if halt is None:
            return None
        venue = self._venues.get(name)
        digest = venue.fix_digest if venue is not None else None
        if digest is None or fingerprint(digest, halt.salt, self._ledger.key) == halt.fingerprint:
            self._refused.add(name)
            return halt
        self._ledger.end_halt(name, state=CLEARED, by=BY_THE_BOT, reason=CHANGED)
        log.warning("%s: halt %s cleared: %s", name, halt.id, CHANGED)
        return None

    def record_halt(
        self,
        venue: Venue,
        error: VenueError,
        *,
        transfer_id: int | None = None,
        margin_leg_id: int | None = None,
    ) -> HaltRecord:
        """A fatal refusal of a transfer or margin call: the venue is halted (once)."""
        salt = new_salt()
        halt, created = self._ledger.record_halt(
            venue.name,
            kind=error.kind.value,
            code=error.code,
            error=redact(error.detail),
            hint=error.hint,
            fingerprint=fingerprint(venue.fix_digest or "", salt, self._ledger.key),
            salt=salt,
            transfer_id=transfer_id,
            margin_leg_id=margin_leg_id,
        )
        if created:
            log.warning("%s", halt.message())
        self._recorded[venue.name] = halt
        return halt

    @property
    def recorded_halts(self) -> dict[str, HaltRecord]:
        """The halts this executor recorded (a fatal refusal seen by its calls)."""
        return dict(self._recorded)

    def stand_if_nothing_to_move(
        self, item: PlannedTransfer, before: LedgerBefore | None = None
    ) -> NothingToMoveRecord | None:
        """The line's standing nothing-to-move condition when the sizing on the state read
        (`item.sizing`) sends nothing (no intent is committed for it); else None, and an open
        condition of its venue, asset and direction is cleared (no write where `before` saw
        none open). Never in a dry run."""
        if item.sizing is None or self._dry_run:
            return None
        key = (item.venue, item.asset, item.from_account, item.to_account)
        if item.sizing.sends:
            if before is None or key in before.standing:
                self._ledger.clear_nothing_to_move(item.venue, only=[key])
            return None
        self._kept.add(key)
        record, created = self._ledger.stand_nothing_to_move(
            key,
            hedges=",".join(item.hedges),
            rule=item.rule.value,
            reason=item.sizing.skip_reason or "nothing to send",
            planned=item.amount,
        )
        if created:
            log.info("%s", record.message())
        return record

    def clear_unseen(self, state: State) -> None:
        """After a cycle that planned every hedge (a rebalance): clear the nothing-to-move
        conditions of each venue read in `state` that this executor did not see again (a
        halted venue's lines were not sized: its conditions stay)."""
        if self._dry_run:
            return
        seen = [name for name in state.venues if name in self._venues and name not in self._refused]
        if seen:  # one transaction for every venue: one each cost a 20-venue cycle ~16 ms
            self._ledger.clear_nothing_to_move(seen, keep=self._kept)

    async def _execute_venue(
        self,
        run_id: int,
        items: list[PlannedTransfer],
        before: LedgerBefore | None,
        done: VenueDone | None,
    ) -> ExecutionResult:
        with log_context(venue=items[0].venue):  # the lines of this venue's transfers say so
            result = await self._execute_items(run_id, items, before)
            if done is not None:
                done(items[0].venue, result)
            return result

    async def _execute_items(
        self, run_id: int, items: list[PlannedTransfer], before: LedgerBefore | None = None
    ) -> ExecutionResult:
        result = ExecutionResult([], [])
        stopped: VenueError | None = None
        for index, item in enumerate(items):
            seen = before if index == 0 else None  # later lines: the venue's own rows changed
            halt = self.halt_of(item.venue, seen)
            if halt is not None:  # refused for good: nothing new starts here until it ends
                result.halted[item.venue] = halt
                continue
            rows = (
                seen.open_transfers.get(item.venue, [])
                if seen is not None
                else open_transfers(self._ledger, venue=item.venue)
            )
            unsettled = [t for t in rows if t.asset == item.asset]
            if unsettled:  # at most one pending/unknown transfer per venue and asset
                result.blocked.append(Blocked(item=item, open_transfer_id=unsettled[0].id))
                continue
            if stopped is not None:
                result.transfers.append(
                    self._record_final(
                        run_id,
                        item,
                        TransferStatus.FAILED,
                        amount=None,
                        inputs={},
                        error=f"not attempted: {stopped}",
                    )
                )
                continue
            if self.stopping:  # checked between transfers: none is in flight here
                committed = self._committed.pop(id(item), None)  # with the others, unsent
                result.transfers.append(
                    self.record_not_attempted(run_id, item)
                    if committed is None
                    else self._ledger.record_outcome(
                        committed.id, TransferStatus.FAILED, error=self._stop.not_attempted()
                    )
                )
                continue
            standing = (
                self.stand_if_nothing_to_move(item, seen) if item.isolated_perp is None else None
            )
            if standing is not None:  # the state just read has nothing to send: no intent
                result.not_moved.append(standing)
                continue
            records, error = await self._execute_one(run_id, item)
            result.transfers += records
            if error is not None and error.kind is ErrorKind.FATAL:
                stopped = error  # keys or permissions: the venue's next transfers would fail too
        return result

    async def _execute_one(
        self, run_id: int, item: PlannedTransfer
    ) -> tuple[list[TransferRecord], VenueError | None]:
        venue = self._venues[item.venue]
        if not venue.can_transfer:
            manual = self._record_final(
                run_id,
                item,
                TransferStatus.MANUAL,
                amount=item.amount,
                inputs={"can_transfer": "false"},
                reason_suffix=f"{venue.name} has no transfer API: move it by hand",
            )
            return [manual], None
        shrunk = await shrinking(
            self._rules.shrink_attempts + 1,
            lambda refused: self._attempt_intent(
                run_id, item, venue, refused.id if refused is not None else None
            ),
            stop=self._stop,
        )
        records = shrunk.records
        if shrunk.stopped:  # a definite refusal: the smaller new intent is not started
            records.append(self.record_not_attempted(run_id, item, replaces_id=records[-1].id))
        return records, shrunk.error

    async def _attempt_intent(
        self, run_id: int, item: PlannedTransfer, venue: Venue, replaces: int | None
    ) -> tuple[TransferRecord, VenueError | None]:
        """One intent: committed with the plan first, then the clock measured, then the fresh
        read, the sizing and its one small write, and at once the send (invariant 4: nothing
        slow follows the fresh read; the intent commit and the clock are before it)."""
        committed = self._committed.pop(id(item), None) if replaces is None else None
        if committed is not None:  # sized on the cycle's read and committed with the others
            return await self._send(item, venue, committed, await clock_offset(venue), None)
        failpoint(BEFORE_INTENT)
        step = venue.transfer_step(item.asset)

        def tag_of(amount: Decimal) -> Callable[[int], Decimal] | None:
            return self._tag_of(venue, amount, step, item.asset)

        read = self._cycle_read(item, replaces)
        if read is not None:  # sized on the cycle's read: committed as sized, then sent
            return await self._send_on_read(run_id, item, venue, read)
        # The plan's amount, rounded and tagged, until the fresh read says otherwise: when the
        # read leaves it unchanged (the usual case), no write at all follows the read.
        planned = round_down(item.amount, step)
        intent = self._ledger.record_intent(
            run_id,
            item,
            amount=planned,
            inputs={},
            dry_run=self._dry_run,
            replaces_id=replaces,
            tag=tag_of(planned),
        )
        offset = await clock_offset(venue)
        try:
            transferable = await venue.read_transferable(item.from_account, item.asset)
        except VenueError as exc:
            failed = self._ledger.record_outcome(
                intent.id,
                TransferStatus.FAILED,
                error=f"could not read the transferable amount: {exc}",
            )
            return failed, exc
        sizing, inputs = self._sized(item, transferable, step, read_at=self._clock())
        if sizing.skip_reason is not None:
            skipped = self._ledger.record_sizing(
                intent.id, amount=sizing.amount, inputs=inputs, skipped=sizing.skip_reason
            )
            return skipped, None
        if sizing.amount == planned:  # already durable as committed: the inputs go with the attempt
            return await self._send(item, venue, intent, offset, inputs)
        sized = self._ledger.record_sizing(
            intent.id, amount=sizing.amount, inputs=inputs, tag=tag_of(sizing.amount)
        )
        return await self._send(item, venue, sized, offset, None)

    def _tag_of(
        self, venue: Venue, amount: Decimal, step: Decimal, asset: str
    ) -> Callable[[int], Decimal] | None:
        """What to subtract from `amount`, given the intent's id, to tag it (None: no tags)."""
        if not tags_on(
            self._rules.amount_tag,
            has_client_ids=venue.client_ids is not None,
            step=step,
            asset=asset,
        ):
            return None
        return lambda intent_id: tag_to_subtract(amount, intent_id, step)

    def _young_read(self, item: PlannedTransfer) -> VenueState | None:
        """The cycle's read of the line's venue while it may size the line's first draw from
        its wallet (`size_on`): young enough, and nothing drawn from that wallet yet."""
        if (item.venue, item.from_account, item.asset) in self._drawn:
            return None
        read = self._reads.get(item.venue)
        if read is None:
            return None
        # the venue's read time is the wall clock's: so is its age (an injected clock is not)
        age = datetime.now(UTC) - read.read_at
        return read if age <= timedelta(seconds=float(self._rules.fresh_read_seconds)) else None

    def _cycle_read(self, item: PlannedTransfer, replaces: int | None) -> VenueState | None:
        """The young read that sizes this intent, if any; the wallet counts as drawn from
        either way (its next transfer reads it again)."""
        read = self._young_read(item) if replaces is None else None
        self._drawn.add((item.venue, item.from_account, item.asset))
        return read

    def _sized(
        self, item: PlannedTransfer, transferable: Decimal, step: Decimal, *, read_at: datetime
    ) -> tuple[Sizing, dict[str, Any]]:
        """The line sized on a transferable amount, and the figures its row records."""
        sizing = size_transfer(
            planned=item.amount,
            transferable=transferable,
            safety=self._rules.safety,
            step=step,
            min_amount=self._rules.min_for(item.asset),
            max_amount=self._rules.max_for(item.asset),
            asset=item.asset,
        )
        inputs = {
            "transferable": transferable,
            "safety": self._rules.safety,
            "step": step,
            "read_at": read_at,
        }
        return sizing, inputs

    def _draft_on_read(self, item: PlannedTransfer, venue: Venue, read: VenueState) -> Draft:
        """The line sized on the cycle's read: what its intent commits, or why it is skipped."""
        step = venue.transfer_step(item.asset)
        transferable = read.wallet(item.from_account, item.asset).transferable
        sizing, inputs = self._sized(item, transferable, step, read_at=read.read_at)
        inputs["read"] = "cycle"  # the cycle's read, not one made for this transfer
        tag = (
            self._tag_of(venue, sizing.amount, step, item.asset)
            if sizing.skip_reason is None
            else None
        )
        return Draft(item, sizing.amount, inputs, tag, sizing.skip_reason)

    def _commit_first_intents(
        self, run_id: int, by_venue: Mapping[str, list[PlannedTransfer]], before: LedgerBefore
    ) -> None:
        """Size each venue's first line on the cycle's young read and commit all their intents
        in one transaction before any send (invariant 1): at 20 venues one commit, not twenty
        spread between the reads and the sends. A line that is not plain (a halt, an open
        transfer, a standing condition, nothing to send, a venue without transfers, an old
        read) takes its venue's ordinary path instead."""
        if self.stopping:
            return
        drafts: list[Draft] = []
        for name, items in by_venue.items():
            item, venue = items[0], self._venues.get(name)
            key = (item.venue, item.asset, item.from_account, item.to_account)
            if (
                venue is None
                or not venue.can_transfer
                or item.isolated_perp is not None
                or name in before.halts
                or any(t.asset == item.asset for t in before.open_transfers.get(name, []))
                or (item.sizing is not None and not item.sizing.sends)
                or key in before.standing
            ):
                continue
            read = self._young_read(item)
            draft = self._draft_on_read(item, venue, read) if read is not None else None
            if draft is not None and draft.skip_reason is None:
                drafts.append(draft)
        if not drafts:
            return
        failpoint(BEFORE_INTENT)
        records = self._ledger.record_intents(
            run_id,
            [(d.item, d.amount, d.inputs, d.tag) for d in drafts],
            dry_run=self._dry_run,
        )
        for draft, record in zip(drafts, records, strict=True):
            self._drawn.add((draft.item.venue, draft.item.from_account, draft.item.asset))
            self._committed[id(draft.item)] = record

    async def _send_on_read(
        self, run_id: int, item: PlannedTransfer, venue: Venue, read: VenueState
    ) -> tuple[TransferRecord, VenueError | None]:
        """Size on the cycle's read, commit the intent as sized (invariant 1), send at once: the
        one commit is all that lies between the read and the send (invariant 4)."""
        draft = self._draft_on_read(item, venue, read)
        offset = await clock_offset(venue)  # the venue's known offset: no request
        if draft.skip_reason is not None:  # the caller stands most of these before the intent
            skipped = self._record_final(
                run_id,
                item,
                TransferStatus.SKIPPED,
                amount=draft.amount,
                inputs=draft.inputs,
                reason_suffix=f"skipped: {draft.skip_reason}",
            )
            return skipped, None
        intent = self._ledger.record_intent(
            run_id,
            item,
            amount=draft.amount,
            inputs=draft.inputs,
            dry_run=self._dry_run,
            tag=draft.tag,
        )
        return await self._send(item, venue, intent, offset, None)

    async def _send(
        self,
        item: PlannedTransfer,
        venue: Venue,
        intent: TransferRecord,
        offset: int | None,
        inputs: Mapping[str, Any] | None,
    ) -> tuple[TransferRecord, VenueError | None]:
        """Call `transfer()` for a committed, sized intent through the one send loop; `inputs`,
        the fresh read not yet recorded, go with the first attempt's record."""
        assert intent.amount is not None
        amount = intent.amount  # what is sent: the sized amount less its tag

        async def call() -> str | None:
            receipt = await venue.transfer(
                item.asset, amount, item.from_account, item.to_account, intent.client_id
            )
            return receipt.exchange_id

        log.debug(
            "transfer %s: %s %s %s -> %s",
            intent.id,
            plain(amount),
            item.asset,
            item.from_account,
            item.to_account,
        )
        rows = TransferRows(self._ledger, intent.id, inputs, self._outcomes)
        record, error = await self._loop.send(
            call, rows, venue=venue, amount=amount, offset=offset, points=POINTS, stop=self._stop
        )
        if error is not None and error.kind is ErrorKind.FATAL and record.status.is_final:
            self.record_halt(venue, error, transfer_id=intent.id)  # it would be refused again
        return record, error

    def _record_final(
        self,
        run_id: int,
        item: PlannedTransfer,
        status: TransferStatus,
        *,
        amount: Decimal | None,
        inputs: Mapping[str, object],
        error: str | None = None,
        reason_suffix: str | None = None,
        replaces_id: int | None = None,
    ) -> TransferRecord:
        """A row that is final at once: nothing is (or will be) sent for it."""
        if reason_suffix:
            item = replace(item, reason=f"{item.reason}; {reason_suffix}")
        return self._ledger.record_intent(
            run_id,
            item,
            amount=amount,
            status=status,
            inputs=inputs,
            error=error,
            dry_run=self._dry_run,
            replaces_id=replaces_id,
        )
