"""The danger alert under `bot run` (0.5-1 s jobs, three of them observing the same hedge): the
channel is down when the danger starts, and back a moment later. The ALERT is delivered once
it is back, exactly once although the guard, the snapshot and the rebalance all see the
danger, as apprise's `failure`; a danger lasting longer than `alerts.repeat` is reminded with
its figure now; the RESOLVED follows, once, as `info`. Against the independent Binance fake,
with a loopback json:// sink."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.fakes.binance.config import HEDGES, write_binance_config
from tests.fakes.binance_server import BinanceFakeThread
from tests.protective.test_guard_faults import BotRun, until_ledger
from tests.unattended.conftest import Hook


def _posts(hook: Hook, prefix: str, start: int = 0) -> list[dict[str, object]]:
    """The margin alerts of hedge sol the sink received since post `start`: `prefix` is
    ALERT or RESOLVED."""
    with hook._lock:
        posts = list(hook.posts[start:])
    return [
        p
        for p in posts
        if str(p.get("message", "")).startswith(f"{prefix} hedge sol")
        and "danger line" in str(p.get("message"))
    ]


def _ran(ledger: Path, kind: str) -> int:
    """How many runs of the job `kind` the ledger has recorded."""
    if not ledger.exists():
        return 0
    with sqlite3.connect(f"file:{ledger}?mode=ro", uri=True, timeout=10) as conn:
        try:
            (count,) = conn.execute(
                "SELECT count(*) FROM job_runs WHERE kind = ?", (kind,)
            ).fetchone()
        except sqlite3.OperationalError:  # the schema is being created
            return 0
    return int(count)


def test_an_alert_the_channel_missed_is_delivered_once_when_it_returns(
    binance: BinanceFakeThread, tmp_path: Path
) -> None:
    binance.account.set_spot("USDT", "0")  # nothing to top up with: the danger lasts
    with Hook(status=500) as hook:  # the channel is down when the danger starts
        config = write_binance_config(
            tmp_path,
            binance.base_url,
            hedges={"sol": HEDGES["sol_usdm_isolated"]},
            schedule={
                "rebalance": {"every": "1s"},
                "snapshot": {"every": "0.5s"},
                "reconcile": None,
                "report": None,
                "guard": {"every": "0.5s"},
            },
            alerts={
                "urls": [hook.url],
                "danger_margin_ratio": "0.25",
                "rate_limit": "15s",
                "repeat": "1.5s",  # a danger still firing is reminded this often
            },
        )
        ledger = tmp_path / "data" / "ledger.sqlite"
        run = BotRun(config, tmp_path)
        try:
            until_ledger(lambda: _ran(ledger, "guard") > 0, "the guard's first poll")
            binance.account.set_mark("SOLUSDT", "185")  # ratio 0.216: under the danger line
            until_ledger(lambda: _posts(hook, "ALERT"), "the ALERT tried while the channel is down")
            back = len(hook.posts)
            hook.status = 200
            until_ledger(lambda: _posts(hook, "ALERT", back), "the ALERT delivered once it is back")
            # every job keeps seeing the danger: no second ALERT of it
            ticks = _ran(ledger, "snapshot")
            until_ledger(lambda: _ran(ledger, "snapshot") >= ticks + 3, "three more snapshots")
            (delivered,) = _posts(hook, "ALERT", back)
            assert delivered["type"] == "failure"
            assert "margin ratio 0.2162" in str(delivered["message"])
            # the danger lasts longer than `repeat`: reminded, with the figure now
            binance.account.set_mark("SOLUSDT", "190")  # worse: 0.1842
            until_ledger(
                lambda: any(
                    "margin ratio 0.1842" in str(p["message"])
                    for p in _posts(hook, "REMINDER", back)
                ),
                "a reminder with the current figure",
            )

            binance.account.set_mark("SOLUSDT", "150")  # back to 0.5
            until_ledger(lambda: _posts(hook, "RESOLVED", back), "the RESOLVED")
            ticks = _ran(ledger, "snapshot")
            until_ledger(lambda: _ran(ledger, "snapshot") >= ticks + 3, "three more snapshots")
            (resolved,) = _posts(hook, "RESOLVED", back)
            assert resolved["type"] == "info"
            assert "at or above the danger line" in str(resolved["message"])  # its figures now
            assert len(_posts(hook, "ALERT", back)) == 1
        finally:
            code, stderr = run.stop()
    assert code == 0, stderr
    assert "Traceback" not in stderr, stderr
