"""Errors a user can cause or fix, each carrying one line that names the field and the fix.

The CLI turns these into one line on stderr and exit code 2; nothing else is shown.
"""

from __future__ import annotations


class UserFacingError(Exception):
    """An error whose message is safe to show as-is: one line, no secrets."""

    exit_code = 2


class ConfigError(UserFacingError):
    """config.yaml or the environment is wrong."""


class VenueUnusable(UserFacingError):
    """A configured venue cannot be used as configured (unknown market, missing capability)."""


class LedgerError(UserFacingError):
    """The ledger database cannot be opened or migrated."""
