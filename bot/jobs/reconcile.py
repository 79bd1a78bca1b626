"""The `reconcile` job: open transfers and margin legs settled against the venues' history
(`bot.cycle.rebalance.reconcile`), the pass `bot reconcile` runs.
"""

from __future__ import annotations

from bot.alerts.conditions import Facts
from bot.health.status import load_open_transfers
from bot.jobs.context import JobContext, JobOutcome
from bot.ledger.locks import VenueBusy


async def run_reconcile(ctx: JobContext) -> JobOutcome:
    from bot.cycle.rebalance import reconcile

    try:
        report = await reconcile(ctx.config, ctx.ledger, venues=ctx.venues)
    except VenueBusy as exc:
        return JobOutcome(
            "skipped",
            Facts(kind="reconcile", now=ctx.clock()),
            f"reconcile skipped: {exc}",
            error=str(exc),
        )
    facts = Facts(kind="reconcile", now=ctx.clock(), open_transfers=load_open_transfers(ctx.ledger))
    line = None
    if report.resolved or report.unsettled or report.margin_settled or report.errors:
        parts = (
            [f"settled {', '.join(f'transfer {t.id} {t.status.value}' for t in report.resolved)}"]
            if report.resolved
            else []
        )
        parts += [f"transfer {t.id} still {t.status.value}" for t in report.still_open]
        parts += [f"margin leg {leg.id} {leg.status.value}" for leg in report.margin_settled]
        parts += [
            f"margin leg {leg.id} still {leg.status.value}" for leg, _ in report.margin_still_open
        ]
        parts += report.errors
        line = "reconcile: " + "; ".join(parts)
    status = "failed" if report.unsettled or report.errors else "ok"
    return JobOutcome(status, facts, line, error="; ".join(report.errors) or None)
