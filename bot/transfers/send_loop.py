"""The one send loop: every call that moves money goes through `SendLoop.send`.

Two calls move money: a wallet transfer (`executor`) and an isolated position's margin change
(`margin_legs`). Both must be classified, retried, resynced, stopped and recorded the same way
(invariants 2, 9 and 13), and two copies of this loop had drifted apart: a failed clock resync
was recorded as the transfer's failure in one and raised out of the other, and only one of them
heard a stop request. So the loop is here once, and what differs is given to it: the call to
make, how its row records an attempt and a final outcome (`Rows`), the failpoints around the
call (`Points`), and whether a stop request applies (the second leg of a two-leg move finishes
even when stopping).

For an intent already committed and sized, the loop calls the venue and, by the classified
answer (`after_failure`):

- confirmed: the attempt and the outcome are recorded together (a row that cannot take the
  venue's id, another row holding it, is left `unknown` by the ledger and said in a warning);
- a dry-run client's refusal: recorded `dry_run`, nothing left;
- transient (429, refused: nothing happened): the same intent again after a jittered backoff,
  within the policy's attempts and deadline;
- clock: the venue's clock is measured again once, then the same intent again; a resync that
  fails ends the row `failed` with the resync's error (nothing reached the venue's books);
- unknown (any 5xx, a "status unknown" code, a timeout after sending): recorded `unknown`,
  never sent again here; reconciliation settles it against the venue's history;
- insufficient, fatal, or retries exhausted: recorded `failed`; the caller decides what follows
  (a smaller new intent, stopping the venue).

A stop request is heard where no call is in flight: an answer that would be retried or resynced
once a stop is requested, or a stop requested during the backoff or the resync, ends the row
`failed` with "...; not tried again: SIGTERM asked to stop" (nothing reached the venue's books).

Every ledger write after a call goes through `recording_after_call`: a database that refuses it
leaves the row `pending` and stops with `UnrecordedTransfer` (one line, exit 1), for the next
run's reconciliation.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import Enum
from functools import partial
from typing import Generic, Protocol, TypeVar

from sqlalchemy.exc import SQLAlchemyError

from bot.errors import DryRunRefusal, ErrorKind, UnrecordedTransfer, VenueError
from bot.ledger.store import Clock
from bot.model import TransferStatus
from bot.runtime.failpoints import failpoint
from bot.runtime.retry import RetryPolicy, Timing
from bot.runtime.stopping import StopRequest
from bot.venues.base import Venue

log = logging.getLogger(__name__)


class Step(Enum):
    """What to do after a call that moves money failed."""

    RETRY = "retry"  # the venue did not apply it (429, refused): same intent, after a backoff
    RESYNC_CLOCK = "resync_clock"  # our timestamp was refused: measure the clock, same intent
    RECONCILE_LATER = "reconcile_later"  # the outcome is unknown: never re-send blind
    GIVE_UP = "give_up"  # a definite refusal, or retries exhausted


def after_failure(
    error: VenueError,
    attempt: int,
    elapsed: float,
    *,
    resynced: bool,
    policy: RetryPolicy,
    stopping: bool = False,
) -> Step:
    """The next step after failed attempt number `attempt` of one intent; `stopping`: a stop
    was requested, so nothing is tried again. Pure."""
    if error.kind is ErrorKind.UNKNOWN:
        return Step.RECONCILE_LATER
    if stopping:
        return Step.GIVE_UP
    if error.kind is ErrorKind.CLOCK and not resynced:
        return Step.RESYNC_CLOCK
    if (
        error.kind is ErrorKind.TRANSIENT
        and attempt < policy.attempts
        and elapsed < policy.deadline_seconds
    ):
        return Step.RETRY
    return Step.GIVE_UP


FINAL_AFTER = {Step.GIVE_UP: TransferStatus.FAILED, Step.RECONCILE_LATER: TransferStatus.UNKNOWN}


@contextmanager
def recording_after_call(what: str) -> Iterator[None]:
    """A ledger write after the venue was called (`what`: "transfer 12", "margin leg 3"): if
    the database refuses it (locked by another process, a read-only file, a full disk) the row
    stays `pending` for the next run's reconciliation, and the user gets one line saying so
    (`UnrecordedTransfer`)."""
    try:
        yield
    except (SQLAlchemyError, OSError) as exc:
        log.debug("recording %s failed", what, exc_info=exc)
        raise UnrecordedTransfer(what, database_reason(exc)) from None


def database_reason(exc: BaseException) -> str:
    """The database's own words for a refused write ("database is locked"), without the SQL."""
    original = getattr(exc, "orig", None) or exc
    text = str(original).strip().splitlines()
    return text[0][:200] if text else type(original).__name__


