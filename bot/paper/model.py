"""The paper exchange's account state as immutable values, and the default account.

Every change produces a new `PaperState` (see `transfers.py` and `with_mark_price`), so a change
is either wholly persisted and served, or not at all.
"""

from __future__ import annotations

import calendar
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import StrEnum


class MarketKind(StrEnum):
    SPOT = "spot"
    LINEAR = "linear"  # USD-M: margined and settled in the quote (USDT)
    INVERSE = "inverse"  # COIN-M: contracts worth a fixed USD amount, margined in the coin


class Wallet(StrEnum):
    """Binance's account ids, as they appear in universal-transfer types (MAIN_UMFUTURE...)."""

    SPOT = "MAIN"
    USDM = "UMFUTURE"
    COINM = "CMFUTURE"
    FUNDING = "FUNDING"
    MARGIN = "MARGIN"  # cross margin; the paper lends nothing, so it holds only what came in


MARGIN_WALLET = {MarketKind.LINEAR: Wallet.USDM, MarketKind.INVERSE: Wallet.COINM}
PERPETUAL_DELIVERY_DATE = 4133404800000  # Binance's "never" for perpetuals
FUNDING_INTERVAL_HOURS = 8
DEFAULT_LEVERAGE = 10
CROSS = "cross"  # positionRisk's `marginType` values
ISOLATED = "isolated"
# The commission a position's opening fills paid, per unit of their notional: Binance's regular
# (VIP 0) taker rate on USD-M and COIN-M perpetuals, 0.05 %. It is what ccxt's recorded answers
# show in `breakEvenPrice` (67445.9 -> 67479.62295 = x 1.0005); see `accounting.break_even_price`.
DEFAULT_COMMISSION_RATE = Decimal("0.0005")
TRAN_IDS_PER_MS = 1000  # ids an account may use per millisecond it lives before a newer one's
MAX_SAFE_INTEGER = 2**53 - 1  # the largest integer a JSON client parsing doubles keeps exactly


@dataclass(frozen=True, kw_only=True)
class Bracket:
    """One maintenance-margin tier; floor and cap are |notional| in the margin asset."""

    bracket: int
    floor: Decimal
    cap: Decimal
    maint_margin_ratio: Decimal
    max_leverage: int
    cum: Decimal  # maintenance amount: keeps maintenance margin continuous across tiers


def brackets_from_tiers(tiers: Sequence[tuple[str, str, str, int]]) -> tuple[Bracket, ...]:
    """Build tiers from (floor, cap, maintenance ratio, max leverage), deriving `cum` as Binance
    does: cum_i = cum_(i-1) + floor_i * (mmr_i - mmr_(i-1))."""
    result: list[Bracket] = []
    cum = Decimal(0)
    previous_ratio = Decimal(0)
    for index, (floor, cap, ratio, max_leverage) in enumerate(tiers, start=1):
        ratio_value = Decimal(ratio)
        cum += Decimal(floor) * (ratio_value - previous_ratio)
        result.append(
            Bracket(
                bracket=index,
                floor=Decimal(floor),
                cap=Decimal(cap),
                maint_margin_ratio=ratio_value,
                max_leverage=max_leverage,
                cum=cum,
            )
        )
        previous_ratio = ratio_value
    return tuple(result)


@dataclass(frozen=True, kw_only=True)
class Market:
    kind: MarketKind
    symbol: str  # the exchange id: ETHUSDT, BTCUSD_PERP
    base: str
    quote: str
    margin_asset: str | None = None  # None for spot
    pair: str | None = None  # COIN-M pair, e.g. BTCUSD
    contract_size: Decimal = Decimal(1)
    tick_size: Decimal
    step_size: Decimal
    min_qty: Decimal
    max_qty: Decimal
    min_notional: Decimal
    price_precision: int
    quantity_precision: int
    brackets: tuple[Bracket, ...] = ()
    onboard_date: int = 1569398400000
    # None for a perpetual (and spot); a dated (quarterly) future's delivery time in ms
    delivery_date: int | None = None

    @property
    def perpetual(self) -> bool:
        return self.kind != MarketKind.SPOT and self.delivery_date is None


@dataclass(frozen=True, kw_only=True)
class SpotBalance:
    free: Decimal
    locked: Decimal = Decimal(0)


@dataclass(frozen=True, kw_only=True)
class FuturesBalance:
    wallet_balance: Decimal
    update_time: int


