"""The audit commands on a large ledger: generate one (default 1,000,000 transfers, with their
runs, snapshots, attempts, funding payments and a keyed journal, as the bot writes them), then
time `ledger summary`, filtered `ledger list --limit 50`, and measure `ledger export` and
`ledger verify` throughput and peak memory.

    python -m bench.ledger_scale [--transfers 1000000] [--dir /tmp/bench-ledger] [--keep]

A generated ledger is reused when its file exists (generation takes minutes). The list and
summary timings are of the query, in-process, after start-up (the median of 5 calls);
export and verify run as the real CLI in a child process whose peak RSS is read from
`wait4`'s rusage.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text, update

from bot.ledger import Ledger
from bot.ledger.journal import KEYED, body_of, chain_hash, head
from bot.ledger.tables import (
    BalanceSnapshot,
    FundingPayment,
    FundingSnapshot,
    JournalEntry,
    JournalHead,
    PositionSnapshot,
    Run,
    Transfer,
    TransferAttempt,
)

KEY = b"bench ledger key"
START = datetime(2024, 1, 1, tzinfo=UTC)
CYCLE = timedelta(minutes=5)
TRANSFERS_PER_RUN = 4
VENUES = ("binance-main", "binance-sub", "coinw", "paper")
HEDGES = {"binance-main": "eth", "binance-sub": "btc", "coinw": "sol", "paper": "eth-paper"}


class Generator:
    """Writes runs in batches, each with its snapshot, transfers, attempts and journal entries,
    the way the bot's writer would have chained them."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        with ledger.engine.connect() as conn:
            current = head(conn)
        self.seq, self.prev = current.seq, current.hash
        self.ids = {name: 0 for name in ("run", "balance", "position", "rate", "t", "a", "f")}
        self.rows: dict[Any, list[dict[str, Any]]] = {}
        self.journal: list[dict[str, Any]] = []

    def _journal(self, entity: str, values: dict[str, Any], at: datetime) -> None:
        body = body_of(values)
        digest = chain_hash(self.prev, entity, values["id"], body, KEY)
        self.seq += 1
        self.journal.append(
            {
                "seq": self.seq,
                "at": at,
                "entity": entity,
                "entity_id": values["id"],
                "body": body,
                "prev_hash": self.prev,
                "hash": digest,
                "chain": KEYED,
            }
        )
        self.prev = digest

    def _add(self, model: Any, values: dict[str, Any]) -> None:
        self.rows.setdefault(model, []).append(values)

    def _next(self, name: str) -> int:
        self.ids[name] += 1
        return self.ids[name]

    def run(self, n: int) -> None:
        at = START + n * CYCLE
        venue = VENUES[n % len(VENUES)]
        run = {
            "id": self._next("run"),
            "command": "run",
            "dry_run": False,
            "started_at": at,
            "finished_at": None,
            "status": "running",
            "error": None,
            "config_digest": "d" * 64,
        }
        self._journal("run", run, at)
        mark = Decimal(3000 + (n % 700))
        snapshot = []
        for account, asset, balance in (
            ("spot", "USDT", Decimal("20000.12345678")),
            ("linear", "USDT", Decimal("4500.5") + n % 1000),
            ("spot", "ETH", Decimal(5)),
            ("spot", "BNB", Decimal("0.01")),
        ):
            row = {
                "id": self._next("balance"),
                "run_id": run["id"],
                "read_at": at,
                "venue": venue,
                "account": account,
                "asset": asset,
                "free": balance,
                "used": Decimal(0),
                "balance": balance,
                "unrealized_pnl": Decimal("-12.5"),
                "transferable": balance,
            }
            self._add(BalanceSnapshot, row)
            snapshot.append(("balance", row))
        position = {
            "id": self._next("position"),
            "run_id": run["id"],
            "read_at": at,
            "venue": venue,
            "symbol": "ETH/USDT:USDT",
            "side": "short",
            "contracts": Decimal(5),
            "contract_size": Decimal(1),
            "notional": 5 * mark,
            "entry_price": Decimal(3000),
            "mark_price": mark,
            "unrealized_pnl": Decimal("-12.5"),
            "initial_margin": mark,
            "maintenance_margin": Decimal("75.25"),
            "liquidation_price": Decimal("3880.59701492"),
        }
        self._add(PositionSnapshot, position)
        snapshot.append(("position", position))
        rate = {
            "id": self._next("rate"),
            "run_id": run["id"],
            "read_at": at,
            "venue": venue,
            "symbol": "ETH/USDT:USDT",
            "rate": Decimal("0.0001"),
            "mark_price": mark,
            "next_funding_at": at + timedelta(hours=8),
        }
        self._add(FundingSnapshot, rate)
        snapshot.append(("funding_rate", rate))
        for entity, row in snapshot:
            self._journal(entity, row, at)
        for k in range(TRANSFERS_PER_RUN):
            self.transfer(
                run["id"], venue, at + timedelta(seconds=k + 1), n * TRANSFERS_PER_RUN + k
            )
        if n % 96 == 0:  # a funding payment every 8 hours per venue
            payment = {
                "id": self._next("f"),
                "recorded_at": at,
                "venue": venue,
                "hedge": HEDGES[venue],
                "symbol": "ETH/USDT:USDT",
                "asset": "USDT",
                "amount": Decimal("1.50000000") if n % 3 else Decimal("-0.25"),
                "at": at,
                "exchange_id": str(9_689_322_392 + n),
            }
            self._add(FundingPayment, payment)
            self._journal("funding_payment", payment, at)
        run = {**run, "finished_at": at + timedelta(seconds=9), "status": "ok"}
        self._add(Run, run)
        self._journal("run", run, at + timedelta(seconds=9))

    def transfer(self, run_id: int, venue: str, at: datetime, n: int) -> None:
        to_futures = n % 3 != 0
        amount = Decimal(1000 + n % 2000) + Decimal("0.12345678")
        status = "confirmed"
        if n % 97 == 0:
            status = "failed"
        elif n % 1009 == 0:
            status = "unknown"
        elif n % 50 == 0:
            status = "skipped"
        intent = {
            "id": self._next("t"),
            "run_id": run_id,
            "client_id": f"{n:032x}",
            "created_at": at,
            "updated_at": at,
            "venue": venue,
            "hedges": HEDGES[venue],
            "asset": "USDT",
            "from_account": "spot" if to_futures else "linear",
            "to_account": "linear" if to_futures else "spot",
            "rule": "top_up" if to_futures else "return_excess",
            "planned_amount": amount,
            "amount": amount - Decimal("0.00000001"),
            "status": "pending",
            "exchange_id": None,
            "error": None,
            "reason": "margin ratio 0.3000 (equity 4500 USDT / short notional 15000 USDT) is "
            "below band [0.4, 0.6]: move 3000 USDT spot -> linear toward target 0.5",
            "figures": json.dumps({"equity": "4500", "margin_ratio": "0.3", "target": "0.5"}),
            "inputs": json.dumps({"safety": "0.99", "step": "0.00000001", "transferable": "20000"}),
            "dry_run": False,
            "replaces_id": None,
            "amount_tag": Decimal("0.00000001"),
        }
        self._journal("transfer", intent, at)
        attempts = 2 if n % 5 == 0 else 1
        for number in range(1, attempts + 1):
            last = number == attempts
            attempt = {
                "id": self._next("a"),
                "transfer_id": intent["id"],
                "number": number,
                "started_at": at,
                "finished_at": at + timedelta(milliseconds=300),
                "amount": intent["amount"],
                "outcome": status if last else "transient",
                "error_kind": None if last else "transient",
                "error": None if last else "binance 503 Service Unavailable",
                "exchange_id": str(10**15 + n) if last and status == "confirmed" else None,
                "venue_clock_offset_ms": 12,
            }
            self._add(TransferAttempt, attempt)
            self._journal("attempt", attempt, at)
        final = {
            **intent,
            "status": status,
            "updated_at": at + timedelta(milliseconds=300),
            "exchange_id": str(10**15 + n) if status == "confirmed" else None,
            "error": "binance -5013 Asset transfer failed" if status == "failed" else None,
        }
        self._add(Transfer, final)
        self._journal("transfer", final, at)

    def flush(self) -> None:
        with self.ledger.engine.begin() as conn:
            for model in (
                Run,
                BalanceSnapshot,
                PositionSnapshot,
                FundingSnapshot,
                Transfer,
                TransferAttempt,
                FundingPayment,
            ):
                rows = self.rows.get(model)
                if rows:
                    conn.execute(insert(model), rows)
            if self.journal:
                conn.execute(insert(JournalEntry), self.journal)
                conn.execute(update(JournalHead).values(seq=self.seq, hash=self.prev))
        self.rows, self.journal = {}, []


