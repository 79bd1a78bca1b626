"""`python -m bench [--quick] [--latency 0.05]`: every benchmark row on the paper exchange with
injected latency, one table; a full run also writes bench/results.md (figures, machine,
versions, date). Figures are ratios or distributions from one run: the machine is noisy.

    python -m bench            # the figures of the speed issue (a few minutes)
    python -m bench --quick    # every row, tiny sizes, seconds: the smoke test's run
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import ccxt
import sqlalchemy

from bench import (
    cold_start,
    cycle_latency,
    guard_reaction,
    ledger_cost,
    ledger_rows,
    memory,
    one_shot,
    volatility,
)

RESULTS = Path(__file__).resolve().parent / "results.md"
Row = tuple[str, str, str]


async def _async_rows(args: argparse.Namespace, workdir: Path) -> list[Row]:
    from bench.fault_campaign import run_campaign
    from bench.read_concurrency import measure as read_concurrency

    counts = (1, 2) if args.quick else (1, 5, 20)
    cycles = 1 if args.quick else 7
    rows: list[Row] = []
    figures = await cycle_latency.measure(counts, args.latency, cycles, workdir / "cycles")
    rows += figures.rows()
    rounds = 1 if args.quick else args.volatility_rounds
    rows += volatility.rows(
        await volatility.measure(
            rounds,
            1 if args.quick else max(1, rounds // 10),
            args.latency,
            args.drift,
            workdir / "volatility",
            seed_pause=0.05 if args.quick else volatility.SEED_PAUSE,
        )
    )
    rss_cycles = 5 if args.quick else args.rss_cycles
    rows += memory.rows(await memory.measure(rss_cycles, workdir / "memory"))
    transfers = 5 if args.quick else 1000
    report = await run_campaign(transfers=transfers, seed=1, workdir=workdir / "campaign")
    agreement = report.agreement
    rows.append(
        (
            f"9. fault campaign, {transfers} transfers with faults and crashes",
            f"duplicates {agreement.duplicates if agreement else '?'}, records lost "
            f"{agreement.records_lost if agreement else '?'}",
            "0 and 0",
        )
    )
    concurrent, sequential, _ = await read_concurrency(2 if args.quick else 4, args.latency)
    rows.append(
        (
            "10. one cycle's reads, concurrent vs one after another",
            f"{concurrent * 1000:.0f} ms vs {sequential * 1000:.0f} ms "
            f"({sequential / concurrent:.1f}x)",
            "about one round trip",
        )
    )
    rows += await guard_reaction.measure(
        args.latency, 2 if args.quick else 12, workdir / "guard-reaction"
    )
    rows += await one_shot.measure(args.latency, 1 if args.quick else 5, workdir / "one-shot")
    return rows


def run(args: argparse.Namespace) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        workdir = Path(tmp)
        rows = asyncio.run(_async_rows(args, workdir))
        rows += cold_start.rows(
            cold_start.measure(workdir / "cold", 1 if args.quick else 5, quick=args.quick)
        )
        rows += ledger_rows.rows(
            ledger_rows.measure(
                workdir / "ledger", 200 if args.quick else 100_000, quick=args.quick
            )
        )
        cost, _ = ledger_cost.measure(workdir / "ledger-cost", 20 if args.quick else 500)
        in_cycle = ledger_cost.per_transfer_in_cycles(
            workdir / "ledger-cost", ledger_cost.CYCLE_VENUES, 3 if args.quick else 25
        )
        rows += ledger_cost.rows(cost, in_cycle)
    return sorted(rows, key=_row_number)


def _row_number(row: Row) -> tuple[int, str]:
    """A row's place: its number, then its letter ("11b" after "11")."""
    label = row[0].split(".")[0]
    digits = label.rstrip("abcdefghijklmnopqrstuvwxyz")
    return int(digits), label[len(digits) :]


def table(rows: list[Row]) -> str:
    lines = ["| row | measured | goal |", "| --- | --- | --- |"]
    lines += [f"| {name} | {figure} | {goal} |" for name, figure, goal in rows]
    return "\n".join(lines)


def machine() -> str:
    return (
        f"{platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"ccxt {ccxt.__version__}, SQLAlchemy {sqlalchemy.__version__}"
    )


def write_results(rows: list[Row], latency: float, took: float, path: Path = RESULTS) -> None:
    previous = path.read_text(encoding="utf-8") if path.exists() else ""
    notes = previous.split("\n## Notes\n", 1)[1] if "\n## Notes\n" in previous else ""
    body = [
        "# Benchmark results",
        "",
        f"`python -m bench` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {machine()}; "
        f"{latency * 1000:.0f} ms injected per request; the run took {took:.0f} s.",
        "",
        table(rows),
        "",
        "## Notes",
        notes.strip("\n") or "(none yet)",
        "",
    ]
    path.write_text("\n".join(body), encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: every row in seconds")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per request")
    parser.add_argument("--drift", type=float, default=0.01, help="row 4: mark move per second")
    parser.add_argument("--volatility-rounds", type=int, default=1000, help="row 4's transfers")
    parser.add_argument("--rss-cycles", type=int, default=10_000, help="row 7's cycles")
    parser.add_argument("--results", type=Path, default=None, help="write the results here")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    rows = run(args)
    print(table(rows))
    if args.results is not None or not args.quick:
        write_results(rows, args.latency, time.perf_counter() - started, args.results or RESULTS)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
