"""Each job of `bot run` in-process against the paper exchange: its job_runs row, its line,
its alerts; a job that raises; the margin guard topping up between scheduled runs."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from decimal import Decimal as D
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.alerts.alerter import Alerter
from bot.alerts.channels import Channels
from bot.config import Config
from bot.jobs.context import JobContext, JobOutcome
from bot.jobs.rebalance import stand_manual_instructions
from bot.ledger import Ledger
from bot.ledger.tables import JobRun, Run, Transfer
from bot.paper import PaperExchangeThread
from bot.scheduler.runner import record_not_run, run_job
from tests.unattended.conftest import Hook, live_venue, make_config
from tests.waiting import until


@pytest.fixture
def config(tmp_path: Path, paper: PaperExchangeThread, venue_env: None, hook: Hook) -> Config:
    return make_config(
        tmp_path,
        {"binance": live_venue(paper.base_url)},
        alerts={"urls": [hook.url], "rate_limit": "0s"},
    )


@pytest.fixture
def ctx(config: Config) -> Iterator[JobContext]:
    ledger = Ledger.open(config.ledger_url)
    lines: list[str] = []
    alerter = Alerter(ledger, Channels(config.alerts.urls), config.alerts)
    context = JobContext(config=config, ledger=ledger, alerter=alerter, say=lines.append)
    context.lines = lines  # type: ignore[attr-defined]
    yield context
    ledger.close()


def job_rows(ledger: Ledger) -> list[JobRun]:
    with ledger._sessions() as session:
        return list(session.scalars(select(JobRun).order_by(JobRun.id)))


async def test_a_slow_channel_never_holds_the_acting_lock(ctx: JobContext, hook: Hook) -> None:
    """A rebalance's alerts go out after it released the lock the guard's top-up takes: the
    channel is still answering while the lock is free."""

    async def broken(_: JobContext) -> JobOutcome:
        raise RuntimeError("disk on fire")

    hook.delay = 1.0  # the sink answers slowly
    running = asyncio.create_task(run_job("rebalance", ctx, None, job=broken))
    await until(lambda: len(hook.posts) == 1, "the crash alert reaches the channel")
    assert not running.done() and not ctx.acting.locked()
    assert await running is None
    assert hook.messages()[0].startswith("ALERT job rebalance crashed")


async def test_a_job_that_raises_is_a_failed_run_and_alerts(ctx: JobContext, hook: Hook) -> None:
    async def broken(_: JobContext) -> JobOutcome:
        raise RuntimeError("disk on fire")

    assert await run_job("snapshot", ctx, None, job=broken) is None
    row = job_rows(ctx.ledger)[-1]
    assert (row.kind, row.status, row.error) == ("snapshot", "error", "disk on fire")
    assert row.finished_at is not None
    [alert] = hook.messages()
    assert alert.startswith("ALERT job snapshot crashed: disk on fire;")
    assert hook.types() == ["failure"]
    assert ctx.lines[-1].startswith("snapshot job 1 crashed: disk on fire")  # type: ignore[attr-defined]

    await run_job("snapshot", ctx, None)  # the real one works: the condition clears
    assert job_rows(ctx.ledger)[-1].status == "ok", job_rows(ctx.ledger)[-1].error
    assert hook.messages()[-1] == "RESOLVED job snapshot ran without crashing"


async def test_guard_tops_up_between_runs_when_the_mark_moves_against_the_short(
    ctx: JobContext, paper: PaperExchangeThread, hook: Hook
) -> None:
    await run_job("rebalance", ctx, None)  # 0.3 -> 0.5
    await run_job("guard", ctx, None)
    assert not hook.messages()  # nothing under the danger line: quiet, no run row
    with ctx.ledger._sessions() as session:
        assert [r.command for r in session.scalars(select(Run))] == ["run"]

    paper.set_mark_price("ETHUSDT", D("3700"))  # equity 4000 / notional 18500 = 0.216
    await run_job("guard", ctx, None)
    alert = hook.wait_for(lambda m: m.startswith("ALERT hedge eth"))
    assert "margin ratio 0.2162" in alert and "under the danger line 0.25" in alert
    assert "liquidation price" in alert
    assert ctx.lines[-1].startswith("guard run 2: margin under 0.25: topped up 5249.9999")  # type: ignore[attr-defined]
    with ctx.ledger._sessions() as session:
        guard_run = session.scalars(select(Run).where(Run.command == "guard")).one()
        moved = session.scalars(select(Transfer).where(Transfer.run_id == guard_run.id)).one()
        every = [t.amount for t in session.scalars(select(Transfer))]
    assert (moved.status, moved.rule, moved.to_account) == ("confirmed", "top_up", "linear")
    assert paper.state.usdm["USDT"].wallet_balance == D("4500") + sum(every, D(0))

    await run_job("guard", ctx, None)  # read again: back at 0.5, the alert resolves
    assert hook.messages()[-1].startswith("RESOLVED hedge eth")
    assert job_rows(ctx.ledger)[-1].run_id is None  # a quiet poll records no cycle


async def test_a_standing_manual_instruction_is_updated_not_repeated(ledger: Ledger) -> None:
    from bot.ledger.store import TransferRecord
    from bot.model import PlannedTransfer, Rule, TransferStatus

    run_id = ledger.start_run("run", dry_run=False, config_digest="x")

    def manual(amount: str) -> TransferRecord:
        item = PlannedTransfer(
            venue="coinw", hedges=("eth",), asset="USDT", from_account="spot",
            to_account="linear", amount=D(amount), rule=Rule.TOP_UP, reason="", figures={},
        )  # fmt: skip
        return ledger.record_intent(
            run_id, item, amount=None, status=TransferStatus.MANUAL, inputs={}
        )

    stand_manual_instructions(ledger, [manual("100")], ["coinw"])
    stand_manual_instructions(ledger, [manual("120")], ["coinw"])
    [standing] = ledger.open_manual_instructions()
    assert (standing.amount, standing.transfer_id) == (D("120"), 2)
    stand_manual_instructions(ledger, [], ["other"])  # another venue's cycle clears nothing
    assert ledger.open_manual_instructions()
    stand_manual_instructions(ledger, [], ["coinw"])  # coinw no longer asks for it
    assert ledger.open_manual_instructions() == []


async def test_a_late_run_is_recorded_late_and_a_missed_one_alerts(
    ctx: JobContext, hook: Hook
) -> None:
    from datetime import timedelta

    woke = ctx.clock()
    await run_job("report", ctx, woke - timedelta(hours=1), every=60)  # after a suspend
    await run_job("report", ctx, woke, every=60)  # on time
    late, on_time = job_rows(ctx.ledger)[-2:]
    assert (late.late, late.status, on_time.late) == (True, "ok", False)
    assert late.scheduled_at == woke - timedelta(hours=1)

    await record_not_run(ctx, "snapshot", "missed", woke - timedelta(hours=3), "too late")
    await record_not_run(ctx, "guard", "skipped", woke, "the previous run was still running")
    missed, skipped = job_rows(ctx.ledger)[-2:]
    assert (missed.kind, missed.status, missed.error) == ("snapshot", "missed", "too late")
    assert (skipped.kind, skipped.status) == ("guard", "skipped")
    assert hook.wait_for(lambda m: m == "job snapshot missed: too late")
    assert not any("skipped" in m for m in hook.messages())  # coalesced runs page nobody


async def test_a_job_that_cannot_write_the_ledger_is_one_line_and_the_next_one_runs(
    ctx: JobContext, caplog: pytest.LogCaptureFixture
) -> None:
    """Another process holds the SQLite ledger's write lock past the busy timeout: the job's
    own row cannot be written, so it does nothing and says so in one line naming the ledger
    (no APScheduler traceback, nothing raised to the scheduler); once the lock is gone the next
    run is recorded as usual."""
    import sqlite3

    assert ctx.config.sqlite_file is not None
    with ctx.ledger.engine.connect() as connection:  # the ledger's one pooled connection
        connection.exec_driver_sql("PRAGMA busy_timeout=200")  # not 10 s, for the test's sake
    holder = sqlite3.connect(ctx.config.sqlite_file, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        assert await run_job("snapshot", ctx, None) is None
    finally:
        holder.rollback()
        holder.close()
    line = ctx.lines[-1]  # type: ignore[attr-defined]
    assert line.startswith(f"snapshot job not run: ledger {ctx.config.sqlite_file} is locked")
    assert "\n" not in line and "Traceback" not in caplog.text
    await run_job("snapshot", ctx, None)
    assert [(row.kind, row.status) for row in job_rows(ctx.ledger)] == [("snapshot", "ok")]
