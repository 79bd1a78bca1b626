"""Parsing the CLI's own argument values, and turning any usage problem into one line.

Pure functions: the CLI calls them and prints what they return, so every bad argument gets
the same shape of message, `<option>: <what is wrong> (<the fix>)`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

from typer._click import exceptions as click_errors

_RELATIVE = re.compile(r"^(\d+)([smhdw])$")
_NEEDS_VALUES = re.compile(r"^Option '(\S+)' requires (\d+) arguments")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}

#: options every command takes, wherever they stand on the command line
GLOBAL_FLAGS = frozenset({"-v", "-vv", "-vvv", "--verbose"})
GLOBAL_VALUED = frozenset({"--config", "-c", "--log-format"})


class ArgumentProblem(ValueError):
    """A bad argument value; the message names the option and the fix."""


def parse_when(option: str, value: str, *, now: datetime) -> datetime:
    """A date, an ISO 8601 time (UTC unless it says otherwise), or an age such as `7d`."""
    text = value.strip()
    relative = _RELATIVE.match(text)
    if relative:
        amount, unit = relative.groups()
        return now - timedelta(**{_UNITS[unit]: int(amount)})
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ArgumentProblem(
            f"{option}: {value!r} is not a date (use 2026-11-01, 2026-11-01T08:00Z or 7d)"
        ) from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def parse_choice(option: str, value: str, choices: Iterable[str]) -> str:
    allowed = list(choices)
    folded = value.strip().lower()
    if folded not in allowed:
        raise ArgumentProblem(f"{option}: {value!r} is not one of {', '.join(allowed)}")
    return folded


def parse_positive(option: str, value: str) -> int:
    try:
        number = int(value.strip())
    except ValueError:
        raise ArgumentProblem(f"{option}: {value!r} is not a whole number (use 50)") from None
    if number < 1:
        raise ArgumentProblem(f"{option}: must be 1 or more, got {number}")
    return number


def parse_transfer_id(option: str, value: str) -> int:
    """A ledger transfer id, as `bot ledger list` shows it."""
    text = value.strip()
    if not text.isdigit() or int(text) < 1:
        raise ArgumentProblem(
            f"{option}: {value!r} is not a transfer id (the id column of bot ledger list)"
        )
    return int(text)


def parse_port(option: str, value: str) -> int:
    try:
        number = int(value.strip())
    except ValueError:
        raise ArgumentProblem(f"{option}: {value!r} is not a port number (use 8765)") from None
    if not 0 <= number <= 65535:
        raise ArgumentProblem(f"{option}: {number} is out of range (use 0 to 65535; 0 picks one)")
    return number


def hoist_global_options(args: Sequence[str]) -> list[str]:
    """Move `--config X` and `-v` to the front, so they work after the subcommand too
    (`bot plan --config X`). Nothing after a `--` is touched."""
    front: list[str] = []
    rest: list[str] = []
    items = list(args)
    index = 0
    while index < len(items):
        arg = items[index]
        if arg == "--":
            rest += items[index:]
            break
        if arg in GLOBAL_FLAGS:
            front.append(arg)
        elif arg in GLOBAL_VALUED and index + 1 < len(items):
            front += [arg, items[index + 1]]
            index += 1
        elif arg.startswith(("--config=", "--log-format=")):
            front.append(arg)
        else:
            rest.append(arg)
        index += 1
    return front + rest


def describe_usage_error(exc: click_errors.UsageError) -> str:
    """Click's usage errors as one line: `--since: 'x' is not a date (...)`."""
    command = exc.ctx.command_path if exc.ctx is not None else "bot"
    if isinstance(exc, click_errors.NoSuchOption):
        hint = f" (did you mean {', '.join(exc.possibilities)}?)" if exc.possibilities else ""
        return f"{exc.option_name}: no such option for {command}{hint}; see {command} --help"
    if isinstance(exc, click_errors.BadParameter):
        name = _param_name(exc)
        message = _one_line(exc.message).removeprefix("Value error, ")
        if isinstance(exc, click_errors.MissingParameter):
            return f"{name}: required; see {command} --help"
        return f"{name}: {message}" if name else message
    message = _one_line(exc.message)
    needs = _NEEDS_VALUES.match(message)
    if needs:  # an option of two values given one: --assign 12
        # (not "--assign: ...": the redactor reads "sign:" as a header and masks what follows)
        return f"{needs[1]} takes {needs[2]} values, got fewer; see {command} --help"
    if message.startswith("No such command"):
        return f"{message.rstrip('.')}; see {command} --help"
    return f"{message} (see {command} --help)"


def _param_name(exc: click_errors.BadParameter) -> str:
    if exc.param_hint:
        hint = exc.param_hint
        return " / ".join(hint) if isinstance(hint, list | tuple) else str(hint).strip("'")
    if exc.param is not None:
        opts = getattr(exc.param, "opts", None) or [exc.param.name or ""]
        return str(max(opts, key=len))
    return ""


def _one_line(text: str) -> str:
    return " ".join(str(text).split())
