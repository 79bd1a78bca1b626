"""`bot run` as systemd would run it: a subprocess against the paper exchange (REST and its
streams) with 1 s jobs, a loopback webhook as the alert channel and the metrics port. One
scenario, many checks (a subprocess start costs a second or two). The guard's poll is an hour
away: its top-ups come from the streamed mark."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Callable
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import yaml

from bot.jobs import NAMES
from bot.paper import PAPER_API_KEY, PAPER_SECRET, PaperExchangeThread
from bot.paper.routes_ws import websocket_base
from tests.integration.conftest import KEY_ENV, SECRET_ENV
from tests.unattended.conftest import ETH_HEDGE, Hook, live_venue
from tests.waiting import found_sync

ROOT = Path(__file__).resolve().parents[2]


class Output:
    """The subprocess's stdout, line by line, read on a thread."""

    def __init__(self, stream) -> None:  # type: ignore[no-untyped-def]
        self.lines: list[str] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:  # type: ignore[no-untyped-def]
        for line in stream:
            with self._lock:
                self.lines.append(line.rstrip("\n"))

    def wait_for(self, pattern: str) -> re.Match[str]:
        """The first line matching `pattern`, waiting for it (within the deadline)."""
        compiled = re.compile(pattern)

        def first() -> re.Match[str] | None:
            with self._lock:
                return next(
                    (found for line in self.lines if (found := compiled.search(line))), None
                )

        try:
            return found_sync(first, f"a line matching {pattern!r}", poll=0.1)
        except AssertionError as missing:
            raise AssertionError(f"{missing}; the lines: {self.text()}") from None

    def text(self) -> str:
        with self._lock:
            return "\n".join(self.lines)


def metric(port: int, name: str, labels: str) -> float:
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    found = re.search(rf"^{re.escape(name)}\{{{re.escape(labels)}\}} (\S+)$", body, re.M)
    assert found, f"{name}{{{labels}}} not in metrics"
    return float(found.group(1))


def wait_metric_change(port: int, name: str, labels: str, before: float) -> float:
    def changed() -> float | None:
        try:
            value = metric(port, name, labels)
        except AssertionError:
            return None
        return value if value != before else None

    return found_sync(changed, f"{name}{{{labels}}} to change from {before}", poll=0.1)


def ledger_rows(path: Path, sql: str) -> list[tuple]:  # type: ignore[type-arg]
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10) as conn:
        return conn.execute(sql).fetchall()


def wait_for_row(path: Path, sql: str) -> tuple:  # type: ignore[type-arg]
    def first() -> tuple | None:  # type: ignore[type-arg]
        rows = ledger_rows(path, sql) if path.exists() else []
        return rows[0] if rows else None

    return found_sync(first, f"a row for {sql}", poll=0.05)


def streamed_venue(base_url: str) -> dict[str, Any]:
    """The paper exchange over REST and, through `ws.*` urls, its streams."""
    venue = live_venue(base_url)
    ws = websocket_base(base_url)
    venue["urls"] |= {"ws.linear": f"{ws}/ws", "ws.inverse": f"{ws}/ws"}
    # a keepalive every 300 ms instead of 20 min, so the test sees the bot send it
    venue["ccxt"] |= {"options": {"listenKeyRefreshRate": 300}}
    return venue


def usdm_listen_keys(paper: PaperExchangeThread) -> list[dict[str, Any]]:
    """The USD-M listen keys the paper exchange issued (its test hook GET /_paper/streams)."""
    with urllib.request.urlopen(f"{paper.base_url}/_paper/streams", timeout=10) as answer:
        keys = json.load(answer)["listen_keys"]
    return [key for key in keys if key["family"] == "usdm"]


def wait_for_keepalive(paper: PaperExchangeThread) -> str:
    """The USD-M listen key, once it has been kept alive at least once."""

    def kept() -> str | None:
        alive = [k for k in usdm_listen_keys(paper) if k["valid"] and k["keepalives"] >= 1]
        return str(alive[0]["listenKey"]) if alive else None

    return found_sync(kept, "a USD-M listen key kept alive", poll=0.05)


def wait_for_new_key(paper: PaperExchangeThread, old: str) -> str:
    def fresh() -> str | None:
        new = [k for k in usdm_listen_keys(paper) if k["valid"] and k["listenKey"] != old]
        return str(new[0]["listenKey"]) if new else None

    return found_sync(fresh, f"a new listen key after {old} expired", poll=0.05)


