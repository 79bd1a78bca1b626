"""Two `bot run`s with disjoint venues share one PostgreSQL ledger (how the bot scales past
one machine): both start, both act, both hold their own venues' run locks, both stop cleanly.
Skipped without BOT_TEST_POSTGRES_URL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import yaml
from sqlalchemy import Engine

from bot.ledger.run_lock import run_holders
from bot.paper import PAPER_API_KEY, PAPER_SECRET, PaperExchangeThread, StateStore
from tests.integration.conftest import KEY_ENV, SECRET_ENV
from tests.unattended.conftest import ETH_HEDGE, live_venue
from tests.unattended.test_run_end_to_end import ROOT, Output
from tests.unattended.test_run_lock import postgres_engine  # noqa: F401  (fixture)


def test_two_bot_runs_with_disjoint_venues_share_one_postgresql_ledger(
    postgres_engine: Engine,  # noqa: F811
    tmp_path: Path,
) -> None:
    url = postgres_engine.url.render_as_string(hide_password=False)
    env = {**os.environ, KEY_ENV: PAPER_API_KEY, SECRET_ENV: PAPER_SECRET}
    env.pop("BOT_CONFIG", None)
    processes: list[subprocess.Popen[str]] = []
    with (
        PaperExchangeThread(StateStore(tmp_path / "a.json")) as paper_a,
        PaperExchangeThread(StateStore(tmp_path / "b.json")) as paper_b,
    ):
        try:
            outputs = []
            for name, paper in (("alpha", paper_a), ("beta", paper_b)):
                folder = tmp_path / name
                folder.mkdir()
                (folder / "config.yaml").write_text(
                    yaml.safe_dump(
                        {
                            "ledger": {"url": url},
                            "venues": {name: live_venue(paper.base_url)},
                            "hedges": {f"eth-{name}": {**ETH_HEDGE, "venue": name}},
                            "schedule": {
                                "rebalance": {"every": "1h"},
                                **{k: None for k in ("snapshot", "reconcile", "report", "guard")},
                            },
                        }
                    )
                )
                process = subprocess.Popen(
                    [sys.executable, "-m", "bot", "--config", str(folder / "config.yaml"), "run"],
                    cwd=ROOT,
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=(folder / "stderr.txt").open("w"),
                    text=True,
                )
                processes.append(process)
                outputs.append(Output(process.stdout))
            for output, name in zip(outputs, ("alpha", "beta"), strict=True):
                output.wait_for(rf"^run \d+: moved 2999\.9999\d* USDT spot -> linear on {name}")
            holders = run_holders(postgres_engine, tmp_path, ["alpha", "beta"])
            assert {v: int(h["pid"]) for v, h in holders.items()} == {
                "alpha": processes[0].pid,
                "beta": processes[1].pid,
            }
            for process in processes:
                process.send_signal(signal.SIGTERM)
            for process in processes:
                assert process.wait(timeout=150) == 0
        finally:
            for process in processes:
                if process.poll() is None:
                    process.kill()
                    process.wait()
        assert len(paper_a.state.transfers) == 1 == len(paper_b.state.transfers)
