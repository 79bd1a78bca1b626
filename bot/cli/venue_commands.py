"""`bot venue pause|resume`: a person keeps the bot's hands off a venue, or says a venue a
fatal refusal halted (or they paused) may send again."""

from __future__ import annotations

from typing import Annotated

import typer

from bot.cli.app import _group, app, fail, load, open_ledger, out
from bot.cli.pause_commands import By, For, Reason, operator, pause, resume
from bot.model import PauseScope

venue_app = _group("One venue: pause it, or resume it after a pause or a halt.")
app.add_typer(venue_app, name="venue")

Name = Annotated[str, typer.Argument(metavar="NAME", help="The venue, as named in config.")]


@venue_app.command("pause")
def pause_command(
    ctx: typer.Context, name: Name, duration: For = None, reason: Reason = None, by: By = None
) -> None:
    """Keep the bot's moves off every hedge of a venue: still read and reported, never moved."""
    pause(ctx, PauseScope.VENUE, name, duration, reason, by)


@venue_app.command("resume")
def resume_command(ctx: typer.Context, name: Name, reason: Reason = None, by: By = None) -> None:
    """End a venue's pause, and its halt (a fatal refusal stopped its transfers; say what you
    fixed in --reason): its next cycle sends again. Recorded with who and why. A changed config
    section or API key ends a halt by itself."""
    from bot.ledger.standing import RESUMED

    config = load(ctx)
    if name not in config.venues:
        known = ", ".join(sorted(config.venues)) or "none"
        fail(f"venue {name}: not in config (venues: {known})")
    ledger = open_ledger(config)
    try:
        halted = ledger.halt_of(name)
    finally:
        ledger.close()
    if halted is not None and (reason is None or not reason.strip()):
        fail('--reason: required; say what you fixed (--reason "enabled Universal Transfer")')
    unpaused = resume(ctx, PauseScope.VENUE, name, reason, by)
    if halted is None:
        if not unpaused:
            fail(f"venue {name}: not halted or paused; nothing to resume (see bot status)")
        return
    assert reason is not None
    ledger = open_ledger(config)
    try:
        why = " ".join(reason.split())
        halt = ledger.end_halt(name, state=RESUMED, by=operator(by), reason=why)
    finally:
        ledger.close()
    if halt is None:  # ended meanwhile (its config or key changed)
        return
    out.print(
        f"venue {name}: halt {halt.id} (since {halt.halted_at:%Y-%m-%d %H:%M:%S}Z: "
        f"{halt.error}) resumed by {halt.ended_by} (reason: {halt.end_reason}); its next cycle "
        "sends again",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
