"""Turning states, plans and ledger rows into rich tables and JSON for the CLI. No decisions."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bot.config import Config, HedgeConfig
from bot.ledger.queries import NOT_CHECKED, CorrectionRecord
from bot.ledger.store import MarginLegRecord, TransferRecord
from bot.model import SPOT, AccountMargin, Plan, SizingPreview, State, TransferStatus
from bot.money import plain

if TYPE_CHECKING:  # types only: importing them would load ccxt for `bot ledger list`
    from bot.transfers.assign import Assignment
    from bot.transfers.reconcile import ReconcileReport
    from bot.venues.base import Capabilities

_STATUS_STYLE = {
    TransferStatus.CONFIRMED: "green",
    TransferStatus.DRY_RUN: "cyan",
    TransferStatus.SKIPPED: "dim",
    TransferStatus.MANUAL: "yellow",
    TransferStatus.PENDING: "yellow",
    TransferStatus.UNKNOWN: "bold yellow",
    TransferStatus.FAILED: "bold red",
}


def num(value: Decimal | None, places: int | None = None) -> str:
    """A figure as text. Money (balances, equity, notional, amounts) is always written exact,
    as plain decimals with no trailing zeros (`plain`), in every command and JSON shape alike;
    only ratios, rates and prices shown for reading take `places`."""
    if value is None:
        return "-"
    if places is not None:
        value = value.quantize(Decimal(1).scaleb(-places))
    return plain(value) or "0"


def transfer_json(
    record: TransferRecord, corrections: Iterable[CorrectionRecord] | None = None
) -> dict[str, Any]:
    """The documented JSON shape of one ledger transfer (`bot ledger list --json`); with
    `corrections` (`bot ledger list` passes them), also its operators' corrections."""
    shape = {
        "id": record.id,
        "run_id": record.run_id,
        "created_at": record.created_at.isoformat().replace("+00:00", "Z"),
        "updated_at": record.updated_at.isoformat().replace("+00:00", "Z"),
        "venue": record.venue,
        "hedges": record.hedges.split(",") if record.hedges else [],
        "asset": record.asset,
        "from_account": record.from_account,
        "to_account": record.to_account,
        "rule": record.rule,
        "planned_amount": plain(record.planned_amount),
        "amount": plain(record.amount),
        "amount_tag": plain(record.amount_tag),
        "status": record.status.value,
        "exchange_id": record.exchange_id,
        "client_id": record.client_id,
        "attempts": record.attempts,
        "error": record.error,
        "reason": record.reason,
        "dry_run": record.dry_run,
    }
    if corrections is not None:
        shape["corrections"] = [correction_json(c) for c in corrections]
    return shape


def correction_json(correction: CorrectionRecord) -> dict[str, Any]:
    return {
        "at": correction.at.isoformat().replace("+00:00", "Z"),
        "operator": correction.operator,
        "reason": correction.reason,
        "action": correction.action,
        "exchange_id": correction.exchange_id,
        "previous_status": correction.previous_status,
        "new_status": correction.new_status,
        "note": correction.note,
    }


_CORRECTED = {"assign": "assigned"}


def correction_note(correction: CorrectionRecord) -> str:
    """A correction in a few words, for the note column: who did what, and why."""
    unchecked = " (not checked against the venue)" if not _checked(correction) else ""
    done = _CORRECTED.get(correction.action, correction.action)
    return f"{done} by {correction.operator}{unchecked}: {correction.reason}"


def _checked(correction: CorrectionRecord) -> bool:
    return not (correction.note or "").startswith(NOT_CHECKED)


