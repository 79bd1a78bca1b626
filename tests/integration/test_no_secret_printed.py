"""No secret is ever printed: the real CLI with `-vv` (ccxt's requests logged, masked), in a
subprocess, under every fault the paper exchange can inflict on a transfer and on a read, with
canary credentials; and a config that would make ccxt print its requests is refused with one
line before anything runs.

A subprocess runs steps one after another (the CLI's own `main`, one cycle per step, like `bot
rebalance` run again and again) so the test stays fast; before each step it restores the paper
account over the exchange's admin routes and queues the step's faults. Each step has its own
config file and ledger, so one step's unsettled transfer never holds back the next; the steps
of a subprocess share one data folder, so after the first they take the venue's markets from
its cache, as a user's repeated runs do (no fault targets the markets request). `DRIVERS` such
subprocesses, each with its own paper exchange, share the steps (one: the suite runs on two
cores, and a second one costs another import of ccxt for a shorter wait)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from bot.cli import app
from bot.paper import PaperExchangeThread, StateStore
from tests.integration.conftest import ETH_HEDGE, KEY_ENV, SECRET_ENV, live_venue

CANARY_KEY = "CANARYk3y9b1e7d5c3a1f9e7d5c3b1a9f7e5d3c1b9a7f5e3d1c9b7a5f3e1d9c7b5a3"
CANARY_SECRET = "CANARYs3cr3t4f6e8d0c2b4a6f8e0d2c4b6a8f0e2d4c6b8a0f2e4d6c8b0a2f4e6d8"
TRANSFER = {"method": "POST", "path": "/sapi/v1/asset/transfer"}
READ = {"method": "GET", "path": "/api/v3/account"}  # the spot wallet, read every cycle
HTML = "<html><body><h1>502 Bad Gateway</h1>nginx</body></html>"
HANG = 0.6  # seconds a timeout fault holds the answer; ccxt gives up after TIMEOUT_MS
TIMEOUT_MS = 200
VERBOSE_REFUSED = (
    "error: venues.binance.ccxt.verbose: refused: ccxt's verbose output prints the API key and "
    "request signatures; use bot -v for the bot's redacted debug log"
)

# Each kind of fault on the transfer and on a read (a refused read ends that venue's cycle, so
# the refusals on a read get steps of their own).
FAULTS: dict[str, dict[str, Any]] = {
    "http_500_before": {"kind": "http_500_before"},
    "http_500_after": {"kind": "http_500_after"},
    "http_429": {"kind": "http_429"},
    "timeout_before": {"kind": "timeout_before", "hang": HANG},
    "timeout_after": {"kind": "timeout_after", "hang": HANG},
    "reset_after": {"kind": "reset_after"},
    "error_2015": {"kind": "error", "status": 401, "code": -2015},
    "error_1022": {"kind": "error", "status": 400, "code": -1022},
    "override_html": {"kind": "override", "status": 502, "body": HTML, "content_type": "text/html"},
}
DRIVERS = 1
REFUSALS = ("error_2015", "error_1022", "override_html")

DRIVER = """
import json, sys, urllib.request
from bot.cli import main

plan = json.load(open(sys.argv[1]))