def test_bot_run_unattended(
    tmp_path: Path,
    paper: PaperExchangeThread,
    hook: Hook,
    bot: Callable[..., object],
    venue_env: None,
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "ledger": {"url": "sqlite:///data/ledger.sqlite"},
                "venues": {"binance": streamed_venue(paper.base_url)},
                "hedges": {"eth": ETH_HEDGE},
                "schedule": {
                    "rebalance": {"every": "1h"},  # once at start: the guard acts after that
                    "snapshot": {"every": "1s"},
                    "reconcile": {"every": "1s"},
                    "guard": {"every": "1h"},  # its poll never comes: the streams wake it
                    "report": {"every": "1s"},
                },
                "alerts": {"urls": [hook.url], "danger_margin_ratio": "0.25", "rate_limit": 0},
                "metrics": {"port": 0},
            }
        )
    )
    ledger = tmp_path / "data" / "ledger.sqlite"
    env = {**os.environ, KEY_ENV: PAPER_API_KEY, SECRET_ENV: PAPER_SECRET}
    env.pop("BOT_CONFIG", None)
    errors = (tmp_path / "stderr.txt").open("w+")  # a file: stdout alone is read while it runs
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "--config", str(config), "run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=errors,
        text=True,
    )
    try:
        output = Output(process.stdout)
        port = int(output.wait_for(r"metrics on http://127\.0\.0\.1:(\d+)/metrics").group(1))
        output.wait_for(r"^run 1: moved 2999\.9999\d* USDT spot -> linear on binance")
        assert "jobs: rebalance every 1h; snapshot every 1s" in output.lines[0]

        # metrics that change
        report_at = wait_metric_change(
            port, "bot_job_last_success_timestamp_seconds", 'job="report"', 0.0
        )
        wait_metric_change(
            port, "bot_job_last_success_timestamp_seconds", 'job="report"', report_at
        )
        ratio = wait_metric_change(port, "bot_hedge_margin_ratio", 'hedge="eth"', 0.0)
        assert abs(ratio - 0.5) < 0.001

        # bot status sees the run; a second bot run is refused
        status = bot("status", config=config)
        assert f"bot run: running for binance: pid {process.pid}" in status.stdout  # type: ignore[attr-defined]
        assert "job rebalance: ok" in status.stdout  # type: ignore[attr-defined]
        second = bot("run", config=config)
        assert second.exit_code == 2  # type: ignore[attr-defined]
        assert f"bot run is already running it: pid {process.pid}" in second.stderr  # type: ignore[attr-defined]

        # a rally: the danger alert, the guard's top-up between runs (the mark stream carries
        # the move, the guard reads, judges and tops up), the resolution
        first_key = wait_for_keepalive(paper)  # ccxt.pro's listen key, kept alive by the bot
        paper.set_mark_price("ETHUSDT", D("3700"))
        alert = hook.wait_for(lambda m: m.startswith("ALERT hedge eth"))
        assert "under the danger line 0.25" in alert and "liquidation price" in alert
        output.wait_for(r"^guard run \d+: margin under 0\.25: topped up 5249\.9999\d* USDT")
        hook.wait_for(lambda m: m.startswith("RESOLVED hedge eth"))
        assert wait_metric_change(port, "bot_hedge_margin_ratio", 'hedge="eth"', ratio) != ratio
        hook.wait_for(lambda m: m.startswith("daily report"))

        # the listen key expires (Binance closes its stream): the bot gets a new one
        assert paper.expire_listen_key(first_key) >= 1
        assert wait_for_new_key(paper, first_key) != first_key

        # SIGTERM while a transfer is in flight: it finishes, the ledger records it, exit 0
        paper.faults.latency = 0.5
        paper.set_mark_price("ETHUSDT", D("4500"))
        wait_for_row(
            ledger, "SELECT id FROM transfers WHERE status = 'pending' AND amount IS NOT NULL"
        )
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=150)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        errors.seek(0)
        stderr = errors.read()
        errors.close()
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr, stderr
    # the streams closed with the process: no socket, session or task left behind
    for leak in ("Unclosed", "was never retrieved", "was destroyed but it is pending"):
        assert leak not in stderr, stderr
    output.wait_for(r"^stopping \(SIGTERM\)")
    output.wait_for(r"^stopped$")

    rows = ledger_rows(ledger, "SELECT status, from_account, amount FROM transfers")
    assert {status for status, _, _ in rows} == {"confirmed"}, rows
    assert len(rows) == 3 == len(paper.state.transfers)
    into_futures = sum(D(amount) for _, source, amount in rows if source == "spot")
    assert paper.state.usdm["USDT"].wallet_balance == D("4500") + into_futures
    jobs = ledger_rows(ledger, "SELECT DISTINCT kind FROM job_runs WHERE status = 'ok'")
    assert {kind for (kind,) in jobs} == set(NAMES)
    # every guard run was woken by a stream (none was scheduled), both top-ups among them
    guards = ledger_rows(ledger, "SELECT scheduled_at FROM job_runs WHERE kind = 'guard'")
    assert guards and all(scheduled is None for (scheduled,) in guards), guards
    assert ledger_rows(ledger, "SELECT count(*) FROM runs WHERE command = 'guard'") == [(2,)]
    assert ledger_rows(ledger, "SELECT count(*) FROM job_runs WHERE status = 'running'") == [(0,)]
