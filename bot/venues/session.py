"""Opening every venue a command needs, for the length of one `async with`.

A `paper: true` venue gets its own paper exchange on loopback for the same span, with its
state in a JSON file beside the ledger, so successive runs continue one story.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from bot.aio import gather_each, gather_or_cancel
from bot.config import Config, VenueConfig
from bot.errors import ConfigError, ErrorKind, UserFacingError, VenueError
from bot.model import State
from bot.paper import PAPER_API_KEY, PAPER_SECRET, PaperExchange, StateStore, binance_urls
from bot.retry import RetryPolicy, Timing
from bot.venues.base import Venue
from bot.venues.clients import (
    Credentials,
    build_client,
    build_ws_client,
    credentials_from_env,
)
from bot.venues.registry import exchange_class, venue_class

log = logging.getLogger(__name__)
T = TypeVar("T")


def paper_state_path(config: Config, name: str, venue: VenueConfig) -> Path:
    if venue.paper_state:
        path = Path(venue.paper_state)
        return path if path.is_absolute() else config.base_dir / path
    return config.data_dir / f"paper-{name}.json"


def check_venues(config: Config, names: Iterable[str]) -> None:
    """What can be checked without the network, most basic first: every exchange id is one
    the bot knows (a misspelt id is the problem, not its unset key variables), a paper venue
    speaks Binance, a live venue's keys are in the environment. Raises `ConfigError`."""
    wanted = list(names)
    for name in wanted:
        exchange_class(name, config.venues[name].exchange)
    for name in wanted:
        venue_config = config.venues[name]
        if venue_config.paper:
            if venue_config.exchange not in PAPER_EXCHANGE_IDS:
                raise ConfigError(
                    f"venues.{name}.exchange: the paper exchange speaks Binance; "
                    "set exchange: binance or paper: false"
                )
        else:
            credentials_from_env(name, venue_config)


PAPER_EXCHANGE_IDS = ("binance", "binanceusdm", "binancecoinm")


@asynccontextmanager
async def open_venues(
    config: Config,
    *,
    dry_run: bool,
    names: Iterable[str] | None = None,
    timing: Timing | None = None,
    failures: dict[str, Exception] | None = None,
) -> AsyncIterator[dict[str, Venue]]:
    """Build, connect and finally close the named venues (default: every configured venue).

    With `failures`, a venue that cannot be reached or used is recorded there and left out,
    and the others are yielded (design invariant 11); without it, the first failure raises.
    Config problems found without the network (`check_venues`) always raise.
    """
    wanted = list(names) if names is not None else list(config.venues)
    check_venues(config, wanted)
    policy = RetryPolicy.from_config(config.retry)
    async with AsyncExitStack() as stack:
        venues: dict[str, Venue] = {}
        for name in wanted:
            venue_config = config.venues[name]
            if venue_config.paper:
                store = StateStore(paper_state_path(config, name, venue_config))
                paper = PaperExchange(store)
                await paper.start()
                stack.push_async_callback(paper.stop)
                credentials = Credentials(PAPER_API_KEY, PAPER_SECRET)
                base_url = paper.base_url

                def rewrite(api: dict, url: str = base_url) -> dict:  # type: ignore[type-arg]
                    return binance_urls(url, api, ws=True)
            else:
                credentials = credentials_from_env(name, venue_config)
                rewrite = None
            client = build_client(
                name, venue_config, credentials, dry_run=dry_run, rewrite_api_urls=rewrite
            )
            ws_client = build_ws_client(
                name, venue_config, credentials, dry_run=dry_run, rewrite_api_urls=rewrite
            )
            venue = venue_class(venue_config.exchange)(
                name,
                client,
                config.hedges_on(name),
                policy=policy,
                timing=timing,
                ws_client=ws_client,
            )
            stack.push_async_callback(venue.close)
            venues[name] = venue
        if failures is None:
            await gather_or_cancel(*(venue.connect() for venue in venues.values()))
            yield venues
            return
        outcomes = await isolated(venues, lambda venue: venue.connect())
        for name, outcome in outcomes.items():
            if isinstance(outcome, Exception):
                failures[name] = outcome
        yield {name: venue for name, venue in venues.items() if name not in failures}


async def read_state(
    venues: Mapping[str, Venue], failures: dict[str, Exception] | None = None
) -> State:
    """Read every venue concurrently into one immutable `State`.

    With `failures`, a venue whose read fails (unreachable, refused, or an answer that cannot
    be trusted) is recorded there and left out of the state, so nothing is planned for it;
    without it, the first failure raises."""
    read_at = datetime.now(UTC)
    if failures is None:
        states = await gather_or_cancel(*(venue.read_state() for venue in venues.values()))
        return State(read_at=read_at, venues={s.venue: s for s in states})
    outcomes = await isolated(venues, lambda venue: venue.read_state())
    good = {}
    for name, outcome in outcomes.items():
        if isinstance(outcome, Exception):
            failures[name] = outcome
        else:
            good[name] = outcome
    return State(read_at=read_at, venues=good)


async def isolated(
    venues: Mapping[str, Venue], step: Callable[[Venue], Awaitable[T]]
) -> dict[str, T | Exception]:
    """Run `step` on every venue at once; each venue's exception is its own result and never
    cancels another venue's step. An exception that is not a classified venue failure is a
    bug: its traceback goes to the debug log and it is reported as that venue's failure."""
    outcomes = await gather_each({name: step(venue) for name, venue in venues.items()})
    for name, result in outcomes.items():
        if isinstance(result, Exception) and not isinstance(result, VenueError | UserFacingError):
            log.debug("venue %s failed unexpectedly", name, exc_info=result)
            outcomes[name] = VenueError(
                ErrorKind.FATAL, name, f"unexpected {type(result).__name__}: {result}"
            )
    return outcomes
