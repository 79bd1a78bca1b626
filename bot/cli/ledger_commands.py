"""`bot ledger ...`: audit queries on the ledger."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated

import typer

from bot.cli.app import argument, err, ledger_app, load, open_ledger, out
from bot.model import TransferStatus
from bot.usage import parse_choice, parse_positive, parse_when


@ledger_app.command("list")
def ledger_list(
    ctx: typer.Context,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print an array of JSON objects.")
    ] = False,
    status: Annotated[
        str | None,
        typer.Option(
            "--status",
            metavar="STATUS",
            help="Only this status: " + ", ".join(s.value for s in TransferStatus) + ".",
        ),
    ] = None,
    venue: Annotated[
        str | None, typer.Option("--venue", metavar="NAME", help="Only this venue.")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            metavar="WHEN",
            help="Only transfers created at or after this time: 2026-11-01, "
            "2026-11-01T08:00Z (UTC unless it says otherwise) or an age such as 7d or 12h.",
        ),
    ] = None,
    limit: Annotated[
        str | None, typer.Option("--limit", metavar="N", help="Only the newest N.")
    ] = None,
) -> None:
    """List transfers, oldest first."""
    from bot import render
    from bot.ledger.queries import TransferFilter, corrections_of, list_transfers

    now = datetime.now(UTC)
    where = TransferFilter(
        status=argument(
            lambda: (
                TransferStatus(parse_choice("--status", status, _STATUSES))
                if status is not None
                else None
            )
        ),
        venue=venue,
        since=argument(lambda: parse_when("--since", since, now=now) if since else None),
        limit=argument(lambda: parse_positive("--limit", limit) if limit is not None else None),
    )
    config = load(ctx)
    ledger = open_ledger(config)
    try:
        records = list_transfers(ledger, where)
        corrections = corrections_of(ledger, [r.id for r in records])
    finally:
        ledger.close()
    if as_json:
        print(
            json.dumps(
                [render.transfer_json(r, corrections.get(r.id, [])) for r in records], indent=2
            )
        )
    else:
        render.print_transfers(out, records, "Transfers", corrections=corrections)


_STATUSES = [status.value for status in TransferStatus]


@ledger_app.command("verify")
def ledger_verify(ctx: typer.Context) -> None:
    """Check the ledger's hash chain: exit 1 if any row was altered, inserted or removed."""
    config = load(ctx)
    ledger = open_ledger(config)
    try:
        report = ledger.verify()
    finally:
        ledger.close()
    if report.ok:
        out.print(f"ledger ok: {report.entries} journal entries, chain intact")
        return
    for problem in report.problems:
        err.print(problem, markup=False)
    raise typer.Exit(1)
