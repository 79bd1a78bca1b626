"""The light commands stay light: `bot status` and `bot ledger list` on a ledger already at head
load no exchange client (ccxt, aiohttp), no Alembic (it is for migrating, and the schema is at
head), and none of the edges a cycle or `bot run` needs (apprise, plotly, prometheus_client,
the scheduler, the transfer executor). Checked through `sys.modules` of a fresh interpreter
that ran the command: an assertion on structure, never a time limit (bench/cold_start.py
measures the time)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

#: what neither command may load; each is a whole-process cost paid for nothing
HEAVY = (
    "ccxt",
    "aiohttp",
    "alembic",
    "apprise",
    "plotly",
    "prometheus_client",
    "apscheduler.schedulers",
    "bot.transfers.executor",
)

PROBE = """
import json, sys
from bot.cli import app
try:
    app(sys.argv[1:], prog_name="bot")
except SystemExit as exc:
    code = exc.code
else:
    code = 0
names = %r
print(json.dumps({"code": code, "loaded": [n for n in names if n in sys.modules]}))
"""


def run(*args: str, cwd: Path) -> tuple[object, list[str], str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE % ([*HEAVY, "sqlalchemy"],), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    found = json.loads(done.stdout.strip().splitlines()[-1])
    return found["code"], found["loaded"], done.stdout + done.stderr


@pytest.fixture
def at_head(tmp_path: Path) -> Path:
    """A folder with the default (paper) config and its SQLite ledger migrated to head, made
    in this process (the light commands' cost is what is measured, not `bot db upgrade`'s)."""
    from bot.config import load_config
    from bot.ledger import Ledger

    shutil.copy(REPO / "config.yaml", tmp_path / "config.yaml")
    Ledger.open(load_config(tmp_path / "config.yaml").ledger_url).close()
    return tmp_path


@pytest.mark.parametrize("command", [("status",), ("ledger", "list")], ids=" ".join)
def test_a_light_command_on_a_ledger_at_head_loads_nothing_heavy(
    at_head: Path, command: tuple[str, ...]
) -> None:
    code, loaded, output = run(*command, cwd=at_head)
    assert code in (0, 1, None), output  # status exits 1 when something needs a person
    assert "sqlalchemy" in loaded, "the ledger was not opened: " + output
    assert [name for name in loaded if name != "sqlalchemy"] == []
    if command == ("status",):
        assert "bot run: not running" in output, output
