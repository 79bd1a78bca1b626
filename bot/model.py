"""The bot's vocabulary as immutable values: what was read (State), what to do (Plan), and
what was done.

Everything here is plain data with `Decimal` money and UTC datetimes, so the policy can be a
pure function of it and the ledger can store it exactly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType

from bot.money import ZERO, plain

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
    #: the venue's own figures for the cross-margin part of this wallet, where it reports
    #: them (Binance `crossWalletBalance`, `crossUnPnl`): `balance` and `unrealized_pnl` also
    #: count every isolated position's own wallet and PnL, which no cross pool may count
    cross_balance: Decimal | None = None
    cross_unrealized_pnl: Decimal | None = None

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
    #: how often it is paid: the venue's per-symbol figure, else its documented default; None
    #: where neither is known (`bot.funding.intervals`)
    interval: timedelta | None = None


@dataclass(frozen=True, kw_only=True)
class LeverageTier:
    """One maintenance-margin tier (a Binance leverage bracket) of a perpetual.

    `floor` is the |notional| where the tier starts, in the margin asset (USD-M: USDT; COIN-M:
    the coin); `cum` is the maintenance amount that keeps maintenance margin continuous.
    """

    floor: Decimal
    maint_margin_rate: Decimal
    cum: Decimal

    @staticmethod
    def ladder(floors_and_rates: Iterable[tuple[Decimal, Decimal]]) -> tuple[LeverageTier, ...]:
        """Tiers from (floor, maintenance rate), with Binance's maintenance amount:
        cum_i = cum_(i-1) + floor_i x (rate_i - rate_(i-1))."""
        tiers: list[LeverageTier] = []
        cum, previous = ZERO, ZERO
        for floor, rate in sorted(floors_and_rates):
            cum += floor * (rate - previous)
            tiers.append(LeverageTier(floor=floor, maint_margin_rate=rate, cum=cum))
            previous = rate
        return tuple(tiers)


def _frozen(mapping: Mapping) -> Mapping:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True, kw_only=True)
class AccountMargin:
    """A unified account's own margin figure, as the venue reports it and in its words:
    Bybit's `accountMMRate` (maintenance margin / equity: liquidation at 1, lower is safer),
    OKX's `mgnRatio` (equity / maintenance margin: liquidation at 1, higher is safer)."""

    figure: str  # the venue's name for it
    value: Decimal
    liquidation_at: Decimal
    higher_is_safer: bool
    #: the account's equity in the figure (USD), and the maintenance side it is compared with
    #: (USD): the figure is requirement / equity where lower is safer, else equity / requirement
    equity: Decimal
    requirement: Decimal
    #: what the figure covers where it is not the whole account (OKX single-currency margin:
    #: one currency's, the spot coin not counted), said wherever the figure is quoted
    scope: str | None = None

    def describe(self) -> str:
        """One phrase for a plan note or a status line."""
        way = "higher" if self.higher_is_safer else "lower"
        scope = f"; {self.scope}" if self.scope else ""
        return (
            f"{self.figure} {self.value} (liquidation at {self.liquidation_at}, {way} is safer"
            f"{scope})"
        )

    def equity_at(self, target: Decimal) -> Decimal:
        """The equity (USD) that puts the figure at `target`, the requirement unchanged."""
        return target * self.requirement if self.higher_is_safer else self.requirement / target

    def worse_than(self, line: Decimal) -> bool:
        """True when the figure is on the liquidation side of `line`."""
        return self.value < line if self.higher_is_safer else self.value > line

    def better_than(self, line: Decimal) -> bool:
        """True when the figure is on the safe side of `line`."""
        return self.value > line if self.higher_is_safer else self.value < line

    def danger_edge(self, band: tuple[Decimal, Decimal]) -> Decimal:
        """The band's edge on the liquidation side (its upper edge where lower is safer)."""
        return band[0] if self.higher_is_safer else band[1]

    def safe_edge(self, band: tuple[Decimal, Decimal]) -> Decimal:
        return band[1] if self.higher_is_safer else band[0]


