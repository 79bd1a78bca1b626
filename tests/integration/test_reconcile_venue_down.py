"""Reconciliation with one venue down: the reachable venue's unknown transfer is settled, the
unreachable venue is one error naming it, and neither `bot reconcile` nor `bot run`'s
reconcile job gives up on the venues that answer."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.alerts.alerter import Alerter
from bot.alerts.channels import Channels
from bot.config import load_config
from bot.cycle.rebalance import rebalance
from bot.jobs.context import JobContext
from bot.ledger import Ledger
from bot.model import TransferStatus
from bot.paper import PaperExchangeThread
from bot.scheduler.runner import run_job
from bot.venues.session import OpenVenues
from tests.integration.conftest import ETH_HEDGE, Invocation, live_venue

Bot = Callable[..., Invocation]


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then let go)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def with_a_venue_down(paper: PaperExchangeThread, write: Callable[..., Path]) -> Path:
    """One unknown transfer on `binance` (applied, then answered 500), then a config that
    also names `down`, a venue at a closed port."""
    write({"binance": live_venue(paper.base_url)}, {"eth": ETH_HEDGE})
    down: dict[str, Any] = live_venue(f"http://127.0.0.1:{closed_port()}")
    down["ccxt"] = {**down["ccxt"], "timeout": 1000}
    venues = {"binance": live_venue(paper.base_url), "down": down}
    return write(venues, {"eth": ETH_HEDGE}, retry={"attempts": 1})


def unknown_transfer(paper: PaperExchangeThread, config: Path, bot: Bot) -> dict[str, Any]:
    paper.faults.add("http_500_after")
    assert bot("rebalance", config=config).exit_code == 1
    (row,) = bot("ledger", "list", "--json", config=config).json()
    assert row["status"] == "unknown"
    return row  # type: ignore[no-any-return]


def test_bot_reconcile_settles_the_reachable_venue_and_names_the_one_down(
    paper: PaperExchangeThread, venue_env: None, write_config: Callable[..., Path], bot: Bot
) -> None:
    config = write_config({"binance": live_venue(paper.base_url)}, {"eth": ETH_HEDGE})
    row = unknown_transfer(paper, config, bot)
    config = with_a_venue_down(paper, write_config)

    result = bot("reconcile", config=config)

    (booked,) = paper.state.transfers
    assert f"transfer {row['id']} " in result.stdout
    assert f"is confirmed as {booked.tran_id}" in result.stdout
    # the venue that could not be read: one line on stderr, exit 1 as `bot rebalance` does
    assert result.exit_code == 1, result.stdout + result.stderr
    down_lines = [line for line in result.stderr.splitlines() if "venue down" in line]
    assert len(down_lines) == 1, result.stderr
    assert "venue down" not in result.stdout
    (settled,) = bot("ledger", "list", "--json", config=config).json()
    assert settled["status"] == "confirmed" and settled["exchange_id"] == str(booked.tran_id)


async def test_the_reconcile_job_settles_what_it_can_and_fails_naming_the_venue(
    paper: PaperExchangeThread, venue_env: None, write_config: Callable[..., Path]
) -> None:
    single = load_config(write_config({"binance": live_venue(paper.base_url)}, {"eth": ETH_HEDGE}))
    config = load_config(with_a_venue_down(paper, write_config))
    ledger = Ledger.open(config.ledger_url)
    paper.faults.add("http_500_after")
    (row,) = (await rebalance(single, ledger, dry_run=False)).transfers
    assert row.status is TransferStatus.UNKNOWN
    alerter = Alerter(ledger, Channels([]), config.alerts)
    lines: list[str] = []
    try:
        # as `bot run` holds them: a pool in which `down` never connected
        async with OpenVenues(config, dry_run=False) as pool:
            assert set(pool.failures) == {"down"}
            ctx = JobContext(
                config=config, ledger=ledger, alerter=alerter, say=lines.append, venues=pool
            )
            outcome = await run_job("reconcile", ctx, None)
    finally:
        ledger.close()

    assert outcome is not None and outcome.status == "failed"
    (line,) = lines
    assert f"settled transfer {row.id} confirmed" in line
    assert "venue down: " in line
    assert outcome.error is not None and outcome.error.startswith("venue down: ")
