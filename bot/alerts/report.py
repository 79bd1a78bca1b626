"""The daily report: a summary of the last 24 hours from the ledger, sent to the alert channels.

One function, so the audit commands' fuller report can take its place. With the config, one
line per hedge follows: its carry over the same span (`bot carry --since 24h`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select

from bot.config import Config
from bot.funding.carry_ledger import load_carry
from bot.ledger import Ledger
from bot.ledger.tables import Alert, JobRun, Transfer
from bot.money import plain
from bot.present.carry import summary_line


def daily_summary(
    ledger: Ledger,
    now: datetime,
    span: timedelta = timedelta(days=1),
    config: Config | None = None,
) -> str:
    """The summary line; with `config`, one more line per hedge: its carry over the span."""
    since = now - span
    with ledger.engine.connect() as conn:
        jobs = conn.execute(
            select(JobRun.status, func.count())
            .where(JobRun.started_at >= since)
            .group_by(JobRun.status)
        ).all()
        rows = conn.execute(
            select(Transfer.status, Transfer.asset, Transfer.amount).where(
                Transfer.created_at >= since, Transfer.dry_run.is_(False)
            )
        ).all()
        firing = conn.scalar(select(func.count()).where(Alert.state == "firing")) or 0
        open_rows = (
            conn.scalar(
                select(func.count()).where(
                    Transfer.status.in_(("pending", "unknown")), Transfer.dry_run.is_(False)
                )
            )
            or 0
        )
    job_text = ", ".join(f"{count} {status}" for status, count in sorted(jobs)) or "none"
    # summed in Python: SQLite keeps money as text, and SUM would go through a float
    totals: dict[tuple[str, str], tuple[int, Decimal]] = {}
    for status, asset, amount in rows:
        count, total = totals.get((status, asset), (0, Decimal(0)))
        totals[(status, asset)] = (count + 1, total + (amount or Decimal(0)))
    moved = (
        "; ".join(
            f"{count} {status} ({plain(total)} {asset})"
            for (status, asset), (count, total) in sorted(totals.items())
        )
        or "none"
    )
    summary = (
        f"daily report {now:%Y-%m-%d %H:%M}Z, last {span.total_seconds() / 3600:g}h: jobs "
        f"{job_text}; transfers {moved}; open transfers {open_rows}; alerts firing {firing}"
    )
    if config is None or not config.hedges:
        return summary
    report = load_carry(ledger, config, since, now)
    return "\n".join([summary, *(summary_line(row) for row in report.hedges)])
