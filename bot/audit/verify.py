"""`bot ledger verify`: the chain and every journaled row (`bot.audit.chain`), then the derived
running totals against the transfers (`bot.ledger.totals`), in one report; and where it finds a
chain head recorded outside the database: the newest line of `ledger.anchor_file`, or
`--anchor SEQ:HASH` copied from the log."""

from __future__ import annotations

import json
import re
from pathlib import Path

from bot.audit.chain import Anchor, VerifyReport, verify
from bot.errors import ConfigError
from bot.ledger import totals
from bot.ledger.sessions import LedgerBase
from bot.present.usage import ArgumentProblem


def verify_ledger(ledger: LedgerBase, anchor: Anchor | None = None) -> VerifyReport:
    """The chain under the ledger's key (and `anchor`), then the running totals: derived data
    that `bot ledger summary` reads, so a bucket that differs from the transfers is reported
    with the chain's problems."""
    with ledger.engine.connect() as connection:
        report = verify(connection, ledger.key, anchor)
        for problem in totals.differences(connection):
            report.problem(problem)
    return report


_ANCHOR = re.compile(r"^(?:seq=)?(\d+)[: ](?:hash=)?([0-9a-f]{64})$")


def parse_anchor(option: str, value: str) -> Anchor:
    """`123:<64 hex>` (or the log's `seq=123 hash=<64 hex>`)."""
    match = _ANCHOR.match(value.strip().lower())
    if not match:
        raise ArgumentProblem(
            f"{option}: {value!r} is not a chain head; copy 'seq=N hash=H' from the log's "
            "'ledger chain head' line, as N:H"
        )
    return Anchor(int(match.group(1)), match.group(2), option)


def anchor_from_file(path: Path) -> Anchor | None:
    """The newest anchor in the file (read from its end: the file grows by a line a run);
    None while the file does not exist yet."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, 2)
            size = handle.tell()
            handle.seek(max(0, size - 4096))
            tail = handle.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"ledger.anchor_file: cannot read {path} ({exc.strerror})") from None
    lines = [line for line in tail.splitlines() if line.strip()]
    if not lines:
        return None
    try:
        last = json.loads(lines[-1])
        return Anchor(int(last["seq"]), str(last["hash"]), f"ledger.anchor_file {path}")
    except (ValueError, KeyError, TypeError):
        raise ConfigError(
            f"ledger.anchor_file: the last line of {path} is not a chain head the bot wrote; "
            "it was edited (restore it from a backup)"
        ) from None
