"""States a restart cannot fix exit 2 (systemd's RestartPreventExitStatus=2: no restart loop)
with one line naming the file and the fix, and leave the ledger byte for byte as it was: a
ledger file that is not a database, a ledger written by a newer bot, a data dir the bot cannot
write. Real files, real SQLite, real Alembic; `bot run --once` as a process (what systemd starts
and whose exit status it reads), the other commands through the same CLI in this process (a
`bot` process costs seconds of CPU, and the exit code and the line are the CLI's either way)."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from bot.config import load_config
from bot.ledger import Ledger
from tests.integration.conftest import Invocation

ROOT = Path(__file__).resolve().parents[2]
AS_A_PROCESS = ("run", "--once")
COMMANDS = (("rebalance",), AS_A_PROCESS, ("db", "upgrade"))


def bot_process(config: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOT_")}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "bot", "--config", str(config), *argv],
        cwd=config.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """The default paper config, its ledger created and migrated (data/ledger.sqlite), in
    this process: the refusals are what runs as `bot`, and a bot process costs seconds of CPU."""
    path = tmp_path / "config.yaml"
    path.write_text((ROOT / "config.yaml").read_text())
    Ledger.open(load_config(path).ledger_url).close()
    return path


@pytest.fixture
def run(
    bot: Callable[..., Invocation], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., tuple[int, str]]:
    """(exit code, stderr) of a command on `config`: `AS_A_PROCESS` as a process, the others
    in-process, both without the BOT_ variables of the environment the suite runs in."""
    for name in [name for name in os.environ if name.startswith("BOT_")]:
        monkeypatch.delenv(name)

    def command(config: Path, *argv: str) -> tuple[int, str]:
        if argv == AS_A_PROCESS:
            done = bot_process(config, *argv)
            return done.returncode, done.stderr
        monkeypatch.chdir(config.parent)
        invoked = bot(*argv, config=config)
        return invoked.exit_code, invoked.stderr

    return command


def refused(run: Callable[..., tuple[int, str]], config: Path, ledger: Path, expected: str) -> None:
    before = digest(ledger)
    for argv in COMMANDS:
        code, stderr = run(config, *argv)
        lines = stderr.splitlines()
        assert code == 2, (argv, stderr)
        assert len(lines) == 1 and lines[0].startswith("error: "), (argv, stderr)
        assert expected in lines[0], (argv, lines[0])
        assert digest(ledger) == before, argv


def test_a_ledger_that_is_not_a_database(config: Path, run: Callable[..., tuple[int, str]]) -> None:
    ledger = config.parent / "data" / "ledger.sqlite"
    ledger.write_bytes(b"this is not a database, just bytes where the ledger was\n" * 200)
    refused(
        run,
        config,
        ledger,
        f"ledger {ledger} is not a SQLite database (file is not a database); restore it from "
        "a backup, or move it aside to start a new one",
    )


def test_a_ledger_written_by_a_newer_bot(config: Path, run: Callable[..., tuple[int, str]]) -> None:
    ledger = config.parent / "data" / "ledger.sqlite"
    with sqlite3.connect(ledger) as connection:
        connection.execute("UPDATE alembic_version SET version_num = 'zzzz'")
    connection.close()
    refused(run, config, ledger, "was written by a newer bot (revision zzzz;")
    assert run(config, "status")[0] == 2
    assert run(config, "ledger", "list")[0] == 2


def test_a_data_dir_the_bot_cannot_write(config: Path, run: Callable[..., tuple[int, str]]) -> None:
    """/sys refuses every new folder, root or not: what ProtectSystem=strict does to a data dir
    outside the unit's ReadWritePaths."""
    ledger = config.parent / "data" / "ledger.sqlite"
    raw = yaml.safe_load(config.read_text())
    raw["data_dir"] = "/sys/bot-data"
    raw["ledger"]["url"] = f"sqlite:///{ledger}"
    config.write_text(yaml.safe_dump(raw))
    refused(run, config, ledger, "data_dir: cannot write in /sys/bot-data (")
