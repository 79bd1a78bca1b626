"""The one interface every venue implements, and the values it speaks in.

The executor, the reconciler, the cycle and the CLI see venues only through `Venue`. Each
implementation (the generic ccxt venue in `generic.py`, and each venue with quirks in its own
folder `bot/venues/<venue>/`) keeps everything it knows about itself: the exchange ids it
serves, its traits (`VenueTraits`, one declared value read by the client builder, the dry-run
transport and the session instead of tables keyed by exchange id), its error-code table, its
transfer precision, and the decoding of its own answers.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar

from bot.config import HedgeConfig
from bot.errors import ErrorKind, VenueError
from bot.model import SPOT, MarginChange, Position, VenueState, VenueTransfer

if TYPE_CHECKING:
    from bot.venues.streams import MarginStreams

#: the key under which a venue's config `surface` (CoinSwitch PRO's `futures` or `hft`) reaches
#: `CcxtVenue.for_options`, beside the config's ccxt options
SURFACE_OPTION = "surface"


@dataclass(frozen=True, kw_only=True)
class ClientIdSupport:
    """Where a venue takes our transfer id, in which form, and whether it refuses a repeat."""

    param: str
    uuid_format: bool = False  # Bybit wants a UUID with hyphens; OKX 1-32 alphanumerics
    dedupes: bool = False  # a re-send with the same id cannot transfer twice


@dataclass(frozen=True, kw_only=True)
class VenueTraits:
    """What one venue is, declared once on its `Venue` class (`traits = VenueTraits(...)`, in
    the spirit of freqtrade's `_ft_has`): everything code outside the venue's folder needs to
    know about it. The defaults describe a plain ccxt venue."""

    #: where it takes our transfer id (None: nowhere; amounts are tagged instead)
    client_ids: ClientIdSupport | None = None
    #: account names accepted in config and from ccxt, mapped to this venue's names
    account_aliases: Mapping[str, str] = field(default_factory=lambda: {"main": SPOT})
    #: the one account that holds both legs where spot and perpetuals share one collateral pool
    #: (unified margin); None where they do not
    unified_account: str | None = None
    #: reads it makes with an HTTP method other than GET, as (METHOD, endpoint) with the
    #: endpoint its implicit API's sections and path joined by "/" (as in `describe()['api']`):
    #: a dry-run client sends these and refuses every other non-GET request
    dry_run_rest_reads: frozenset[tuple[str, str]] = frozenset()
    #: WebSocket API methods that only read: a dry-run client refuses every other one
    dry_run_ws_reads: frozenset[str] = frozenset()
    #: the ccxt.pro class whose WebSocket API reads its balances, by exchange id, and that
    #: client's ccxt options (none: balances are read over REST only)
    ws_balance_classes: Mapping[str, str] = field(default_factory=dict)
    ws_balance_options: Mapping[str, Any] = field(default_factory=dict)
    #: the ccxt.pro class of the margin guard's account and mark-price streams, by futures family
    #: (`linear`, `inverse`); none: the guard polls it
    stream_classes: Mapping[str, str] = field(default_factory=dict)
    #: the built-in paper exchange speaks this venue's dialect (`paper: true` is allowed)
    paper: bool = False
    #: its funding-rate answer's `timestamp` is the server's clock at the answer (Binance's
    #: premiumIndex `time`): every read then measures the clock offset, and a transfer needs
    #: no `fetch_time` round trip between its read and its send
    funding_time_is_server_time: bool = False
    #: how often its perpetuals pay funding where neither the symbol's read nor ccxt's
    #: `interval` says (`CcxtVenue.funding_interval`); None: unknown
    funding_interval: timedelta | None = None

    def __post_init__(self) -> None:
        # one value shared by every client of the venue: its maps are read-only too
        for name in (
            "account_aliases",
            "ws_balance_classes",
            "ws_balance_options",
            "stream_classes",
        ):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))

    @property
    def websocket(self) -> bool:
        """Whether any of its clients speaks WebSocket (config's `urls: ws.*` are for them)."""
        return bool(self.ws_balance_classes or self.stream_classes)


@dataclass(frozen=True, kw_only=True)
class Capabilities:
    exchange_id: str
    balances: bool
    positions: bool
    funding: bool
    transfer: bool
    transfer_history: bool
    client_ids: str | None
    websocket_balance: bool
    shared_collateral: bool
    swap_markets: int
    accounts: tuple[str, ...]
    #: the account's mode as the venue reported it at connect time; None where not read
    account_mode: str | None = None
    #: a re-send with our client id is refused once the first applied (`ClientIdSupport.
    #: dedupes`): where the venue lists no past transfers, that refusal settles a lost answer
    deduped_client_ids: bool = False


@dataclass(frozen=True, kw_only=True)
class TransferReceipt:
    """What the venue answered to a transfer; amount and accounts come from our request."""

    exchange_id: str | None
    status: str | None
    raw: Mapping[str, Any]


@dataclass(frozen=True, kw_only=True)
class FundingPayment:
    """One funding payment the venue booked on a perpetual: positive received, negative paid
    (the venue's sign); `at` is the venue's time of the payment."""

    exchange_id: str
    symbol: str  # the unified perpetual symbol (a hedge's `perp`)
    asset: str
    amount: Decimal
    at: datetime


@dataclass(frozen=True, kw_only=True)
class ErrorTable:
    """A venue's own error codes, by what they mean for the bot (read by `classify`)."""

    insufficient: frozenset[str] = frozenset()
    unknown: frozenset[str] = frozenset()  # "execution status unknown"
    clock: frozenset[str] = frozenset()
    rate_limited: frozenset[str] = frozenset()
    fatal_hints: Mapping[str, str] = field(default_factory=dict)  # code -> what to fix


def hedge_refusal(caps: Capabilities) -> str | None:
    """Why a venue cannot carry a hedge, or None. Pure.

    Moving money by hand is allowed (no transfer API: plans are recorded as manual), but
    sending transfers that could never be settled is not: a lost answer is settled by the
    venue's transfer history, or, where it keeps none, by re-sending our client id, which a
    venue that dedupes it refuses once the first applied.
    """
    if not caps.balances:
        return f"{caps.exchange_id} cannot read balances (fetchBalance); it cannot carry a hedge"
    if not caps.positions:
        return (
            f"{caps.exchange_id} cannot read positions (fetchPositions), so the short's notional "
            "is unknown; it cannot carry a hedge"
        )
    if caps.swap_markets == 0:
        return f"{caps.exchange_id} lists no perpetual swap markets; it cannot carry a hedge"
    if (
        caps.transfer
        and not caps.transfer_history
        and not caps.shared_collateral
        and not caps.deduped_client_ids
    ):
        return (
            f"{caps.exchange_id} can transfer but cannot list past transfers (fetchTransfers), so "
            "a transfer whose answer is lost could never be settled; use another venue"
        )
    return None


class Venue(ABC):
    """One configured venue and the hedges that live on it.

    A subclass that serves exchange ids names them in `exchange_ids` (`bot.venues.registry`
    finds it there: no table elsewhere) and declares what it is in `traits`."""

    #: the config `exchange:` ids this class serves; empty: a base class, found for no id
    exchange_ids: ClassVar[tuple[str, ...]] = ()
    #: what this venue is (client ids, account names, dry-run reads, WebSocket classes...)
    traits: ClassVar[VenueTraits] = VenueTraits()
    #: this venue's error codes; the generic classifier reads ccxt's classes besides
    error_table: ClassVar[ErrorTable] = ErrorTable()

    name: str
    hedges: dict[str, HedgeConfig]
    #: `bot.venues.halts.fix_digest` of the config section and API key it was built from (set by
    #: `session.build_venue`; None: unknown, so a halt of it ends only by `bot venue resume`)
    fix_digest: str | None = None

    @property
    def shared_collateral(self) -> bool:
        """True where spot and perpetuals share one collateral pool (unified margin)."""
        return self.traits.unified_account is not None

    def normalize_account(self, account: str) -> str:
        """This venue's name for an account (aliases are applied here, once, for all)."""
        return self.traits.account_aliases.get(account, account)

    # lifecycle ------------------------------------------------------------------------------

    @abstractmethod
    async def connect(self) -> None:
        """Load markets; check the venue and every hedge's markets are what the bot needs."""

    async def reload_markets(self) -> None:
        """Load the markets again from the venue (stale, or a hedge's market was missing from
        cached ones) and check the hedges against them."""
        await self.connect()

    @abstractmethod
    async def close(self) -> None: ...

    def margin_streams(self) -> MarginStreams | None:
        """The account and mark-price streams the margin guard follows (None: it polls)."""
        return None

    @abstractmethod
    def capabilities(self) -> Capabilities: ...

    # reading --------------------------------------------------------------------------------

    @abstractmethod
    async def read_state(self) -> VenueState:
        """Wallets, positions and funding for every hedge, decoded and validated: raises
        `decode.Untrusted` rather than return a figure it cannot vouch for."""

    @abstractmethod
    async def read_transferable(self, account: str, asset: str) -> Decimal:
        """What can leave `account` in `asset` right now (a fresh read, never a cached one)."""

    # moving money ---------------------------------------------------------------------------

    @property
    @abstractmethod
    def can_transfer(self) -> bool: ...

    @property
    @abstractmethod
    def can_fetch_transfers(self) -> bool: ...

    @property
    def client_ids(self) -> ClientIdSupport | None:
        """Where this venue takes our transfer id; None where it takes none."""
        return self.traits.client_ids

    @abstractmethod
    def transfer_step(self, asset: str) -> Decimal:
        """The smallest unit a transfer of `asset` may be expressed in."""

    @abstractmethod
    async def transfer(
        self, asset: str, amount: Decimal, from_account: str, to_account: str, client_id: str
    ) -> TransferReceipt:
        """Send one transfer, already rounded down to `transfer_step`; raises `VenueError`."""

    @abstractmethod
    async def fetch_transfer_history(
        self, asset: str, from_account: str, to_account: str, since: datetime
    ) -> list[VenueTransfer]:
        """The venue's own record of transfers in one direction since `since`."""

    async def transfer_by_client_id(self, client_id: str, asset: str) -> VenueTransfer | None:
        """The venue's own record of the transfer sent with our `client_id`, looked up by it,
        where the venue can (None: it cannot, or knows no such transfer; the history decides).
        It settles a transfer the history does not list yet, such as one still pending."""
        return None

    @abstractmethod
    async def resync_clock(self) -> None:
        """Measure the venue's clock again after it said our timestamp was off."""

    async def funding_payments(self, since: datetime) -> list[FundingPayment]:
        """Funding paid or received on each hedge's perpetual since `since` (the venue's
        clock), oldest first; [] where the venue cannot tell."""
        return []

    async def clock_offset_ms(self) -> int | None:
        """The venue's clock minus ours in ms, measured from its server time (None where the
        venue tells no time). Stored with each transfer attempt: history timestamps are the
        venue's, intents are ours."""
        return None

    # isolated margin ------------------------------------------------------------------------

    async def read_position(self, symbol: str) -> Position | None:
        """A fresh read of one perp's position (None when flat): sizes a margin change."""
        raise self._no_isolated_margin()

    async def add_margin(self, symbol: str, amount: Decimal) -> None:
        """Move `amount` from the futures wallet into `symbol`'s isolated margin; raises
        `VenueError` (an answer that is not a well-formed success is `unknown`)."""
        raise self._no_isolated_margin()

    async def reduce_margin(self, symbol: str, amount: Decimal) -> None:
        """Move `amount` out of `symbol`'s isolated margin into the futures wallet."""
        raise self._no_isolated_margin()

    async def margin_history(self, symbol: str, since: datetime) -> list[MarginChange]:
        """The venue's own record of `symbol`'s margin changes since `since` (its clock)."""
        raise self._no_isolated_margin()

    def _no_isolated_margin(self) -> VenueError:
        return VenueError(
            ErrorKind.FATAL,
            self.name,
            "this venue cannot change an isolated position's margin through the bot",
            hint="use margin_mode: cross for its hedges, or move the margin by hand",
        )
