"""The `bot` application: the typer app, its global options, and the helpers every command
module shares (loading config, opening the ledger, one-line errors and exit codes).

Nothing heavy is imported at module level: `bot --help` must not load ccxt, SQLAlchemy or
aiohttp, so each command imports what it needs when it runs.

Exit codes: 0 done or nothing to do; 1 transient: a transfer failed (or its outcome is
unknown), the ledger was locked, something failed unexpectedly: a later run may settle it; 2 a
person must fix something: bad config, bad arguments, a corrupt ledger or one from a newer bot,
an unwritable data dir, a venue that cannot be used or is halted by a fatal refusal (`bot venue
resume`). Errors are one line on stderr that names the field, file or venue and the fix; an
unexpected one's traceback goes to `<data_dir>/crash/`.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Coroutine, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from typer._click import exceptions as click_errors
from typer.core import TyperGroup

from bot.config_file import CONFIG_ENV, config_path
from bot.errors import UserFacingError, VenueError
from bot.present.usage import ArgumentProblem, describe_usage_error, hoist_global_options
from bot.runtime.redact import install_log_redaction, redact

if TYPE_CHECKING:
    from bot.config import Config
    from bot.ledger import Ledger

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
            code = print_error(describe_usage_error(exc), 2)
        except typer.Abort:
            code = 130
        except click_errors.ClickException as exc:
            code = print_error(exc.format_message(), exc.exit_code)
        except UserFacingError as exc:
            code = print_error(str(exc), exc.exit_code)
        except VenueError as exc:
            code = print_error(f"venue {exc}", 2)
        except OSError as exc:
            code = _os_error(exc, argv)
        except Exception as exc:  # the last line of defence: never a traceback on screen
            ledger = _ledger_error(exc)
            if ledger is not None:
                code = print_error(str(ledger), ledger.exit_code)
            else:
                code = print_error(_unexpected(exc, argv), 1)
        sys.exit(code if isinstance(code, int) else 0)


#: `-h` as well as `--help`, on every command (click hands it down to subcommands)
HELP_OPTIONS = {"help_option_names": ["-h", "--help"]}


def _help_when_bare(ctx: typer.Context) -> None:
    """A group called without a command prints its help and succeeds."""
    if ctx.invoked_subcommand is None:
        typer.echo(ctx.get_help())
        raise typer.Exit(0)


def _group(help_text: str) -> typer.Typer:
    group = typer.Typer(
        help=help_text,
        invoke_without_command=True,
        rich_markup_mode=None,
        context_settings=HELP_OPTIONS,
    )
    group.callback()(_help_when_bare)
    return group


app = typer.Typer(
    cls=BotGroup,
    help="Keep funding-rate hedges funded: move collateral between spot and futures wallets. "
    "--config and -v may also follow the command (bot plan --config X).",
    invoke_without_command=True,
    add_completion=True,  # --install-completion / --show-completion (bash, zsh, fish)
    context_settings=HELP_OPTIONS,
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
            from bot.config import load_config

            self._config = load_config(self.config_file, from_env=self.from_env)
        return self._config


#: the running command's context, for the error handling of `BotGroup.main` (where to write a
#: crash report, which ledger a database error is about); None before the callback runs
_current: Context | None = None


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"bot {_version()}")
        raise typer.Exit(0)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("bot")
    except PackageNotFoundError:  # a checkout on PYTHONPATH, never installed
        return "unknown (not installed)"


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
    log_format: Annotated[
        str,
        typer.Option(
            "--log-format",
            metavar="human|json",
            help="Log lines as text (human) or one JSON object per line (json, for journald).",
        ),
    ] = "human",
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            is_eager=True,
            callback=_print_version,
            help="Print the installed version (bot X.Y.Z) and exit.",
        ),
    ] = False,
) -> None:
    global _current
    from bot.runtime import logs

    install_log_redaction()
    if log_format not in ("human", "json"):
        fail(f"--log-format: {log_format!r} is not a log format; use human or json")
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logs.configure(level, log_format)  # type: ignore[arg-type]
    ctx.obj = _current = Context(
        config_path(config), from_env=config is None and CONFIG_ENV in os.environ
    )
    _help_when_bare(ctx)


#: the version of every command's JSON shape (docs/cli-json.md): raised when a field changes
#: meaning or goes away; new fields may appear without it
JSON_SCHEMA = 1


def print_json(payload: dict[str, Any]) -> None:
    """One command's JSON document on stdout, its shape's version first (`schema`)."""
    import json

    print(json.dumps({"schema": JSON_SCHEMA, **payload}, indent=2, default=str))


def context_of(ctx: typer.Context) -> Context:
    return ctx.obj  # type: ignore[no-any-return]


def print_error(message: str, code: int) -> int:
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


#: crash reports kept in `<data_dir>/crash/`; older ones are removed
CRASH_REPORTS_KEPT = 20


def _write_traceback(exc: BaseException) -> Path | None:
    """The redacted traceback in `<data_dir>/crash/`, mode 0600: under systemd that is the
    state directory, which outlives the unit (its private /tmp is deleted at stop)."""
    import time
    import traceback

    log.debug("unexpected error", exc_info=exc)
    text = "".join(traceback.format_exception(exc))
    folder = _crash_dir()
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    path = folder / f"crash-{stamp}-{os.getpid()}.log"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(redact(text))
        for old in sorted(folder.glob("crash-*.log"))[:-CRASH_REPORTS_KEPT]:
            old.unlink(missing_ok=True)
    except OSError:
        return None
    return path


def _crash_dir() -> Path:
    """`<data_dir>/crash` of the command's config; `./data/crash` when it has none."""
    if _current is not None:
        try:
            return _current.config.data_dir / "crash"
        except Exception:  # a config that does not load: the working directory's data/
            pass
    return Path("data").resolve() / "crash"


