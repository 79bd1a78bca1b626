"""`bot carry`: what each hedge earned in funding on the capital it ties up, from the ledger
(opened read-only: reading the carry never writes)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from bot.cli.app import (
    app,
    argument,
    check_configured,
    load,
    open_audit_ledger,
    out,
    print_json,
)
from bot.present.usage import ArgumentProblem, parse_choice, parse_when

_BUCKETS = ["day", "week", "month"]


@app.command("carry")
def carry(
    ctx: typer.Context,
    since: Annotated[
        str,
        typer.Option(
            "--since",
            metavar="WHEN",
            help="The period's start: 2026-11-01, 2026-11-01T08:00Z or an age such as 7d.",
        ),
    ] = "30d",
    until: Annotated[
        str | None,
        typer.Option("--until", metavar="WHEN", help="The period's end (default: now)."),
    ] = None,
    by: Annotated[
        str | None, typer.Option("--by", metavar="KEY", help="Also per day, week or month.")
    ] = None,
    hedge: Annotated[
        str | None, typer.Option("--hedge", metavar="NAME", help="Only this hedge.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print it as one JSON object.")] = False,
) -> None:
    """Funding received and paid, the capital each hedge ties up (spot leg at mark + futures
    collateral, time-weighted), the annualised yield on it and the net carry; per hedge, per
    venue and in total."""
    now = datetime.now(UTC)

    def parse() -> tuple[datetime, datetime, str | None]:
        start = parse_when("--since", since, now=now)
        end = parse_when("--until", until, now=now) if until else now
        if end <= start:
            raise ArgumentProblem(f"--until: {until or 'now'!r} is not after --since {since!r}")
        chosen = parse_choice("--by", by, _BUCKETS) if by is not None else None
        return start, end, chosen

    start, end, chosen = argument(parse)
    config = load(ctx)
    check_configured("--hedge", "hedge", hedge, config.hedges)
    from bot.funding.carry import Bucket
    from bot.funding.carry_ledger import load_carry
    from bot.present import carry as render

    ledger = open_audit_ledger(config)
    try:
        report = load_carry(
            ledger,
            config,
            start,
            end,
            Bucket(chosen) if chosen else None,
            [hedge] if hedge is not None else None,
        )
    finally:
        ledger.close()
    if as_json:
        print_json(render.report_json(report))
        return
    _print(report)


def _print(report) -> None:  # type: ignore[no-untyped-def]
    from rich.table import Table

    from bot.present import carry as render

    table = Table(
        title=f"carry {render.when(report.start)} to {render.when(report.end)}",
        title_justify="left",
    )
    for header in render.HEADERS:
        table.add_column(
            header, justify="left" if header in ("hedge", "venue", "asset") else "right"
        )
    for row in render.table_rows(report):
        table.add_row(*row)
    out.print(table)
    if report.buckets:
        per = Table(title=f"by {report.by.value}", title_justify="left")
        for header in ["from", *render.HEADERS]:
            per.add_column(
                header, justify="left" if header in ("from", "hedge", "venue", "asset") else "right"
            )
        for row in render.bucket_rows(report):
            per.add_row(*row)
        out.print(per)
    for line in (render.FORMULA, render.TRANSFER_FEES, report.not_read, *report.notes):
        out.print(line, markup=False, highlight=False)
