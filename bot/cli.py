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
from typer._click import exceptions as click_errors
from typer.core import TyperGroup

from bot import render
from bot.config import CONFIG_ENV, Config, config_path, load_config
from bot.cycle import inspect, rebalance, reconcile, venue_error_lines
from bot.errors import UserFacingError
from bot.ledger import Ledger
from bot.ledger import db as ledger_db
from bot.ledger.queries import TransferFilter, corrections_of, list_transfers
from bot.model import TransferStatus
from bot.redact import install_log_redaction, redact
from bot.usage import (
    ArgumentProblem,
    describe_usage_error,
    hoist_global_options,
    parse_choice,
    parse_port,
    parse_positive,
    parse_transfer_id,
    parse_when,
)
from bot.venues.errors import VenueError

T = TypeVar("T")

log = logging.getLogger("bot")


class BotGroup(TyperGroup):
    """The `bot` command: global options anywhere on the line, and every way a command can
    end (usage error, user error, unexpected exception) turned into one line and an exit code."""

    def main(self, args: Any = None, prog_name: str | None = None, **extra: Any) -> NoReturn:  # type: ignore[override]
        argv = hoist_global_options(sys.argv[1:] if args is None else args)
        extra["standalone_mode"] = False
        try:
            code = super().main(argv, "bot", **extra)
        except click_errors.UsageError as exc:
            code = _print_error(describe_usage_error(exc), 2)
        except typer.Abort:
            code = 130
        except click_errors.ClickException as exc:
            code = _print_error(exc.format_message(), exc.exit_code)
        except UserFacingError as exc:
            code = _print_error(str(exc), exc.exit_code)
        except VenueError as exc:
            code = _print_error(f"venue {exc}", 2)
        except Exception as exc:  # the last line of defence: never a traceback on screen
            code = _print_error(_unexpected(exc, argv), 1)
        sys.exit(code if isinstance(code, int) else 0)


def _help_when_bare(ctx: typer.Context) -> None:
    """A group called without a command prints its help and succeeds."""
    if ctx.invoked_subcommand is None:
        typer.echo(ctx.get_help())
        raise typer.Exit(0)


def _group(help_text: str) -> typer.Typer:
    group = typer.Typer(help=help_text, invoke_without_command=True, rich_markup_mode=None)
    group.callback()(_help_when_bare)
    return group


app = typer.Typer(
    cls=BotGroup,
    help="Keep funding-rate hedges funded: move collateral between spot and futures wallets. "
    "--config and -v may also follow the command (bot plan --config X).",
    invoke_without_command=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
ledger_app = _group("Audit the ledger of runs and transfers.")
config_app = _group("Validate the configuration.")
paper_app = _group("The built-in paper exchange.")
db_app = _group("Ledger database schema.")
app.add_typer(ledger_app, name="ledger")
app.add_typer(config_app, name="config")
app.add_typer(paper_app, name="paper")
app.add_typer(db_app, name="db")

out = Console()
if not out.is_terminal:
    out = Console(width=160)  # piped output: do not wrap tables at 80 columns
err = Console(stderr=True)


class Context:
    def __init__(self, config_file: Path, *, from_env: bool) -> None:
        self.config_file = config_file
        self.from_env = from_env
        self._config: Config | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self.config_file, from_env=self.from_env)
        return self._config


@app.callback()
def main_options(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            metavar="PATH",
            help=f"Path to config.yaml (default: ${CONFIG_ENV}, else ./config.yaml).",
        ),
    ] = None,
    verbose: Annotated[
        int,
        typer.Option(
            "--verbose",
            "-v",
            count=True,
            show_default=False,
            help="-v: info, -vv: debug (ccxt requests).",
        ),
    ] = 0,
) -> None:
    install_log_redaction()
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ctx.obj = Context(config_path(config), from_env=config is None and CONFIG_ENV in os.environ)
    _help_when_bare(ctx)


def _ctx(ctx: typer.Context) -> Context:
    return ctx.obj  # type: ignore[no-any-return]


def _print_error(message: str, code: int) -> int:
    """One line on stderr, whatever the message held (newlines, secrets)."""
    line = " ".join(redact(message).split())
    print(f"error: {line}", file=sys.stderr, flush=True)
    return code


def _unexpected(exc: BaseException, argv: list[str]) -> str:
    """Log the traceback where the user can find it; say in one line what failed and where."""
    command = " ".join(a for a in argv if not a.startswith("-"))[:60] or "bot"
    log_file = _write_traceback(exc)
    where = f"details: {log_file}" if log_file else "details: run again with -v"
    reason = str(exc) or type(exc).__name__
    return f"{command} failed unexpectedly: {type(exc).__name__}: {reason} ({where})"


