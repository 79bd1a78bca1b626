"""Issue 21, one protective path: the margin guard ticking against a fatal refusal and against
an empty spot, in-process against the paper exchange, with the alerts a person gets.

Before: a standing -2015 made a POST, a failed row and an alert at every tick, and an empty
spot a `skipped` row at every tick. Now: one POST, one failed row, one halt, one alert; and one
standing nothing-to-move row whose count grows."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal as D
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select, text

from bot.alerts.alerter import Alerter
from bot.alerts.channels import Channels
from bot.audit.verify import verify_ledger
from bot.config import Config
from bot.jobs.context import JobContext
from bot.ledger import Ledger
from bot.ledger.tables import Transfer, VenueHalt
from bot.paper import PaperExchangeThread
from bot.scheduler.runner import run_job
from tests.integration.conftest import ETH_HEDGE, set_spot
from tests.unattended.conftest import Hook, live_venue, make_config

REFUSED = "Invalid API-key, IP, or permissions for action."
TICKS = 6


@pytest.fixture
def alerts(hook: Hook) -> dict[str, object]:
    return {"urls": [hook.url], "rate_limit": "0s"}


@pytest.fixture
def config(
    tmp_path: Path, paper: PaperExchangeThread, venue_env: None, alerts: dict[str, object]
) -> Config:
    return make_config(tmp_path, {"binance": live_venue(paper.base_url)}, alerts=alerts)


@pytest.fixture
def ctx(config: Config) -> Iterator[JobContext]:
    ledger = Ledger.open(config.ledger_url)
    alerter = Alerter(ledger, Channels(config.alerts.urls), config.alerts)
    yield JobContext(config=config, ledger=ledger, alerter=alerter, say=lambda _: None)
    ledger.close()


def transfers(ledger: Ledger) -> list[Transfer]:
    with ledger._sessions() as session:
        return list(session.scalars(select(Transfer).order_by(Transfer.id)))


def alerts_starting(hook: Hook, prefix: str) -> list[str]:
    return [m for m in hook.messages() if m.startswith(prefix)]


async def test_a_standing_refusal_halts_the_venue_once_until_a_person_resumes_it(
    ctx: JobContext, paper: PaperExchangeThread, hook: Hook, bot, tmp_path: Path, alerts
) -> None:  # type: ignore[no-untyped-def]
    paper.faults.add("error", status=401, code=-2015, msg=REFUSED, times=None)
    paper.set_mark_price("ETHUSDT", D("3700"))  # ratio 0.216: under the danger line 0.25
    for _ in range(TICKS):
        await run_job("guard", ctx, None)

    assert paper.faults.fired["error"] == 1  # one POST reached the venue, not one per tick
    (failed,) = transfers(ctx.ledger)
    assert failed.status == "failed" and "-2015" in (failed.error or "")
    (halt,) = ctx.ledger.open_halts()
    assert (halt.venue, halt.kind, halt.code, halt.transfer_id) == (
        "binance",
        "fatal",
        "-2015",
        failed.id,
    )
    assert "Universal Transfer" in (halt.hint or "")
    hook.wait_for(lambda m: m.startswith("ALERT venue binance halted"))
    assert len(alerts_starting(hook, "ALERT venue binance halted")) == 1
    # the failed row: one alert for its venue, hedge, direction and kind of error
    assert len(alerts_starting(hook, "ALERT transfers failed on binance for hedge eth")) == 1
    assert len(hook.messages()) == 3  # with the margin alert: nothing repeats per tick

    # bot status says it needs a person, since when, the error and the fix
    config_file = tmp_path / "config.yaml"
    config_file.write_text(
        yaml.safe_dump(
            {
                "ledger": {"url": "sqlite:///data/ledger.sqlite"},
                "transfers": {"safety": "0.99", "min_amount": "10", "max_amount": None},
                "venues": {"binance": live_venue(paper.base_url)},
                "hedges": {"eth": ETH_HEDGE},
                "alerts": alerts,
            }
        )
    )
    status = bot("status", config=config_file)
    assert status.exit_code == 1
    assert "venue binance halted since" in status.stdout
    assert "enable Universal Transfer on it" in status.stdout
    assert "bot venue resume binance" in status.stdout

    refused = bot("venue", "resume", "binance", config=config_file)
    assert refused.exit_code == 2 and "--reason" in refused.stderr  # a reason is required
    paper.faults.clear()  # the person enabled Universal Transfer on the same key
    resumed = bot(
        "venue",
        "resume",
        "binance",
        "--reason",
        "enabled Universal Transfer",
        "--by",
        "alice",
        config=config_file,
    )
    assert resumed.exit_code == 0, resumed.stderr
    assert "resumed by alice" in resumed.stdout
    again = bot("venue", "resume", "binance", "--reason", "twice", config=config_file)
    assert again.exit_code == 2 and "not halted" in again.stderr

    await run_job("guard", ctx, None)  # the next tick sends
    assert [t.status for t in transfers(ctx.ledger)] == ["failed", "confirmed"]
    hook.wait_for(lambda m: m.startswith("RESOLVED halt:binance no longer fires"))
    with ctx.ledger._sessions() as session:
        row = session.scalars(select(VenueHalt)).one()
    assert (row.state, row.ended_by, row.end_reason) == (
        "resumed",
        "alice",
        "enabled Universal Transfer",
    )
    report = verify_ledger(ctx.ledger)
    assert report.ok, report.problems


async def test_an_empty_spot_is_one_standing_condition_not_a_row_per_tick(
    ctx: JobContext, paper: PaperExchangeThread, hook: Hook
) -> None:
    set_spot(paper, "USDT", "5")
    paper.set_mark_price("ETHUSDT", D("3700"))  # under the danger line; 5 USDT on spot
    for _ in range(TICKS):
        await run_job("guard", ctx, None)

    assert transfers(ctx.ledger) == []  # no skipped row per tick
    with ctx.ledger.engine.connect() as conn:  # and no run or snapshot of a cycle per tick
        guard_runs = conn.execute(text("SELECT count(*) FROM runs WHERE command = 'guard'"))
        assert guard_runs.scalar() == 0
        snapshots = conn.execute(text("SELECT count(*) FROM balance_snapshots")).scalar()
        assert snapshots == 0
    (standing,) = ctx.ledger.open_nothing_to_move()
    assert standing.count == TICKS
    assert (standing.asset, standing.from_account, standing.to_account) == (
        "USDT",
        "spot",
        "linear",
    )
    assert "sized 5 USDT is under min_amount 10" in standing.reason  # all of it: one transfer
    hook.wait_for(lambda m: m.startswith("ALERT binance: nothing to move USDT spot -> linear"))
    assert len(alerts_starting(hook, "ALERT binance: nothing to move")) == 1

    set_spot(paper, "USDT", "20000")  # funds arrive: the next tick sends and the row clears
    await run_job("guard", ctx, None)
    assert [t.status for t in transfers(ctx.ledger)] == ["confirmed"]
    assert ctx.ledger.open_nothing_to_move() == []
    hook.wait_for(lambda m: m.startswith("RESOLVED unmoved:binance:USDT:spot:linear"))
    with ctx.ledger.engine.connect() as conn:
        entries = conn.execute(
            text("SELECT count(*) FROM journal WHERE entity = 'nothing_to_move'")
        ).scalar()
    assert entries == TICKS + 1  # each sighting journaled, then its clearing
    assert verify_ledger(ctx.ledger).ok
