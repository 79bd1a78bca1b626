"""The error vocabulary every layer may import.

`UserFacingError` and its kinds are errors a user can cause or fix, each one line that names
the field and the fix; the CLI prints them and exits 2. `VenueError` is a venue failure
classified into one `ErrorKind`, which decides how the bot handles it (design invariant 9).
"""

from __future__ import annotations

from enum import StrEnum


class UserFacingError(Exception):
    """An error whose message is safe to show as-is: one line, no secrets."""

    exit_code = 2


class ConfigError(UserFacingError):
    """config.yaml or the environment is wrong."""


class VenueUnusable(UserFacingError):
    """A configured venue cannot be used as configured (unknown market, missing capability)."""


class LedgerError(UserFacingError):
    """The ledger database cannot be opened or migrated, for a reason a person must fix (a
    file that is not a database, a ledger from a newer bot, a folder the bot cannot write)."""


class LedgerBusy(LedgerError):
    """The ledger cannot be used right now (locked by another process past the busy timeout, a
    database server not answering): a later run may well succeed."""

    exit_code = 1


class UnrecordedTransfer(UserFacingError):
    """The venue was called, but the ledger refused to record what it answered: the row stays
    `pending` and the next run's reconciliation settles it against the venue's history."""

    exit_code = 1

    def __init__(self, what: str, why: str) -> None:
        self.what = what  # the row: "transfer 12", "margin leg 3"
        super().__init__(
            f"{what} sent but not recorded ({why}); it will be settled by "
            "reconciliation on the next run"
        )


class CorrectionRefused(UserFacingError):
    """An operator's correction (`bot reconcile --assign`) the bot will not record: the transfer
    is not open, the venue transfer is not this one, or another row holds it."""


class ErrorKind(StrEnum):
    TRANSIENT = "transient"  # nothing happened: retry with backoff
    INSUFFICIENT = "insufficient"  # the venue refused for balance: re-read, shrink
    UNKNOWN = "unknown"  # the request may have been applied: reconcile before anything else
    CLOCK = "clock"  # our timestamp is outside the venue's window: resync, retry once
    FATAL = "fatal"  # keys, permissions, bad request: stop this venue and say what to fix
    UNTRUSTED = "untrusted"  # an answer the bot cannot trust: this venue acts on nothing now


class VenueError(Exception):
    """A classified venue failure with a one-line, secret-free message."""

    def __init__(
        self,
        kind: ErrorKind,
        venue: str,
        message: str,
        *,
        code: str | None = None,
        hint: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.kind = kind
        self.venue = venue
        self.code = code
        self.hint = hint
        self.retry_after = retry_after
        self.detail = message
        text = f"{venue}: {message}"
        if hint:
            text += f" ({hint})"
        super().__init__(text)


class DryRunRefusal(Exception):
    """A dry-run client refused a state-changing call (`venues.clients.DryRunRefused`): a
    refusal by design, never classified as a venue failure."""
