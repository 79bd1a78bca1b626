"""The bot's vocabulary as immutable values: what was read (State), what to do (Plan), and
what was done.

Everything here is plain data with `Decimal` money and UTC datetimes, so the policy can be a
pure function of it and the ledger can store it exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType

from bot.money import ZERO

SPOT = "spot"


class MarketKind(StrEnum):
    """How a perpetual settles: in the quote currency (linear) or in the coin (inverse)."""

    LINEAR = "linear"
    INVERSE = "inverse"


@dataclass(frozen=True, kw_only=True)
class PerpMarket:
    """The facts about a perpetual that the policy needs."""

    symbol: str
    kind: MarketKind
    base: str
    quote: str
    settle: str
    contract_size: Decimal
    futures_account: str  # the wallet (ccxt account name) that margins this perpetual


@dataclass(frozen=True, kw_only=True)
class Wallet:
    """One asset in one account of a venue, at the moment it was read.

    `balance` excludes unrealized PnL; `equity` includes it. `transferable` is what the venue
    lets you move out right now (Binance USD-M: `maxWithdrawAmount`, which already counts
    unrealized loss), which is usually less than `free`.
    """

    account: str
    asset: str
    free: Decimal
    used: Decimal
    balance: Decimal
    unrealized_pnl: Decimal = ZERO
    transferable: Decimal

    @property
    def equity(self) -> Decimal:
        return self.balance + self.unrealized_pnl


@dataclass(frozen=True, kw_only=True)
class Position:
    """An open perpetual position; `notional` is absolute and in the settle currency."""

    symbol: str
    side: str  # "short" or "long"
    contracts: Decimal  # absolute number of contracts
    contract_size: Decimal
    notional: Decimal
    entry_price: Decimal | None
    mark_price: Decimal | None
    unrealized_pnl: Decimal
    initial_margin: Decimal | None = None
    maintenance_margin: Decimal | None = None
    liquidation_price: Decimal | None = None
    #: "cross" or "isolated" as the venue reported it (None: the venue does not say)
    margin_mode: str | None = None
    #: an isolated position's own collateral, in the settle currency (None when cross)
    isolated_wallet: Decimal | None = None

    @property
    def isolated(self) -> bool:
        return self.margin_mode == ISOLATED

    @property
    def isolated_equity(self) -> Decimal:
        """An isolated position's equity: its own wallet plus its unrealized PnL."""
        return (self.isolated_wallet or ZERO) + self.unrealized_pnl

    @property
    def removable_margin(self) -> Decimal:
        """What the bot may ask to remove from an isolated position: what stays still covers
        its initial margin after its unrealized loss (Binance's rule as the paper applies it)."""
        if not self.isolated or self.isolated_wallet is None:
            return ZERO
        left = self.isolated_wallet + min(ZERO, self.unrealized_pnl) - (self.initial_margin or ZERO)
        return max(ZERO, min(self.isolated_wallet, left))


CROSS = "cross"
ISOLATED = "isolated"
MARGIN_MODES = (CROSS, ISOLATED)


@dataclass(frozen=True, kw_only=True)
class MarginChange:
    """One entry of a venue's margin-change history of an isolated position."""

    symbol: str  # the unified perp symbol
    add: bool  # True: margin added to the position; False: removed from it
    amount: Decimal
    asset: str
    at: datetime


@dataclass(frozen=True, kw_only=True)
class Funding:
    """The current funding rate of a perpetual and its mark price."""

    symbol: str
    rate: Decimal | None
    mark_price: Decimal | None
    next_funding_at: datetime | None = None


def _frozen(mapping: Mapping) -> Mapping:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True, kw_only=True)
class VenueState:
    """Everything read from one venue in one cycle."""

    venue: str
    read_at: datetime
    wallets: Mapping[tuple[str, str], Wallet] = field(default_factory=dict)  # (account, asset)
    positions: Mapping[str, Position] = field(default_factory=dict)  # by perp symbol
    funding: Mapping[str, Funding] = field(default_factory=dict)  # by perp symbol
    markets: Mapping[str, PerpMarket] = field(default_factory=dict)  # the hedged perps
    transfer_steps: Mapping[str, Decimal] = field(default_factory=dict)  # asset -> step
    can_transfer: bool = True
    shared_collateral: bool = False  # unified margin: spot and perps share one pool
    sources: Mapping[str, str] = field(default_factory=dict)  # account -> rest | websocket

    def __post_init__(self) -> None:
        for name in ("wallets", "positions", "funding", "markets", "transfer_steps", "sources"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))

    def wallet(self, account: str, asset: str) -> Wallet:
        """The wallet, or an empty one when the venue reported nothing for it."""
        found = self.wallets.get((account, asset))
        if found is not None:
            return found
        return Wallet(
            account=account, asset=asset, free=ZERO, used=ZERO, balance=ZERO, transferable=ZERO
        )


@dataclass(frozen=True, kw_only=True)
class State:
    """What every venue looked like at the start of a cycle."""

    read_at: datetime
    venues: Mapping[str, VenueState]

    def __post_init__(self) -> None:
        object.__setattr__(self, "venues", _frozen(self.venues))


class Rule(StrEnum):
    """Which policy rule produced a plan item."""

    TOP_UP = "top_up"  # margin ratio below band: spot -> futures
    RETURN_EXCESS = "return_excess"  # margin ratio above band: futures -> spot
    RETURN_FLAT = "return_flat"  # no position: futures collateral back to spot


@dataclass(frozen=True, kw_only=True)
class PlannedTransfer:
    """One move the policy wants, with the reason and the figures behind it."""

    venue: str
    hedges: tuple[str, ...]
    asset: str
    from_account: str
    to_account: str
    amount: Decimal
    rule: Rule
    reason: str
    figures: Mapping[str, Decimal | str]
    #: an isolated hedge's move: the perp whose margin follows the wallet transfer (top-up) or
    #: precedes it (return); None for a plain cross-margin transfer
    isolated_perp: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "figures", _frozen(self.figures))


@dataclass(frozen=True, kw_only=True)
class PlanNote:
    """Something the policy decided not to act on, and why (in band, nothing to move...)."""

    venue: str
    hedges: tuple[str, ...]
    message: str
    figures: Mapping[str, Decimal | str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "figures", _frozen(self.figures))


@dataclass(frozen=True, kw_only=True)
class Plan:
    transfers: tuple[PlannedTransfer, ...] = ()
    notes: tuple[PlanNote, ...] = ()


@dataclass(frozen=True, kw_only=True)
class VenueTransfer:
    """One entry of a venue's own transfer history, as reconciliation compares it."""

    exchange_id: str
    client_id: str | None
    asset: str
    amount: Decimal
    from_account: str | None
    to_account: str | None
    at: datetime | None
    status: str | None = None


class TransferStatus(StrEnum):
    """The life of a transfer row. Only PENDING and UNKNOWN may still change."""

    PENDING = "pending"  # intent committed, outcome not yet recorded
    UNKNOWN = "unknown"  # the request left but its outcome is not known: reconcile first
    CONFIRMED = "confirmed"
    FAILED = "failed"
    SKIPPED = "skipped"  # sized below min_amount: nothing sent
    DRY_RUN = "dry_run"
    MANUAL = "manual"  # the venue cannot transfer by API: the user must move it

    @property
    def is_final(self) -> bool:
        return self not in (TransferStatus.PENDING, TransferStatus.UNKNOWN)


FINAL_STATUSES = tuple(s.value for s in TransferStatus if s.is_final)
