"""The `bot` command: parse arguments, call the use case, render the result. No logic here.

Exit codes: 0 done or nothing to do; 1 the cycle ran but a transfer failed (or its outcome is
unknown); 2 bad config, bad arguments, or a venue that cannot be used. Errors are one line on
stderr that names the field or venue and the fix.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console

from bot import render
from bot.config import CONFIG_ENV, Config, config_path, load_config
from bot.cycle import inspect, rebalance, reconcile
from bot.errors import UserFacingError
from bot.ledger import Ledger
from bot.ledger import db as ledger_db
from bot.ledger.queries import TransferFilter, list_transfers
from bot.model import TransferStatus
from bot.redact import install_log_redaction, redact
from bot.venues.errors import VenueError

T = TypeVar("T")

app = typer.Typer(
    help="Keep funding-rate hedges funded: move collateral between spot and futures wallets.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
ledger_app = typer.Typer(help="Audit the ledger of runs and transfers.", no_args_is_help=True)
config_app = typer.Typer(help="Validate the configuration.", no_args_is_help=True)
paper_app = typer.Typer(help="The built-in paper exchange.", no_args_is_help=True)
db_app = typer.Typer(help="Ledger database schema.", no_args_is_help=True)
app.add_typer(ledger_app, name="ledger")
app.add_typer(config_app, name="config")
app.add_typer(paper_app, name="paper")
app.add_typer(db_app, name="db")

out = Console()
if not out.is_terminal:
    out = Console(width=160)  # piped output: do not wrap tables at 80 columns
err = Console(stderr=True)


class Context:
    def __init__(self, config_file: Path) -> None:
        self.config_file = config_file
        self._config: Config | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self.config_file)
        return self._config


@app.callback()
def main_options(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            envvar=CONFIG_ENV,
            help="Path to config.yaml.",
            show_default="./config.yaml",
        ),
    ] = None,
    verbose: Annotated[
        int,
        typer.Option("--verbose", "-v", count=True, help="-v: info, -vv: debug (ccxt requests)."),
    ] = 0,
) -> None:
    install_log_redaction()
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ctx.obj = Context(config_path(config))


def _ctx(ctx: typer.Context) -> Context:
    return ctx.obj  # type: ignore[no-any-return]


def fail(message: str, code: int = 2) -> NoReturn:
    err.print(f"error: {redact(message)}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def run_async(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine; user-facing and venue errors become one line and exit 2."""
    try:
        return asyncio.run(factory())
    except UserFacingError as exc:
        fail(str(exc), exc.exit_code)
    except VenueError as exc:
        fail(f"venue {exc}")


def open_ledger(config: Config) -> Ledger:
    try:
        return Ledger.open(config.ledger_url)
    except UserFacingError as exc:
        fail(str(exc), exc.exit_code)


def _load(ctx: typer.Context) -> Config:
    try:
        return _ctx(ctx).config
    except UserFacingError as exc:
        fail(str(exc), exc.exit_code)


# the cycle ----------------------------------------------------------------------------------


@app.command("rebalance")
def rebalance_command(
    ctx: typer.Context,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Read, plan, size and record; move nothing.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Run one cycle: read, plan, move what is needed, record everything."""
    config = _load(ctx)
    ledger = open_ledger(config)
    try:
        result = run_async(lambda: rebalance(config, ledger, dry_run=dry_run))
    finally:
        ledger.close()
    if as_json:
        payload = {
            "run_id": result.run_id,
            "dry_run": dry_run,
            "reconciled": [render.transfer_json(t) for t in result.reconciled.resolved],
            "unsettled": [render.transfer_json(t) for t in result.reconciled.still_open],
            "plan": render.plan_json(result.plan),
            "transfers": [render.transfer_json(t) for t in result.transfers],
            "blocked": [b.message for b in result.blocked],
        }
        print(json.dumps(payload, indent=2))
    else:
        render.print_reconciled(out, result.reconciled)
        render.print_plan(out, result.plan)
        title = f"Run {result.run_id}" + (" (dry run: nothing moved)" if dry_run else "")
        render.print_transfers(out, result.transfers, title, show_created=False)
        render.print_manual_actions(out, result.transfers)
        for blocked in result.blocked:
            out.print(f"blocked: {blocked.message}", markup=False, highlight=False)
    if result.failed:
        raise typer.Exit(1)


@app.command("reconcile")
def reconcile_command(ctx: typer.Context) -> None:
    """Settle pending/unknown transfers against each venue's transfer history now."""
    config = _load(ctx)
    ledger = open_ledger(config)
    try:
        report = run_async(lambda: reconcile(config, ledger))
    finally:
        ledger.close()
    render.print_reconciled(out, report, quiet_when_empty=False)
    if report.still_open:
        raise typer.Exit(1)


@app.command("plan")
def plan_command(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON.")] = False,
) -> None:
    """Show what would move and why, with the numbers. Records nothing."""
    config = _load(ctx)
    _, plan = run_async(lambda: inspect(config))
    if as_json:
        print(json.dumps(render.plan_json(plan), indent=2))
    else:
        render.print_plan(out, plan)


@app.command("balances")
def balances_command(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print balances as JSON.")] = False,
) -> None:
    """Show spot and futures wallets, positions, funding and each hedge's margin ratio."""
    config = _load(ctx)
    state, plan = run_async(lambda: inspect(config))
    if as_json:
        print(json.dumps(render.state_json(state), indent=2))
    else:
        render.print_state(out, state, plan)


@app.command("run")
def run_command(
    ctx: typer.Context,
    once: Annotated[bool, typer.Option("--once", help="Run one cycle now and exit.")] = False,
) -> None:
    """Run the cycle on the schedule in config (schedule.interval_seconds), unattended."""
    from bot.scheduler import run_forever

    config = _load(ctx)
    ledger = open_ledger(config)
    try:
        run_async(lambda: run_forever(config, ledger, once=once))
    finally:
        ledger.close()


# ledger -------------------------------------------------------------------------------------


def _parse_since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a date; use YYYY-MM-DD or an ISO 8601 time such as 2026-11-01T08:00Z"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


@ledger_app.command("list")
def ledger_list(
    ctx: typer.Context,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print an array of JSON objects.")
    ] = False,
    status: Annotated[
        TransferStatus | None,
        typer.Option("--status", case_sensitive=False, help="Only this status."),
    ] = None,
    venue: Annotated[str | None, typer.Option("--venue", help="Only this venue.")] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help="Only transfers created at or after this date (UTC)."),
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Only the newest N.")] = None,
) -> None:
    """List transfers, oldest first."""
    where = TransferFilter(status=status, venue=venue, since=_parse_since(since), limit=limit)
    config = _load(ctx)
    ledger = open_ledger(config)
    try:
        records = list_transfers(ledger, where)
    finally:
        ledger.close()
    if as_json:
        print(json.dumps([render.transfer_json(r) for r in records], indent=2))
    else:
        render.print_transfers(out, records, "Transfers")


