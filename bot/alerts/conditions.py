"""Alert conditions: each one a pure function of what a job saw, returning `Findings`.

A condition names the keys it fully observed (`checked`, as key prefixes) and, among them, the
ones firing with their message and severity. A key firing now and not before alerts; a key
checked and not firing that fired before resolves; a key not checked keeps its state (a venue
not read this time neither fires nor clears its margin alert). A key is a condition, not a
row: ten failed transfers of one kind are one key, counted (`counts`). `cleared` gives, where
the condition can say it, the figures of a checked key that is not firing, for its RESOLVED.
`notices` are one-off messages. A new condition is one function added to `CONDITIONS`.

Severity is apprise's notify type: `failure` for what endangers money or needs a person now
(margin danger, a halted venue, a transfer unknown or ambiguous or failed, a half-done move, a
crashed job), `warning` for what the bot cannot do alone but is not yet danger (spot cannot
cover a top-up, funding against the short, an unbalanced hedge, nothing to move, a venue
unreachable, a move by hand), `info` for reports and resolutions.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from bot.config import Config
from bot.model import Flag, Plan, Rule, TransferStatus
from bot.money import plain
from bot.policy.margin import HedgeMargin
from bot.policy.pause import held_by_pause
from bot.runtime.stopping import left_by_a_stop

FAILURE = "failure"
WARNING = "warning"
INFO = "info"


@dataclass(frozen=True)
class Findings:
    checked: frozenset[str] = frozenset()
    firing: Mapping[str, str] = field(default_factory=dict)
    notices: Mapping[str, str] = field(default_factory=dict)
    #: severity per firing key (`FAILURE`, `WARNING`); a key without one is a warning
    severity: Mapping[str, str] = field(default_factory=dict)
    #: per checked key not firing: its figures now, for the RESOLVED message
    cleared: Mapping[str, str] = field(default_factory=dict)
    #: per firing key counted by occurrence: how many this job saw (a failed transfer)
    counts: Mapping[str, int] = field(default_factory=dict)

    def __or__(self, other: Findings) -> Findings:
        return Findings(
            self.checked | other.checked,
            {**self.firing, **other.firing},
            {**self.notices, **other.notices},
            {**self.severity, **other.severity},
            {**self.cleared, **other.cleared},
            {**self.counts, **other.counts},
        )

    def severity_of(self, key: str) -> str:
        return self.severity.get(key, WARNING)


def _at(severity: str, firing: Mapping[str, str]) -> dict[str, str]:
    return dict.fromkeys(firing, severity)


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
    #: hedged perpetuals whose funding interval changed since last seen
    #: (funding.intervals.IntervalChange), where the job read the venues
    interval_changes: Sequence[Any] = ()


Condition = Callable[[Facts, Config], Findings]


def job_crashed(facts: Facts, config: Config) -> Findings:
    key = f"job:{facts.kind}"
    firing = (
        {key: f"job {facts.kind} crashed: {facts.error}; the next run tries again, see the log"}
        if facts.error
        else {}
    )
    cleared = {} if facts.error else {key: f"job {facts.kind} ran without crashing"}
    return Findings(frozenset({key}), firing, severity=_at(FAILURE, firing), cleared=cleared)


def venue_unreachable(facts: Facts, config: Config) -> Findings:
    firing = {
        f"venue:{name}": f"venue {name} unreachable or refusing us: {' '.join(str(error).split())}"
        for name, error in facts.venue_errors.items()
    }
    cleared = {
        f"venue:{name}": f"venue {name} answered again"
        for name in facts.venues_tried
        if name not in facts.venue_errors
    }
    return Findings(
        frozenset(f"venue:{name}" for name in facts.venues_tried),
        firing,
        severity=_at(WARNING, firing),
        cleared=cleared,
    )


def margin_danger(facts: Facts, config: Config) -> Findings:
    """A hedge under `alerts.danger_margin_ratio`: its figures, the line, what the bot did."""
    if facts.margins is None:
        return Findings()
    danger = config.alerts.danger_margin_ratio
    firing, cleared = {}, {}
    for m in facts.margins.values():
        key = f"margin:{m.hedge}"
        beyond, within = m.danger_words(danger)
        if m.under(danger):
            firing[key] = f"{m.describe()}; {beyond}; {_did(facts, m)}"
        else:
            cleared[key] = f"{m.describe()}; {within}"
    return Findings(
        frozenset(f"margin:{name}" for name in facts.margins),
        firing,
        severity=_at(FAILURE, firing),
        cleared=cleared,
    )


def _did(facts: Facts, m: HedgeMargin) -> str:
    """What this job did for an endangered hedge: its top-ups' outcomes, or what it needs."""
    done = [
        f"{plain(t.amount if t.amount is not None else t.planned_amount)} {t.asset} "
        f"{t.status.value} (transfer {t.id})"
        for t in facts.transfers
        if t.rule == Rule.TOP_UP.value and m.hedge in t.hedges.split(",")
    ]
    if done:
        return "top-up " + ", ".join(done)
    held = held_by_pause(facts.plan, m.hedge) if facts.plan is not None else None
    if held is not None:
        return held
    return f"needs a top-up of {m.asset} from spot to its band {m.lower:f}"


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
        if ratio is None or ratio >= m.lower or held_by_pause(facts.plan, m.hedge):
            continue  # in its band, or paused: spot is not what keeps it from a top-up
        amount, needed = planned.get(m.hedge, (Decimal(0), Decimal(0)))
        if amount == 0 or amount < needed:
            firing[f"spot-short:{m.hedge}"] = (
                f"{m.describe()} is under its band {m.lower:f}; spot can cover only "
                f"{amount:f} of the {needed:f} {m.asset} top-up needed: add {m.asset} to spot"
                if amount
                else f"{m.describe()} is under its band {m.lower:f} and spot has no {m.asset} "
                "to top it up: add funds to spot"
            )
    cleared = {
        f"spot-short:{m.hedge}": f"{m.describe()}: no top-up short of spot"
        for m in facts.margins.values()
        if f"spot-short:{m.hedge}" not in firing
    }
    return Findings(
        frozenset(f"spot-short:{name}" for name in facts.margins),
        firing,
        severity=_at(WARNING, firing),
        cleared=cleared,
    )


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
    return Findings(frozenset(checked), firing, severity=_at(WARNING, firing))


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
    return Findings(frozenset({"transfer:"}), firing, severity=_at(FAILURE, firing))


