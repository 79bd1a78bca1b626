"""Row 5: cold start of `bot --help`, `status`, `ledger list`, `config check` and `rebalance
--dry-run` (paper), whole process, as ratios: each to `python -c pass` (the interpreter alone),
and `rebalance --dry-run` also to `import ccxt.async_support` (what any ccxt program pays).
Wall and CPU of a fresh interpreter, median of `runs`; the ratios are of CPU, which barely
moves with what else runs on a shared machine. `python -m bench.cold_start [runs]` prints the
rows alone."""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.harness import median

REPO = Path(__file__).resolve().parents[1]
PASS = "python -c pass"
CCXT = "import ccxt.async_support"
COMMANDS = {
    PASS: ["-c", "pass"],
    CCXT: ["-c", "import ccxt.async_support"],
    "bot --help": ["-m", "bot", "--help"],
    "bot status": ["-m", "bot", "status"],
    "bot ledger list": ["-m", "bot", "ledger", "list"],
    "bot config check": ["-m", "bot", "config", "check"],
    "bot rebalance --dry-run": ["-m", "bot", "rebalance", "--dry-run"],
}


def _environment() -> dict[str, str]:
    """The children write and reuse their bytecode, as an installed bot does (a wheel's install
    compiles it): with PYTHONDONTWRITEBYTECODE set, every start would compile bot's sources and
    measure the compiler instead."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _once(args: list[str], cwd: Path) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, *args], cwd=cwd, capture_output=True, check=False, env=_environment()
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


QUICK = (PASS, CCXT, "bot --help")


def measure(workdir: Path, runs: int, *, quick: bool = False) -> dict[str, tuple[float, float]]:
    """name -> (median wall s, median CPU s), in a folder holding the default paper config;
    `quick` starts only the three cheapest (the others' rows say so)."""
    workdir.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "config.yaml", workdir / "config.yaml")
    if not quick:
        # the ledger (at head: no migration after this), the markets and the bytecode exist after
        _once(COMMANDS["bot rebalance --dry-run"], workdir)
    names = [name for name in COMMANDS if not quick or name in QUICK]
    if not quick:  # --quick shows the rows run, not figures to keep: no warm-up start
        for name in names:
            _once(COMMANDS[name], workdir)  # bytecode of what only this command imports
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
    for _ in range(runs):  # round by round: a change of load on the machine hits every command
        for name in names:
            samples[name].append(_once(COMMANDS[name], workdir))
    return {
        name: (median([s[0] for s in taken]), median([s[1] for s in taken]))
        for name, taken in samples.items()
    }


#: the command -> (what its CPU is compared with, the limit of that ratio; None: no limit)
GOALS: dict[str, tuple[str, float | None]] = {
    "bot --help": (PASS, None),
    "bot status": (PASS, 10.0),
    "bot ledger list": (PASS, 10.0),
    "bot config check": (PASS, None),
    "bot rebalance --dry-run": (CCXT, 1.5),
}


def rows(figures: dict[str, tuple[float, float]]) -> list[tuple[str, str, str]]:
    base = figures[PASS][1]
    found = []
    for name, (against, limit) in GOALS.items():
        goal = f"<= {limit:g}x {against}" if limit is not None else "-"
        if name not in figures:
            found.append((f"5. cold start: {name}", "not started with --quick", goal))
            continue
        wall, cpu = figures[name]
        figure = f"{wall:.2f} s wall, {cpu:.2f} s CPU = {cpu / base:.1f}x {PASS}"
        if against != PASS:
            figure += f", {cpu / figures[against][1]:.2f}x {against}"
        if limit is not None:
            met = cpu / figures[against][1] <= limit
            figure += " (met)" if met else " (not met)"
        found.append((f"5. cold start: {name}", figure, goal))
    return found


def main(argv: list[str]) -> None:
    runs = int(argv[0]) if argv else 5
    with tempfile.TemporaryDirectory(prefix="bench-cold-") as tmp:
        figures = measure(Path(tmp), runs)
    print(f"{PASS}: {figures[PASS][1]:.3f} s CPU; {CCXT}: {figures[CCXT][1]:.3f} s CPU")
    for name, figure, goal in rows(figures):
        print(f"| {name} | {figure} | {goal} |")


if __name__ == "__main__":
    main(sys.argv[1:])
