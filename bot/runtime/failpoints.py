"""Named points where the reliability tests kill the bot, to prove crash safety.

`BOT_FAILPOINT=<name>` in the environment makes the process SIGKILL itself when it reaches that
point (the crash tests run `bot rebalance` as a subprocess). In-process tests `arm()` a point
instead, which raises `SimulatedCrash` there: everything committed before it stays, exactly as
after a kill. Or they arm it with an action, run there once instead (another process locking the
ledger right after the venue answered). Unarmed, a failpoint costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable

ENV = "BOT_FAILPOINT"

BEFORE_INTENT = "before_intent"
AFTER_INTENT_COMMIT = "after_intent_commit"
AFTER_RESPONSE = "after_response"  # the venue answered; the outcome is not committed yet
AFTER_OUTCOME_COMMIT = "after_outcome_commit"
ALL = (BEFORE_INTENT, AFTER_INTENT_COMMIT, AFTER_RESPONSE, AFTER_OUTCOME_COMMIT)
# An isolated hedge's two-leg move (bot/transfers/margin_legs.py): between the legs, and around the
# margin change's own call.
BETWEEN_LEGS = "between_legs"  # the first leg is recorded done; the second not begun
AFTER_MARGIN_INTENT = "after_margin_intent"  # the margin leg's intent is committed, not sent
AFTER_MARGIN_RESPONSE = "after_margin_response"  # the venue applied it; nothing recorded yet
MARGIN_LEGS = (BETWEEN_LEGS, AFTER_MARGIN_INTENT, AFTER_MARGIN_RESPONSE)

_armed: dict[str, Callable[[], None] | None] = {}


class SimulatedCrash(BaseException):
    """Raised at an armed failpoint; a BaseException so that no `except Exception` absorbs it."""


def arm(name: str, action: Callable[[], None] | None = None) -> None:
    """Raise `SimulatedCrash` at `name` once, or run `action` there once instead."""
    _armed[name] = action


def disarm_all() -> None:
    _armed.clear()


def failpoint(name: str) -> None:
    if name in _armed:
        action = _armed.pop(name)
        if action is None:
            raise SimulatedCrash(name)
        action()
        return
    if os.environ.get(ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
