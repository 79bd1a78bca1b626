"""The plan as `bot rebalance` would carry it out: the executor's own sizing
(`bot.executor.size_transfer`) applied to each planned line on the figures of the state.

The executor reads the source wallet again right before it sends, so a live run sizes on that
fresh figure; the preview uses the transferable amount read for the plan, less what earlier
lines of the plan take from the same wallet (the executor sends a venue's lines in order).
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from bot.config import TransfersConfig
from bot.executor import size_transfer
from bot.model import Plan, PlannedTransfer, SizingPreview, State
from bot.money import DEFAULT_TRANSFER_STEP, ZERO, plain, round_down


def preview_sizing(plan: Plan, state: State, rules: TransfersConfig) -> Plan:
    """The plan with every line's `sizing`: what would be sent, capped or skipped, and why."""
    left: dict[tuple[str, str, str], Decimal] = {}
    lines = []
    for item in plan.transfers:
        venue_state = state.venues.get(item.venue)
        if venue_state is None or not venue_state.can_transfer:
            lines.append(item)  # the executor records it as manual, for the planned amount
            continue
        key = (item.venue, item.from_account, item.asset)
        if key not in left:
            left[key] = venue_state.wallet(item.from_account, item.asset).transferable
        transferable = left[key]
        step = venue_state.transfer_steps.get(item.asset, DEFAULT_TRANSFER_STEP)
        sizing = size_line(item, transferable, step, rules)
        if sizing.sends:
            left[key] = transferable - sizing.amount
        lines.append(replace(item, sizing=sizing))
    return replace(plan, transfers=tuple(lines))


def size_line(
    item: PlannedTransfer, transferable: Decimal, step: Decimal, rules: TransfersConfig
) -> SizingPreview:
    """One line through the executor's sizing, with the cap that bound it named."""
    max_amount = rules.max_for(item.asset)
    min_amount = rules.min_for(item.asset)
    sized = size_transfer(
        planned=item.amount,
        transferable=transferable,
        safety=rules.safety,
        step=step,
        min_amount=min_amount,
        max_amount=max_amount,
        asset=item.asset,
    )
    return SizingPreview(
        planned=item.amount,
        transferable=transferable,
        safety=rules.safety,
        step=step,
        min_amount=min_amount,
        max_amount=max_amount,
        amount=sized.amount,
        skip_reason=sized.skip_reason,
        capped_by=_cap(item.amount, sized.amount, transferable, rules.safety, max_amount, step),
    )


def _cap(
    planned: Decimal,
    amount: Decimal,
    transferable: Decimal,
    safety: Decimal,
    max_amount: Decimal | None,
    step: Decimal,
) -> str | None:
    if amount >= planned:
        return None
    available = max(transferable, ZERO)
    room = planned if available >= planned else safety * available  # size_transfer's rule
    if max_amount is not None and max_amount < planned and max_amount <= room:
        return f"max_amount {plain(max_amount)}"
    if room < planned:
        return (
            f"safety {plain(safety)} x transferable {plain(transferable)} = "
            f"{plain(round_down(room, step))}"
        )
    return f"rounding down to the step {plain(step)}"
