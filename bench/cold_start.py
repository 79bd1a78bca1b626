"""Row 5: cold start of `bot --help`, `ledger list`, `config check` and `rebalance --dry-run`
(paper) against `python -c pass`: wall and CPU of a fresh interpreter, median of `runs`."""

from __future__ import annotations

import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench.harness import median

REPO = Path(__file__).resolve().parents[1]
COMMANDS = {
    "python -c pass": ["-c", "pass"],
    "bot --help": ["-m", "bot", "--help"],
    "bot ledger list": ["-m", "bot", "ledger", "list"],
    "bot config check": ["-m", "bot", "config", "check"],
    "bot rebalance --dry-run": ["-m", "bot", "rebalance", "--dry-run"],
}


def _once(args: list[str], cwd: Path) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


QUICK = ("python -c pass", "bot --help")


def measure(workdir: Path, runs: int, *, quick: bool = False) -> dict[str, tuple[float, float]]:
    """name -> (median wall s, median CPU s), in a folder holding the default paper config;
    `quick` starts only the two cheapest (the others' rows say so)."""
    workdir.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "config.yaml", workdir / "config.yaml")
    if not quick:
        _once(COMMANDS["bot rebalance --dry-run"], workdir)  # the ledger and markets exist after
    figures = {}
    for name, args in COMMANDS.items():
        if quick and name not in QUICK:
            continue
        samples = [_once(args, workdir) for _ in range(runs)]
        figures[name] = (median([s[0] for s in samples]), median([s[1] for s in samples]))
    return figures


GOALS = {
    "bot --help": "<= 0.3 s",
    "bot ledger list": "<= 0.5 s",
    "bot config check": "-",
    "bot rebalance --dry-run": "<= 1.5 s CPU",
}


def rows(figures: dict[str, tuple[float, float]]) -> list[tuple[str, str, str]]:
    base = figures["python -c pass"][0]
    found = []
    for name, goal in GOALS.items():
        if name not in figures:
            found.append((f"5. cold start: {name}", "not started with --quick", goal))
            continue
        wall, cpu = figures[name]
        figure = f"{wall:.2f} s wall, {cpu:.2f} s CPU ({wall / base:.0f}x python -c pass)"
        found.append((f"5. cold start: {name}", figure, goal))
    return found
