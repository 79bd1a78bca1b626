"""`bot run`: the jobs on their schedules until SIGINT/SIGTERM (`bot.scheduler.forever`).

This package's own import is light: importing it loads neither APScheduler, the venues nor
ccxt. `run_forever`, `trigger_of` and `jobs_line` are loaded from `forever` when first asked
for.
"""

from __future__ import annotations

from typing import Any

_FOREVER = ("run_forever", "trigger_of", "jobs_line", "STOP_GRACE_SECONDS")


def __getattr__(name: str) -> Any:
    if name in _FOREVER:
        from bot.scheduler import forever

        return getattr(forever, name)
    raise AttributeError(f"module 'bot.scheduler' has no attribute {name!r}")
