"""`bot run` (the unattended scheduler), `bot status` (is it healthy?), `bot alerts test`,
`bot alerts send`."""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import Annotated

import typer

from bot.cli.app import (
    _group,
    app,
    fail,
    load,
    open_ledger,
    out,
    print_halts,
    print_json,
    run_async,
)
from bot.errors import UserFacingError

alerts_app = _group("Alert channels (apprise).")
app.add_typer(alerts_app, name="alerts")


@app.command("run")
def run_command(
    ctx: typer.Context,
    once: Annotated[
        bool,
        typer.Option("--once", help="Run one cycle now and exit (exit codes as bot rebalance)."),
    ] = False,
) -> None:
    """Run the jobs in config (schedule: rebalance, snapshot, reconcile, report, guard) until
    SIGINT/SIGTERM; one bot run per venue."""
    from bot.cli.cycle_commands import until_second_signal
    from bot.cycle.rebalance import hedged_venues, rebalance
    from bot.health import preflight
    from bot.present import output as render
    from bot.runtime import logs
    from bot.runtime.stopping import StopRequest
    from bot.scheduler.forever import run_forever
    from bot.venues.session import check_venues

    config = load(ctx)
    try:  # refuse a bad config now, not in a cycle (or in the first alert that never arrives)
        preflight.check(config)
        check_venues(config, hedged_venues(config))
    except UserFacingError as exc:
        fail(str(exc), exc.exit_code)
    ledger = open_ledger(config)

    def write(line: str) -> None:
        out.print(line, markup=False, highlight=False, soft_wrap=True)
        sys.stdout.flush()

    say = logs.line_printer(write)
    try:
        if once:  # a signal stops it as it stops `bot rebalance`
            stop = StopRequest("bot run --once")
            result = run_async(
                lambda: until_second_signal(
                    stop, lambda: rebalance(config, ledger, dry_run=False, command="run", stop=stop)
                )
            )
            say(render.cycle_line(result))
        else:
            run_async(lambda: run_forever(config, ledger, say))
            return
    finally:
        ledger.close()
    if stop.requested:
        raise typer.Exit(130)
    if print_halts(result.margin.execution.halted if result.margin else {}):
        raise typer.Exit(2)  # as bot rebalance: a halted venue waits for a person
    if result.failed:
        raise typer.Exit(1)


@app.command("status")
def status_command(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document.")] = False,
) -> None:
    """Is bot run running, how did each job do, what is open, what needs you (exit 1). Reads
    the ledger and lock files only, never a venue."""
    from datetime import UTC, datetime

    from bot.health import status

    config = load(ctx)
    ledger = open_ledger(config)
    try:
        now = datetime.now(UTC)
        sections = status.gather(config, ledger, now)
    finally:
        ledger.close()
    attention = status.needs_attention(sections)
    if as_json:
        print_json(status.as_json(sections, now))
    else:
        for section in sections:
            for line in section.lines:
                out.print(line, markup=False, highlight=False, soft_wrap=True)
        verdict = "needs attention: " + "; ".join(attention) if attention else "ok"
        out.print(verdict, markup=False, highlight=False, soft_wrap=True)
    if attention:
        raise typer.Exit(1)


@alerts_app.command("test")
def alerts_test_command(ctx: typer.Context) -> None:
    """Send a test message to every channel in alerts.urls; exit 1 when one did not take it."""
    delivered, channels = _send(ctx, "bot alerts test: this channel works", "info", "test")
    if delivered < channels:
        raise typer.Exit(1)


def _send(ctx: typer.Context, text: str, notify_type: str, verb: str) -> tuple[int, int]:
    """Send `text` to every channel in alerts.urls and say how many took it (`bot alerts test`,
    `bot alerts send`); returns (delivered, channels). No channel configured: exit 2."""
    from bot import bootstrap

    config = load(ctx)
    try:
        channels = bootstrap.channels(config)
    except UserFacingError as exc:
        fail(str(exc), exc.exit_code)
    if not len(channels):
        fail(
            "alerts.urls: no channel configured; add an apprise URL such as "
            "tgram://${TELEGRAM_TOKEN}/${TELEGRAM_CHAT}"
        )
    delivered = run_async(lambda: channels.send("bot", text, notify_type=notify_type))
    out.print(
        f"alerts {verb}: {delivered} of {len(channels)} channels took the message "
        f"({channels.describe()})",
        markup=False,
        highlight=False,
    )
    return delivered, len(channels)


class Severity(StrEnum):
    """apprise's notify types a message may be sent with (its icon and colour per channel)."""

    failure = "failure"
    warning = "warning"
    info = "info"


@alerts_app.command("send")
def alerts_send_command(
    ctx: typer.Context,
    text: Annotated[str, typer.Argument(help="The message.", show_default=False)],
    severity: Annotated[
        Severity,
        typer.Option("--severity", help="apprise's notify type: failure, warning or info."),
    ] = Severity.info,
) -> None:
    """Send TEXT to every channel in alerts.urls (systemd's OnFailure unit uses it); exit 1
    when no channel took it."""
    if not text.strip():
        fail('TEXT: empty message; give the text to send, such as "bot stopped on host-a"')
    delivered, _ = _send(ctx, text, severity.value, "send")
    if not delivered:
        raise typer.Exit(1)
