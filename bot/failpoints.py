"""Named points where the reliability tests kill the bot, to prove crash safety.

`BOT_FAILPOINT=<name>` in the environment makes the process SIGKILL itself when it reaches that
point (the crash tests run `bot rebalance` as a subprocess). In-process tests `arm()` a point
instead, which raises `SimulatedCrash` there: everything committed before it stays, exactly as
after a kill. Unarmed, a failpoint costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

ENV = "BOT_FAILPOINT"

BEFORE_INTENT = "before_intent"
AFTER_INTENT_COMMIT = "after_intent_commit"
AFTER_RESPONSE = "after_response"  # the venue answered; the outcome is not committed yet
AFTER_OUTCOME_COMMIT = "after_outcome_commit"
ALL = (BEFORE_INTENT, AFTER_INTENT_COMMIT, AFTER_RESPONSE, AFTER_OUTCOME_COMMIT)

_armed: set[str] = set()


class SimulatedCrash(BaseException):
    """Raised at an armed failpoint; a BaseException so that no `except Exception` absorbs it."""


def arm(name: str) -> None:
    _armed.add(name)


def disarm_all() -> None:
    _armed.clear()


def failpoint(name: str) -> None:
    if name in _armed:
        _armed.discard(name)
        raise SimulatedCrash(name)
    if os.environ.get(ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
