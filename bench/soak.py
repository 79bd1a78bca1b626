"""Soak: `bot run` for a long time with 1 s jobs and a moving price, as under systemd.

    python -m bench.soak [--minutes 30] [--sample 5]

Starts a paper exchange (test hooks on) in this process and `bot run` as a subprocess against
it (REST and the guard's streams), every job every second. The price walks in a band and,
every few minutes, rallies under the danger line so the guard tops up; the excess goes back at
the next rebalance. Every `--sample` seconds it reads the bot's RSS and open file descriptors
from /proc. At the end it sends SIGTERM and prints: job runs by kind and status (missed = later
than misfire_grace, skipped = coalesced behind a run still going), late runs, transfers by
status, guard checks the streams woke, RSS start/end/max, open fds start/end/max, the exit code,
and whether the ledger agrees with the exchange.
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path

import ccxt
import yaml

from bot.jobs import NAMES
from bot.paper import PAPER_API_KEY, PAPER_SECRET, PaperExchangeThread, StateStore, binance_urls
from bot.paper.routes_ws import websocket_base

ROOT = Path(__file__).resolve().parents[1]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def config_for(base_url: str) -> dict:  # type: ignore[type-arg]
    urls = binance_urls(base_url, ccxt.binance().urls["api"])
    ws = websocket_base(base_url)  # the guard follows the paper exchange's streams too
    streams = {"ws.linear": f"{ws}/ws", "ws.inverse": f"{ws}/ws"}
    return {
        "ledger": {"url": "sqlite:///data/ledger.sqlite"},
        "venues": {
            "binance": {
                "exchange": "binance",
                "api_key_env": "SOAK_KEY",
                "secret_env": "SOAK_SECRET",
                "urls": {k: v for k, v in urls.items() if isinstance(v, str)} | streams,
                "ccxt": {"enableRateLimit": False, "timeout": 5000},
            }
        },
        "hedges": {
            "eth": {
                "venue": "binance",
                "spot": "ETH/USDT",
                "perp": "ETH/USDT:USDT",
                "target_margin_ratio": "0.5",
                "band": ["0.4", "0.6"],
            }
        },
        "schedule": {kind: {"every": "1s"} for kind in NAMES},
        "alerts": {"urls": [], "danger_margin_ratio": "0.25"},
    }


def price_at(elapsed: float) -> Decimal:
    """A walk around 3000 with a rally past the danger line for 20 s every 3 minutes."""
    base = 3000 + 150 * math.sin(elapsed / 40)
    if elapsed % 180 > 160:
        base = 3800
    return Decimal(str(round(base, 2)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--sample", type=float, default=5)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bot-soak-"))
    with PaperExchangeThread(StateStore(workdir / "paper.json"), test_hooks=True) as paper:
        (workdir / "config.yaml").write_text(yaml.safe_dump(config_for(paper.base_url)))
        env = {**os.environ, "SOAK_KEY": PAPER_API_KEY, "SOAK_SECRET": PAPER_SECRET}
        env.pop("BOT_CONFIG", None)
        # stderr to a file: a pipe nobody reads fills up and blocks the bot's next log line
        errors = (workdir / "stderr.txt").open("w")
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "--config", str(workdir / "config.yaml"), "run"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        )
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.extend(process.stdout or []), daemon=True)
        reader.start()
        # the first sample is the steady state's beginning: after the first cycle, with every
        # import done and every client and stream connected
        for _ in range(600):
            if any(line.startswith("run ") for line in list(lines)) or process.poll() is not None:
                break
            time.sleep(0.1)
        time.sleep(5)
        rss, fds = [rss_kib(process.pid)], [open_fds(process.pid)]
        started = time.monotonic()
        last_sample = started
        while (elapsed := time.monotonic() - started) < args.minutes * 60:
            if process.poll() is not None:
                break
            paper.set_mark_price("ETHUSDT", price_at(elapsed))
            if time.monotonic() - last_sample >= args.sample:
                rss.append(rss_kib(process.pid))
                fds.append(open_fds(process.pid))
                last_sample = time.monotonic()
            time.sleep(1)
        rss.append(rss_kib(process.pid))
        fds.append(open_fds(process.pid))
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=180)
        errors.close()
        stderr = (workdir / "stderr.txt").read_text()
        ran = time.monotonic() - started
        report(workdir, paper, process.returncode, ran, rss, fds, stderr)


def report(workdir, paper, code, ran, rss, fds, stderr) -> None:  # type: ignore[no-untyped-def]
    with sqlite3.connect(workdir / "data" / "ledger.sqlite") as conn:
        jobs = conn.execute(
            "SELECT kind, status, count(*) FROM job_runs GROUP BY kind, status ORDER BY 1, 2"
        ).fetchall()
        late = conn.execute(
            "SELECT count(*) FROM job_runs WHERE late AND status NOT IN ('skipped', 'missed')"
        ).fetchone()[0]
        transfers = conn.execute(
            "SELECT status, count(*) FROM transfers GROUP BY status ORDER BY 1"
        ).fetchall()
        moved = conn.execute(
            "SELECT from_account, amount FROM transfers WHERE status = 'confirmed'"
        ).fetchall()
        guard_runs = conn.execute("SELECT count(*) FROM runs WHERE command = 'guard'").fetchone()[0]
        woken = conn.execute(
            "SELECT count(*) FROM job_runs WHERE kind = 'guard' AND scheduled_at IS NULL"
        ).fetchone()[0]
    net = sum((Decimal(a) if source == "spot" else -Decimal(a) for source, a in moved), Decimal(0))
    agrees = paper.state.usdm["USDT"].wallet_balance == Decimal("4500") + net
    print(f"soak: ran {ran / 60:.1f} min with 1 s jobs; exit code {code}")
    print("job runs: " + "; ".join(f"{k} {s} {n}" for k, s, n in jobs))
    missed = sum(n for _, s, n in jobs if s == "missed")
    skipped = sum(n for _, s, n in jobs if s == "skipped")
    errors = sum(n for _, s, n in jobs if s == "error")
    print(f"missed {missed}, skipped (coalesced) {skipped}, errors {errors}, late {late}")
    print(f"transfers: {dict(transfers)}; guard runs {guard_runs}; ledger agrees: {agrees}")
    print(f"guard checks woken by the streams: {woken}")
    print(f"HTTP 429 in stderr: {stderr.count('429')}")
    print(f"RSS KiB start {rss[0]} end {rss[-1]} max {max(rss)}")
    tenths = [rss[min(len(rss) - 1, round(i * (len(rss) - 1) / 10))] for i in range(11)]
    print("RSS KiB at each tenth of the run: " + " ".join(str(k) for k in tenths))
    print(f"open fds start {fds[0]} end {fds[-1]} max {max(fds)}")
    print(f"stderr: {len(stderr.splitlines())} lines; workdir {workdir}")
    if "Traceback" in stderr:
        print("stderr had a traceback:\n" + stderr[-2000:])


if __name__ == "__main__":
    main()
