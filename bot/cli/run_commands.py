"""`bot run`: the unattended scheduler."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from bot.cli.app import app, fail, load, open_ledger, out, run_async
from bot.errors import UserFacingError


@app.command("run")
def run_command(
    ctx: typer.Context,
    once: Annotated[
        bool,
        typer.Option("--once", help="Run one cycle now and exit (exit codes as bot rebalance)."),
    ] = False,
) -> None:
    """Run the cycle on the schedule in config (schedule.interval_seconds), unattended."""
    from bot import render
    from bot.cycle import hedged_venues, rebalance
    from bot.scheduler import run_forever
    from bot.venues.session import check_venues

    config = load(ctx)
    try:
        check_venues(config, hedged_venues(config))  # refuse a bad config now, not in a cycle
    except UserFacingError as exc:
        fail(str(exc), exc.exit_code)
    ledger = open_ledger(config)

    def say(line: str) -> None:
        out.print(line, markup=False, highlight=False, soft_wrap=True)
        sys.stdout.flush()

    try:
        if once:
            result = run_async(lambda: rebalance(config, ledger, dry_run=False, command="run"))
            say(render.cycle_line(result))
        else:
            run_async(lambda: run_forever(config, ledger, say))
            return
    finally:
        ledger.close()
    if result.failed:
        raise typer.Exit(1)