def plan_json(plan: Plan) -> dict[str, Any]:
    """The documented JSON shape of a plan (`bot plan --json`, and `plan` in `rebalance
    --json`): each transfer with its sizing (where previewed), flags and priority decision."""
    return {
        "transfers": [
            {
                "venue": t.venue,
                "hedges": list(t.hedges),
                "asset": t.asset,
                "from_account": t.from_account,
                "to_account": t.to_account,
                "amount": plain(t.amount),
                "rule": t.rule.value,
                "reason": t.reason,
                "figures": _figures_json(t.figures),
                "flags": [f.value for f in t.flags],
                "priority": t.priority,
                "sizing": _sizing_json(t.sizing, t.asset),
            }
            for t in plan.transfers
        ],
        "notes": [
            {
                "venue": n.venue,
                "hedges": list(n.hedges),
                "message": n.message,
                "figures": _figures_json(n.figures),
                "flags": [f.value for f in n.flags],
            }
            for n in plan.notes
        ],
        "alerts": [
            {
                "flag": a.flag.value,
                "venue": a.venue,
                "hedge": a.hedge,
                "message": a.message,
                "figures": _figures_json(a.figures),
            }
            for a in plan.alerts
        ],
    }


def _sizing_json(sizing: SizingPreview | None, asset: str) -> dict[str, Any] | None:
    if sizing is None:
        return None
    return {
        "would_send": sizing.sends,
        "amount": plain(sizing.amount) if sizing.sends else "0",
        "sized": plain(sizing.amount),
        "planned": plain(sizing.planned),
        "transferable": plain(sizing.transferable),
        "safety": plain(sizing.safety),
        "step": plain(sizing.step),
        "min_amount": plain(sizing.min_amount),
        "max_amount": plain(sizing.max_amount),
        "capped_by": sizing.capped_by,
        "skip_reason": sizing.skip_reason,
        "line": sizing.line(asset),
    }


def state_json(state: State) -> dict[str, Any]:
    return {
        "read_at": state.read_at.isoformat().replace("+00:00", "Z"),
        "venues": {
            name: {
                "wallets": [
                    {
                        "account": w.account,
                        "asset": w.asset,
                        "free": plain(w.free),
                        "used": plain(w.used),
                        "balance": plain(w.balance),
                        "unrealized_pnl": plain(w.unrealized_pnl),
                        "transferable": plain(w.transferable),
                    }
                    for w in venue.wallets.values()
                    if w.balance or w.free or w.unrealized_pnl
                ],
                "positions": [
                    {
                        "symbol": p.symbol,
                        "side": p.side,
                        "contracts": plain(p.contracts),
                        "notional": plain(p.notional),
                        "entry_price": plain(p.entry_price),
                        "mark_price": plain(p.mark_price),
                        "unrealized_pnl": plain(p.unrealized_pnl),
                        "liquidation_price": plain(p.liquidation_price),
                    }
                    for p in venue.positions.values()
                ],
                "funding": [
                    {"symbol": f.symbol, "rate": plain(f.rate), "mark_price": plain(f.mark_price)}
                    for f in venue.funding.values()
                ],
                "account_margin": _account_margin_json(venue.account_margin),
            }
            for name, venue in state.venues.items()
        },
    }


def _account_margin_json(margin: AccountMargin | None) -> dict[str, Any] | None:
    """A unified account's own figure in the venue's words; None where it reports none."""
    if margin is None:
        return None
    return {
        "figure": margin.figure,
        "value": plain(margin.value),
        "liquidation_at": plain(margin.liquidation_at),
        "higher_is_safer": margin.higher_is_safer,
        "equity": plain(margin.equity),
        "requirement": plain(margin.requirement),
    }


def margins_json(state: State, hedges: Mapping[str, HedgeConfig]) -> dict[str, Any]:
    """Each hedge's margin figure (`bot.policy.margin`), as `bot balances --json` shows it."""
    from bot.policy.margin import hedge_margins

    return {name: margin.as_json() for name, margin in hedge_margins(state, hedges).items()}


def _figures_json(figures: Mapping[str, Decimal | str]) -> dict[str, str]:
    return {k: plain(v) if isinstance(v, Decimal) else str(v) for k, v in figures.items()}


