"""The `rebalance` job: one cycle (`bot.cycle.rebalance`) on `bot run`'s clients, the manual
moves it asks for kept as standing instructions.
"""

from __future__ import annotations

from bot.alerts.conditions import Facts
from bot.health.status import load_open_transfers
from bot.jobs.context import JobContext, JobOutcome
from bot.ledger import Ledger
from bot.ledger.locks import VenueBusy
from bot.model import TransferStatus
from bot.policy.margin import hedge_margins


async def run_rebalance(ctx: JobContext) -> JobOutcome:
    from bot.cycle.rebalance import hedged_venues, rebalance
    from bot.present.output import cycle_line
    from bot.transfers.half_done import half_done_moves

    names = hedged_venues(ctx.config)
    try:
        result = await rebalance(
            ctx.config, ctx.ledger, dry_run=False, command="run", venues=ctx.venues, stop=ctx.stop
        )
    except VenueBusy as exc:
        return JobOutcome(
            "skipped",
            Facts(kind="rebalance", now=ctx.clock()),
            f"rebalance skipped: {exc}",
            error=str(exc),
        )
    # the alerts judge the read that called for the moves; the metrics show the read after them
    margins = hedge_margins(result.state, ctx.config.hedges)
    stand_manual_instructions(
        ctx.ledger, result.transfers, [n for n in names if n in result.state.venues]
    )
    if ctx.metrics is not None:
        latest = result.latest
        ctx.metrics.observe_state(latest, hedge_margins(latest, ctx.config.hedges))
        ctx.metrics.observe_reads({}, list(result.venue_errors))
    facts = Facts(
        kind="rebalance",
        now=ctx.clock(),
        venues_tried=names,
        venue_errors=result.venue_errors,
        margins=margins,
        plan=result.plan,
        transfers=result.transfers,
        open_transfers=load_open_transfers(ctx.ledger),
        half_done=half_done_moves(ctx.ledger),
    )
    status = "failed" if result.failed else "ok"
    line = cycle_line(result)
    error = line if result.failed else None
    return JobOutcome(status, facts, line, result.run_id, error, state=result.latest)


def stand_manual_instructions(ledger: Ledger, transfers: list, venues_read: list[str]) -> None:  # type: ignore[type-arg]
    """One standing instruction per manual move, updated each cycle; cleared once a cycle of
    that venue no longer asks for it."""
    keep: dict[str, list[tuple[str, str, str, str]]] = {venue: [] for venue in venues_read}
    for t in transfers:
        if t.status is not TransferStatus.MANUAL:
            continue
        key = (t.venue, t.asset, t.from_account, t.to_account)
        ledger.stand_manual_instruction(key, t.planned_amount, hedges=t.hedges, transfer_id=t.id)
        keep.setdefault(t.venue, []).append(key)
    for venue, keys in keep.items():
        ledger.clear_manual_instructions(venue, keys)