def _write_traceback(exc: BaseException) -> Path | None:
    import tempfile
    import traceback

    log.debug("unexpected error", exc_info=exc)
    text = "".join(traceback.format_exception(exc))
    try:
        handle, name = tempfile.mkstemp(prefix="bot-error-", suffix=".log")
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(redact(text))
    except OSError:
        return None
    return Path(name)


def fail(message: str, code: int = 2) -> NoReturn:
    _print_error(message, code)
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
            "venue_errors": dict(
                zip(result.venue_errors, venue_error_lines(result.venue_errors), strict=True)
            ),
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
    _exit_for_venues(result.venue_errors)
    if result.failed:
        raise typer.Exit(1)


def _exit_for_venues(errors: dict[str, Exception]) -> None:
    """One line per venue left out; exit 2 when its config is at fault, else 1. The other
    venues have done their work by now."""
    if not errors:
        return
    for line in venue_error_lines(errors):
        _print_error(line, 1)
    raise typer.Exit(2 if any(isinstance(e, UserFacingError) for e in errors.values()) else 1)


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
) -> None:
    """Settle pending/unknown transfers against each venue's transfer history now; or, with
    --assign, settle one as the venue transfer you name."""
    if assign_ids is not None:
        _assign(ctx, assign_ids, reason=reason, by=by, force=force)
        return
    for option, given in (("--reason", reason), ("--by", by), ("--force", force or None)):
        if given is not None:
            fail(f"{option}: only with --assign ID TRAN_ID")
    config = _load(ctx)
    ledger = open_ledger(config)
    try:
        report = run_async(lambda: reconcile(config, ledger))
    finally:
        ledger.close()
    render.print_reconciled(out, report, quiet_when_empty=False)
    if report.still_open:
        raise typer.Exit(1)


def _assign(
    ctx: typer.Context, ids: tuple[str, str], *, reason: str | None, by: str | None, force: bool
) -> None:
    """`bot reconcile --assign ID TRAN_ID`: one line; exit 2 for bad input, 1 for a venue."""
    from bot.assign import assign

    transfer_id = _argument(lambda: parse_transfer_id("--assign ID", ids[0]))
    tran_id = ids[1].strip()
    if not tran_id:
        fail("--assign TRAN_ID: empty; give the venue's transfer id (--assign 12 987654321)")
    if reason is None or not reason.strip():
        fail('--reason: required with --assign; say why (--reason "ticket 4411: two look-alikes")')
    reason = " ".join(reason.split())  # recorded and echoed as one line
    operator = by if by is not None else _login_name()
    if not operator.strip():
        fail("--by: empty; give your name (--by alice)")
    config = _load(ctx)
    ledger = open_ledger(config)
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
    out.print(render.assignment_line(done), markup=False, highlight=False, soft_wrap=True)


def _login_name() -> str:
    """$USER, else the login name; refuses when neither can be found."""
    import getpass

    try:
        return os.environ.get("USER") or getpass.getuser()
    except (KeyError, OSError):
        fail("--by: cannot tell who you are ($USER is unset); give your name (--by alice)")


@app.command("plan")
def plan_command(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON.")] = False,
) -> None:
    """Show what would move and why, with the numbers. Records nothing."""
    config = _load(ctx)
    _, plan, errors = run_async(lambda: inspect(config))
    if as_json:
        print(json.dumps(render.plan_json(plan), indent=2))
    else:
        render.print_plan(out, plan)
    _exit_for_venues(errors)


@app.command("balances")
def balances_command(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print balances as JSON.")] = False,
) -> None:
    """Show spot and futures wallets, positions, funding and each hedge's margin ratio."""
    config = _load(ctx)
    state, plan, errors = run_async(lambda: inspect(config))
    if as_json:
        payload = render.state_json(state)
        payload["unreachable"] = dict(zip(errors, venue_error_lines(errors), strict=True))
        print(json.dumps(payload, indent=2))
    else:
        render.print_state(out, state, plan)
        for name in sorted(errors):
            out.print(f"{name}: unreachable (see the error below)", markup=False)
    _exit_for_venues(errors)


@app.command("run")
def run_command(
    ctx: typer.Context,
    once: Annotated[
        bool,
        typer.Option("--once", help="Run one cycle now and exit (exit codes as bot rebalance)."),
    ] = False,
) -> None:
    """Run the cycle on the schedule in config (schedule.interval_seconds), unattended."""
    from bot.cycle import hedged_venues
    from bot.scheduler import run_forever
    from bot.venues.session import check_venues

    config = _load(ctx)
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


# ledger -------------------------------------------------------------------------------------


