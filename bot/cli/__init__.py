"""The `bot` command: parse arguments, call the use case, render the result. No logic here.

One module per group of commands; each imports what it needs when it runs, so that `bot --help`
loads neither ccxt nor SQLAlchemy. Exit codes (README "Exit codes"): 0 done or nothing to do;
1 transient, a later run may settle it (a transfer failed or its outcome is unknown, a venue
unreachable, the ledger locked); 2 a person must fix something (bad config or arguments, a
ledger that is not a database or is newer than this bot, an unwritable data dir, another `bot
run` holding the venues, a venue unusable or halted). Errors are one line on stderr that names
the field, file or venue and the fix.
"""

from bot.cli import (  # noqa: F401  (importing a command module registers its commands)
    carry_commands,
    cycle_commands,
    ledger_commands,
    paper_commands,
    pause_commands,
    report_commands,
    run_commands,
    setup_commands,
    venue_commands,
)
from bot.cli.app import app, main

__all__ = ["app", "main"]