def _os_error(exc: OSError, argv: list[str]) -> int:
    """A file the bot cannot write or read for lack of permission (an unwritable data dir, a
    read-only file system under the unit) needs a person: one line naming it, exit 2. Any
    other OSError is unexpected: a later run may succeed (exit 1)."""
    import errno

    if not isinstance(exc, PermissionError) and exc.errno != errno.EROFS:
        return print_error(_unexpected(exc, argv), 1)
    import getpass

    name = exc.filename or "a file"
    folder = Path(name).parent if exc.filename else None
    try:
        user = getpass.getuser()
    except Exception:
        user = f"uid {os.getuid()}"
    where = f"{folder} and what it holds" if folder else "the data dir"
    return print_error(
        f"cannot write {name} ({exc.strerror}); make {where} writable by {user} (under "
        "systemd, data_dir must be inside the unit's ReadWritePaths=, /var/lib/bot)",
        2,
    )


def _ledger_error(exc: Exception) -> UserFacingError | None:
    """A database error that reached the top (the ledger locked past its busy timeout, not a
    database, read-only...) as the ledger's one line: `bot.ledger.db.explain`."""
    database_errors = sys.modules.get("sqlalchemy.exc")
    if database_errors is None or not isinstance(exc, database_errors.DBAPIError):
        return None
    import contextlib

    from bot.ledger.db import explain

    url = "sqlite:///ledger"
    if _current is not None:
        with contextlib.suppress(Exception):  # a config that does not load: no path to name
            url = _current.config.ledger_url
    return explain(exc, url)


def fail(message: str, code: int = 2) -> NoReturn:
    print_error(message, code)
    raise typer.Exit(code)


def check_configured(option: str, kind: str, name: str | None, configured: Iterable[str]) -> None:
    """An option naming a hedge or venue names a configured one, else one line and exit 2."""
    names = sorted(configured)
    if name is not None and name not in names:
        fail(f"{option}: unknown {kind} {name!r} (configured: {', '.join(names) or 'none'})")


def run_async(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine; user-facing and venue errors become one line and exit 2."""
    import asyncio  # here, not at the top: `bot --help` needs no event loop

    try:
        return asyncio.run(factory())
    except UserFacingError as exc:
        fail(str(exc), exc.exit_code)
    except VenueError as exc:
        fail(f"venue {exc}")


def open_ledger(config: Config) -> Ledger:
    """`bootstrap.open_ledger`, its refusals as one line and an exit code."""
    from bot import bootstrap

    try:
        return bootstrap.open_ledger(config)
    except UserFacingError as exc:
        fail(str(exc), exc.exit_code)


def open_audit_ledger(config: Config) -> Ledger:
    """`bootstrap.open_audit_ledger`: read-only; its refusals as one line and an exit code."""
    from bot import bootstrap

    try:
        return bootstrap.open_audit_ledger(config)
    except UserFacingError as exc:
        fail(str(exc), exc.exit_code)


def load(ctx: typer.Context) -> Config:
    try:
        return context_of(ctx).config
    except UserFacingError as exc:
        fail(str(exc), exc.exit_code)


def argument(parse: Callable[[], T]) -> T:
    """Run an argument parser; a bad value is one line and exit 2."""
    try:
        return parse()
    except ArgumentProblem as exc:
        fail(str(exc))


def exit_for_venues(errors: dict[str, Exception], *, halted: bool = False) -> None:
    """One line per venue left out; exit 2 when its config is at fault (or, `halted`, another
    venue is halted), else 1. The other venues have done their work by now."""
    if not errors:
        return
    from bot.cycle.rebalance import venue_error_lines

    for line in venue_error_lines(errors):
        print_error(line, 1)
    config_fault = any(isinstance(e, UserFacingError) for e in errors.values())
    raise typer.Exit(2 if config_fault or halted else 1)


def print_halts(halted: dict[str, Any]) -> bool:
    """One line on stderr per venue a halt kept from sending (`bot.venues.halts`): since when,
    the venue's error and the fix; True when there was one (the command then exits 2: a person
    must fix it)."""
    for name in sorted(halted):
        print_error(halted[name].message(), 2)
    return bool(halted)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
