"""What a command loads before it does anything: `bot --help` must not pay for ccxt, SQLAlchemy,
pydantic or YAML, and a linear-only dry run needs no ccxt.pro (what `bot status` and `bot ledger
list` may load: tests/architecture/test_light_commands.py). Checked through `sys.modules`
of a fresh interpreter (a behaviour, not a timing)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

PROBE = """
import json, sys
from bot.cli import app
try:
    app(sys.argv[1:], prog_name="bot")
except SystemExit:
    pass
names = ("ccxt", "ccxt.pro", "sqlalchemy", "pydantic", "yaml", "aiohttp", "asyncio")
print(json.dumps({name: name in sys.modules for name in names}))
"""


def loaded(*args: str, cwd: Path = REPO) -> dict[str, bool]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args], cwd=cwd, capture_output=True, text=True, check=False
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_help_imports_neither_ccxt_nor_sqlalchemy() -> None:
    modules = loaded("--help")
    assert modules == {name: False for name in modules}, modules


def test_a_linear_only_dry_run_on_paper_does_not_import_ccxt_pro(tmp_path: Path) -> None:
    shutil.copy(REPO / "config.yaml", tmp_path / "config.yaml")  # one USD-M hedge on paper
    modules = loaded("rebalance", "--dry-run", cwd=tmp_path)
    assert modules["ccxt"], "the cycle did not run"
    assert not modules["ccxt.pro"]
