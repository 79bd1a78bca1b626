"""`bot report`: the period's charts and tables as one HTML page that opens offline."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from bot.cli.app import app, argument, check_configured, err, fail, load, open_audit_ledger
from bot.present.usage import parse_when


@app.command("report")
def report(
    ctx: typer.Context,
    out_file: Annotated[
        str, typer.Option("--out", metavar="FILE", help="Where to write the HTML page.")
    ] = "report.html",
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            metavar="WHEN",
            help="The period's start: 2026-11-01, 2026-11-01T08:00Z or an age such as 7d "
            "(default 30d).",
        ),
    ] = "30d",
    hedge: Annotated[
        str | None, typer.Option("--hedge", metavar="NAME", help="Only this hedge.")
    ] = None,
) -> None:
    """Charts per hedge (margin ratio and band, equity and notional, balances with transfers,
    funding rate and income) and the period's transfers, funding and alerts, in one page."""
    now = datetime.now(UTC)
    start = argument(lambda: parse_when("--since", since, now=now)) if since else None
    config = load(ctx)
    check_configured("--hedge", "hedge", hedge, config.hedges)
    from bot.audit.report import build_report

    ledger = open_audit_ledger(config)
    try:
        page = build_report(
            config,
            ledger,
            since=start,
            generated_at=now,
            hedges=[hedge] if hedge is not None else None,
        )
    finally:
        ledger.close()
    target = Path(out_file)
    try:
        target.write_text(page, encoding="utf-8")
    except OSError as exc:
        fail(f"--out: cannot write {target} ({exc.strerror or exc}); choose a writable path")
    err.print(f"report written to {target}", markup=False, highlight=False)