def admin(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(plan["base_url"] + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read() or b"null")

initial = admin("GET", "/_paper/state")
initial.pop("server_time")
results = []
for step in plan["steps"]:
    admin("PUT", "/_paper/state", initial)
    admin("DELETE", "/_paper/faults")
    for fault in step["faults"]:
        admin("POST", "/_paper/fault", fault)
    print("=== step " + step["name"], file=sys.stderr, flush=True)
    sys.argv = ["bot", *step["argv"]]
    try:
        main()
        code = 0
    except SystemExit as exit:
        code = exit.code
    report = admin("GET", "/_paper/faults")
    results.append({"name": step["name"], "code": code, "pending": len(report["pending"])})
json.dump(results, open(plan["results"], "w"))
"""


@pytest.fixture
def papers(tmp_path: Path) -> Iterator[list[PaperExchangeThread]]:
    with contextlib.ExitStack() as stack:
        yield [
            stack.enter_context(
                PaperExchangeThread(
                    StateStore(tmp_path / f"paper-{index}.json"),
                    api_key=CANARY_KEY,
                    secret=CANARY_SECRET,
                    test_hooks=True,
                )
            )
            for index in range(DRIVERS)
        ]


def write_config(folder: Path, number: int, base_url: str, **ccxt: Any) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    config = {
        "ledger": {"url": f"sqlite:///data/ledger-{number}.sqlite"},
        "transfers": {"settle_window_seconds": 0},
        "retry": {"initial_backoff_seconds": 0.01, "max_backoff_seconds": 0.05},
        "venues": {
            "binance": live_venue(
                base_url,
                websocket=False,
                ccxt={"enableRateLimit": False, "timeout": TIMEOUT_MS, **ccxt},
            )
        },
        "hedges": {"eth": ETH_HEDGE},
    }
    path = folder / f"config-{number}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def steps() -> list[dict[str, Any]]:
    plan = [
        {"name": f"{name} on a read and the transfer", "faults": [{**f, **READ}, {**f, **TRANSFER}]}
        for name, f in FAULTS.items()
        if name not in REFUSALS
    ]
    plan += [
        {"name": f"{name} on the transfer", "faults": [{**FAULTS[name], **TRANSFER}]}
        for name in REFUSALS
    ]
    plan += [
        {"name": f"{name} on a read", "faults": [{**FAULTS[name], **READ}]} for name in REFUSALS
    ]
    plan.append({"name": "verbose in config", "faults": [], "ccxt": {"verbose": True}})
    return plan


def test_no_secret_is_printed_or_stored_under_any_fault(
    papers: list[PaperExchangeThread], tmp_path: Path
) -> None:
    # crash reports go to each run's data/crash (scanned below with every file under tmp_path);
    # TMPDIR points here too, so that nothing written to a temporary file escapes the scan
    crash_dir = tmp_path / "tmp"
    crash_dir.mkdir()
    env = {**os.environ, KEY_ENV: CANARY_KEY, SECRET_ENV: CANARY_SECRET, "TMPDIR": str(crash_dir)}
    all_steps = steps()
    runs = []
    for index, paper in enumerate(papers):
        mine = all_steps[index :: len(papers)]
        for number, step in enumerate(mine):
            folder = tmp_path / f"run{index}"
            config = write_config(folder, number, paper.base_url, **step.pop("ccxt", {}))
            step["argv"] = ["-vv", "--config", str(config), "rebalance"]
        plan = {
            "base_url": paper.base_url,
            "steps": mine,
            "results": str(tmp_path / f"{index}.json"),
        }
        (tmp_path / f"plan{index}.json").write_text(json.dumps(plan))
        command = [sys.executable, "-c", DRIVER, str(tmp_path / f"plan{index}.json")]
        runs.append(
            subprocess.Popen(
                command,
                env=env,
                cwd=tmp_path,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    outputs = [run.communicate(timeout=120) for run in runs]

    results: dict[str, dict[str, Any]] = {}
    for index, (run, (stdout, stderr)) in enumerate(zip(runs, outputs, strict=True)):
        assert run.returncode == 0, stderr[-3000:]
        for text in (stdout, stderr):
            assert CANARY_KEY not in text and CANARY_SECRET not in text
            assert not re.search(r"signature=[0-9a-f]{16}", text), "a request signature leaked"
        # -vv really did log ccxt's requests, with the key header masked
        assert "X-MBX-APIKEY" in stderr and "'***'" in stderr
        mine = json.loads((tmp_path / f"{index}.json").read_text())
        for result, section in zip(mine, stderr.split("=== step ")[1:], strict=True):
            results[result["name"]] = {**result, "stderr": section}
    assert len(results) == len(all_steps)

    refused = results.pop("verbose in config")
    assert refused["code"] == 2
    lines = refused["stderr"].splitlines()[1:]
    assert len(lines) == 1 and lines[0].startswith(VERBOSE_REFUSED), lines
    # a fatal refusal of the transfer (-2015 permissions, -1022 signature) halts the venue: 2
    halted = [name for name, r in results.items() if "bot venue resume" in r["stderr"]]
    assert "error_2015 on the transfer" in halted
    for name in halted:
        assert results.pop(name)["code"] == 2, name
    for name, result in results.items():
        assert result["pending"] == 0, f"{name}: a fault never fired"
        assert result["code"] in (0, 1), result
        assert "unexpectedly" not in result["stderr"], result["stderr"]
    codes = {result["code"] for result in results.values()}
    assert codes == {0, 1}  # some steps moved money, some were refused or left unknown
    assert "-2015" in results["error_2015 on a read"]["stderr"]

    files = [path for path in tmp_path.rglob("*") if path.is_file()]
    ledgers = [path for path in files if re.fullmatch(r"ledger-\d+\.sqlite", path.name)]
    assert len(ledgers) >= len(all_steps) - 1  # all but the refused verbose config's
    for path in files:
        data = path.read_bytes()
        assert CANARY_KEY.encode() not in data, path
        assert CANARY_SECRET.encode() not in data, path


def test_help_shows_no_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, CANARY_KEY)
    monkeypatch.setenv(SECRET_ENV, CANARY_SECRET)
    for argv in (["--help"], ["rebalance", "--help"], ["reconcile", "--help"]):
        shown = CliRunner().invoke(app, argv)
        assert shown.exit_code == 0
        assert CANARY_KEY not in shown.stdout and CANARY_SECRET not in shown.stdout
