"""Row 8, and the generator the audit work reuses: N synthetic transfer rows bulk-inserted into
a migrated SQLite ledger (real Alembic migrations, real tables; no journal, which listing does
not read), then `bot ledger list --since X --limit 50` timed and `ledger list --json`'s peak
RSS measured in fresh interpreters.

    from bench.ledger_rows import generate_ledger
    generate_ledger(Path("ledger.sqlite"), rows=100_000)
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import insert

from bot.ledger import Ledger
from bot.ledger.tables import Transfer

START = datetime(2026, 1, 1, tzinfo=UTC)
STATUSES = ("confirmed", "confirmed", "confirmed", "skipped", "failed", "dry_run")


def generate_ledger(path: Path, rows: int, *, batch: int = 5000) -> None:
    """A migrated ledger at `path` holding `rows` transfers, one a minute from START."""
    ledger = Ledger.open(f"sqlite:///{path}")
    run_id = ledger.start_run("rebalance", dry_run=False, config_digest="0" * 64)
    try:
        with ledger.engine.begin() as connection:
            for first in range(0, rows, batch):
                values = []
                for index in range(first, min(rows, first + batch)):
                    at = START + timedelta(minutes=index)
                    status = STATUSES[index % len(STATUSES)]
                    values.append(
                        {
                            "run_id": run_id,
                            "client_id": uuid.uuid4().hex,
                            "created_at": at,
                            "updated_at": at,
                            "venue": f"v{index % 20:02d}",
                            "hedges": "eth",
                            "asset": "USDT",
                            "from_account": "spot",
                            "to_account": "linear",
                            "rule": "top_up",
                            "planned_amount": Decimal("3000"),
                            "amount": Decimal("2999.99999999"),
                            "status": status,
                            "exchange_id": str(10**12 + index) if status == "confirmed" else None,
                            "error": None,
                            "reason": "margin ratio 0.3000 is below band [0.4, 0.6]",
                            "figures": "{}",
                            "inputs": "{}",
                            "dry_run": status == "dry_run",
                            "replaces_id": None,
                        }
                    )
                connection.execute(insert(Transfer), values)
    finally:
        ledger.close()


def _bot(workdir: Path, *args: str) -> tuple[float, int]:
    """(wall seconds, peak RSS KiB) of one `bot` command in a fresh interpreter."""
    started = time.perf_counter()
    done = subprocess.Popen(
        [sys.executable, "-m", "bot", *args],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _, _, usage = os.wait4(done.pid, 0)
    return time.perf_counter() - started, usage.ru_maxrss


def _in_process(workdir: Path, *args: str) -> tuple[float, int]:
    """The same command in this interpreter (the smoke run): its time, and this process's
    peak RSS, which says nothing of the command's own."""
    from bot.cli import app

    started = time.perf_counter()
    with contextlib.suppress(SystemExit):  # BotGroup ends every command with sys.exit
        app(["--config", str(workdir / "config.yaml"), *args], prog_name="bot")
    return time.perf_counter() - started, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def measure(workdir: Path, rows: int, *, quick: bool = False) -> dict[str, float]:
    workdir.mkdir(parents=True, exist_ok=True)
    generate_ledger(workdir / "ledger.sqlite", rows)
    config = {"ledger": {"url": "sqlite:///ledger.sqlite"}, "venues": {}, "hedges": {}}
    (workdir / "config.yaml").write_text(json.dumps(config))
    since = (START + timedelta(minutes=rows // 2)).date().isoformat()
    run = _in_process if quick else _bot
    list_wall, _ = run(workdir, "ledger", "list", "--since", since, "--limit", "50")
    json_wall, json_rss = run(workdir, "ledger", "list", "--json")
    return {"rows": rows, "list_s": list_wall, "json_s": json_wall, "json_rss_mib": json_rss / 1024}


def rows(figures: dict[str, float]) -> list[tuple[str, str, str]]:
    n = int(figures["rows"])
    return [
        (
            f"8. ledger list --since X --limit 50, {n:,} rows",
            f"{figures['list_s']:.2f} s",
            "audit issue",
        ),
        (
            f"8. ledger list --json, {n:,} rows",
            f"{figures['json_s']:.2f} s, peak RSS {figures['json_rss_mib']:.0f} MiB",
            "audit issue",
        ),
    ]
