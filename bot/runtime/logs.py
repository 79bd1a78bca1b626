"""Log lines for people and for machines: the default human format or `--log-format json`
(one JSON object per line, for journald or ELK), each carrying the run id and venue of the
cycle it belongs to.

The run id and venue live in context variables: set once around a job (`log_context`), they
follow every `await` and every task the job starts, so no call needs to pass them down. Work
for one venue (its reads, its transfers, its reconciliation) sets the venue again at its top,
so that a line about venue B says B, while the job's own lines keep its set of venues. A
logging filter copies them onto each record. Messages are redacted before they get here
(`bot.runtime.redact.install_log_redaction`).
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

from bot.runtime.redact import redact

LogFormat = Literal["human", "json"]

run_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("bot_run_id", default=None)
venue_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("bot_venue", default=None)

_format: LogFormat = "human"


@contextmanager
def log_context(*, run_id: str | int | None = None, venue: str | None = None) -> Iterator[None]:
    """Every log line inside the block (and in tasks started there) names this run and venue."""
    tokens = []
    if run_id is not None:
        tokens.append((run_id_var, run_id_var.set(str(run_id))))
    if venue is not None:
        tokens.append((venue_var, venue_var.set(venue)))
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


class ContextFilter(logging.Filter):
    """Puts the current run id and venue on every record (`-` outside a cycle)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.run_id = run_id_var.get() or "-"
        record.venue = venue_var.get() or "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, run id, venue."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "run_id": getattr(record, "run_id", "-"),
            "venue": getattr(record, "venue", "-"),
        }
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


HUMAN_FORMAT = "%(asctime)s %(levelname)s %(name)s [run %(run_id)s venue %(venue)s]: %(message)s"


def configure(level: int, log_format: LogFormat = "human", stream: TextIO | None = None) -> None:
    """Install one handler on the root logger in the chosen format (replacing earlier ones)."""
    global _format
    _format = log_format
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(ContextFilter())
    handler.setFormatter(
        JsonFormatter() if log_format == "json" else logging.Formatter(HUMAN_FORMAT)
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)


def current_format() -> LogFormat:
    return _format


def line_printer(write: Callable[[str], None]) -> Callable[[str], None]:
    """What `bot run` says (its one line per job) in the chosen format: the plain line, or in
    JSON mode a JSON object with the run id and venue, so that stdout stays one kind of line."""

    def say(line: str) -> None:
        text = " ".join(redact(line).split())
        if _format == "json":
            text = json.dumps(
                {
                    "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
                    "level": "info",
                    "logger": "bot.run",
                    "message": text,
                    "run_id": run_id_var.get() or "-",
                    "venue": venue_var.get() or "-",
                },
                ensure_ascii=False,
            )
        write(text)

    return say
