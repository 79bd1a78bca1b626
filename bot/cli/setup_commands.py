"""Setting up: `config check`, `venues`, `db upgrade`."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from bot.cli.app import (
    app,
    config_app,
    context_of,
    db_app,
    exit_for_venues,
    fail,
    load,
    open_ledger,
    out,
    print_json,
    run_async,
)
from bot.errors import UserFacingError
from bot.runtime.redact import redact


@config_app.command("check")
def config_check(ctx: typer.Context) -> None:
    """Validate config.yaml and the environment (alert and heartbeat URLs, the anchor file),
    connect to every venue, check every hedge."""
    from bot.health import preflight
    from bot.venues.session import open_venues

    config = load(ctx)
    try:
        preflight.check(config)
    except UserFacingError as exc:
        fail(str(exc), exc.exit_code)

    async def check() -> list[tuple[str, str, int]]:
        async with open_venues(config, dry_run=True) as venues:
            return [(name, venue.client.id, len(venue.hedges)) for name, venue in venues.items()]

    rows = run_async(check)
    out.print(f"config ok: {context_of(ctx).config_file}")
    for name, exchange_id, hedges in rows:
        out.print(f"  venue {name}: {exchange_id}, {hedges} hedge(s), markets checked")
    out.print(f"  ledger: {redact(config.ledger_url)}")
    alerts = config.alerts
    if alerts.urls:
        schemes = ", ".join(url.split("://", 1)[0] for url in alerts.urls)
        out.print(f"  alerts: {len(alerts.urls)} channel(s) ({schemes}), each parsed by apprise")
    else:
        out.print("  alerts: no channel (alerts.urls is empty): nobody will be told")
    if alerts.heartbeat is not None:
        from bot.alerts.heartbeat import describe

        out.print(f"  {describe(alerts.heartbeat)}")


@app.command("venues")
def venues_command(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print the venues as JSON.")] = False,
) -> None:
    """Show what each configured venue can do: balances, positions, funding, transfers...
    Every configured venue is listed; one that cannot be reached is marked, with its exchange
    id and what its class can do (exit 1)."""
    from contextlib import AsyncExitStack

    from bot.cycle.rebalance import venue_error_lines
    from bot.present import output as render
    from bot.venues.session import build_venue, open_venues

    config = load(ctx)
    failures: dict[str, Exception] = {}
    offline: dict[str, Any] = {}

    async def read() -> list:  # type: ignore[type-arg]
        async with open_venues(config, dry_run=True, failures=failures) as venues:
            rows = [(name, venue.capabilities()) for name, venue in venues.items()]
        async with AsyncExitStack() as stack:  # built, never connected: no network
            for name in failures:
                try:
                    venue = await build_venue(
                        config, name, dry_run=True, timing=None, stack=stack, cache=None
                    )
                    offline[name] = venue.capabilities()
                except Exception:
                    continue
        return rows

    rows = run_async(read)
    lines = dict(zip(failures, venue_error_lines(failures), strict=True))
    if as_json:
        print_json(render.capabilities_json(sorted(rows), unreachable=lines, offline=offline))
    else:
        render.print_capabilities(out, sorted(rows), unreachable=lines, offline=offline)
    exit_for_venues(failures)


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Apply ledger migrations up to the newest schema."""
    from bot.ledger import db as ledger_db

    config = load(ctx)
    ledger = open_ledger(config)
    try:
        revision = ledger_db.current_revision(ledger.engine)
    finally:
        ledger.close()
    out.print(f"ledger schema at {revision} (head {ledger_db.head_revision()})")
