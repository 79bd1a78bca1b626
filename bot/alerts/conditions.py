"""Alert conditions: each one a pure function of what a job saw, returning `Findings`.

A condition names the keys it fully observed (`checked`, as key prefixes) and, among them, the
ones firing with their message. A key firing now and not before alerts; a key checked and not
firing that fired before resolves; a key not checked keeps its state (a venue not read this
time neither fires nor clears its margin alert). `notices` are one-off messages (a failed
transfer). A new condition is one function added to `CONDITIONS`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from bot.config import Config
from bot.model import Plan, Rule, TransferStatus
from bot.policy.margin import HedgeMargin
from bot.stopping import left_by_a_stop


@dataclass(frozen=True)
class Findings:
    checked: frozenset[str] = frozenset()
    firing: Mapping[str, str] = field(default_factory=dict)
    notices: Mapping[str, str] = field(default_factory=dict)

    def __or__(self, other: Findings) -> Findings:
        return Findings(
            self.checked | other.checked,
            {**self.firing, **other.firing},
            {**self.notices, **other.notices},
        )


@dataclass(frozen=True, kw_only=True)
class OpenTransfer:
    """An open ledger row as the alert conditions see it."""

    id: int
    venue: str
    asset: str
    amount: Decimal | None
    status: TransferStatus
    updated_at: datetime
    error: str | None


@dataclass(frozen=True, kw_only=True)
class Facts:
    """What one job saw. A field left None was not observed by this job."""

    kind: str
    now: datetime
    venues_tried: Sequence[str] = ()
    venue_errors: Mapping[str, Exception] = field(default_factory=dict)
    margins: Mapping[str, HedgeMargin] | None = None
    plan: Plan | None = None
    #: transfers this job recorded (TransferRecord)
    transfers: Sequence = ()
    open_transfers: Sequence[OpenTransfer] | None = None
    #: isolated hedges' two-leg moves left half done (margin_legs.HalfDoneMove), where looked at
    half_done: Sequence[Any] | None = None
    #: the job's own crash, if it crashed
    error: str | None = None
    #: venues halted by a fatal refusal (ledger.standing.HaltRecord), as the ledger holds them
    halts: Sequence[Any] | None = None
    #: standing nothing-to-move conditions (ledger.standing.NothingToMoveRecord)
    nothing_to_move: Sequence[Any] | None = None


Condition = Callable[[Facts, Config], Findings]


def job_crashed(facts: Facts, config: Config) -> Findings:
    key = f"job:{facts.kind}"
    firing = {key: f"job {facts.kind} crashed: {facts.error}"} if facts.error else {}
    return Findings(frozenset({key}), firing)


def venue_unreachable(facts: Facts, config: Config) -> Findings:
    firing = {
        f"venue:{name}": f"venue {name} unreachable or refusing us: {' '.join(str(error).split())}"
        for name, error in facts.venue_errors.items()
    }
    return Findings(frozenset(f"venue:{name}" for name in facts.venues_tried), firing)


def margin_danger(facts: Facts, config: Config) -> Findings:
    if facts.margins is None:
        return Findings()
    danger = config.alerts.danger_margin_ratio
    firing = {
        f"margin:{m.hedge}": f"{m.describe()}; under the danger line {danger:f}"
        for m in facts.margins.values()
        if m.under(danger)
    }
    return Findings(frozenset(f"margin:{name}" for name in facts.margins), firing)


def spot_cannot_cover(facts: Facts, config: Config) -> Findings:
    """A hedge under its band whose top-up spot cannot pay in full."""
    if facts.margins is None or facts.plan is None:
        return Findings()
    planned: dict[str, tuple[Decimal, Decimal]] = {}
    for item in facts.plan.transfers:
        if item.rule is Rule.TOP_UP:
            needed = item.figures.get("needed")
            for hedge in item.hedges:
                planned[hedge] = (item.amount, Decimal(str(needed)) if needed else item.amount)
    firing = {}
    for m in facts.margins.values():
        ratio = m.ratio
        if ratio is None or ratio >= m.lower:
            continue
        amount, needed = planned.get(m.hedge, (Decimal(0), Decimal(0)))
        if amount == 0 or amount < needed:
            firing[f"spot-short:{m.hedge}"] = (
                f"{m.describe()} is under its band {m.lower:f}; spot can cover only "
                f"{amount:f} of the {needed:f} {m.asset} top-up needed: add {m.asset} to spot"
                if amount
                else f"{m.describe()} is under its band {m.lower:f} and spot has no {m.asset} "
                "to top it up: add funds to spot"
            )
    return Findings(frozenset(f"spot-short:{name}" for name in facts.margins), firing)


def manual_move_needed(facts: Facts, config: Config) -> Findings:
    """A move on a venue with no transfer API: one alert per move while it stands. Judged on
    rebalances only: they plan every hedge (the guard plans top-ups of endangered ones)."""
    if facts.plan is None or facts.kind != "rebalance":
        return Findings()
    firing = {
        manual_key(t): (
            f"move {t.planned_amount:f} {t.asset} from {t.from_account} to {t.to_account} on "
            f"{t.venue} by hand (no transfer API; ledger row {t.id})"
        )
        for t in facts.transfers
        if t.status is TransferStatus.MANUAL
    }
    checked = {
        f"manual:{venue}:" for venue in facts.venues_tried if venue not in facts.venue_errors
    }
    return Findings(frozenset(checked), firing)


def manual_key(t) -> str:  # type: ignore[no-untyped-def]
    return f"manual:{t.venue}:{t.asset}:{t.from_account}:{t.to_account}"


def transfers_open(facts: Facts, config: Config) -> Findings:
    """Unknown longer than `alerts.unknown_after`, or ambiguous (an operator must assign)."""
    if facts.open_transfers is None:
        return Findings()
    after = timedelta(seconds=config.alerts.unknown_after)
    firing = {}
    for t in facts.open_transfers:
        if t.error and "ambiguous" in t.error:
            firing[f"transfer:{t.id}"] = f"{' '.join(t.error.split())}"
        elif t.status is TransferStatus.UNKNOWN and facts.now - t.updated_at >= after:
            firing[f"transfer:{t.id}"] = (
                f"transfer {t.id} ({t.amount or 0:f} {t.asset} on {t.venue}) has been unknown "
                f"since {t.updated_at:%Y-%m-%d %H:%M:%S}Z; see bot reconcile"
            )
    return Findings(frozenset({"transfer:"}), firing)


def transfer_failed(facts: Facts, config: Config) -> Findings:
    notices = {
        f"transfer-failed:{t.id}": (
            f"transfer {t.id} failed: {t.planned_amount:f} {t.asset} {t.from_account} -> "
            f"{t.to_account} on {t.venue}: {t.error or 'no reason given'}"
        )
        for t in facts.transfers
        if t.status is TransferStatus.FAILED and not left_by_a_stop(t.error)
    }
    return Findings(notices=notices)


def plan_flags(facts: Facts, config: Config) -> Findings:
    """What the policy found wrong with a hedge (its `plan.alerts`): a spot leg that no longer
    matches the short (`unbalanced`), funding against the short for `funding_alert_periods`."""
    if facts.plan is None:
        return Findings()
    read = {
        name
        for name, hedge in config.hedges.items()
        if hedge.venue in facts.venues_tried and hedge.venue not in facts.venue_errors
    }
    firing = {
        f"plan:{alert.flag.value}:{alert.hedge}": f"{alert.venue} [{alert.hedge}]: {alert.message}"
        for alert in facts.plan.alerts
    }
    return Findings(
        frozenset(f"plan:{flag}:{name}" for name in read for flag in _PLAN_FLAGS), firing
    )


_PLAN_FLAGS = ("unbalanced", "funding_against")


def half_done(facts: Facts, config: Config) -> Findings:
    """A two-leg move stopped between its legs: collateral stranded until it is finished."""
    if facts.half_done is None:
        return Findings()
    firing = {f"half-done:{h.move.id}": h.message for h in facts.half_done}
    return Findings(frozenset({"half-done:"}), firing)


def venue_halted(facts: Facts, config: Config) -> Findings:
    """A venue a fatal refusal halted: one alert while the halt stands (it says the fix)."""
    if facts.halts is None:
        return Findings()
    firing = {f"halt:{h.venue}": h.message() for h in facts.halts}
    return Findings(frozenset({"halt:"}), firing)


def nothing_to_move(facts: Facts, config: Config) -> Findings:
    """A move the plan wants with nothing to move: one alert per standing condition."""
    if facts.nothing_to_move is None:
        return Findings()
    firing = {
        f"unmoved:{n.venue}:{n.asset}:{n.from_account}:{n.to_account}": n.message()
        for n in facts.nothing_to_move
    }
    return Findings(frozenset({"unmoved:"}), firing)


CONDITIONS: list[Condition] = [
    job_crashed,
    venue_unreachable,
    margin_danger,
    spot_cannot_cover,
    manual_move_needed,
    transfers_open,
    transfer_failed,
    plan_flags,
    half_done,
    venue_halted,
    nothing_to_move,
]


def evaluate(facts: Facts, config: Config, conditions: Sequence[Condition] = ()) -> Findings:
    found = Findings()
    for condition in conditions or CONDITIONS:
        found = found | condition(facts, config)
    return found