def generate(path: Path, transfers: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    ledger = Ledger.open(f"sqlite:///{path}", key=KEY)
    raw = ledger.engine.raw_connection()  # generation only: the bot never writes like this
    raw.driver_connection.execute("PRAGMA synchronous=OFF")
    raw.close()  # back to the pool of one: the next transaction runs on this connection
    generator = Generator(ledger)
    runs = transfers // TRANSFERS_PER_RUN
    started = time.perf_counter()
    for n in range(runs):
        generator.run(n)
        if n % 2500 == 2499:
            generator.flush()
            done = (n + 1) * TRANSFERS_PER_RUN
            rate = done / (time.perf_counter() - started)
            print(f"  generated {done:,} transfers ({rate:,.0f}/s)", file=sys.stderr, flush=True)
    generator.flush()
    from bot.ledger import totals

    with ledger.engine.begin() as conn:  # the running totals the writer would have kept
        totals.refold(conn)
    raw = ledger.engine.raw_connection()
    raw.driver_connection.execute("ANALYZE")
    raw.close()
    ledger.close()


def timed(function: Any, repeat: int = 5) -> float:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


CHILD = """
import atexit, os, sys
def _peak():
    with open("/proc/self/status") as status:
        line = next(l for l in status if l.startswith("VmHWM:"))
    with open(os.environ["BENCH_PEAK_FILE"], "w") as out:
        out.write(line.split()[1])
atexit.register(_peak)
sys.argv = ["bot", *sys.argv[1:]]
from bot.cli import main
main()
"""


def child(args: list[str], env: dict[str, str], peak_file: Path) -> tuple[float, float, int]:
    """Run the CLI in a child process: (seconds, peak RSS in MB, exit code). The peak is the
    child's own VmHWM (ru_maxrss would count the parent's memory at fork)."""
    started = time.perf_counter()
    code = subprocess.call(
        [sys.executable, "-c", CHILD, *args],
        env={**env, "BENCH_PEAK_FILE": str(peak_file)},
        stdout=subprocess.DEVNULL,
    )
    seconds = time.perf_counter() - started
    return seconds, int(peak_file.read_text()) / 1024, code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transfers", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/bench-ledger"))
    parser.add_argument("--keep", action="store_true", help="keep the generated ledger")
    parser.add_argument(
        "--queries-only", action="store_true", help="only summary and list (no export/verify)"
    )
    options = parser.parse_args()
    path = options.dir / f"ledger-{options.transfers}.sqlite"
    if not path.exists():
        print(f"generating {options.transfers:,} transfers in {path} ...", file=sys.stderr)
        started = time.perf_counter()
        try:
            generate(path, options.transfers)
        except BaseException:
            path.unlink(missing_ok=True)  # never reuse a half-made ledger
            raise
        print(f"  generated in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    from bot.audit.summary import GroupBy, summarize
    from bot.ledger.queries import TransferFilter, list_transfers
    from bot.model import TransferStatus

    url = f"sqlite:///{path}"
    audit = Ledger.open_read_only(url, key=KEY)
    with audit.engine.connect() as conn:
        counts = {
            table: conn.execute(text(f"SELECT count(*) FROM {table}")).scalar()
            for table in ("transfers", "transfer_attempts", "journal", "balance_snapshots")
        }
    recent = START + (options.transfers // TRANSFERS_PER_RUN - 2000) * CYCLE
    results: list[tuple[str, str]] = []
    for label, by in (("summary --by month", GroupBy.MONTH), ("summary --by venue", GroupBy.VENUE)):
        seconds = timed(lambda by=by: summarize(audit, by, TransferFilter()), repeat=3)
        results.append((label, f"{seconds:.3f} s"))
    for label, where in (
        ("list --since <recent> --limit 50", TransferFilter(since=recent, limit=50)),
        ("list --venue coinw --limit 50", TransferFilter(venue="coinw", limit=50)),
        (
            "list --status unknown --limit 50",
            TransferFilter(status=TransferStatus.UNKNOWN, limit=50),
        ),
        ("list --asset USDT --limit 50", TransferFilter(asset="USDT", limit=50)),
        ("list --hedge sol --limit 50", TransferFilter(hedge="sol", limit=50)),
        ("list --limit 50", TransferFilter(limit=50)),
    ):
        seconds = timed(lambda where=where: list_transfers(audit, where))
        results.append((label, f"{seconds * 1000:.1f} ms"))
    audit.close()
    config = options.dir / "config.yaml"
    config.write_text(
        f"ledger:\n  url: {url}\nvenues:\n  paper:\n    exchange: binance\n    paper: true\n"
    )
    env = {**os.environ, "BOT_LEDGER_KEY": KEY.decode(), "BOT_CONFIG": str(config)}
    peak_file = options.dir / "peak"
    startup, startup_rss, _ = child(["--help"], env, peak_file)
    results.append(("start-up (bot --help)", f"{startup:.2f} s, peak RSS {startup_rss:.0f} MB"))
    out = options.dir / "export.csv"
    runs: tuple[tuple[str, list[str], int], ...] = (
        (
            "export --format csv",
            ["ledger", "export", "--format", "csv", "--out", str(out)],
            counts["transfers"],
        ),
        (
            "export --format jsonl",
            ["ledger", "export", "--format", "jsonl", "--out", str(out)],
            counts["transfers"],
        ),
        ("list --json (all)", ["ledger", "list", "--json"], counts["transfers"]),
        ("verify", ["ledger", "verify"], counts["journal"]),
    )
    for label, args, rows in () if options.queries_only else runs:
        seconds, rss, code = child(args, env, peak_file)
        what = "entries" if label == "verify" else "rows"
        results.append(
            (
                label,
                f"{seconds:.1f} s, {rows / seconds:,.0f} {what}/s, peak RSS {rss:.0f} MB"
                + ("" if code == 0 else f", exit {code}"),
            )
        )
    out.unlink(missing_ok=True)
    print(f"\nledger: {path} ({path.stat().st_size / 2**30:.1f} GiB)")
    print("rows: " + ", ".join(f"{table} {n:,}" for table, n in counts.items()))
    print("\n| measurement | result |\n| --- | --- |")
    for label, value in results:
        print(f"| {label} | {value} |")
    if not options.keep:
        path.unlink()


if __name__ == "__main__":
    main()
