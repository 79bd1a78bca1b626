"""`bot status`: is the bot healthy, stuck, or does it need a person? From the ledger and the
lock files alone, never calling a venue.

Status is a list of sections, each a small function of what was read (`SECTIONS`): whether
`bot run` is running, each job's last run, the guard's streams as `bot run` published them
(`health/streams.py`), halted venues, open transfers, open margin legs,
standing manual instructions, moves with nothing to move, half-done moves, each hedge's last
margin, alerts firing. A section that needs a person says so, and the command exits 1. A new
section is one more function in the list.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from bot.alerts.conditions import OpenTransfer
from bot.config import Config
from bot.ledger import Ledger
from bot.ledger.tables import JobRun, Run, Transfer
from bot.model import TransferStatus
from bot.money import plain


@dataclass(frozen=True)
class Section:
    name: str
    data: Any
    lines: list[str]
    #: what needs a person, one line each
    attention: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class StatusInput:
    config: Config
    ledger: Ledger
    now: datetime


SectionFn = Callable[[StatusInput], Section]


def iso(at: datetime | None) -> str | None:
    return at.isoformat(timespec="seconds").replace("+00:00", "Z") if at else None


def age(now: datetime, at: datetime | None) -> str:
    if at is None:
        return "never"
    seconds = int((now - at).total_seconds())
    if seconds < 120:
        return f"{seconds}s ago"
    if seconds < 7200:
        return f"{seconds // 60}m ago"
    if seconds < 172800:
        return f"{seconds // 3600}h ago"
    return f"{seconds // 86400}d ago"


def runner_section(given: StatusInput) -> Section:
    from bot.ledger.run_lock import run_holders

    venues = sorted(given.config.venues)
    holders = run_holders(given.ledger.engine, given.config.data_dir / "locks", venues)
    data = {"running": bool(holders), "venues": holders}
    if holders:
        lines = [
            f"bot run: running for {venue}: pid {h.get('pid')} on {h.get('host')} since "
            f"{h.get('since')}"
            for venue, h in sorted(holders.items())
        ]
    else:
        lines = ["bot run: not running"]
    attention = []
    with given.ledger.engine.connect() as conn:
        ever_ran = conn.scalar(select(func.count()).select_from(JobRun)) or 0
    not_running = [v for v in venues if v not in holders and given.config.hedges_on(v)]
    if ever_ran and not_running:
        attention.append(f"bot run is not running for {', '.join(not_running)}")
    return Section("run", data, lines, attention)


#: a guard stream down this long needs a person: the poll covers the venue meanwhile, but only
#: every guard interval, so a move between polls waits; shorter outages are reconnects
STREAM_DOWN_ATTENTION = timedelta(minutes=30)


def streams_section(given: StatusInput) -> Section:
    """The guard's streams of each venue `bot run` follows: up, or down since when and why.
    Only what the running holder of the venue's run lock published counts (a file a killed
    run left behind says nothing). A stream down is information while the poll covers the
    venue, and needs a person once down longer than `STREAM_DOWN_ATTENTION`."""
    from bot.health.streams import read_venue_streams, streams_dir
    from bot.ledger.run_lock import run_holders

    venues = sorted(given.config.venues)
    holders = run_holders(given.ledger.engine, given.config.data_dir / "locks", venues)
    folder = streams_dir(given.config.data_dir)
    data: dict[str, Any] = {}
    lines, attention = [], []
    for venue in venues:
        published = read_venue_streams(folder, venue)
        holder = holders.get(venue) or {}
        if published is None or published.pid != holder.get("pid"):
            continue
        data[venue] = {name: state.as_json() for name, state in published.streams.items()}
        down = {n: st for n, st in published.streams.items() if not st.up}
        up = sorted(set(published.streams) - set(down))
        if up:
            lines.append(f"streams {venue}: up: {', '.join(up)}")
        for name, state in sorted(down.items()):
            line = (
                f"stream {venue} {name}: down since {iso(state.since)} "
                f"({age(given.now, state.since)}): {state.why or 'failed'}; the guard's poll "
                "covers the venue meanwhile"
            )
            lines.append(line)
            if given.now - state.since > STREAM_DOWN_ATTENTION:
                attention.append(line)
    return Section("streams", data, lines, attention)


def jobs_section(given: StatusInput) -> Section:
    kinds = given.config.schedule.jobs()
    data: dict[str, Any] = {}
    lines, attention = [], []
    with given.ledger.engine.connect() as conn:
        for kind in kinds:
            # the last run that ran (a coalesced `skipped` one says nothing of health)
            row = conn.execute(
                select(JobRun)
                .where(JobRun.kind == kind, JobRun.status.not_in(("running", "skipped")))
                .order_by(JobRun.id.desc())
                .limit(1)
            ).first()
            if row is None:
                data[kind] = None
                lines.append(f"job {kind}: never ran")
                continue
            job = row
            data[kind] = {
                "status": job.status,
                "finished_at": iso(job.finished_at),
                "late": job.late,
                "error": job.error,
            }
            line = f"job {kind}: {job.status} {age(given.now, job.finished_at)}"
            if job.late:
                line += " (late)"
            if job.error:
                line += f": {job.error}"
            lines.append(line)
            if job.status in ("error", "missed"):
                attention.append(f"job {kind} last {job.status}: {job.error or ''}".strip())
    return Section("jobs", data, lines, attention)


def load_open_transfers(ledger: Ledger) -> list[OpenTransfer]:
    with ledger.engine.connect() as conn:
        rows = conn.execute(
            select(
                Transfer.id,
                Transfer.venue,
                Transfer.asset,
                Transfer.amount,
                Transfer.planned_amount,
                Transfer.status,
                Transfer.updated_at,
                Transfer.error,
            )
            .where(
                Transfer.status.in_((TransferStatus.PENDING.value, TransferStatus.UNKNOWN.value)),
                Transfer.dry_run.is_(False),
            )
            .order_by(Transfer.id)
        ).all()
    return [
        OpenTransfer(
            id=r.id,
            venue=r.venue,
            asset=r.asset,
            amount=r.amount if r.amount is not None else r.planned_amount,
            status=TransferStatus(r.status),
            updated_at=r.updated_at,
            error=r.error,
        )
        for r in rows
    ]


def transfers_section(given: StatusInput) -> Section:
    rows = load_open_transfers(given.ledger)
    data = [
        {
            "id": t.id,
            "venue": t.venue,
            "asset": t.asset,
            "amount": plain(t.amount) if t.amount is not None else None,
            "status": t.status.value,
            "since": iso(t.updated_at),
            "error": t.error,
        }
        for t in rows
    ]
    lines = [
        f"transfer {t.id}: {t.status.value} {plain(t.amount or Decimal(0))} {t.asset} on "
        f"{t.venue} since {age(given.now, t.updated_at)}"
        for t in rows
    ] or ["open transfers: none"]
    attention = [f"transfer {t.id} is {t.status.value}: see bot reconcile" for t in rows]
    return Section("open_transfers", data, lines, attention)


def open_margin_legs_section(given: StatusInput) -> Section:
    """Isolated positions' margin changes (add/reduce) left `pending`/`unknown`: the venue may
    or may not have applied them, so a person is told until reconciliation settles them."""
    from bot.ledger.margin_queries import open_margin_legs_on_venues

    found = [
        (venue, leg) for venue, leg in open_margin_legs_on_venues(given.ledger) if not leg.dry_run
    ]
    data = [
        {
            "id": leg.id,
            "venue": venue,
            "symbol": leg.symbol,
            "change": "add" if leg.add else "reduce",
            "amount": plain(leg.amount),
            "asset": leg.asset,
            "status": leg.status.value,
            "since": iso(leg.updated_at),
            "error": leg.error,
        }
        for venue, leg in found
    ]
    lines = [
        f"margin leg {d['id']}: {d['status']} {d['change']} {d['amount']} {d['asset']} of "
        f"{d['symbol']}'s isolated margin on {d['venue']} since {age(given.now, leg.updated_at)}"
        for d, (_, leg) in zip(data, found, strict=True)
    ] or ["open margin legs: none"]
    attention = [
        f"margin leg {d['id']} ({d['venue']} {d['symbol']} {d['change']} {d['amount']} "
        f"{d['asset']}) is {d['status']}: see bot reconcile"
        for d in data
    ]
    return Section("open_margin_legs", data, lines, attention)


def manual_section(given: StatusInput) -> Section:
    rows = given.ledger.open_manual_instructions()
    data = [
        {
            "venue": m.venue,
            "asset": m.asset,
            "from": m.from_account,
            "to": m.to_account,
            "amount": plain(m.amount),
            "hedges": m.hedges,
            "since": iso(m.first_seen),
            "updated_at": iso(m.updated_at),
        }
        for m in rows
    ]
    lines = [
        f"manual: move {plain(m.amount)} {m.asset} {m.from_account} -> {m.to_account} on "
        f"{m.venue} by hand (since {age(given.now, m.first_seen)})"
        for m in rows
    ]
    return Section("manual", data, lines, list(lines))


def margins_section(given: StatusInput) -> Section:
    """Each hedge's margin from the newest recorded read of its venue (after the last move,
    where a cycle moved money), judged by the one margin figure, as the plan and the guard
    judge a live read."""
    from bot.ledger.snapshots import latest_read
    from bot.model import State
    from bot.policy.margin import hedge_margins

    config = given.config
    danger = config.alerts.danger_margin_ratio
    paused = paused_hedges(config, given.ledger, given.now)
    data: dict[str, Any] = {}
    lines, attention = [], []
    for venue in sorted({hedge.venue for hedge in config.hedges.values()}):
        hedges = {n: h for n, h in config.hedges.items() if h.venue == venue}
        read = latest_read(given.ledger, venue, [h.perp for h in hedges.values()])
        margins = (
            hedge_margins(State(read_at=read.read_at, venues={venue: read}), hedges)
            if read is not None
            else {}
        )
        for name in sorted(hedges):
            margin = margins.get(name)
            if read is None or margin is None:
                data[name] = None
                lines.append(f"hedge {name}: no snapshot yet")
                continue
            ratio = margin.ratio
            data[name] = {
                **margin.as_json(),
                "read_at": iso(read.read_at),
                "danger": plain(danger),
                "paused": paused.get(name),
            }
            shown = f"{ratio:.4f}" if ratio is not None else "n/a (flat)"
            if margin.account is not None:
                shown = f"{margin.account.figure} {plain(margin.account.value)}"
                line = (
                    f"hedge {name}: {shown} ({margin.pool}, equity {plain(margin.equity)} "
                    f"{margin.asset}; band {plain(margin.lower)}-{plain(margin.upper)}, "
                    f"liquidation at {plain(margin.account.liquidation_at)}"
                    + (f"; {margin.account.scope}" if margin.account.scope else "")
                    + f") read {age(given.now, read.read_at)}"
                )
            else:
                line = (
                    f"hedge {name}: margin ratio {shown} (equity {plain(margin.equity)} / "
                    f"notional {plain(margin.notional)} {margin.asset}; {margin.pool}; band "
                    f"{plain(margin.lower)}-{plain(margin.upper)}, danger {plain(danger)}) read "
                    f"{age(given.now, read.read_at)}"
                )
            if margin.liquidation_price is not None:
                line += f"; liquidation {plain(margin.liquidation_price)}"
            lines.append(line)
            held = f" and the bot does not move it: {paused[name]}" if name in paused else ""
            if margin.under(danger) and margin.account is not None:
                attention.append(f"hedge {name}: {shown} is {margin.danger_words(danger)[0]}{held}")
            elif margin.under(danger):
                attention.append(
                    f"hedge {name}: margin ratio {shown} is under danger {danger}{held}"
                )
    return Section("margins", data, lines, attention)


def alerts_section(given: StatusInput) -> Section:
    firing = given.ledger.firing_alerts()
    data = [
        {"key": a.key, "message": a.message, "since": iso(a.first_seen)} for a in firing.values()
    ]
    lines = [f"alert: {a.message} (since {age(given.now, a.first_seen)})" for a in firing.values()]
    return Section("alerts", data, lines or ["alerts: none firing"], list(lines))


def last_run_section(given: StatusInput) -> Section:
    with given.ledger.engine.connect() as conn:
        run = conn.execute(select(Run).order_by(Run.id.desc()).limit(1)).first()
    if run is None:
        return Section("last_run", None, ["last run: none"])
    data = {"id": run.id, "command": run.command, "status": run.status, "at": iso(run.started_at)}
    return Section(
        "last_run",
        data,
        [f"last run: {run.id} ({run.command}) {run.status} {age(given.now, run.started_at)}"],
    )


def half_done_section(given: StatusInput) -> Section:
    """Isolated hedges' two-leg moves with the first leg done and the second not: collateral
    sits outside the position (or off spot) until the next rebalance finishes the move."""
    from bot.transfers.half_done import half_done_moves

    found = half_done_moves(given.ledger)
    data = [
        {
            "move": half.move.id,
            "venue": half.move.venue,
            "symbol": half.move.symbol,
            "direction": half.move.direction,
            "moved": plain(half.moved),
            "asset": half.move.asset,
            "since": iso(half.move.created_at),
        }
        for half in found
    ]
    lines = [f"half done: {half.message}" for half in found]
    return Section("half_done", data, lines, list(lines))


def halts_section(given: StatusInput) -> Section:
    """Venues a fatal refusal halted: nothing is sent on them until a person fixes the key or
    its permissions and resumes them, or changes the venue's config or key."""
    from bot.venues.halts import fingerprint, live_fix_digest

    data, lines = [], []
    for halt in given.ledger.open_halts():
        digest = live_fix_digest(given.config, halt.venue)
        changed = digest is not None and (
            fingerprint(digest, halt.salt, given.ledger.key) != halt.fingerprint
        )
        data.append(
            {
                "venue": halt.venue,
                "since": iso(halt.halted_at),
                "kind": halt.kind,
                "code": halt.code,
                "error": halt.error,
                "fix": halt.fix,
                "config_or_key_changed": changed,
            }
        )
        line = halt.message()
        if changed:
            line += "; its config or key changed since: the next cycle clears it"
        lines.append(line)
    return Section("halted", data, lines, list(lines))


