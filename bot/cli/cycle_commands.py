"""The cycle's commands: `rebalance`, `reconcile` (and `--assign`), `plan`, `balances`."""

from __future__ import annotations

import os
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from bot.cli.app import (
    app,
    argument,
    exit_for_venues,
    fail,
    load,
    open_ledger,
    out,
    print_halts,
    print_json,
    run_async,
)
from bot.errors import UserFacingError, VenueError
from bot.present.usage import parse_transfer_id
from bot.runtime.stopping import StopRequest

if TYPE_CHECKING:
    from bot.config import Config
    from bot.model import Paused

T = TypeVar("T")


async def until_second_signal(stop: StopRequest, work: Callable[[], Awaitable[T]]) -> T:
    """`work` with `bot run`'s contract for signals: the first SIGINT/SIGTERM asks the cycle to
    stop (the transfer in flight finishes its call and its ledger write, nothing new is sent),
    a second stops at once (what was in flight stays pending/unknown for reconciliation)."""
    import asyncio
    import signal

    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    assert main is not None
    again = False

    def on_signal(signum: int) -> None:
        nonlocal again
        name = signal.Signals(signum).name
        if stop.requested:
            again = True
            main.cancel()
            return
        stop.request(name)
        print(
            f"{stop.command}: stopping ({name}): the transfer in flight finishes, nothing new "
            "is sent; a second signal stops at once",
            file=sys.stderr,
            flush=True,
        )

    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, on_signal, sig)
        except (ValueError, RuntimeError):  # not the main thread: the default handling stays
            continue
        installed.append(sig)
    try:
        return await work()
    except asyncio.CancelledError:
        if again:
            raise KeyboardInterrupt from None
        raise
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