def print_plan(console: Console, plan: Plan, *, previewed: bool = False) -> None:
    """The plan, a line per move with its reason; with `previewed`, what the executor's sizing
    makes of each line (`bot plan`), and a last line saying it re-reads before sending."""
    if not plan.transfers:
        console.print("Plan: nothing to move.")
    else:
        console.print("Plan:")

    def line(text: str, style: str | None = None) -> None:
        console.print(text, markup=False, highlight=False, style=style, soft_wrap=True)

    for t in plan.transfers:
        flags = f" [{', '.join(f.value for f in t.flags)}]" if t.flags else ""
        line(
            f"  {t.venue} [{', '.join(t.hedges)}]{flags}: {t.from_account} -> {t.to_account} "
            f"{plain(t.amount)} {t.asset}"
        )
        if t.sizing is not None:
            line(f"      {t.sizing.line(t.asset)}", "bold")
        elif previewed:
            line("      manual: this venue has no transfer API; move it by hand", "bold")
        line(f"      {t.reason}", "dim")
        if t.priority and t.priority not in t.reason:
            line(f"      {t.priority}", "dim")
        buffer_note = t.figures.get("funding_buffer_note")
        if buffer_note:
            line(f"      {buffer_note}", "dim")
    for note in plan.notes:
        flags = f" [{', '.join(f.value for f in note.flags)}]" if note.flags else ""
        line(f"  {note.venue} [{', '.join(note.hedges)}]{flags}: {note.message}")
        buffer_note = note.figures.get("funding_buffer_note")
        if buffer_note:
            line(f"      {buffer_note}", "dim")
    for alert in plan.alerts:
        line(f"  alert ({alert.flag.value}) {alert.venue}: {alert.message}", "bold yellow")
    if previewed and plan.transfers:
        line(
            "Sized as the executor sizes, on the balances read now; rebalance reads each source "
            "wallet again right before it sends (and subtracts the amount tag where the venue "
            "takes no client id).",
            "dim",
        )


def print_transfers(
    console: Console,
    records: Iterable[TransferRecord],
    title: str,
    *,
    show_created: bool = True,
    corrections: Mapping[int, list[CorrectionRecord]] | None = None,
) -> None:
    """The transfers as a table; a corrected row's note is its latest correction."""
    records = list(records)
    if not records:
        console.print(f"{title}: no transfers.")
        return
    table = Table(title=title, title_justify="left")
    columns = ["id", "created (UTC)"] if show_created else ["id"]
    columns += ["venue", "move", "planned", "amount", "status", "exchange id", "note"]
    for column in columns:
        table.add_column(column, overflow="fold", no_wrap=column not in ("note",))
    for r in records:
        style = _STATUS_STYLE.get(r.status, "")
        note = r.error or (r.reason.split("; ", 1)[1] if "; " in r.reason else "")
        if corrections and corrections.get(r.id):
            note = correction_note(corrections[r.id][-1])
        created = [r.created_at.strftime("%Y-%m-%d %H:%M:%S")] if show_created else []
        table.add_row(
            str(r.id),
            *created,
            r.venue,
            f"{r.from_account} -> {r.to_account}",
            f"{plain(r.planned_amount)} {r.asset}",
            f"{plain(r.amount)} {r.asset}" if r.amount is not None else "-",
            f"[{style}]{r.status.value}[/]" if style else r.status.value,
            r.exchange_id or "-",
            escape(note),
        )
    console.print(table)


def print_state(console: Console, state: State, plan: Plan | None = None) -> None:
    for name, venue in state.venues.items():
        wallets = Table(title=f"{name}: wallets", title_justify="left")
        for column in ("account", "asset", "balance", "unrealized PnL", "free", "transferable"):
            wallets.add_column(column, justify="right" if column != "account" else "left")
        rows = sorted(venue.wallets.values(), key=lambda w: (w.account != SPOT, w.account, w.asset))
        for w in rows:
            if not (w.balance or w.free or w.unrealized_pnl):
                continue
            wallets.add_row(
                w.account,
                w.asset,
                num(w.balance),
                num(w.unrealized_pnl),
                num(w.free),
                num(w.transferable),
            )
        console.print(wallets)
        positions = Table(title=f"{name}: positions and funding", title_justify="left")
        for column in (
            "perp",
            "side",
            "contracts",
            "notional",
            "entry",
            "mark",
            "uPnL",
            "liq. price",
            "funding",
        ):
            positions.add_column(
                column, justify="right" if column not in ("perp", "side") else "left"
            )
        for symbol, market in venue.markets.items():
            p = venue.positions.get(symbol)
            f = venue.funding.get(symbol)
            positions.add_row(
                symbol,
                p.side if p else "flat",
                num(p.contracts) if p else "0",
                f"{num(p.notional)} {market.settle}" if p else "-",
                num(p.entry_price) if p else "-",
                num(f.mark_price if f else (p.mark_price if p else None)),
                num(p.unrealized_pnl) if p else "-",
                num(p.liquidation_price, 2) if p and p.liquidation_price else "-",
                f"{num(f.rate * 100, 4)}%" if f and f.rate is not None else "-",
            )
        console.print(positions)
        if venue.account_margin is not None:
            console.print(f"{escape(name)}: the account's {venue.account_margin.describe()}")
    if plan is not None:
        print_margin(console, plan)


