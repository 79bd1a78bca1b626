"""Tables and JSON shapes of the audit commands (`ledger show`, `ledger summary`)."""

from __future__ import annotations

import json
from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bot.audit.summary import Group
from bot.model import TransferStatus
from bot.money import plain


def summary_json(by: str, groups: list[Group]) -> dict[str, Any]:
    """The documented JSON shape of `bot ledger summary --json`."""
    return {
        "by": by,
        "groups": [
            {
                "key": g.key,
                "transfers": g.transfers,
                "statuses": dict(sorted(g.statuses.items())),
                "failures": g.count(TransferStatus.FAILED),
                "unknowns": g.count(TransferStatus.UNKNOWN) + g.count(TransferStatus.PENDING),
                "manual": g.count(TransferStatus.MANUAL),
                "assets": {
                    asset: {
                        "to_futures": plain(f.to_futures),
                        "to_spot": plain(f.to_spot),
                        "gross": plain(f.gross),
                        "net_to_futures": plain(f.net_to_futures),
                        "funding_income": plain(f.funding_income),
                        "funding_payments": f.funding_payments,
                    }
                    for asset, f in sorted(g.assets.items())
                },
            }
            for g in groups
        ],
    }


def print_summary(console: Console, by: str, groups: list[Group]) -> None:
    if not groups:
        console.print("Summary: no transfers and no funding payments in this period.")
        return
    columns = (
        by,
        "transfers",
        *(status.value.replace("_", " ") for status in TransferStatus),
        "asset",
        "to futures",
        "to spot",
        "net to futures",
        "funding income",
    )
    rows = []
    for g in groups:
        assets = sorted(g.assets.items()) or [("-", None)]
        for n, (asset, flows) in enumerate(assets):
            # every status, so that the counts add up to the transfers (dry runs and skipped
            # sizings apart from what moved)
            counts = (
                [str(g.transfers), *(str(g.count(status)) for status in TransferStatus)]
                if n == 0
                else [""] * (1 + len(TransferStatus))
            )
            money = (
                [
                    plain(flows.to_futures),
                    plain(flows.to_spot),
                    plain(flows.net_to_futures),
                    plain(flows.funding_income) if flows.funding_payments else "-",
                ]
                if flows is not None
                else ["-"] * 4
            )
            rows.append([escape(g.key) if n == 0 else "", *counts, escape(asset), *money])
    # fourteen columns: no outer edge, and one space between columns, so the figures fit
    table = Table(
        title=f"Summary by {by}", title_justify="left", box=box.SIMPLE_HEAD, show_edge=False
    )
    money = set(columns[-4:])
    for index, column in enumerate(columns):
        # a figure keeps every digit: its column is as wide as its widest figure, and the
        # counts' headers fold to make room
        widest = max(len(row[index]) for row in rows) if column in money else None
        justify = "left" if column in (by, "asset") else "right"
        table.add_column(column, justify=justify, min_width=widest, overflow="fold")
    for row in rows:
        table.add_row(*row)
    console.print(table)


def print_detail(console: Console, detail: dict[str, Any]) -> None:
    """`bot ledger show ID` as text: one block per part of the record."""

    def line(text: str) -> None:
        console.print(text, markup=False, highlight=False)

    intent, sizing = detail["intent"], detail["sizing"]
    line(
        f"transfer {detail['id']}: {detail['status']}  {detail['venue']} {detail['asset']} "
        f"{detail['from_account']} -> {detail['to_account']} ({detail['direction']}), "
        f"hedges {', '.join(detail['hedges']) or '-'}"
    )
    line(f"  created {detail['created_at']}, updated {detail['updated_at']}")
    run = detail["run"]
    line(f"  run {run['id']} ({run['command']}, started {run['started_at']}, {run['status']})")
    line(f"  venue transfer id: {detail['exchange_id'] or '-'}; client id {detail['client_id']}")
    if detail["error"]:
        line(f"  error: {detail['error']}")
    line(f"intent: rule {intent['rule']}, planned {intent['planned_amount']} {detail['asset']}")
    line(f"  reason: {intent['reason']}")
    line(f"  figures: {json.dumps(intent['figures'], sort_keys=True)}")
    line(
        f"sizing: amount {sizing['amount'] or '-'}, tag {sizing['amount_tag'] or '-'}"
        + (f", replaces transfer {sizing['replaces_id']}" if sizing["replaces_id"] else "")
    )
    line(f"  fresh read: {json.dumps(sizing['inputs'], sort_keys=True)}")
    snapshot = detail["snapshot"]
    if any(snapshot.values()):
        table = Table(title="snapshot of its run", title_justify="left")
        for column in ("what", "figures"):
            table.add_column(column)
        for b in snapshot["balances"]:
            table.add_row(
                f"{b['account']} {b['asset']}",
                f"free {b['free']} used {b['used']} balance {b['balance']} "
                f"uPnL {b['unrealized_pnl']} transferable {b['transferable']}",
            )
        for p in snapshot["positions"]:
            table.add_row(
                f"{p['symbol']} {p['side']}",
                f"contracts {p['contracts']} notional {p['notional']} mark {p['mark_price']} "
                f"liq {p['liquidation_price']} maint {p['maintenance_margin']}",
            )
        for f in snapshot["funding"]:
            table.add_row(
                f"{f['symbol']} funding",
                f"rate {f['rate']} mark {f['mark_price']} next {f['next_funding_at']}",
            )
        console.print(table)
    else:
        line("snapshot: none recorded for its run")
    if detail["attempts"]:
        table = Table(title="attempts", title_justify="left")
        for column in ("#", "started", "amount", "outcome", "error", "venue id"):
            table.add_column(column, overflow="fold")
        for a in detail["attempts"]:
            table.add_row(
                str(a["number"]),
                str(a["started_at"]),
                str(a["amount"]),
                a["outcome"],
                escape(" ".join(filter(None, [a["error_kind"], a["error"]])) or "-"),
                a["exchange_id"] or "-",
            )
        console.print(table)
    else:
        line("attempts: none (nothing was sent)")
    for r in detail["reconciliation"]:
        line(f"reconciled {r['finished_at']}: {r['outcome']} {r['error'] or ''}".rstrip())
    for c in detail["corrections"]:
        line(
            f"correction {c['at']}: {c['action']} by {c['operator']} "
            f"({c['previous_status']} -> {c['new_status']}, venue id {c['exchange_id']}): "
            f"{c['reason']}" + (f"; {c['note']}" if c["note"] else "")
        )
    income = detail["funding_income"]
    period = ", ".join(f"{k} {v}" for k, v in income["period"].items()) or "none"
    to_date = ", ".join(f"{k} {v}" for k, v in income["to_date"].items()) or "none"
    line(f"funding income since the venue's previous transfer: {period}; to date: {to_date}")
