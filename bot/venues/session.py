"""Opening every venue a command needs, for the length of one `async with`.

A `paper: true` venue gets its own paper exchange on loopback for the same span, with its
state in a JSON file beside the ledger, so successive runs continue one story.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from bot.config import Config, VenueConfig
from bot.errors import ConfigError, ErrorKind, UserFacingError, VenueError
from bot.model import State, VenueState
from bot.runtime import heap
from bot.runtime.aio import gather_each, gather_or_cancel
from bot.runtime.logs import log_context
from bot.runtime.retry import RetryPolicy, Timing
from bot.venues.base import SURFACE_OPTION, Venue
from bot.venues.halts import fix_digest
from bot.venues.markets_cache import MARKETS_TTL_SECONDS, MarketsCache, cache_key

if TYPE_CHECKING:
    from bot.venues.clients import Credentials
    from bot.venues.streams import MarginStreams

# ccxt, ccxt.pro, aiohttp and the paper exchange are imported where a venue is built, not here:
# the ledger's audit commands import the use cases (and so this module) without opening a venue.

log = logging.getLogger(__name__)
T = TypeVar("T")


def paper_state_path(config: Config, name: str, venue: VenueConfig) -> Path:
    if venue.paper_state:
        path = Path(venue.paper_state)
        return path if path.is_absolute() else config.base_dir / path
    return config.data_dir / f"paper-{name}.json"


def check_venues(config: Config, names: Iterable[str]) -> None:
    """What can be checked without the network, most basic first: every exchange id is one
    the bot knows (a misspelt id is the problem, not its unset key variables), a paper venue's
    exchange is one whose dialect the paper exchange speaks (the venue's `traits.paper`), a
    live venue's keys are in the environment. Raises `ConfigError`."""
    from bot.venues.clients import credentials_from_env
    from bot.venues.registry import exchange_class, paper_exchange_ids, venue_class

    wanted = list(names)
    for name in wanted:
        exchange_class(name, config.venues[name].exchange)
    for name in wanted:
        venue_config = config.venues[name]
        surfaces = venue_class(venue_config.exchange).surfaces
        if venue_config.surface not in surfaces:
            raise ConfigError(
                f"venues.{name}.surface: {venue_config.exchange} has no {venue_config.surface} "
                f"API (it has: {', '.join(sorted(surfaces))}): drop surface"
            )
        if venue_config.paper:
            if not venue_class(venue_config.exchange).traits.paper:
                speaks = ", ".join(paper_exchange_ids())
                raise ConfigError(
                    f"venues.{name}.exchange: the paper exchange speaks {speaks} only; "
                    "set one of them or paper: false"
                )
        else:
            credentials_from_env(name, venue_config)


def markets_cache(config: Config) -> MarketsCache:
    """Where one-shot commands keep the venues' markets between runs."""
    return MarketsCache(config.data_dir / "markets")


async def build_venue(
    config: Config,
    name: str,
    *,
    dry_run: bool,
    timing: Timing | None,
    stack: AsyncExitStack,
    cache: MarketsCache | None,
    streams: bool = False,
) -> Venue:
    """One venue, unconnected: its clients (and a paper exchange for `paper: true`, stopped
    with `stack`), its limiter, and the markets cached for it, where fresh. `streams`: also
    the client of the margin guard's streams, where the venue has them (`bot run`)."""
    from bot.venues.clients import (
        Credentials,
        build_client,
        build_stream_clients,
        build_ws_client,
        credentials_from_env,
    )
    from bot.venues.registry import venue_class

    venue_config = config.venues[name]
    rewrite = None
    if venue_config.paper:
        from bot.paper import PAPER_API_KEY, PAPER_SECRET, PaperExchange, StateStore, binance_urls
        from bot.paper.control import claim, release, serve_control

        state_path = paper_state_path(config, name, venue_config)
        # own the account (and serve `bot paper mark`...) unless another exchange does
        lock = await asyncio.to_thread(claim, state_path)
        try:
            paper = PaperExchange(StateStore(state_path))
            await paper.start()
        except BaseException:
            release(lock)
            raise
        stack.push_async_callback(paper.stop)
        control = await serve_control(paper, lock, state_path)
        if control is not None:
            stack.push_async_callback(control.stop)
        credentials: Credentials = Credentials(PAPER_API_KEY, PAPER_SECRET)
        base_url = paper.base_url

        def rewrite(api: dict, url: str = base_url) -> dict:  # type: ignore[type-arg]
            return binance_urls(url, api, ws=True)
    else:
        credentials = credentials_from_env(name, venue_config)
    # the surface (CoinSwitch PRO's `hft`) picks the venue class as ccxt options do
    cls: Any = venue_class(venue_config.exchange).for_options(
        {**(venue_config.ccxt.get("options") or {}), SURFACE_OPTION: venue_config.surface}
    )
    hedges = config.hedges_on(name)
    options = cls.ccxt_options(hedges)
    client = build_client(
        name, venue_config, credentials, dry_run=dry_run, rewrite_api_urls=rewrite, options=options
    )
    client.bot_limiter = cls.rate_limiter(client) if not client.enableRateLimit else None
    ws_client = (
        build_ws_client(name, venue_config, credentials, dry_run=dry_run, rewrite_api_urls=rewrite)
        if cls.reads_over_websocket(hedges)
        else None
    )
    stream_clients = (
        build_stream_clients(
            name, venue_config, credentials, cls.futures_families(hedges), rewrite_api_urls=rewrite
        )
        if streams and not dry_run
        else {}
    )
    venue: Venue = cls(
        name,
        client,
        hedges,
        policy=RetryPolicy.from_config(config.retry),
        timing=timing,
        ws_client=ws_client,
        **({"stream_clients": stream_clients} if stream_clients else {}),
    )
    _close_with_grace(stack, venue, client, ws_client, *stream_clients.values())
    venue.fix_digest = fix_digest(name, venue_config, credentials.identity)  # what fixes a halt
    if cache is not None:
        # the paper exchange's port changes every run; its markets do not
        urls = venue_config.urls if venue_config.paper else client.urls.get("api")
        key = cache_key(venue_config.exchange, {**options, **venue_config.ccxt}, urls or {})
        venue.markets_cache = (cache, key)  # type: ignore[attr-defined]
        cached = cache.load(name, key)
        if cached is not None:
            client.set_markets(*cached)
            venue.markets_cached = True  # type: ignore[attr-defined]
            if hasattr(venue, "connect_facts"):
                venue.connect_facts = cache.facts(name, key)
    return venue


#: after closing clients that spoke TLS, the wait aiohttp asks for so that their transports
#: finish closing (ccxt's `timeout_on_exit`, which our clients set to 0): once per session
TLS_CLOSE_GRACE_SECONDS = 0.25
_graced: weakref.WeakSet[AsyncExitStack] = weakref.WeakSet()  # sessions that wait it already


def _close_with_grace(stack: AsyncExitStack, venue: Venue, *clients: Any) -> None:
    """Close `venue` with the session (`stack`); the first venue whose clients speak TLS adds
    the one grace wait, after its own close and every later venue's."""
    from bot.venues.clients import speaks_tls

    if stack not in _graced and any(speaks_tls(c.urls.get("api")) for c in clients if c):
        _graced.add(stack)
        stack.push_async_callback(asyncio.sleep, TLS_CLOSE_GRACE_SECONDS)
    stack.push_async_callback(venue.close)


async def connect_venue(venue: Venue) -> None:
    """Connect; markets that came from the cache and lack a hedge's market are loaded again
    from the venue before the venue is refused. Fresh markets are saved to the cache."""
    client: Any = getattr(venue, "client", None)
    facts_before = dict(getattr(venue, "connect_facts", {}))
    try:
        await venue.connect()
    except UserFacingError:
        if not getattr(venue, "markets_cached", False) or client is None:
            raise
        log.info("%s: a market is missing from the cached markets; loading them again", venue.name)
        venue.markets_cached = False  # type: ignore[attr-defined]
        await venue.reload_markets()
    saved = getattr(venue, "markets_cache", None)
    facts = dict(getattr(venue, "connect_facts", {}))
    fresh = not getattr(venue, "markets_cached", False) or facts != facts_before
    if saved is not None and fresh and client is not None:
        # cached markets with a fact read anew (a cache saved before the fact existed) are
        # saved again with it, so the next run does not ask once more
        cache, key = saved
        cache.store(venue.name, key, client.markets, client.currencies or {}, facts)


@asynccontextmanager
async def open_venues(
    config: Config,
    *,
    dry_run: bool,
    names: Iterable[str] | None = None,
    timing: Timing | None = None,
    failures: dict[str, Exception] | None = None,
    cache: MarketsCache | bool | None = True,
) -> AsyncIterator[dict[str, Venue]]:
    """Build, connect and finally close the named venues (default: every configured venue),
    for one command: markets come from the disk cache while fresh (`cache=False`: never).

    With `failures`, a venue that cannot be reached or used is recorded there and left out,
    and the others are yielded (design invariant 11); without it, the first failure raises.
    Config problems found without the network (`check_venues`) always raise.
    """
    wanted = list(names) if names is not None else list(config.venues)
    check_venues(config, wanted)
    store = markets_cache(config) if cache is True else cache or None
    async with AsyncExitStack() as stack:
        venues: dict[str, Venue] = {}
        for name in wanted:
            venues[name] = await build_venue(
                config, name, dry_run=dry_run, timing=timing, stack=stack, cache=store
            )
        if failures is None:
            await gather_or_cancel(*(for_venue(v, connect_venue) for v in venues.values()))
            yield venues
            return
        outcomes = await isolated(venues, connect_venue)
        for name, outcome in outcomes.items():
            if isinstance(outcome, Exception):
                failures[name] = outcome
        yield {name: venue for name, venue in venues.items() if name not in failures}


class OpenVenues:
    """Venues kept open for a long-lived process (`bot run`): clients built and markets loaded
    once, markets refreshed every `markets_max_age` seconds, a venue that failed to connect
    tried again at the next cycle, everything closed at the end.

        async with OpenVenues(config, dry_run=False) as pool:
            while ...:
                await cycle.rebalance(config, ledger, dry_run=False, venues=pool)

    A pool is live or dry-run for its whole life (`dry_run`); a dry-run cycle refuses a live
    pool (`cycle.rebalance`), while reconcile and inspect, which only read, take either.
    """

    def __init__(
        self,
        config: Config,
        *,
        dry_run: bool,
        names: Iterable[str] | None = None,
        timing: Timing | None = None,
        markets_max_age: float = MARKETS_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        streams: bool = False,
        set_aside_heap: bool = False,
    ) -> None:
        self.config = config
        self.dry_run = dry_run
        self.with_streams = streams  # build the margin guard's stream clients (`bot run`)
        #: the process is the pool's (`bot run`): its markets are set aside from the garbage
        #: collector's full passes once loaded (`bot.runtime.heap`)
        self.set_aside_heap = set_aside_heap
        self.names = list(names) if names is not None else list(config.venues)
        self.timing = timing
        self.markets_max_age = markets_max_age
        self._clock = clock
        self._stack = AsyncExitStack()
        self._venues: dict[str, Venue] = {}
        self._connected: dict[str, float] = {}  # name -> when its markets were loaded
        self.failures: dict[str, Exception] = {}  # the last connection failure, per venue

    async def __aenter__(self) -> OpenVenues:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def open(self) -> None:
        """Build every venue and connect them all at once; config errors raise, a venue that
        cannot connect is kept in `failures` and tried again by `ready`."""
        check_venues(self.config, self.names)
        for name in self.names:
            self._venues[name] = await build_venue(
                self.config,
                name,
                dry_run=self.dry_run,
                timing=self.timing,
                stack=self._stack,
                cache=None,
                streams=self.with_streams,
            )
        await self._connect(self.names)
        if self.set_aside_heap:
            heap.set_aside()

    async def _connect(self, names: list[str]) -> None:
        outcomes = await isolated({n: self._venues[n] for n in names}, connect_venue)
        for name, outcome in outcomes.items():
            if isinstance(outcome, Exception):
                self.failures[name] = outcome
            else:
                self.failures.pop(name, None)
                self._connected[name] = self._clock()

    async def ready(
        self, names: Iterable[str] | None = None
    ) -> tuple[dict[str, Venue], dict[str, Exception]]:
        """The connected venues among `names` (default: all), after connecting those that had
        failed and reloading markets older than `markets_max_age`; and this cycle's failures."""
        wanted = [n for n in (names if names is not None else self.names) if n in self._venues]
        retry = [n for n in wanted if n in self.failures]
        if retry:
            await self._connect(retry)
        stale = [
            n
            for n in wanted
            if n in self._connected and self._clock() - self._connected[n] >= self.markets_max_age
        ]
        if stale:
            outcomes = await isolated({n: self._venues[n] for n in stale}, _reload)
            for name, outcome in outcomes.items():
                if isinstance(outcome, Exception):
                    # keep the markets it has: a failed refresh does not take a venue out
                    with log_context(venue=name):
                        log.warning("%s: markets not refreshed (%s)", name, outcome)
                else:
                    self._connected[name] = self._clock()
        if self.set_aside_heap and (retry or stale):
            heap.set_aside()  # markets loaded anew
        failures = {n: self.failures[n] for n in wanted if n in self.failures}
        return {n: self._venues[n] for n in wanted if n not in failures}, failures

    def streams(self) -> dict[str, MarginStreams]:
        """The margin guard's streams of every connected venue that has them."""
        found = {}
        for name, venue in self._venues.items():
            if name in self._connected and name not in self.failures:
                streams = venue.margin_streams()
                if streams is not None:
                    found[name] = streams
        return found

    async def close(self) -> None:
        await self._stack.aclose()
        self._venues.clear()
        if self.set_aside_heap:
            heap.give_back()


async def _reload(venue: Venue) -> None:
    await venue.reload_markets()


async def read_state(
    venues: Mapping[str, Venue], failures: dict[str, Exception] | None = None
) -> State:
    """Read every venue concurrently into one immutable `State`.

    With `failures`, a venue whose read fails (unreachable, refused, or an answer that cannot
    be trusted) is recorded there and left out of the state, so nothing is planned for it;
    without it, the first failure raises."""
    read_at = datetime.now(UTC)
    if failures is None:
        states = await gather_or_cancel(*(for_venue(v, read_venue) for v in venues.values()))
        return State(read_at=read_at, venues={s.venue: s for s in states})
    outcomes = await isolated(venues, read_venue)
    return State(read_at=read_at, venues=successes(outcomes, failures))


def successes(
    outcomes: Mapping[str, T | Exception], failures: dict[str, Exception]
) -> dict[str, T]:
    """The venues whose step succeeded (`isolated`'s results); each failure into `failures`."""
    good: dict[str, T] = {}
    for name, outcome in outcomes.items():
        if isinstance(outcome, Exception):
            failures[name] = outcome
        else:
            good[name] = outcome
    return good


async def read_venue(venue: Venue) -> VenueState:
    """One venue's state (`read_state` reads every venue with it; the cycle's read after the
    moves, one venue at a time)."""
    state = await venue.read_state()
    log.debug(
        "%s: read %d wallets, %d positions", venue.name, len(state.wallets), len(state.positions)
    )
    return state


async def for_venue(venue: Venue, step: Callable[[Venue], Awaitable[T]]) -> T:
    """`step` on one venue, every log line inside it (and in its tasks) naming that venue."""
    with log_context(venue=venue.name):
        return await step(venue)


async def isolated(
    venues: Mapping[str, Venue], step: Callable[[Venue], Awaitable[T]]
) -> dict[str, T | Exception]:
    """Run `step` on every venue at once; each venue's exception is its own result and never
    cancels another venue's step. An exception that is not a classified venue failure is a
    bug: its traceback goes to the debug log and it is reported as that venue's failure."""
    outcomes = await gather_each({name: for_venue(venue, step) for name, venue in venues.items()})
    for name, result in outcomes.items():
        if isinstance(result, Exception) and not isinstance(result, VenueError | UserFacingError):
            with log_context(venue=name):
                log.debug("venue %s failed unexpectedly", name, exc_info=result)
            outcomes[name] = VenueError(
                ErrorKind.FATAL, name, f"unexpected {type(result).__name__}: {result}"
            )
    return outcomes