async def clock_offset(venue: Venue) -> int | None:
    """The venue's clock offset for an attempt's record (reconciliation's time window); a venue
    that cannot tell it still acts, and reconciliation then widens the window."""
    try:
        return await venue.clock_offset_ms()
    except VenueError as exc:
        log.warning("%s: could not measure the venue's clock (%s)", venue.name, exc)
        return None


class Outcome(Protocol):
    """What a row's record says of it after a write: its status and its error."""

    @property
    def status(self) -> TransferStatus: ...

    @property
    def error(self) -> str | None: ...


R = TypeVar("R", bound=Outcome)


@dataclass(frozen=True, kw_only=True)
class Attempt:
    """One call as the ledger records it, with the row's outcome when it is final."""

    amount: Decimal
    outcome: str  # "confirmed", "dry_run", or the error's kind
    started_at: datetime
    status: TransferStatus | None  # None: the row stays pending, another try follows
    offset: int | None  # the venue's clock offset, ms
    error_kind: str | None = None
    error: str | None = None
    exchange_id: str | None = None  # the venue's id for what it did, where it gives one

    def columns(self) -> dict[str, object]:
        """The attempt's columns common to transfers and margin legs, as the ledger names them."""
        return {
            "amount": self.amount,
            "outcome": self.outcome,
            "started_at": self.started_at,
            "status": self.status,
            "error_kind": self.error_kind,
            "error": self.error,
            "venue_clock_offset_ms": self.offset,
        }


class Rows(Protocol[R]):
    """How one kind of row records what the loop learns: a transfer (`Ledger.record_attempt`)
    or a margin leg (`Ledger.record_margin_attempt`)."""

    #: the row named in logs and in `UnrecordedTransfer`: "transfer 12", "margin leg 3"
    label: str

    async def attempt(self, attempt: Attempt) -> R:
        """One call and, with `attempt.status`, the row's outcome, in one commit."""
        ...

    def failed(self, error: str) -> R:
        """The row ends `failed` without another call (a resync that failed, a stop)."""
        ...


@dataclass(frozen=True, kw_only=True)
class Points:
    """The failpoints around one kind of call (`bot.runtime.failpoints`)."""

    after_intent: str  # the intent is committed and sized, nothing sent
    after_response: str  # the venue answered success; nothing recorded yet
    after_outcome: str | None = None  # the outcome is committed


#: the call: returns the venue's id for what it did, where it gives one
Call = Callable[[], Awaitable[str | None]]