@ledger_app.command("verify")
def ledger_verify(ctx: typer.Context) -> None:
    """Check the ledger's hash chain: exit 1 if any row was altered, inserted or removed."""
    config = _load(ctx)
    ledger = open_ledger(config)
    try:
        report = ledger.verify()
    finally:
        ledger.close()
    if report.ok:
        out.print(f"ledger ok: {report.entries} journal entries, chain intact")
        return
    for problem in report.problems:
        err.print(problem, markup=False)
    raise typer.Exit(1)


# config, db, paper ---------------------------------------------------------------------------


@config_app.command("check")
def config_check(ctx: typer.Context) -> None:
    """Validate config.yaml and the environment, connect to every venue, check every hedge."""
    from bot.venues.session import open_venues

    config = _load(ctx)

    async def check() -> list[tuple[str, str, int]]:
        async with open_venues(config, dry_run=True) as venues:
            return [(name, venue.client.id, len(venue.hedges)) for name, venue in venues.items()]

    rows = run_async(check)
    out.print(f"config ok: {_ctx(ctx).config_file}")
    for name, exchange_id, hedges in rows:
        out.print(f"  venue {name}: {exchange_id}, {hedges} hedge(s), markets checked")
    out.print(f"  ledger: {redact(config.ledger_url)}")


@app.command("venues")
def venues_command(ctx: typer.Context) -> None:
    """Show what each configured venue can do: balances, positions, funding, transfers..."""
    from bot.venues.session import open_venues

    config = _load(ctx)

    async def read() -> list:  # type: ignore[type-arg]
        async with open_venues(config, dry_run=True) as venues:
            return [(name, venue.capabilities()) for name, venue in venues.items()]

    render.print_capabilities(out, run_async(read))


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Apply ledger migrations up to the newest schema."""
    config = _load(ctx)
    ledger = open_ledger(config)
    try:
        revision = ledger_db.current_revision(ledger.engine)
    finally:
        ledger.close()
    out.print(f"ledger schema at {revision} (head {ledger_db.head_revision()})")


@paper_app.command("serve")
def paper_serve(
    ctx: typer.Context,
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="0 picks a free port.")
    ] = 8765,
    host: Annotated[str, typer.Option("--host", help="Loopback only by default.")] = "127.0.0.1",
    state: Annotated[
        Path | None,
        typer.Option("--state", help="State file.", show_default="data/paper-serve.json"),
    ] = None,
    test_hooks: Annotated[
        bool,
        typer.Option("--test-hooks", help="Expose /_paper/ fault-injection routes (tests only)."),
    ] = False,
) -> None:
    """Run the paper exchange alone; any ccxt binance client can point its urls['api'] at it."""
    from bot.paper import PAPER_API_KEY, PAPER_SECRET, StateStore, serve_forever

    api_key = os.environ.get("PAPER_API_KEY", PAPER_API_KEY)
    secret = os.environ.get("PAPER_API_SECRET", PAPER_SECRET)
    store = StateStore(state or Path("data/paper-serve.json"))

    def announce(base_url: str) -> None:
        keys = (
            f"key {PAPER_API_KEY!r}, secret {PAPER_SECRET!r}"
            if (api_key, secret) == (PAPER_API_KEY, PAPER_SECRET)
            else "the key and secret in PAPER_API_KEY / PAPER_API_SECRET"
        )
        out.print(f"paper exchange on {base_url} ({keys}); Ctrl-C stops it", markup=False)
        sys.stdout.flush()

    try:
        asyncio.run(
            serve_forever(
                store,
                host,
                port,
                api_key=api_key,
                secret=secret,
                test_hooks=test_hooks,
                on_ready=announce,
            )
        )
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        fail(f"--port {port}: cannot listen on {host} ({exc.strerror}); pick another port")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
