"""Read retries: bounded by attempts and deadline, backoff honours Retry-After, no real sleep."""

from __future__ import annotations

import random

import pytest

from bot.runtime.retry import RetryPolicy, Timing, retry_read
from bot.transfers.send_loop import Step, after_failure
from bot.venues.errors import ErrorKind, VenueError


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def timing(self) -> Timing:
        return Timing(sleep=self.sleep, monotonic=lambda: self.now, rng=random.Random(3))


def failing(kinds: list[ErrorKind], retry_after: float | None = None):  # type: ignore[no-untyped-def]
    calls = []

    async def call() -> str:
        calls.append(1)
        if len(calls) <= len(kinds):
            raise VenueError(kinds[len(calls) - 1], "v", "boom", retry_after=retry_after)
        return "ok"

    return call, calls


async def test_transient_errors_are_retried_with_growing_jittered_backoff() -> None:
    clock = Clock()
    call, calls = failing([ErrorKind.TRANSIENT] * 3)
    policy = RetryPolicy(attempts=5, initial_backoff_seconds=1, max_backoff_seconds=8)
    assert await retry_read(call, policy, clock.timing()) == "ok"
    assert len(calls) == 4
    assert [0.5 <= clock.sleeps[0] <= 1, 1 <= clock.sleeps[1] <= 2, 2 <= clock.sleeps[2] <= 4] == [
        True
    ] * 3


async def test_attempts_are_bounded() -> None:
    clock = Clock()
    call, calls = failing([ErrorKind.TRANSIENT] * 10)
    with pytest.raises(VenueError):
        await retry_read(call, RetryPolicy(attempts=3), clock.timing())
    assert len(calls) == 3


async def test_the_deadline_is_bounded_too() -> None:
    clock = Clock()
    call, calls = failing([ErrorKind.TRANSIENT] * 10, retry_after=20)
    with pytest.raises(VenueError):
        await retry_read(call, RetryPolicy(attempts=10, deadline_seconds=30), clock.timing())
    assert clock.sleeps == [20, 20] and len(calls) == 3  # Retry-After honoured; 40 s > 30 s


async def test_fatal_is_not_retried_and_clock_resyncs_once() -> None:
    clock = Clock()
    call, calls = failing([ErrorKind.FATAL])
    with pytest.raises(VenueError):
        await retry_read(call, RetryPolicy(), clock.timing())
    assert len(calls) == 1
    resyncs = []

    async def resync() -> None:
        resyncs.append(1)

    call, calls = failing([ErrorKind.CLOCK])
    assert await retry_read(call, RetryPolicy(), clock.timing(), on_clock_error=resync) == "ok"
    assert resyncs == [1] and clock.sleeps == []


@pytest.mark.parametrize(
    ("kind", "attempt", "elapsed", "resynced", "expected"),
    [
        (ErrorKind.UNKNOWN, 1, 0, False, Step.RECONCILE_LATER),  # never re-sent blind
        (ErrorKind.TRANSIENT, 1, 0, False, Step.RETRY),
        (ErrorKind.TRANSIENT, 5, 0, False, Step.GIVE_UP),  # attempts exhausted
        (ErrorKind.TRANSIENT, 1, 31, False, Step.GIVE_UP),  # deadline passed
        (ErrorKind.CLOCK, 1, 0, False, Step.RESYNC_CLOCK),
        (ErrorKind.CLOCK, 2, 0, True, Step.GIVE_UP),  # only once
        (ErrorKind.INSUFFICIENT, 1, 0, False, Step.GIVE_UP),  # the shrink is a new intent
        (ErrorKind.FATAL, 1, 0, False, Step.GIVE_UP),
    ],
)
def test_what_follows_a_failed_transfer_call(
    kind: ErrorKind, attempt: int, elapsed: float, resynced: bool, expected: Step
) -> None:
    error = VenueError(kind, "v", "x")
    assert (
        after_failure(error, attempt, elapsed, resynced=resynced, policy=RetryPolicy(attempts=5))
        == expected
    )