def transfer_failed(facts: Facts, config: Config) -> Findings:
    """Transfers that failed, one key per venue, hedge, direction and kind of error: ten
    failures of one kind are one alert, counted. A job checks what it tried to move (any
    outcome of a hedge and direction clears that direction's other kinds); a rebalance, which
    plans every hedge, checks every hedge of the venues it read."""
    firing: dict[str, str] = {}
    counts: dict[str, int] = {}
    checked: set[str] = set()
    for t in facts.transfers:
        direction = _direction(t.from_account, t.to_account)
        for hedge in t.hedges.split(","):
            checked.add(f"transfer-failed:{t.venue}:{hedge}:{direction}:")
            if t.status is not TransferStatus.FAILED or left_by_a_stop(t.error):
                continue
            key = f"transfer-failed:{t.venue}:{hedge}:{direction}:{error_kind(t.error)}"
            counts[key] = counts.get(key, 0) + 1
            firing[key] = (
                f"transfers failed on {t.venue} for hedge {hedge} ({direction}): latest "
                f"transfer {t.id}, {t.planned_amount:f} {t.asset} {t.from_account} -> "
                f"{t.to_account}: {' '.join((t.error or 'no reason given').split())}; the "
                "next cycle tries again, fix the cause if it repeats"
            )
    if facts.kind == "rebalance":
        checked |= {
            f"transfer-failed:{hedge.venue}:{name}:"
            for name, hedge in config.hedges.items()
            if hedge.venue in facts.venues_tried and hedge.venue not in facts.venue_errors
        }
    return Findings(frozenset(checked), firing, severity=_at(FAILURE, firing), counts=counts)


def _direction(from_account: str, to_account: str) -> str:
    if from_account == "spot":
        return "to_futures"
    if to_account == "spot":
        return "to_spot"
    return f"{from_account}-{to_account}"


_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def error_kind(error: str | None) -> str:
    """A failure's kind for its key: the error text without its figures (amounts, ids,
    times), so the same refusal with other numbers is the same kind."""
    text = _NUMBER.sub("#", (error or "no reason given").lower())
    return "-".join(re.findall(r"[a-z#]+", text))[:60] or "unknown"


def plan_flags(facts: Facts, config: Config) -> Findings:
    """What the policy found wrong with a hedge (its `plan.alerts`): a spot leg that no longer
    matches the short (`unbalanced`), funding against the short for `funding_alert_periods`.

    Every `Flag` of a hedge that was read is checked, so each alert the plan can raise
    resolves once a plan no longer raises it; a new flag needs nothing here."""
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
        frozenset(f"plan:{flag.value}:{name}" for name in read for flag in Flag),
        firing,
        severity=_at(WARNING, firing),
    )


def half_done(facts: Facts, config: Config) -> Findings:
    """A two-leg move stopped between its legs: collateral stranded until it is finished."""
    if facts.half_done is None:
        return Findings()
    firing = {f"half-done:{h.move.id}": h.message for h in facts.half_done}
    return Findings(frozenset({"half-done:"}), firing, severity=_at(FAILURE, firing))


def venue_halted(facts: Facts, config: Config) -> Findings:
    """A venue a fatal refusal halted: one alert while the halt stands (it says the fix)."""
    if facts.halts is None:
        return Findings()
    firing = {f"halt:{h.venue}": h.message() for h in facts.halts}
    return Findings(frozenset({"halt:"}), firing, severity=_at(FAILURE, firing))


def nothing_to_move(facts: Facts, config: Config) -> Findings:
    """A move the plan wants with nothing to move: one alert per standing condition."""
    if facts.nothing_to_move is None:
        return Findings()
    firing = {
        f"unmoved:{n.venue}:{n.asset}:{n.from_account}:{n.to_account}": n.message()
        for n in facts.nothing_to_move
    }
    return Findings(frozenset({"unmoved:"}), firing, severity=_at(WARNING, firing))


def funding_interval_changed(facts: Facts, config: Config) -> Findings:
    """A hedged perpetual now paid at another interval: one notice per change (the interval
    is remembered once seen, `bot.funding.intervals`), since the buffer in periods and the
    yield per payment now mean another length of time."""
    notices = {change.key: change.message() for change in facts.interval_changes}
    return Findings(notices=notices, severity=_at(WARNING, notices))


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
    funding_interval_changed,
]


def evaluate(facts: Facts, config: Config, conditions: Sequence[Condition] = ()) -> Findings:
    found = Findings()
    for condition in conditions or CONDITIONS:
        found = found | condition(facts, config)
    return found
