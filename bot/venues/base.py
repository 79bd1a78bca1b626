"""The one interface every venue implements, and the values it speaks in.

The executor, the reconciler, the cycle and the CLI see venues only through `Venue`. Each
implementation (the generic ccxt venue in `generic.py`, and each venue with quirks in its own
module) keeps everything it knows about itself: capabilities, account-name aliases, its
error-code table, its transfer precision, and the decoding of its own answers.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from bot.config import HedgeConfig
from bot.errors import ErrorKind, VenueError
from bot.model import SPOT, MarginChange, Position, VenueState, VenueTransfer

if TYPE_CHECKING:
    from bot.venues.streams import MarginStreams


@dataclass(frozen=True, kw_only=True)
class ClientIdSupport:
    """Where a venue takes our transfer id, in which form, and whether it refuses a repeat."""

    param: str
    uuid_format: bool = False  # Bybit wants a UUID with hyphens; OKX 1-32 alphanumerics
    dedupes: bool = False  # a re-send with the same id cannot transfer twice


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
    sending transfers that could never be settled is not.
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
    if caps.transfer and not caps.transfer_history and not caps.shared_collateral:
        return (
            f"{caps.exchange_id} can transfer but cannot list past transfers (fetchTransfers), so "
            "a transfer whose answer is lost could never be settled; use another venue"
        )
    return None


class Venue(ABC):
    """One configured venue and the hedges that live on it."""

    #: account-name aliases accepted in config and from ccxt, mapped to this venue's names
    account_aliases: Mapping[str, str] = {"main": SPOT}
    #: True where spot and perpetuals share one collateral pool (unified margin)
    shared_collateral: bool = False
    #: this venue's error codes; the generic classifier reads ccxt's classes besides
    error_table: ErrorTable = ErrorTable()

    name: str
    hedges: dict[str, HedgeConfig]
    #: `bot.venues.halts.fix_digest` of the config section and API key it was built from (set by
    #: `session.build_venue`; None: unknown, so a halt of it ends only by `bot venue resume`)
    fix_digest: str | None = None

    def normalize_account(self, account: str) -> str:
        """This venue's name for an account (aliases are applied here, once, for all)."""
        return self.account_aliases.get(account, account)

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
        return None

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