@app.command("rebalance")
def rebalance_command(
    ctx: typer.Context,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Read, plan, size and record; move nothing.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Run one cycle: read, plan, move what is needed, record everything."""
    from bot.cycle.rebalance import rebalance, venue_error_lines
    from bot.present import output as render

    config = load(ctx)
    ledger = open_ledger(config)
    stop = StopRequest("bot rebalance")
    try:
        result = run_async(
            lambda: until_second_signal(
                stop, lambda: rebalance(config, ledger, dry_run=dry_run, stop=stop)
            )
        )
    finally:
        ledger.close()
    execution = result.margin.execution if result.margin else None
    halted = execution.halted if execution else {}
    not_moved = execution.not_moved if execution else []
    if as_json:
        payload = {
            "run_id": result.run_id,
            "dry_run": dry_run,
            "reconciled": [render.transfer_json(t) for t in result.reconciled.resolved],
            "unsettled": [render.transfer_json(t) for t in result.reconciled.still_open],
            "plan": render.plan_json(result.plan),
            "transfers": [render.transfer_json(t) for t in result.transfers],
            "blocked": [b.message for b in result.blocked],
            # isolated hedges' margin legs and half-done moves
            "margin_legs": result.margin.lines if result.margin else [],
            "half_done_moves": result.margin.half_done if result.margin else [],
            "venue_errors": dict(
                zip(result.venue_errors, venue_error_lines(result.venue_errors), strict=True)
            ),
            # venues a fatal refusal halted, and moves with nothing to move (no transfer row)
            "halted": {name: halt.message() for name, halt in sorted(halted.items())},
            "nothing_to_move": [n.message() for n in not_moved],
        }
        print_json(payload)
    else:
        render.print_reconciled(out, result.reconciled)
        render.print_plan(out, result.plan)
        title = f"Run {result.run_id}" + (" (dry run: nothing moved)" if dry_run else "")
        render.print_transfers(out, result.transfers, title, show_created=False)
        render.print_manual_actions(out, result.transfers)
        for blocked in result.blocked:
            out.print(f"blocked: {blocked.message}", markup=False, highlight=False)
        for line in result.margin.lines if result.margin else []:
            out.print(f"margin: {line}", markup=False, highlight=False)
        for line in result.margin.half_done if result.margin else []:
            out.print(f"half done: {line}", markup=False, highlight=False)
        for standing in not_moved:
            out.print(
                f"nothing to move: {standing.message()} (seen {standing.count} times)",
                markup=False,
                highlight=False,
            )
    was_halted = print_halts(halted)
    exit_for_venues(result.venue_errors, halted=was_halted)
    if stop.requested:  # interrupted: what was done is shown and recorded
        raise typer.Exit(130)
    if was_halted:  # a person must fix the venue's key or permissions, or resume it
        raise typer.Exit(2)
    if result.failed:
        raise typer.Exit(1)


@app.command("reconcile")
def reconcile_command(
    ctx: typer.Context,
    assign_ids: Annotated[
        tuple[str, str] | None,
        typer.Option(
            "--assign",
            metavar="ID TRAN_ID",
            help="Settle ledger transfer ID (pending/unknown) as the venue's transfer TRAN_ID, "
            "after checking the venue's history: same asset, direction and exact amount, held "
            "by no other row. Needs --reason.",
        ),
    ] = None,
    reason: Annotated[
        str | None,
        typer.Option("--reason", metavar="TEXT", help="With --assign: why (recorded)."),
    ] = None,
    by: Annotated[
        str | None,
        typer.Option(
            "--by",
            metavar="NAME",
            help="With --assign: who (recorded); default $USER or the login name.",
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="With --assign, on a venue without a transfer history API only: record it "
            "unchecked, on your word.",
        ),
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print what was settled as JSON.")
    ] = False,
) -> None:
    """Settle pending/unknown transfers against each venue's transfer history now; or, with
    --assign, settle one as the venue transfer you name."""
    if assign_ids is not None:
        _assign(ctx, assign_ids, reason=reason, by=by, force=force, as_json=as_json)
        return
    for option, given in (("--reason", reason), ("--by", by), ("--force", force or None)):
        if given is not None:
            fail(f"{option}: only with --assign ID TRAN_ID")
    from dataclasses import replace

    from bot.cycle.rebalance import reconcile, venue_error_lines
    from bot.present import output as render

    config = load(ctx)
    ledger = open_ledger(config)
    try:
        report = run_async(lambda: reconcile(config, ledger))
    finally:
        ledger.close()
    # an unreachable venue is said once, on stderr, as `bot rebalance` says it
    venue_lines = set(venue_error_lines(report.venue_errors))
    shown = replace(report, errors=[e for e in report.errors if e not in venue_lines])
    if as_json:
        payload = render.reconcile_json(shown)
        payload["venue_errors"] = dict(
            zip(report.venue_errors, venue_error_lines(report.venue_errors), strict=True)
        )
        print_json(payload)
    else:
        render.print_reconciled(out, shown, quiet_when_empty=False)
    exit_for_venues(report.venue_errors)  # exit 2 for a venue's config, else 1
    if report.unsettled:
        raise typer.Exit(1)


def _assign(
    ctx: typer.Context,
    ids: tuple[str, str],
    *,
    reason: str | None,
    by: str | None,
    force: bool,
    as_json: bool = False,
) -> None:
    """`bot reconcile --assign ID TRAN_ID`: one line; exit 2 for bad input, 1 for a venue."""
    from bot.present import output as render
    from bot.transfers.assign import assign

    transfer_id = argument(lambda: parse_transfer_id("--assign ID", ids[0]))
    tran_id = ids[1].strip()
    if not tran_id:
        fail("--assign TRAN_ID: empty; give the venue's transfer id (--assign 12 987654321)")
    if reason is None or not reason.strip():
        fail('--reason: required with --assign; say why (--reason "ticket 4411: two look-alikes")')
    reason = " ".join(reason.split())  # recorded and echoed as one line
    operator = by if by is not None else _login_name()
    if not operator.strip():
        fail("--by: empty; give your name (--by alice)")
    config = load(ctx)
    ledger = open_ledger(config)
    import asyncio  # here, not at the top: `bot --help` needs no event loop

    try:
        done = asyncio.run(
            assign(
                config, ledger, transfer_id, tran_id, operator=operator, reason=reason, force=force
            )
        )
    except VenueError as exc:
        fail(f"venue {exc}; nothing was recorded, run it again when the venue answers", 1)
    except UserFacingError as exc:
        fail(str(exc), exc.exit_code)
    finally:
        ledger.close()
    if as_json:
        print_json(
            {
                "transfer": render.transfer_json(done.transfer),
                "exchange_id": done.exchange_id,
                "operator": done.operator,
                "reason": done.reason,
                "checked": done.checked,
            }
        )
        return
    out.print(render.assignment_line(done), markup=False, highlight=False, soft_wrap=True)


def _login_name() -> str:
    """$USER, else the login name; refuses when neither can be found."""
    import getpass

    try:
        return os.environ.get("USER") or getpass.getuser()
    except (KeyError, OSError):
        fail("--by: cannot tell who you are ($USER is unset); give your name (--by alice)")


def standing_pauses(config: Config) -> list[Paused]:
    """The pauses standing now, read-only from the ledger (`bot plan` shows their moves as
    notes, as a cycle would)."""
    from bot.bootstrap import open_audit_ledger

    try:
        ledger = open_audit_ledger(config)
    except UserFacingError as exc:
        fail(str(exc), exc.exit_code)
    try:
        return [record.paused for record in ledger.active_pauses()]
    finally:
        ledger.close()


@app.command("plan")
def plan_command(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON.")] = False,
) -> None:
    """Show what would move and why, with the numbers, sized as rebalance sizes. Records
    nothing."""
    from bot.cycle.rebalance import inspect
    from bot.present import output as render
    from bot.transfers.sizing import preview_sizing

    config = load(ctx)
    paused = standing_pauses(config)
    state, plan, errors = run_async(lambda: inspect(config, paused=paused))
    plan = preview_sizing(plan, state, config.transfers)
    if as_json:
        print_json(render.plan_json(plan))
    else:
        render.print_plan(out, plan, previewed=True)
    exit_for_venues(errors)


@app.command("balances")
def balances_command(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print balances as JSON.")] = False,
) -> None:
    """Show spot and futures wallets, positions, funding and each hedge's margin ratio."""
    from bot.cycle.rebalance import inspect, venue_error_lines
    from bot.present import output as render

    config = load(ctx)
    state, plan, errors = run_async(lambda: inspect(config))
    if as_json:
        payload = render.state_json(state)
        payload["margins"] = render.margins_json(state, config.hedges)
        payload["unreachable"] = dict(zip(errors, venue_error_lines(errors), strict=True))
        print_json(payload)
    else:
        render.print_state(out, state, plan)
        for name in sorted(errors):
            out.print(f"{name}: unreachable (see the error below)", markup=False)
    exit_for_venues(errors)