def print_margin(console: Console, plan: Plan) -> None:
    """Each hedge pool's margin ratio and liquidation distance against its target and band,
    from the policy's own figures."""
    table = Table(title="margin", title_justify="left")
    columns = (
        "venue",
        "hedges",
        "equity",
        "short notional",
        "margin ratio",
        "liq. distance",
        "target",
        "band",
        "flags",
    )
    for column in columns:
        table.add_column(column, justify="left" if column in ("venue", "hedges") else "right")
    items = [(t.venue, t.hedges, t.figures, t.flags) for t in plan.transfers]
    items += [(n.venue, n.hedges, n.figures, n.flags) for n in plan.notes]
    for venue, hedges, figures, flags in items:
        if "equity" not in figures:
            continue
        ratio = figures.get("margin_ratio")
        lower, upper = _dec(figures.get("band_lower")), _dec(figures.get("band_upper"))
        distance = _dec(figures.get("nearest_liquidation_distance"))
        liquidation_target = _dec(figures.get("target_liquidation_distance"))
        if liquidation_target is not None:
            target = f"liq. {_percent(liquidation_target)}"
            band = f"[{_percent(lower)}, {_percent(upper)}]"
        else:
            target = num(_dec(figures.get("target")))
            band = f"[{num(lower)}, {num(upper)}]" if lower is not None else "-"
        table.add_row(
            venue,
            ", ".join(hedges),
            num(_dec(figures.get("equity"))),
            num(_dec(figures.get("short_notional"))),
            _ratio_cell(figures, ratio),
            _percent(distance) if distance is not None else "-",
            target,
            band,
            ", ".join(f.value for f in flags) or "-",
        )
    console.print(table)


def _ratio_cell(figures: Mapping[str, Decimal | str], ratio: Decimal | str | None) -> str:
    """The pool's margin ratio; a unified account's own figure, named (`accountMMRate 0.2`)."""
    figure = figures.get("account_figure")
    if isinstance(figure, str) and isinstance(figures.get(figure), Decimal):
        return f"{figure} {num(_dec(figures[figure]), 4)}"
    return num(_dec(ratio), 4) if ratio is not None else "flat"