@dataclass(frozen=True, kw_only=True)
class Position:
    """One-way mode. `amount` is signed (negative = short); contracts for inverse.

    A `cross` position is margined by its futures wallet; an `isolated` one by its own
    `isolated_wallet` (part of the futures wallet's balance, moved there by `positionMargin`)."""

    kind: MarketKind
    symbol: str
    amount: Decimal
    entry_price: Decimal
    leverage: int = DEFAULT_LEVERAGE
    update_time: int
    commission_rate: Decimal = DEFAULT_COMMISSION_RATE  # what its opening fills paid
    margin_type: str = CROSS  # CROSS or ISOLATED, as positionRisk's `marginType` says it
    isolated_wallet: Decimal = Decimal(0)  # the isolated position's own margin

    @property
    def isolated(self) -> bool:
        return self.margin_type == ISOLATED


@dataclass(frozen=True, kw_only=True)
class MarginChange:
    """One entry of GET /fapi/v1/positionMargin/history (COIN-M: /dapi): type 1 add, 2 reduce."""

    kind: MarketKind
    symbol: str
    type: int
    amount: Decimal
    asset: str
    time: int


@dataclass(frozen=True, kw_only=True)
class Funding:
    rate: Decimal
    next_funding_time: int
    interval_hours: int = FUNDING_INTERVAL_HOURS


@dataclass(frozen=True, kw_only=True)
class TransferRecord:
    tran_id: int
    timestamp: int
    asset: str
    amount: Decimal
    type: str
    status: str = "CONFIRMED"


@dataclass(frozen=True, kw_only=True)
class PaperState:
    markets: tuple[Market, ...]
    spot: Mapping[str, SpotBalance]
    usdm: Mapping[str, FuturesBalance]
    coinm: Mapping[str, FuturesBalance]
    positions: tuple[Position, ...]
    mark_prices: Mapping[str, Decimal]  # by market id; spot and USD-M ETHUSDT share one
    funding: Mapping[str, Funding]  # by perpetual id
    transfers: tuple[TransferRecord, ...] = ()
    next_tran_id: int  # see `first_tran_id`; persisted, so a restart continues the sequence
    spot_update_time: int = 0
    # The funding and cross-margin wallets (not `funding` above: those are funding rates):
    # balances per asset, `free` what may leave.
    funding_wallet: Mapping[str, SpotBalance] = field(default_factory=dict)
    margin_wallet: Mapping[str, SpotBalance] = field(default_factory=dict)
    margin_changes: tuple[MarginChange, ...] = ()  # isolated positions' margin history

    def markets_of(self, kind: MarketKind) -> tuple[Market, ...]:
        return tuple(market for market in self.markets if market.kind == kind)

    def market(self, kind: MarketKind, symbol: str) -> Market | None:
        for market in self.markets:
            if market.kind == kind and market.symbol == symbol:
                return market
        return None

    def position(self, kind: MarketKind, symbol: str) -> Position | None:
        for position in self.positions:
            if position.kind == kind and position.symbol == symbol:
                return position
        return None

    def plain_balances(self, wallet: Wallet) -> Mapping[str, SpotBalance]:
        """The wallets that hold plain free/locked balances: spot, funding, cross margin."""
        if wallet == Wallet.SPOT:
            return self.spot
        if wallet == Wallet.FUNDING:
            return self.funding_wallet
        if wallet == Wallet.MARGIN:
            return self.margin_wallet
        raise ValueError(f"{wallet} is a futures wallet")

    def futures_balances(self, wallet: Wallet) -> Mapping[str, FuturesBalance]:
        if wallet == Wallet.USDM:
            return self.usdm
        if wallet == Wallet.COINM:
            return self.coinm
        raise ValueError(f"{wallet} is not a futures wallet")

    def mark_price(self, symbol: str) -> Decimal:
        return self.mark_prices[symbol]

    def with_mark_price(self, symbol: str, price: Decimal) -> PaperState:
        """Move the price of `symbol`'s base asset: every market on that base follows, so the spot
        price of a pair always equals its perpetual's mark. `symbol` is a market id or a base
        asset ("ETHUSDT", "BTCUSD_PERP", "ETH")."""
        if not price.is_finite() or price <= 0:
            raise ValueError(f"mark price must be a positive number, got {price}")
        base = self._base_of(symbol)
        moved = {market.symbol: price for market in self.markets if market.base == base}
        return replace(self, mark_prices={**self.mark_prices, **moved})

    def _base_of(self, symbol: str) -> str:
        for market in self.markets:
            if market.symbol == symbol:
                return market.base
        bases = {market.base for market in self.markets}
        if symbol in bases:
            return symbol
        raise KeyError(
            f"unknown symbol {symbol!r}; known: {sorted(m.symbol for m in self.markets)}"
        )


