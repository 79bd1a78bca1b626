"""The `report` job: the daily summary (`bot.alerts.report`) sent to the alert channels."""

from __future__ import annotations

from bot.alerts.conditions import Facts
from bot.alerts.report import daily_summary
from bot.jobs.context import JobContext, JobOutcome


async def run_report(ctx: JobContext) -> JobOutcome:
    now = ctx.clock()
    summary = daily_summary(ctx.ledger, now, config=ctx.config)
    sent = await ctx.alerter.notice(f"report:{now:%Y-%m-%dT%H:%M}", summary)
    suffix = "" if sent or not len(ctx.alerter.channels) else " (not delivered)"
    return JobOutcome("ok", Facts(kind="report", now=now), summary + suffix)
