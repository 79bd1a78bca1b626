"""`bot paper ...`: the built-in paper exchange."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from bot.cli.app import argument, fail, load, out, paper_app
from bot.usage import parse_port


@paper_app.command("serve")
def paper_serve(
    ctx: typer.Context,
    port: Annotated[
        str, typer.Option("--port", metavar="PORT", help="0 picks a free port.")
    ] = "8765",
    host: Annotated[str, typer.Option("--host", help="Loopback only by default.")] = "127.0.0.1",
    state: Annotated[
        Path | None,
        typer.Option("--state", help="State file.", show_default="data/paper-serve.json"),
    ] = None,
    test_hooks: Annotated[
        bool,
        typer.Option("--test-hooks", help="Expose /_paper/ fault-injection routes (tests only)."),
    ] = False,
) -> None:
    """Run the paper exchange alone; any ccxt binance client can point its urls['api'] at it."""
    from bot.paper import PAPER_API_KEY, PAPER_SECRET, StateStore, serve_forever

    api_key = os.environ.get("PAPER_API_KEY", PAPER_API_KEY)
    secret = os.environ.get("PAPER_API_SECRET", PAPER_SECRET)
    port_number = argument(lambda: parse_port("--port", port))
    store = StateStore(state or Path("data/paper-serve.json"))

    def announce(base_url: str) -> None:
        keys = (
            f"key {PAPER_API_KEY!r}, secret {PAPER_SECRET!r}"
            if (api_key, secret) == (PAPER_API_KEY, PAPER_SECRET)
            else "the key and secret in PAPER_API_KEY / PAPER_API_SECRET"
        )
        out.print(f"paper exchange on {base_url} ({keys}); Ctrl-C stops it", markup=False)
        sys.stdout.flush()

    import asyncio  # here, not at the top: `bot --help` needs no event loop

    try:
        asyncio.run(
            serve_forever(
                store,
                host,
                port_number,
                api_key=api_key,
                secret=secret,
                test_hooks=test_hooks,
                on_ready=announce,
            )
        )
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        fail(f"--port {port}: cannot listen on {host} ({exc.strerror}); pick another port")


@paper_app.command("reset")
def paper_reset(
    ctx: typer.Context,
    keep_ledger: Annotated[
        bool,
        typer.Option(
            "--keep-ledger",
            help="Reset only the paper accounts; keep the ledger (its rows stay true history).",
        ),
    ] = False,
) -> None:
    """Start over on paper: delete the paper accounts' state and, unless --keep-ledger, the
    SQLite ledger too, so that the ledger and the paper wallets agree again."""
    from bot.ledger.locks import file_venue_locks
    from bot.venues.session import paper_state_path

    config = load(ctx)
    paper = sorted(name for name, venue in config.venues.items() if venue.paper)
    live = sorted(name for name, venue in config.venues.items() if not venue.paper)
    ledger_file = config.sqlite_file
    if not keep_ledger and live:
        fail(
            f"the ledger also records live venues ({', '.join(live)}); "
            "use bot paper reset --keep-ledger to reset only the paper accounts"
        )
    if not keep_ledger and ledger_file is None:
        fail("ledger.url is not a SQLite file; use bot paper reset --keep-ledger")
    removed: list[Path] = []
    with file_venue_locks(config.data_dir / "locks", paper, "paper reset"):
        files = [paper_state_path(config, name, config.venues[name]) for name in paper]
        if not keep_ledger and ledger_file is not None:
            files += [ledger_file, ledger_file.with_name(ledger_file.name + "-journal")]
        for path in files:
            try:
                path.unlink()
            except FileNotFoundError:
                continue
            except OSError as exc:
                fail(f"cannot delete {path} ({exc.strerror}); delete it by hand")
            removed.append(path)
    for path in removed:
        out.print(f"removed {path}", markup=False, highlight=False)
    out.print(
        "paper reset: the next command starts fresh paper accounts"
        + ("" if keep_ledger else " and a new ledger"),
        markup=False,
        highlight=False,
    )