def pauses_section(given: StatusInput) -> Section:
    """Hedges and venues a person paused: read and reported, never moved. Not a fault by
    itself; a paused hedge in danger is (the margins section names its pause)."""
    rows = given.ledger.active_pauses(given.now)
    data = [
        {
            "scope": r.scope.value,
            "name": r.name,
            "by": r.paused_by,
            "reason": r.reason,
            "since": iso(r.paused_at),
            "until": iso(r.until),
        }
        for r in rows
    ]
    lines = [f"{r.paused.words()} (since {age(given.now, r.paused_at)})" for r in rows]
    return Section("paused", data, lines)


def paused_hedges(config: Config, ledger: Ledger, now: datetime) -> dict[str, str]:
    """Each paused hedge (by itself or by its venue) with the words of its pause."""
    from bot.model import PauseScope

    found: dict[str, str] = {}
    for record in ledger.active_pauses(now):
        for name, hedge in config.hedges.items():
            mine = name if record.scope is PauseScope.HEDGE else hedge.venue
            if mine == record.name:
                found.setdefault(name, record.paused.words())
    return found


def nothing_to_move_section(given: StatusInput) -> Section:
    """Moves the plan wants with nothing to move (an empty source, under min_amount): a
    standing condition, counted, not a failure."""
    rows = given.ledger.open_nothing_to_move()
    data = [
        {
            "venue": n.venue,
            "asset": n.asset,
            "from": n.from_account,
            "to": n.to_account,
            "hedges": n.hedges,
            "planned": plain(n.planned_amount),
            "reason": n.reason,
            "since": iso(n.first_seen),
            "last_seen": iso(n.last_seen),
            "count": n.count,
        }
        for n in rows
    ]
    lines = [
        f"nothing to move: {n.message()} (since {age(given.now, n.first_seen)}, {n.count} "
        f"times, last {age(given.now, n.last_seen)})"
        for n in rows
    ]
    return Section("nothing_to_move", data, lines)


SECTIONS: list[SectionFn] = [
    runner_section,
    jobs_section,
    streams_section,
    last_run_section,
    halts_section,
    pauses_section,
    transfers_section,
    open_margin_legs_section,
    manual_section,
    nothing_to_move_section,
    half_done_section,
    margins_section,
    alerts_section,
]


def gather(config: Config, ledger: Ledger, now: datetime) -> list[Section]:
    given = StatusInput(config, ledger, now)
    return [section(given) for section in SECTIONS]


def needs_attention(sections: list[Section]) -> list[str]:
    return [line for section in sections for line in section.attention]


def as_json(sections: list[Section], now: datetime) -> dict[str, Any]:
    attention = needs_attention(sections)
    return {
        "at": iso(now),
        "needs_attention": bool(attention),
        "attention": attention,
        **{section.name: section.data for section in sections},
    }