def now_ms() -> int:
    return int(time.time() * 1000)


def first_tran_id(created_ms: int) -> int:
    """The first transfer id of an account created at `created_ms`: creation time x 1000.

    A fixed first id made a fresh account (state file deleted) reuse ids a ledger already holds;
    deriving it from the creation time keeps a newer account's ids above an older one's unless
    the older one made more than 1000 transfers per millisecond it lived. Ids stay below 2**53
    (until the year 2255), so a client that parses JSON numbers as doubles keeps every digit.
    """
    if created_ms < 0:
        raise ValueError(f"creation time must be 0 or more milliseconds, got {created_ms}")
    first = created_ms * TRAN_IDS_PER_MS
    if first > MAX_SAFE_INTEGER:
        raise ValueError(f"creation time {created_ms} ms gives transfer ids beyond 2**53")
    return first


def next_funding_boundary(now: int, interval_hours: int = FUNDING_INTERVAL_HOURS) -> int:
    """The first funding time strictly after `now` on Binance's UTC grid (00:00, 08:00, 16:00)."""
    interval_ms = interval_hours * 3_600_000
    return (now // interval_ms + 1) * interval_ms


QUARTER_MONTHS = (3, 6, 9, 12)
DELIVERY_HOUR_UTC = 8  # Binance delivers its quarterly contracts at 08:00 UTC


def quarterly_deliveries(after: int, count: int = 2) -> list[int]:
    """The next `count` quarterly delivery times strictly after `after` (ms): the last Friday of
    March, June, September and December at 08:00 UTC, Binance's CURRENT_QUARTER and
    NEXT_QUARTER contracts."""
    found: list[int] = []
    year = time.gmtime(after / 1000).tm_year
    while len(found) < count:
        for month in QUARTER_MONTHS:
            last_day = calendar.monthrange(year, month)[1]
            weekday = calendar.weekday(year, month, last_day)  # Monday 0 ... Friday 4
            day = last_day - (weekday - calendar.FRIDAY) % 7
            at = calendar.timegm((year, month, day, DELIVERY_HOUR_UTC, 0, 0)) * 1000
            if at > after and len(found) < count:
                found.append(at)
        year += 1
    return found


def dated_symbol(pair: str, delivery: int) -> str:
    """Binance's id of a dated future: the pair and the delivery day, `BTCUSDT_261225`."""
    return f"{pair}_{time.strftime('%y%m%d', time.gmtime(delivery / 1000))}"


def _dated(perpetual: Market, delivery: int) -> Market:
    """The quarterly future of a perpetual's pair: the same filters and tiers, its own id."""
    pair = perpetual.pair or perpetual.symbol
    return replace(perpetual, symbol=dated_symbol(pair, delivery), delivery_date=delivery)


def _linear(
    symbol: str,
    base: str,
    *,
    tick: str,
    step: str,
    max_qty: str,
    price_precision: int,
    quantity_precision: int,
    tiers: Sequence[tuple[str, str, str, int]],
) -> Market:
    return Market(
        kind=MarketKind.LINEAR,
        symbol=symbol,
        base=base,
        quote="USDT",
        margin_asset="USDT",
        pair=symbol,
        tick_size=Decimal(tick),
        step_size=Decimal(step),
        min_qty=Decimal(step),
        max_qty=Decimal(max_qty),
        min_notional=Decimal("5"),
        price_precision=price_precision,
        quantity_precision=quantity_precision,
        brackets=brackets_from_tiers(tiers),
    )


def _inverse(
    symbol: str,
    base: str,
    *,
    contract_size: str,
    tick: str,
    price_precision: int,
    tiers: Sequence[tuple[str, str, str, int]],
) -> Market:
    return Market(
        kind=MarketKind.INVERSE,
        symbol=symbol,
        base=base,
        quote="USD",
        margin_asset=base,
        pair=f"{base}USD",
        contract_size=Decimal(contract_size),
        tick_size=Decimal(tick),
        step_size=Decimal(1),
        min_qty=Decimal(1),
        max_qty=Decimal(1000000),
        min_notional=Decimal(0),
        price_precision=price_precision,
        quantity_precision=0,
        brackets=brackets_from_tiers(tiers),
    )


def _spot(symbol: str, base: str, *, tick: str, step: str) -> Market:
    return Market(
        kind=MarketKind.SPOT,
        symbol=symbol,
        base=base,
        quote="USDT",
        tick_size=Decimal(tick),
        step_size=Decimal(step),
        min_qty=Decimal(step),
        max_qty=Decimal(9000),
        min_notional=Decimal(5),
        price_precision=8,
        quantity_precision=8,
    )


def default_markets(now: int) -> tuple[Market, ...]:
    """Spot, perpetuals, and one quarterly future per futures pair (Binance lists dated
    futures beside its perpetuals; the quarter is the first delivery after `now`)."""
    # First tiers at 0.5 % maintenance so the default hedge reads like Binance's docs examples.
    linear_tiers = [
        ("0", "50000", "0.005", 125),
        ("50000", "600000", "0.01", 50),
        ("600000", "3000000", "0.025", 20),
        ("3000000", "12000000", "0.05", 10),
        ("12000000", "50000000", "0.1", 5),
    ]
    inverse_btc = [
        ("0", "5", "0.005", 125),
        ("5", "10", "0.01", 50),
        ("10", "20", "0.025", 20),
        ("20", "50", "0.05", 10),
        ("50", "100", "0.1", 5),
    ]
    inverse_eth = [
        ("0", "100", "0.005", 75),
        ("100", "500", "0.01", 50),
        ("500", "1000", "0.025", 20),
        ("1000", "5000", "0.05", 10),
    ]
    perpetuals_and_spot = (
        _spot("ETHUSDT", "ETH", tick="0.01", step="0.0001"),
        _spot("BTCUSDT", "BTC", tick="0.01", step="0.00001"),
        _linear(
            "ETHUSDT",
            "ETH",
            tick="0.01",
            step="0.001",
            max_qty="10000",
            price_precision=2,
            quantity_precision=3,
            tiers=linear_tiers,
        ),
        _linear(
            "BTCUSDT",
            "BTC",
            tick="0.10",
            step="0.001",
            max_qty="1000",
            price_precision=2,
            quantity_precision=3,
            tiers=linear_tiers,
        ),
        _inverse(
            "BTCUSD_PERP",
            "BTC",
            contract_size="100",
            tick="0.1",
            price_precision=1,
            tiers=inverse_btc,
        ),
        _inverse(
            "ETHUSD_PERP",
            "ETH",
            contract_size="10",
            tick="0.01",
            price_precision=2,
            tiers=inverse_eth,
        ),
    )
    (quarter,) = quarterly_deliveries(now, 1)
    dated = tuple(_dated(m, quarter) for m in perpetuals_and_spot if m.kind != MarketKind.SPOT)
    return perpetuals_and_spot + dated


def default_state(now: int | None = None) -> PaperState:
    """The quick-start account, created at `now` (default: the wall clock): USD-M hedge at
    equity/notional 0.30 (4500 / 15000), below a 0.4-0.6 band, so a first rebalance moves USDT
    from spot to USD-M. Its transfer ids start at `first_tran_id(now)`."""
    at = now_ms() if now is None else now
    next_funding = next_funding_boundary(at)
    markets = default_markets(at)
    base_prices = {"ETH": Decimal("3000"), "BTC": Decimal("60000")}
    return PaperState(
        markets=markets,
        spot={
            "USDT": SpotBalance(free=Decimal("20000")),
            "ETH": SpotBalance(free=Decimal("5")),
            "BTC": SpotBalance(free=Decimal("1")),
        },
        usdm={"USDT": FuturesBalance(wallet_balance=Decimal("4500"), update_time=at)},
        coinm={"BTC": FuturesBalance(wallet_balance=Decimal("0.3"), update_time=at)},
        positions=(
            Position(
                kind=MarketKind.LINEAR,
                symbol="ETHUSDT",
                amount=Decimal("-5"),
                entry_price=Decimal("3000"),
                update_time=at,
            ),
            Position(
                kind=MarketKind.INVERSE,
                symbol="BTCUSD_PERP",
                amount=Decimal("-300"),
                entry_price=Decimal("60000"),
                update_time=at,
            ),
        ),
        # by market id: spot and USD-M ETHUSDT share one; a dated future trades at its
        # perpetual's mark (the paper keeps no basis)
        mark_prices={m.symbol: base_prices[m.base] for m in markets},
        funding={
            "ETHUSDT": Funding(rate=Decimal("0.0001"), next_funding_time=next_funding),
            "BTCUSDT": Funding(rate=Decimal("0.0001"), next_funding_time=next_funding),
            "BTCUSD_PERP": Funding(rate=Decimal("0.0001"), next_funding_time=next_funding),
            "ETHUSD_PERP": Funding(rate=Decimal("0.0001"), next_funding_time=next_funding),
        },
        next_tran_id=first_tran_id(at),
        spot_update_time=at,
    )