def _argument(parse: Callable[[], T]) -> T:
    """Run an argument parser; a bad value is one line and exit 2."""
    try:
        return parse()
    except ArgumentProblem as exc:
        fail(str(exc))


@ledger_app.command("list")
def ledger_list(
    ctx: typer.Context,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print an array of JSON objects.")
    ] = False,
    status: Annotated[
        str | None,
        typer.Option(
            "--status",
            metavar="STATUS",
            help="Only this status: " + ", ".join(s.value for s in TransferStatus) + ".",
        ),
    ] = None,
    venue: Annotated[
        str | None, typer.Option("--venue", metavar="NAME", help="Only this venue.")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            metavar="WHEN",
            help="Only transfers created at or after this time: 2026-11-01, "
            "2026-11-01T08:00Z (UTC unless it says otherwise) or an age such as 7d or 12h.",
        ),
    ] = None,
    limit: Annotated[
        str | None, typer.Option("--limit", metavar="N", help="Only the newest N.")
    ] = None,
) -> None:
    """List transfers, oldest first."""
    now = datetime.now(UTC)
    where = TransferFilter(
        status=_argument(
            lambda: (
                TransferStatus(parse_choice("--status", status, _STATUSES))
                if status is not None
                else None
            )
        ),
        venue=venue,
        since=_argument(lambda: parse_when("--since", since, now=now) if since else None),
        limit=_argument(lambda: parse_positive("--limit", limit) if limit is not None else None),
    )
    config = _load(ctx)
    ledger = open_ledger(config)
    try:
        records = list_transfers(ledger, where)
        corrections = corrections_of(ledger, [r.id for r in records])
    finally:
        ledger.close()
    if as_json:
        print(
            json.dumps(
                [render.transfer_json(r, corrections.get(r.id, [])) for r in records], indent=2
            )
        )
    else:
        render.print_transfers(out, records, "Transfers", corrections=corrections)


_STATUSES = [status.value for status in TransferStatus]


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
    """Show what each configured venue can do: balances, positions, funding, transfers...
    Every configured venue is listed; one that cannot be reached is marked (exit 1)."""
    from bot.venues.session import open_venues

    config = _load(ctx)
    failures: dict[str, Exception] = {}

    async def read() -> list:  # type: ignore[type-arg]
        async with open_venues(config, dry_run=True, failures=failures) as venues:
            return [(name, venue.capabilities()) for name, venue in venues.items()]

    rows = run_async(read)
    lines = dict(zip(failures, venue_error_lines(failures), strict=True))
    render.print_capabilities(out, sorted(rows), unreachable=lines)
    _exit_for_venues(failures)


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
        str, typer.Option("--port", metavar="PORT", help="0 picks a free port.")
    ] = "8765",
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
    port_number = _argument(lambda: parse_port("--port", port))
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
                port_number,
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


@paper_app.command("reset")
def paper_reset(
    ctx: typer.Context,
    keep_ledger: Annotated[
        bool,
        typer.Option(
            "--keep-ledger",
            help="Reset only the paper accounts; keep the ledger (its rows stay true history).",
        ),
    ] = False,
) -> None:
    """Start over on paper: delete the paper accounts' state and, unless --keep-ledger, the
    SQLite ledger too, so that the ledger and the paper wallets agree again."""
    from bot.ledger.locks import file_venue_locks
    from bot.venues.session import paper_state_path

    config = _load(ctx)
    paper = sorted(name for name, venue in config.venues.items() if venue.paper)
    live = sorted(name for name, venue in config.venues.items() if not venue.paper)
    ledger_file = config.sqlite_file
    if not keep_ledger and live:
        fail(
            f"the ledger also records live venues ({', '.join(live)}); "
            "use bot paper reset --keep-ledger to reset only the paper accounts"
        )
    if not keep_ledger and ledger_file is None:
        fail("ledger.url is not a SQLite file; use bot paper reset --keep-ledger")
    removed: list[Path] = []
    with file_venue_locks(config.data_dir / "locks", paper, "paper reset"):
        files = [paper_state_path(config, name, config.venues[name]) for name in paper]
        if not keep_ledger and ledger_file is not None:
            files += [ledger_file, ledger_file.with_name(ledger_file.name + "-journal")]
        for path in files:
            try:
                path.unlink()
            except FileNotFoundError:
                continue
            except OSError as exc:
                fail(f"cannot delete {path} ({exc.strerror}); delete it by hand")
            removed.append(path)
    for path in removed:
        out.print(f"removed {path}", markup=False, highlight=False)
    out.print(
        "paper reset: the next command starts fresh paper accounts"
        + ("" if keep_ledger else " and a new ledger"),
        markup=False,
        highlight=False,
    )


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
