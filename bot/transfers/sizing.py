"""How much one transfer sends (`size_transfer`: the planned amount when what is
transferable covers it, else 99 % of it, capped, rounded down, never under `min_amount`), and
that same rule applied to a whole plan on the figures of a state (`preview_sizing`, which
`bot plan` shows; `sized_on`, which the guard and isolated moves use to drop lines sizing
would skip).

The executor reads the source wallet again right before it sends, so a live run sizes on that
fresh figure; the preview uses the transferable amount read for the plan, less what earlier
lines of the plan take from the same wallet (the executor sends a venue's lines in order).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from bot.config import TransfersConfig
from bot.model import SPOT, Plan, PlannedTransfer, SizingPreview, State
from bot.money import DEFAULT_TRANSFER_STEP, ZERO, plain, round_down


@dataclass(frozen=True, kw_only=True)
class Sizing:
    """How much to send, or why nothing is sent."""

    amount: Decimal
    skip_reason: str | None = None


def size_transfer(
    *,
    planned: Decimal,
    transferable: Decimal,
    safety: Decimal,
    step: Decimal,
    min_amount: Decimal,
    max_amount: Decimal | None,
    asset: str,
) -> Sizing:
    """What one transfer sends: the planned amount when what is transferable now covers it,
    else `safety` x transferable (a need only just covered is sent whole, in one transfer, not
    0.99 of it now and the rest next tick); capped by `max_amount`, rounded down to the step,
    skipped under `min_amount`. Never more than transferable (invariant 4)."""
    available = max(transferable, ZERO)
    caps = [planned if available >= planned else safety * available]
    if max_amount is not None:
        caps.append(max_amount)
    amount = round_down(min(caps), step)
    if amount <= 0:
        return Sizing(
            amount=amount, skip_reason=f"nothing transferable ({plain(transferable)} {asset})"
        )
    if amount < min_amount:
        return Sizing(
            amount=amount,
            skip_reason=f"sized {plain(amount)} {asset} is under min_amount {plain(min_amount)}",
        )
    return Sizing(amount=amount)


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


def sized_on(
    transfers: tuple[PlannedTransfer, ...], state: State, rules: TransfersConfig
) -> tuple[PlannedTransfer, ...]:
    """The lines with the sizing `bot plan` shows (`preview_sizing`) on the state just
    read: cross lines and isolated top-ups (from spot). An isolated return's first leg reduces
    the position's margin, which no wallet figure of the state sizes: left unsized."""

    def sized(t: PlannedTransfer) -> bool:
        return t.isolated_perp is None or t.from_account == SPOT

    lines = iter(
        preview_sizing(Plan(transfers=tuple(filter(sized, transfers))), state, rules).transfers
    )
    return tuple(next(lines) if sized(t) else t for t in transfers)