def _percent(value: Decimal | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _dec(value: Decimal | str | None) -> Decimal | None:
    return value if isinstance(value, Decimal) else None


def print_reconciled(
    console: Console, report: ReconcileReport, *, quiet_when_empty: bool = True
) -> None:
    """What reconciliation settled, and what it could not settle yet."""
    margins = report.margin_settled or report.margin_still_open
    if not report.resolved and not report.still_open and not margins:
        if not quiet_when_empty:
            console.print("Reconcile: nothing open.")
        return
    for record in report.resolved:
        found = f" as {record.exchange_id}" if record.exchange_id else ""
        console.print(
            f"reconciled: transfer {record.id} ({plain(record.amount)} {record.asset} "
            f"{record.from_account} -> {record.to_account} on {record.venue}) is "
            f"{record.status.value}{found}",
            markup=False,
            highlight=False,
        )
    for record in report.still_open:
        console.print(
            f"unsettled: transfer {record.id} ({plain(record.amount)} {record.asset} on "
            f"{record.venue}) is still {record.status.value}; it is looked up again next run",
            markup=False,
            highlight=False,
        )
    for leg in report.margin_settled:
        console.print(
            f"reconciled: {margin_leg_words(leg)} is {leg.status.value}",
            markup=False,
            highlight=False,
        )
    for leg, why in report.margin_still_open:
        console.print(
            f"unsettled: {margin_leg_words(leg)} is still {leg.status.value}: {why}",
            markup=False,
            highlight=False,
        )
    for error in report.errors:
        console.print(f"reconcile: {error}", markup=False, highlight=False)


def reconcile_json(report: ReconcileReport) -> dict[str, Any]:
    """`bot reconcile --json`: what was settled and what is still open (docs/cli-json.md)."""
    return {
        "reconciled": [transfer_json(r) for r in report.resolved],
        "unsettled": [transfer_json(r) for r in report.still_open],
        "margin_legs_settled": [_leg_json(leg) for leg in report.margin_settled],
        "margin_legs_unsettled": [
            {**_leg_json(leg), "why": why} for leg, why in report.margin_still_open
        ],
        "errors": list(report.errors),
    }


def _leg_json(leg: MarginLegRecord) -> dict[str, Any]:
    return {
        "id": leg.id,
        "symbol": leg.symbol,
        "action": "add" if leg.add else "reduce",
        "amount": plain(leg.amount),
        "asset": leg.asset,
        "status": leg.status.value,
    }


def capabilities_json(
    rows: list[tuple[str, Capabilities]],
    *,
    unreachable: Mapping[str, str] | None = None,
    offline: Mapping[str, Capabilities] | None = None,
) -> dict[str, Any]:
    """`bot venues --json`: each venue's capabilities; an unreachable venue's are its class's,
    known offline (its markets are not: `perpetuals` is null)."""
    venues: dict[str, Any] = {}

    def shape(caps: Capabilities, reachable: bool) -> dict[str, Any]:
        return {
            "reachable": reachable,
            "error": None,
            "exchange_id": caps.exchange_id,
            "balances": caps.balances,
            "positions": caps.positions,
            "funding": caps.funding,
            "transfer": caps.transfer,
            "transfer_history": caps.transfer_history,
            "client_ids": caps.client_ids,
            "websocket_balance": caps.websocket_balance,
            "shared_collateral": caps.shared_collateral,
            "perpetuals": caps.swap_markets if reachable else None,
            "accounts": list(caps.accounts),
            "account_mode": caps.account_mode,
        }

    for name, caps in rows:
        venues[name] = shape(caps, True)
    for name, error in (unreachable or {}).items():
        known = (offline or {}).get(name)
        base = shape(known, False) if known is not None else {"reachable": False}
        venues[name] = {**base, "error": error}
    return {"venues": dict(sorted(venues.items()))}


def margin_leg_words(leg: MarginLegRecord) -> str:
    """A margin leg in words: margin leg 3 (reduce 8500 USDT of ETH/USDT:USDT's isolated
    margin)."""
    verb = "add" if leg.add else "reduce"
    return (
        f"margin leg {leg.id} ({verb} {plain(leg.amount)} {leg.asset} of {leg.symbol}'s "
        "isolated margin)"
    )


def assignment_line(done: Assignment) -> str:
    """`bot reconcile --assign` in one line."""
    unchecked = "" if done.checked else ", not checked against the venue"
    return (
        f"transfer {done.transfer.id} assigned to venue transfer {done.exchange_id} by "
        f"{done.operator} (reason: {done.reason}); {done.transfer.status.value}{unchecked}"
    )


def print_capabilities(
    console: Console,
    rows: list[tuple[str, Capabilities]],
    *,
    unreachable: Mapping[str, str] | None = None,
    offline: Mapping[str, Capabilities] | None = None,
) -> None:
    """One row per venue; an unreachable one shows its exchange id and what its class can do
    (known offline), with `-` for its perpetuals (its markets were not loaded)."""
    table = Table(title="venues", title_justify="left")
    columns = (
        "venue",
        "exchange",
        "balances",
        "positions",
        "funding",
        "transfer",
        "transfer history",
        "client ids",
        "WebSocket balance",
        "perpetuals",
        "account mode",
    )
    for column in columns:
        table.add_column(column)
    for name, caps in rows:
        table.add_row(escape(name), *_capability_cells(caps))
    for name in sorted(unreachable or {}):
        known = (offline or {}).get(name)
        if known is None:
            table.add_row(f"{escape(name)} [bold red](unreachable)[/]", *["-"] * (len(columns) - 1))
            continue
        # what its class can do is known offline; its markets and its account's mode are not
        table.add_row(
            f"{escape(name)} [bold red](unreachable)[/]", *_capability_cells(known)[:-2], "-", "-"
        )
    console.print(table)


def _capability_cells(caps: Capabilities) -> list[str]:
    yes = {True: "yes", False: "no"}
    transfer = "shared margin" if caps.shared_collateral else "yes" if caps.transfer else "manual"
    return [
        caps.exchange_id,
        yes[caps.balances],
        yes[caps.positions],
        yes[caps.funding],
        transfer,
        yes[caps.transfer_history],
        caps.client_ids or "-",
        yes[caps.websocket_balance],
        str(caps.swap_markets),
        caps.account_mode or "-",
    ]


def print_manual_actions(console: Console, records: Iterable[TransferRecord]) -> None:
    """Moves the bot cannot make itself (no transfer API): what the user should do by hand."""
    manual = [r for r in records if r.status is TransferStatus.MANUAL]
    if not manual:
        return
    console.print("Action needed (these venues have no transfer API):", style="bold yellow")
    for r in manual:
        console.print(
            f"  on {r.venue}: move {plain(r.amount)} {r.asset} from {r.from_account} to "
            f"{r.to_account} (ledger row {r.id})",
            markup=False,
            highlight=False,
        )


def start_line(config: Config) -> str:
    """What `bot run` is about to do, in one line."""
    from bot.runtime.redact import redact

    venues = ", ".join(
        f"{name} ({v.exchange}{', paper' if v.paper else ''})"
        for name, v in sorted(config.venues.items())
        if config.hedges_on(name)
    )
    hedges = ", ".join(sorted(config.hedges)) or "none"
    return (
        f"bot run: rebalance {config.schedule.rebalance.describe()}; venues {venues or 'none'}; "
        f"hedges {hedges}; ledger {redact(config.ledger_url)}; SIGTERM or Ctrl-C stops"
    )


def cycle_line(result: Any) -> str:
    """One cycle in one line: what moved, what did not, what is still open."""
    parts = _cycle_parts(result, "moved") or ["nothing to move"]
    verdict = "needs attention" if result.failed else "ok"
    return f"run {result.run_id}: {'; '.join(parts)} [{verdict}]"


def guard_line(result: Any, danger: Decimal) -> str:
    """The guard's scoped cycle in one line: what it topped up, and why it ran."""
    parts = _cycle_parts(result, "topped up") or ["nothing could be moved"]
    return f"guard run {result.run_id}: margin under {plain(danger)}: {'; '.join(parts)}"


def _cycle_parts(result: Any, verb: str) -> list[str]:
    """A cycle's transfers, margin legs, blocked and unsettled rows, a phrase each."""
    parts = []
    moved = [t for t in result.transfers if t.status is TransferStatus.CONFIRMED]
    not_done = [t for t in result.transfers if t.status is not TransferStatus.CONFIRMED]
    if moved:
        parts.append(f"{verb} " + "; ".join(_move(t) for t in moved))
    for t in not_done:
        parts.append(f"{t.status.value} {_move(t)}" + (f" ({t.error})" if t.error else ""))
    if result.margin is not None:
        parts += result.margin.lines
        parts += [f"half done: {line}" for line in result.margin.half_done]
    parts += [f"blocked: {b.message}" for b in result.blocked]
    parts += [
        f"unsettled: transfer {t.id} is {t.status.value}" for t in result.reconciled.still_open
    ]
    return parts


def _move(t: TransferRecord) -> str:
    amount = plain(t.amount if t.amount is not None else t.planned_amount)
    return f"{amount} {t.asset} {t.from_account} -> {t.to_account} on {t.venue} (transfer {t.id})"
