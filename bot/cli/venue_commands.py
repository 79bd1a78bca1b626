"""`bot venue resume`: a person says a halted venue may send again."""

from __future__ import annotations

from typing import Annotated

import typer

from bot.cli.app import _group, app, fail, load, open_ledger, out

venue_app = _group("One venue: resume it after a fatal refusal halted its transfers.")
app.add_typer(venue_app, name="venue")


@venue_app.command("resume")
def resume_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="The venue, as named in config.")],
    reason: Annotated[
        str | None,
        typer.Option("--reason", metavar="TEXT", help="What you fixed (recorded)."),
    ] = None,
    by: Annotated[
        str | None,
        typer.Option("--by", metavar="NAME", help="Who (recorded); default $USER."),
    ] = None,
) -> None:
    """End a venue's halt (a fatal refusal stopped its transfers): its next cycle sends again.
    Recorded with who and why. A changed config section or API key ends a halt by itself."""
    from bot.cli.cycle_commands import _login_name
    from bot.ledger.standing import RESUMED

    if reason is None or not reason.strip():
        fail('--reason: required; say what you fixed (--reason "enabled Universal Transfer")')
    reason = " ".join(reason.split())
    operator = by if by is not None else _login_name()
    if not operator.strip():
        fail("--by: empty; give your name (--by alice)")
    config = load(ctx)
    if name not in config.venues:
        known = ", ".join(sorted(config.venues)) or "none"
        fail(f"venue {name}: not in config (venues: {known})")
    ledger = open_ledger(config)
    try:
        halt = ledger.end_halt(name, state=RESUMED, by=operator.strip(), reason=reason)
    finally:
        ledger.close()
    if halt is None:
        fail(f"venue {name}: not halted; nothing to resume (see bot status)")
    out.print(
        f"venue {name}: halt {halt.id} (since {halt.halted_at:%Y-%m-%d %H:%M:%S}Z: "
        f"{halt.error}) resumed by {halt.ended_by} (reason: {halt.end_reason}); its next cycle "
        "sends again",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
