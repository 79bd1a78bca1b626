"""`bot ledger ...`: audit queries on the ledger, opened read-only (an audit never writes)."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from bot.cli.app import (
    JSON_SCHEMA,
    argument,
    check_configured,
    err,
    exit_for_venues,
    fail,
    ledger_app,
    load,
    open_audit_ledger,
    out,
    print_json,
    run_async,
)
from bot.model import TransferStatus
from bot.present.usage import (
    ArgumentProblem,
    parse_choice,
    parse_positive,
    parse_transfer_id,
    parse_when,
)

if TYPE_CHECKING:
    from bot.ledger.queries import TransferFilter

_STATUSES = [status.value for status in TransferStatus]
_DIRECTIONS = ["to_futures", "to_spot"]
_WHEN = "2026-11-01, 2026-11-01T08:00Z (UTC unless it says otherwise) or an age such as 7d"

Since = Annotated[
    str | None,
    typer.Option("--since", metavar="WHEN", help=f"Only from this time on: {_WHEN}."),
]
Until = Annotated[
    str | None, typer.Option("--until", metavar="WHEN", help="Only before this time.")
]
VenueOpt = Annotated[str | None, typer.Option("--venue", metavar="NAME", help="Only this venue.")]
Asset = Annotated[str | None, typer.Option("--asset", metavar="CODE", help="Only this asset.")]
Hedge = Annotated[str | None, typer.Option("--hedge", metavar="NAME", help="Only this hedge.")]
Status = Annotated[
    str | None,
    typer.Option("--status", metavar="STATUS", help="Only this status: " + ", ".join(_STATUSES)),
]
DirectionOpt = Annotated[
    str | None,
    typer.Option("--direction", metavar="DIR", help="Only to_futures or to_spot."),
]
Limit = Annotated[str | None, typer.Option("--limit", metavar="N", help="Only the newest N.")]


def transfer_filter(
    *,
    since: str | None = None,
    until: str | None = None,
    venue: str | None = None,
    asset: str | None = None,
    hedge: str | None = None,
    status: str | None = None,
    direction: str | None = None,
    limit: str | None = None,
) -> TransferFilter:
    """The filter options parsed; a bad value is one line naming the option, exit 2."""
    from bot.ledger.queries import Direction, TransferFilter

    now = datetime.now(UTC)

    def parse() -> TransferFilter:
        start = parse_when("--since", since, now=now) if since else None
        end = parse_when("--until", until, now=now) if until else None
        if start is not None and end is not None and end <= start:
            raise ArgumentProblem(f"--until: {until!r} is not after --since {since!r}")
        return TransferFilter(
            status=TransferStatus(parse_choice("--status", status, _STATUSES))
            if status is not None
            else None,
            venue=venue,
            asset=asset.upper() if asset else None,
            hedge=hedge,
            direction=Direction(parse_choice("--direction", direction, _DIRECTIONS))
            if direction is not None
            else None,
            since=start,
            until=end,
            limit=parse_positive("--limit", limit) if limit is not None else None,
        )

    return argument(parse)


@ledger_app.command("list")
def ledger_list(
    ctx: typer.Context,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print an array of JSON objects (= --format json).")
    ] = False,
    fmt: Annotated[
        str, typer.Option("--format", metavar="FMT", help="table, json, jsonl or csv.")
    ] = "table",
    status: Status = None,
    venue: VenueOpt = None,
    asset: Asset = None,
    hedge: Hedge = None,
    direction: DirectionOpt = None,
    since: Since = None,
    until: Until = None,
    limit: Limit = None,
) -> None:
    """List transfers, oldest first."""
    chosen = argument(lambda: parse_choice("--format", fmt, ["table", "json", "jsonl", "csv"]))
    chosen = "json" if as_json else chosen
    where = transfer_filter(
        since=since,
        until=until,
        venue=venue,
        asset=asset,
        hedge=hedge,
        status=status,
        direction=direction,
        limit=limit,
    )
    from bot.audit import export
    from bot.ledger.queries import corrections_of, iter_transfer_rows, list_transfers
    from bot.ledger.store import TransferRecord
    from bot.present import output as render

    ledger = open_audit_ledger(load(ctx))
    try:
        if chosen in ("csv", "jsonl"):
            export.export(ledger, where, chosen, sys.stdout)
        elif chosen == "json":
            # streamed: one object at a time, never the whole array in memory
            corrections = corrections_of(ledger, _all_corrected(ledger))
            sys.stdout.write("[")
            for n, row in enumerate(iter_transfer_rows(ledger, where)):
                record = TransferRecord.of(row, attempts=row.attempts)
                shape = {
                    "schema": JSON_SCHEMA,
                    **render.transfer_json(record, corrections.get(record.id, [])),
                }
                sys.stdout.write(("," if n else "") + "\n" + json.dumps(shape, indent=2))
            sys.stdout.write("\n]\n")
        else:
            records = list_transfers(ledger, where)
            corrections = corrections_of(ledger, [r.id for r in records])
            render.print_transfers(out, records, "Transfers", corrections=corrections)
    finally:
        ledger.close()


def _all_corrected(ledger) -> list[int]:  # type: ignore[no-untyped-def]
    """The ids of corrected transfers (corrections are rare operator actions)."""
    from sqlalchemy import select

    from bot.ledger.tables import Correction

    with ledger.engine.connect() as connection:
        return list(connection.scalars(select(Correction.transfer_id).distinct()))


@ledger_app.command("show")
def ledger_show(
    ctx: typer.Context,
    transfer_id: Annotated[str, typer.Argument(metavar="ID", help="The transfer's ledger id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print it as one JSON object.")] = False,
) -> None:
    """One transfer: intent, snapshot, sizing, attempts, reconciliation, corrections, funding."""
    wanted = argument(lambda: parse_transfer_id("ID", transfer_id))
    from bot.audit.render import print_detail
    from bot.audit.show import transfer_detail

    ledger = open_audit_ledger(load(ctx))
    try:
        detail = transfer_detail(ledger, wanted)
    finally:
        ledger.close()
    if detail is None:
        fail(f"ID: no transfer {wanted} in the ledger (see bot ledger list)")
    if as_json:
        print_json(detail)
    else:
        print_detail(out, detail)


@ledger_app.command("summary")
def ledger_summary(
    ctx: typer.Context,
    by: Annotated[
        str,
        typer.Option(
            "--by", metavar="KEY", help="day, week, month, venue, asset, hedge or direction."
        ),
    ] = "day",
    as_json: Annotated[bool, typer.Option("--json", help="Print the groups as JSON.")] = False,
    venue: VenueOpt = None,
    asset: Asset = None,
    hedge: Hedge = None,
    direction: DirectionOpt = None,
    since: Since = None,
    until: Until = None,
) -> None:
    """Counts by status, gross and net flows per asset, failures, unknowns, manual actions
    and funding income, per period or dimension."""
    from bot.audit.summary import GroupBy

    group_by = GroupBy(argument(lambda: parse_choice("--by", by, [g.value for g in GroupBy])))
    where = transfer_filter(
        since=since, until=until, venue=venue, asset=asset, hedge=hedge, direction=direction
    )
    from bot.audit.render import print_summary, summary_json
    from bot.audit.summary import summarize

    ledger = open_audit_ledger(load(ctx))
    try:
        groups = summarize(ledger, group_by, where)
    finally:
        ledger.close()
    if as_json:
        print_json(summary_json(group_by.value, groups))
    else:
        print_summary(out, group_by.value, groups)


@ledger_app.command("export")
def ledger_export(
    ctx: typer.Context,
    out_file: Annotated[
        str, typer.Option("--out", metavar="FILE", help="Where to write (- for stdout).")
    ],
    fmt: Annotated[str, typer.Option("--format", metavar="FMT", help="csv or jsonl.")] = "csv",
    status: Status = None,
    venue: VenueOpt = None,
    asset: Asset = None,
    hedge: Hedge = None,
    direction: DirectionOpt = None,
    since: Since = None,
    until: Until = None,
) -> None:
    """Stream matching transfers to CSV or JSON Lines: constant memory, exact decimals."""
    from bot.audit import export

    chosen = argument(lambda: parse_choice("--format", fmt, list(export.FORMATS)))
    where = transfer_filter(
        since=since,
        until=until,
        venue=venue,
        asset=asset,
        hedge=hedge,
        status=status,
        direction=direction,
    )
    ledger = open_audit_ledger(load(ctx))
    try:
        if out_file == "-":
            export.export(ledger, where, chosen, sys.stdout)
            return
        target = Path(out_file)
        partial = target.with_name(target.name + ".part")
        try:
            with partial.open("w", encoding="utf-8", newline="") as handle:
                count = export.export(ledger, where, chosen, handle)
            partial.replace(target)
        except OSError as exc:
            partial.unlink(missing_ok=True)
            fail(f"--out: cannot write {target} ({exc.strerror or exc}); choose a writable path")
    finally:
        ledger.close()
    err.print(f"exported {count} transfers to {target}", markup=False, highlight=False)


@ledger_app.command("verify")
def ledger_verify(
    ctx: typer.Context,
    against_venue: Annotated[
        str | None,
        typer.Option(
            "--against-venue",
            metavar="NAME",
            help="Also compare the ledger with this venue's own transfer history.",
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since", metavar="WHEN", help=f"With --against-venue: the period's start ({_WHEN})."
        ),
    ] = None,
    anchor: Annotated[
        str | None,
        typer.Option(
            "--anchor",
            metavar="SEQ:HASH",
            help="A chain head from the log ('ledger chain head: seq=... hash=...') to check.",
        ),
    ] = None,
) -> None:
    """Check the ledger's chain and every row against it: exit 1 if anything was altered,
    inserted, removed or truncated; with --against-venue, exit 1 on any difference."""
    from bot.audit.verify import anchor_from_file, parse_anchor, verify_ledger

    config = load(ctx)
    given = argument(lambda: parse_anchor("--anchor", anchor)) if anchor else None
    if against_venue is not None:
        check_configured("--against-venue", "venue", against_venue, config.venues)
        if since is None:
            fail("--since: --against-venue needs the period's start, e.g. --since 30d")
    start = argument(lambda: parse_when("--since", since, now=datetime.now(UTC))) if since else None
    if config.anchor_path is not None and given is None:
        given = anchor_from_file(config.anchor_path)
    ledger = open_audit_ledger(config)
    try:
        report = verify_ledger(ledger, given)
        records = None
        if against_venue is not None and start is not None:
            from bot.ledger.queries import TransferFilter, list_transfers

            records = list_transfers(ledger, TransferFilter(venue=against_venue, since=start))
    finally:
        ledger.close()
    for problem in report.problems:
        print(problem, file=sys.stderr)
    if report.more_problems:
        print(f"... and {report.more_problems} more", file=sys.stderr)
    if report.ok:
        line = (
            f"ledger ok: {report.entries} journal entries, {report.rows} rows, chain intact; "
            f"{report.mode}"
        )
        out.print(line, markup=False, highlight=False)
        if report.uncovered_rows:
            out.print(
                f"note: {report.uncovered_rows} rows predate the chain's coverage of their "
                "table (written before revision 0006)",
                markup=False,
                highlight=False,
            )
        if given is not None:
            out.print(
                f"anchor: entry {given.seq} matches {given.source}", markup=False, highlight=False
            )
    failed = not report.ok
    if against_venue is not None and records is not None and start is not None:
        comparison = run_async(lambda: _compare(config, against_venue, records, start))
        for line in comparison.lines():
            out.print(line, markup=False, highlight=False)
        out.print(f"{against_venue}: {comparison.counts()}", markup=False, highlight=False)
        failed = failed or not comparison.ok
    if failed:
        raise typer.Exit(1)


async def _compare(config, name, records, since):  # type: ignore[no-untyped-def]
    from bot.audit.against_venue import compare, venue_history, without_history
    from bot.venues.session import open_venues

    failures: dict[str, Exception] = {}
    async with open_venues(config, dry_run=True, names=[name], failures=failures) as opened:
        if name not in opened:
            exit_for_venues(failures)
        if not opened[name].can_fetch_transfers and opened[name].can_transfer:
            return without_history(records, name)
        history = await venue_history(opened[name], records, since)
    return compare(records, history)
