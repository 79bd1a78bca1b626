"""`bot paper ...`: the built-in paper exchange."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bot.cli.app import argument, fail, load, out, paper_app, print_json
from bot.present.usage import parse_port

if TYPE_CHECKING:
    from bot.config import Config

VenueOpt = Annotated[
    str | None,
    typer.Option(
        "--venue", metavar="NAME", help="The paper venue (default: the only paper: true venue)."
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the answer as JSON.")]


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
    _refuse_under_a_run(config)
    removed: list[Path] = []
    with file_venue_locks(config.data_dir / "locks", paper, "paper reset"), _owned(config, paper):
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


def _refuse_under_a_run(config: Config) -> None:
    """A `bot run` holding the ledger would find its ledger and paper account gone under it."""
    from sqlalchemy import create_engine

    from bot.ledger.run_lock import run_holders

    engine = create_engine(config.ledger_url)
    try:
        holders = run_holders(engine, config.data_dir / "locks", sorted(config.venues))
    finally:
        engine.dispose()
    if holders:
        venue, holder = sorted(holders.items())[0]
        fail(
            f"bot run (pid {holder.get('pid', '?')}) is running venue {venue} on this ledger; "
            "stop it first (Ctrl-C or systemctl stop bot), then bot paper reset"
        )


@contextmanager
def _owned(config: Config, names: list[str]) -> Iterator[None]:
    """Hold each paper account's control lock; refuse while a command's exchange owns one."""
    from bot.paper.control import claim, release
    from bot.venues.session import paper_state_path

    with ExitStack() as stack:
        for name in names:
            lock = claim(paper_state_path(config, name, config.venues[name]), wait=1.0)
            if lock is None:
                fail(f"venue {name}: a running bot command has its paper exchange open; try again")
            stack.callback(release, lock)
        yield


def _paper_venue(config: Config, venue: str | None) -> str:
    paper = sorted(name for name, v in config.venues.items() if v.paper)
    if venue is not None:
        if venue not in paper:
            fail(
                f"--venue: {venue!r} is not a paper: true venue (paper venues: "
                f"{', '.join(paper) or 'none'})"
            )
        return venue
    if len(paper) != 1:
        fail(
            "--venue: no paper: true venue in config"
            if not paper
            else f"--venue: several paper venues ({', '.join(paper)}); name one"
        )
    return paper[0]


def market_id(symbol: str) -> str:
    """A unified ccxt symbol as the paper's market id: ETH/USDT and ETH/USDT:USDT -> ETHUSDT,
    BTC/USD:BTC -> BTCUSD_PERP; a market id or a base asset is kept as given."""
    text = symbol.strip().upper()
    if "/" not in text:
        return text
    pair, _, settle = text.partition(":")
    base, _, quote = pair.partition("/")
    if settle and settle == base and quote == "USD":
        return f"{base}{quote}_PERP"
    return f"{base}{quote}"


def _control(
    ctx: typer.Context, venue: str | None, method: str, path: str, body: dict[str, Any] | None
) -> tuple[str, Any, str]:
    from bot.paper.control import PaperControlError, request
    from bot.venues.session import paper_state_path

    config = load(ctx)
    name = _paper_venue(config, venue)
    try:
        answer, where = request(
            paper_state_path(config, name, config.venues[name]), method, path, body
        )
    except PaperControlError as exc:
        fail(str(exc))
    return name, answer, where


def _say(as_json: bool, payload: dict[str, Any], line: str) -> None:
    if as_json:
        print_json(payload)
    else:
        out.print(line, markup=False, highlight=False, soft_wrap=True)


@paper_app.command("mark")
def paper_mark(
    ctx: typer.Context,
    symbol: Annotated[
        str,
        typer.Argument(
            metavar="SYMBOL", help="ETH/USDT:USDT, ETHUSDT or ETH: every market on ETH moves."
        ),
    ],
    price: Annotated[str, typer.Argument(metavar="PRICE", help="The new mark price, e.g. 3900.")],
    venue: VenueOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Move a paper price (spot and perpetuals on that base), also under a running bot run:
    its exchange pushes the new mark at once, as Binance would."""
    from decimal import Decimal, InvalidOperation

    try:
        value = Decimal(price)
    except InvalidOperation:
        fail(f"PRICE: {price!r} is not a number (e.g. 3900)")
    if not value.is_finite() or value <= 0:
        fail(f"PRICE: {price!r} must be more than 0")
    name, answer, where = _control(
        ctx, venue, "POST", "/_paper/mark", {"symbol": market_id(symbol), "price": str(value)}
    )
    _say(
        as_json,
        {"venue": name, "symbol": answer["symbol"], "price": answer["price"], "applied_to": where},
        f"paper {name}: {symbol} marked at {answer['price']} ({where})",
    )


@paper_app.command("funding")
def paper_funding(
    ctx: typer.Context,
    symbol: Annotated[
        str | None,
        typer.Argument(
            metavar="[SYMBOL]", help="Only this perpetual (default: every open position)."
        ),
    ] = None,
    venue: VenueOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Book a funding payment now on each open position, at its current rate and mark, as a
    funding time would (the futures wallet moves by it)."""
    body = {"symbol": market_id(symbol)} if symbol else {}
    name, answer, where = _control(ctx, venue, "POST", "/_paper/funding", body)
    booked = answer.get("booked", [])
    words = "; ".join(f"{b.get('symbol')} {b.get('income')} {b.get('asset')}" for b in booked)
    _say(
        as_json,
        {"venue": name, "booked": booked, "applied_to": where},
        f"paper {name}: funding booked: {words or 'no open position'} ({where})",
    )


@paper_app.command("transfer")
def paper_transfer(
    ctx: typer.Context,
    asset: Annotated[str, typer.Argument(metavar="ASSET", help="The asset, e.g. USDT.")],
    amount: Annotated[str, typer.Argument(metavar="AMOUNT", help="The amount, e.g. 500.")],
    transfer_type: Annotated[
        str,
        typer.Option(
            "--type", metavar="TYPE", help="Binance's universal transfer type: MAIN_UMFUTURE..."
        ),
    ] = "MAIN_UMFUTURE",
    venue: VenueOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Book a transfer made by hand, outside the bot (its own tranId in the history), e.g. the
    user moving margin themselves."""
    name, answer, where = _control(
        ctx,
        venue,
        "POST",
        "/_paper/transfer",
        {"asset": asset.upper(), "amount": amount, "type": transfer_type.upper()},
    )
    _say(
        as_json,
        {"venue": name, "tran_id": answer["tranId"], "applied_to": where},
        f"paper {name}: outside transfer {answer['tranId']}: {amount} {asset.upper()} "
        f"{transfer_type.upper()} ({where})",
    )
