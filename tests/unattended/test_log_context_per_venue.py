"""Every line of a cycle carries its run id, and a line about one venue names that venue, not
the job's set of venues: a rebalance job over two paper exchanges, logged as JSON at debug."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.alerts.alerter import Alerter
from bot.alerts.channels import Channels
from bot.config import Config
from bot.jobs.context import JobContext
from bot.ledger import Ledger
from bot.model import TransferStatus
from bot.paper import PaperExchangeThread, StateStore
from bot.runtime import logs
from bot.scheduler.runner import run_job
from tests.integration.conftest import Invocation
from tests.unattended.conftest import ETH_HEDGE, live_venue, make_config

VENUES = ("east", "west")


@pytest.fixture
def west(tmp_path: Path) -> Iterator[PaperExchangeThread]:
    with PaperExchangeThread(StateStore(tmp_path / "paper-west.json"), test_hooks=True) as running:
        yield running


@pytest.fixture
def config(
    tmp_path: Path, paper: PaperExchangeThread, west: PaperExchangeThread, venue_env: None
) -> Config:
    return make_config(
        tmp_path,
        {"east": live_venue(paper.base_url), "west": live_venue(west.base_url)},
        hedges={f"eth-{name}": {**ETH_HEDGE, "venue": name} for name in VENUES},
    )


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """The root logger as `bot --log-format json -vv` sets it, into a buffer; restored after."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level, logs.current_format())
    stream = io.StringIO()
    logs.configure(logging.DEBUG, "json", stream=stream)
    yield stream
    handlers, level, log_format = saved
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    logs._format = log_format


def bot_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    """The bot's own lines (the paper exchanges, servers on threads of this test, log too)."""
    entries = [json.loads(line) for line in stream.getvalue().splitlines() if line]
    return [e for e in entries if not e["logger"].startswith(("bot.paper", "aiohttp"))]


async def test_a_cycles_lines_carry_its_run_id_and_the_venue_they_are_about(
    config: Config, json_log: io.StringIO
) -> None:
    ledger = Ledger.open(config.ledger_url)
    lines: list[str] = []
    alerter = Alerter(ledger, Channels([]), config.alerts)
    ctx = JobContext(config=config, ledger=ledger, alerter=alerter, say=lines.append)
    json_log.seek(0)
    json_log.truncate()  # from here on, the job's lines (opening the ledger was not one)
    try:
        outcome = await run_job("rebalance", ctx, None)
    finally:
        ledger.close()
    assert outcome is not None and outcome.status == "ok", lines
    assert outcome.run_id is not None
    transfers = {t.venue: t for t in outcome.facts.transfers}
    assert set(transfers) == set(VENUES)
    assert all(t.status is TransferStatus.CONFIRMED for t in transfers.values())

    entries = bot_lines(json_log)
    assert entries, json_log.getvalue()
    assert {e["run_id"] for e in entries} == {"rebalance-1"}, entries
    for name in VENUES:
        reads = [e for e in entries if e["message"].startswith(f"{name}: read ")]
        sends = [
            e
            for e in entries
            if e["message"].startswith(f"transfer {transfers[name].id}: sending ")
        ]
        confirmed = [
            e
            for e in entries
            if e["message"].startswith(f"transfer {transfers[name].id}: confirmed ")
        ]
        assert reads and sends and confirmed, entries
        assert {e["venue"] for e in reads + sends + confirmed} == {name}
    # lines about no single venue (the job's own) keep the job's set of venues
    venues_seen = {e["venue"] for e in entries}
    assert venues_seen <= {"east", "west", "east,west"}, venues_seen


def test_a_one_shot_rebalance_names_its_run_on_every_line_of_the_cycle(
    config: Config, tmp_path: Path, bot: Callable[..., Invocation]
) -> None:
    """`bot rebalance` has no job: the cycle's lines carry the ledger's run id."""
    import yaml

    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config.model_dump(mode="json", exclude_unset=True)))
    result = bot("--log-format", "json", "-vv", "rebalance", config=path)
    assert result.exit_code == 0, result.stdout + result.stderr
    entries = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    sends = [e for e in entries if " sending " in e["message"]]
    assert {e["venue"] for e in sends} == set(VENUES)
    assert {e["run_id"] for e in sends} == {"1"}