@dataclass(frozen=True, kw_only=True)
class SendLoop:
    """The retry policy, timing and clock the loop runs with (the executor's)."""

    policy: RetryPolicy
    timing: Timing
    clock: Clock

    async def send(
        self,
        call: Call,
        rows: Rows[R],
        *,
        venue: Venue,
        amount: Decimal,
        offset: int | None,
        points: Points,
        stop: StopRequest | None,
    ) -> tuple[R, VenueError | None]:
        """Make `call` for a committed, sized intent of `amount` until its outcome is final or
        unknown; the row's last record and the error that ended it, if any. `offset`: the
        venue's clock offset measured before the fresh read; `stop`: the request that ends it
        before another try (None: this call finishes a move and ignores it)."""
        failpoint(points.after_intent)
        started_monotonic = self.timing.monotonic()
        resynced = False
        attempt = 0
        while True:
            attempt += 1
            # this attempt's record, but for how it ended
            attempted = partial(Attempt, amount=amount, started_at=self.clock(), offset=offset)
            try:
                log.debug("%s: sending (attempt %s)", rows.label, attempt)
                exchange_id = await call()
            except DryRunRefusal:  # the dry-run transport refused the send
                dry = await rows.attempt(
                    attempted(outcome="dry_run", status=TransferStatus.DRY_RUN)
                )
                return dry, None
            except VenueError as exc:
                elapsed = self.timing.monotonic() - started_monotonic
                step = after_failure(exc, attempt, elapsed, resynced=resynced, policy=self.policy)
                error_text = str(exc)
                if _stopping(stop) and step in (Step.RETRY, Step.RESYNC_CLOCK):
                    step = Step.GIVE_UP  # nothing reached the venue's books: stop here
                    error_text += _not_tried_again(stop)
                final = FINAL_AFTER.get(step)
                with recording_after_call(rows.label):
                    record = await rows.attempt(
                        attempted(
                            outcome=exc.kind.value,
                            status=final,
                            error_kind=exc.kind.value,
                            error=error_text,
                        )
                    )
                log.debug("%s: %s (%s)", rows.label, exc.kind.value, exc)
                if final is not None:
                    return record, exc
                if step is Step.RESYNC_CLOCK:
                    resynced = True
                    try:
                        await venue.resync_clock()
                        offset = await clock_offset(venue)
                    except VenueError as resync_error:
                        with recording_after_call(rows.label):
                            failed = rows.failed(str(resync_error))
                        return failed, resync_error
                else:  # Step.RETRY: nothing reached the venue's books; send the same intent again
                    await self.timing.sleep(
                        self.policy.backoff(attempt, exc.retry_after, self.timing.rng)
                    )
                if _stopping(stop):  # asked to stop while waiting: the retry is not sent
                    with recording_after_call(rows.label):
                        stopped = rows.failed(f"{exc}{_not_tried_again(stop)}")
                    return stopped, exc
                continue
            failpoint(points.after_response)
            with recording_after_call(rows.label):
                confirmed = await rows.attempt(
                    attempted(
                        outcome="confirmed",
                        status=TransferStatus.CONFIRMED,
                        exchange_id=exchange_id,
                    )
                )
            if confirmed.status is not TransferStatus.CONFIRMED:  # the id is another row's
                log.warning("%s", confirmed.error)
            else:
                log.debug("%s: confirmed as %s", rows.label, exchange_id)
            if points.after_outcome is not None:
                failpoint(points.after_outcome)
            return confirmed, None


@dataclass(frozen=True)
class Shrunk(Generic[R]):
    """How a series of ever smaller intents ended."""

    records: list[R]  # each intent's last record, in order
    error: VenueError | None  # what ended the last one
    stopped: bool  # a smaller intent was due, but a stop was requested: it is not started


async def shrinking(
    tries: int,
    one: Callable[[R | None], Awaitable[tuple[R, VenueError | None]]],
    *,
    stop: StopRequest | None,
) -> Shrunk[R]:
    """Run intent after intent: `one(previous)` reads afresh, sizes and sends a new intent
    (given the one refused before it). A definite refusal as too much (insufficient) is
    followed by a smaller one, at most `tries` in all; any other ending ends the series, and
    so does a stop request between two intents (`stop`, None where it does not apply)."""
    records: list[R] = []
    previous: R | None = None
    error: VenueError | None = None
    for _ in range(tries):
        previous, error = await one(previous)
        records.append(previous)
        if error is None or error.kind is not ErrorKind.INSUFFICIENT:
            break
        if _stopping(stop):  # the refused intent is final; the smaller one is not started
            return Shrunk(records, error, stopped=True)
    return Shrunk(records, error, stopped=False)


def _stopping(stop: StopRequest | None) -> bool:
    return stop is not None and stop.requested


def _not_tried_again(stop: StopRequest | None) -> str:
    return f"; not tried again: {stop.reason if stop is not None else ''} asked to stop"
