"""A request to stop acting, set by a signal and checked by the executor between transfers.

`bot run` (and a one-shot `bot rebalance`) sets it on the first SIGINT/SIGTERM: the transfer
whose call is in flight finishes its call and its ledger write, and no new transfer starts.
It is a flag, not a cancellation: cancelling a task mid-call would leave the row pending for
reconciliation even when the venue answered; the flag lets the answer be recorded.
"""

from __future__ import annotations

import threading


class StopRequest:
    """Set once (from a signal handler or another thread), read anywhere; keeps the why."""

    def __init__(self, command: str = "bot run") -> None:
        self.command = command  # who is stopping, for the ledger's words
        self._event = threading.Event()
        self._reason = ""

    def request(self, reason: str) -> None:
        """Ask to stop; the first reason is kept (a second signal does not rename it)."""
        if not self._event.is_set():
            self._reason = reason
            self._event.set()

    @property
    def requested(self) -> bool:
        return self._event.is_set()

    @property
    def reason(self) -> str:
        return self._reason

    def not_attempted(self) -> str:
        """The ledger's error for a transfer not started because of this request."""
        return f"{NOT_ATTEMPTED}{self.command}{STOPPING}({self._reason})"


NOT_ATTEMPTED, STOPPING = "not attempted: ", " is stopping "


def left_by_a_stop(error: str | None) -> bool:
    """Whether a failed row's error is `StopRequest.not_attempted`: nothing was sent, and the
    next cycle plans it again, so no person needs telling (a restart is not a failure)."""
    return error is not None and error.startswith(NOT_ATTEMPTED) and STOPPING in error
