"""`bot hedge pause|resume` and `bot venue pause` (with `bot venue resume`, in
venue_commands.py): a person keeps the bot's hands off a hedge or a whole venue for a while.
Recorded in the ledger with who and why; a pause with `--for` ends by itself."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import typer

from bot.cli.app import _group, app, fail, load, open_ledger, out
from bot.model import PauseScope

if TYPE_CHECKING:
    from bot.config import Config

hedge_app = _group("One hedge: pause the bot's moves on it while you adjust it by hand.")
app.add_typer(hedge_app, name="hedge")

Name = Annotated[str, typer.Argument(metavar="NAME", help="As named in config.")]
For = Annotated[
    str | None,
    typer.Option("--for", metavar="DURATION", help="End the pause by itself after 30m, 2h, 1d."),
]
Reason = Annotated[
    str | None, typer.Option("--reason", metavar="TEXT", help="Why (recorded; required).")
]
By = Annotated[
    str | None, typer.Option("--by", metavar="NAME", help="Who (recorded); default $USER.")
]


def operator(by: str | None) -> str:
    from bot.cli.cycle_commands import _login_name

    who = (by if by is not None else _login_name()).strip()
    if not who:
        fail("--by: empty; give your name (--by alice)")
    return who


def configured(config: Config, scope: PauseScope, name: str) -> None:
    """A pause names a hedge or venue of the config; anything else is one line, exit 2."""
    known = config.hedges if scope is PauseScope.HEDGE else config.venues
    if name not in known:
        listed = ", ".join(sorted(known)) or "none"
        fail(f"{scope.value} {name}: not in config ({scope.value}s: {listed})")


def until_of(duration: str | None, now: datetime) -> datetime | None:
    from bot.config import parse_duration

    if duration is None:
        return None
    try:
        return now + timedelta(seconds=parse_duration(duration))
    except ValueError as exc:
        fail(f"--for: {exc}")


def pause(
    ctx: typer.Context,
    scope: PauseScope,
    name: str,
    duration: str | None,
    reason: str | None,
    by: str | None,
) -> None:
    """Record the pause and say what it does; an unknown name or no reason records nothing."""
    from bot.ledger.store import utc_now

    if reason is None or not reason.strip():
        fail('--reason: required; say why (--reason "adjusting the short by hand")')
    who = operator(by)
    config = load(ctx)
    configured(config, scope, name)
    until = until_of(duration, utc_now())
    ledger = open_ledger(config)
    try:
        why = " ".join(reason.split())
        record, new = ledger.pause(scope, name, by=who, reason=why, until=until)
    finally:
        ledger.close()
    if not new:
        fail(f"{record.paused.words()} (since {record.paused_at:%Y-%m-%d %H:%M}Z): already paused")
    what = "every hedge on it is" if scope is PauseScope.VENUE else "it is"
    out.print(
        f"{record.paused.words()}; {what} read and reported, never moved (the guard included), "
        f"until {'then' if until else f'bot {scope.value} resume {name}'}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


def resume(
    ctx: typer.Context, scope: PauseScope, name: str, reason: str | None, by: str | None
) -> bool:
    """End the pause of `name`; False when none stands (the caller says so)."""
    who = operator(by)
    config = load(ctx)
    configured(config, scope, name)
    ledger = open_ledger(config)
    try:
        why = " ".join((reason or "").split()) or "resumed by hand"
        record = ledger.resume(scope, name, by=who, reason=why)
    finally:
        ledger.close()
    if record is None:
        return False
    out.print(
        f"{scope.value} {name}: pause {record.id} ({record.reason}) resumed by {record.ended_by}; "
        "its next cycle moves it again",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    return True


@hedge_app.command("pause")
def hedge_pause(
    ctx: typer.Context, name: Name, duration: For = None, reason: Reason = None, by: By = None
) -> None:
    """Keep the bot's moves off a hedge: still read, reported and alerted on, never moved."""
    pause(ctx, PauseScope.HEDGE, name, duration, reason, by)


@hedge_app.command("resume")
def hedge_resume(ctx: typer.Context, name: Name, reason: Reason = None, by: By = None) -> None:
    """End a hedge's pause: its next cycle moves it again."""
    if not resume(ctx, PauseScope.HEDGE, name, reason, by):
        fail(f"hedge {name}: not paused; nothing to resume (see bot status)")