@dataclass(frozen=True)
class CollateralRate:
    """What one unit of a coin counts for as margin: the venue's index price less its haircut
    (Binance's `bidRate` = `index` x (1 - `bidBuffer`))."""

    asset: str
    index: Decimal  # USD
    haircut: Decimal  # the fraction of the index not counted
    rate: Decimal  # USD counted per unit


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
    #: the unified account's own margin figure, where the venue reports one
    account_margin: AccountMargin | None = None
    sources: Mapping[str, str] = field(default_factory=dict)  # account -> rest | websocket
    #: maintenance-margin tiers by perp symbol, where the venue publishes them
    leverage_tiers: Mapping[str, tuple[LeverageTier, ...]] = field(default_factory=dict)
    #: what one unit of a coin counts for as margin, in USD, where hedges take the coin as
    #: collateral (`HedgeConfig.collateral`): the venue's rate, after its haircut
    collateral_rates: Mapping[str, CollateralRate] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in (
            "wallets",
            "positions",
            "funding",
            "markets",
            "transfer_steps",
            "sources",
            "leverage_tiers",
            "collateral_rates",
        ):
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


class PauseScope(StrEnum):
    """What a person paused: one hedge, or every hedge of a venue."""

    HEDGE = "hedge"
    VENUE = "venue"


@dataclass(frozen=True, kw_only=True)
class Paused:
    """A pause standing now, as the plan and `bot status` say it."""

    scope: PauseScope
    name: str
    by: str
    reason: str
    since: datetime
    until: datetime | None  # None: until resumed

    def words(self) -> str:
        """`hedge eth paused by alice until 2026-12-07 14:00Z: adjusting by hand`"""
        until = f" until {self.until:%Y-%m-%d %H:%M}Z" if self.until is not None else ""
        return f"{self.scope.value} {self.name} paused by {self.by}{until}: {self.reason}"


class Rule(StrEnum):
    """Which policy rule produced a plan item."""

    TOP_UP = "top_up"  # margin ratio below band: spot -> futures
    RETURN_EXCESS = "return_excess"  # margin ratio above band: futures -> spot
    RETURN_FLAT = "return_flat"  # no position: futures collateral back to spot


class Flag(StrEnum):
    """A fact about a hedge the plan carries for people and alerts: the one list of them. A
    `PlanAlert` fires `plan:<flag>:<hedge>`; `alerts.conditions.plan_flags` checks every member
    here for every hedge read, so the alert resolves when a plan no longer raises it."""

    UNBALANCED = "unbalanced"  # spot leg and short differ by more than hedge_tolerance
    NAKED_SHORT = "naked_short"  # a short with no spot leg at all
    FUNDING_AGAINST = "funding_against"  # funding makes the short pay


@dataclass(frozen=True, kw_only=True)
class SizingPreview:
    """What the executor's sizing (`bot.transfers.sizing.size_transfer`) makes of a planned
    amount on the state's figures; the executor re-reads the source wallet right before it sends."""

    planned: Decimal
    transferable: Decimal
    safety: Decimal
    step: Decimal
    min_amount: Decimal
    max_amount: Decimal | None
    amount: Decimal  # what would be sent (before the amount tag, where tags are on)
    skip_reason: str | None = None
    capped_by: str | None = None  # "max_amount 1000", "safety 0.99 x transferable 1200"

    @property
    def sends(self) -> bool:
        return self.skip_reason is None

    def line(self, asset: str) -> str:
        """`would send 1000 USDT (planned 3000; capped by max_amount 1000)`."""
        if self.skip_reason is not None:
            return f"would skip ({self.skip_reason})"
        if self.capped_by is not None:
            return (
                f"would send {plain(self.amount)} {asset} (planned {plain(self.planned)}; "
                f"capped by {self.capped_by})"
            )
        return f"would send {plain(self.amount)} {asset} (as planned)"


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
    flags: tuple[Flag, ...] = ()
    #: the priority decision behind the order and the amount, where hedges competed
    priority: str | None = None
    sizing: SizingPreview | None = None
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
    flags: tuple[Flag, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "figures", _frozen(self.figures))


@dataclass(frozen=True, kw_only=True)
class PlanAlert:
    """A fact that should reach a person (the alerts module sends it): what, with figures."""

    flag: Flag
    venue: str
    hedge: str
    message: str
    figures: Mapping[str, Decimal | str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "figures", _frozen(self.figures))


@dataclass(frozen=True, kw_only=True)
class Plan:
    transfers: tuple[PlannedTransfer, ...] = ()
    notes: tuple[PlanNote, ...] = ()
    alerts: tuple[PlanAlert, ...] = ()


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
