"""The fake's account: spot, USD-M and COIN-M wallets, positions in either margin mode, marks,
and Binance's accounting of them, written from Binance's documentation.

Accounting (single-asset mode, one-way positions), per Binance's "Account Information V3"
(USD-M) and "Account Information" (COIN-M) pages and the "Margin" / "Isolated margin" FAQ:

- a futures account holds, per margin asset, one cross wallet (`crossWalletBalance`) and each
  isolated position holds its own wallet (`isolatedWallet`). `walletBalance` is the cross wallet
  plus every isolated wallet of that asset; `unrealizedProfit` counts every position,
  `crossUnPnl` only the cross ones; `initialMargin` / `maintMargin` count every position.
- `availableBalance` is the cross wallet + cross unrealized PnL - cross initial margin;
  `maxWithdrawAmount` (what a transfer out may take) excludes the isolated wallets and unrealized
  profit but counts unrealized loss: cross wallet + min(0, crossUnPnl) - cross initial margin.
- USD-M: notional = amount x mark, unrealized PnL = amount x (mark - entry).
  COIN-M (amount in contracts of `contract_size` USD): notionalValue = amount x size / mark (in
  the coin), unrealized PnL = amount x size x (1/entry - 1/mark).
- initial margin = |notional| / leverage; maintenance = |notional| x maintMarginRatio.
- `isolatedMargin` of an isolated position = its isolatedWallet + its unrealized PnL.
- the liquidation price is where the position's equity meets its maintenance margin: an
  isolated position's equity is its own wallet; a cross position's is the cross wallet plus the
  other cross positions' PnL less their maintenance (Binance's liquidation-price formula).
- positionMargin type 1 moves from the cross wallet into the isolated wallet (at most
  `availableBalance`, else -4050), type 2 back (at most isolatedWallet + min(0, uPnL) - initial
  margin, else -4051) (USD-M / COIN-M "Modify Isolated Position Margin" and "Error Codes").
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from typing import Any

from tests.fakes.binance.markets import COINM, PERPS, USDM, PerpMarket

D = Decimal
ZERO = D(0)
EIGHT = D("0.00000001")


def text(value: Decimal) -> str:
    """Binance's money text: 8 decimals ("23.72469206"), never "-0.00000000"."""
    quantized = value.quantize(EIGHT, rounding=ROUND_DOWN)
    return str(quantized if quantized else abs(quantized))


class BinanceRefusal(Exception):
    """A documented Binance error answer: `{"code": code, "msg": msg}` with an HTTP status."""

    def __init__(self, code: int, msg: str, status: int = 400) -> None:
        super().__init__(f"{code} {msg}")
        self.code, self.msg, self.status = code, msg, status


# Binance's error codes and messages (spot, USD-M and COIN-M "Error Codes" pages; wallet
# "User Universal Transfer" page)
CROSS_INSUFFICIENT = (-4050, "Cross balance insufficient.")
ISOLATED_INSUFFICIENT = (-4051, "Isolated balance insufficient.")
NOT_ISOLATED = (-4049, "Add margin only support for isolated position.")
POSITION_ZERO = (-4054, "Cannot add position margin: position is 0.")
AMOUNT_NOT_POSITIVE = (-4055, "Amount must be positive.")
TRANSFER_INSUFFICIENT = (-5013, "Asset transfer failed: insufficient balance")
PRECISION = (-1111, "Precision is over the maximum defined for this asset.")
# a PM transfer type on an account that is not in Portfolio Margin
NOT_PORTFOLIO = (-2015, "Invalid API-key, IP, or permissions for action.")
PORTFOLIO_TYPES = frozenset({"MAIN_PORTFOLIO_MARGIN", "PORTFOLIO_MARGIN_MAIN"})


def refuse(pair: tuple[int, str], status: int = 400) -> BinanceRefusal:
    return BinanceRefusal(pair[0], pair[1], status)


@dataclass
class Position:
    symbol: str
    amount: Decimal  # signed: USD-M in the base, COIN-M in contracts
    entry_price: Decimal
    leverage: int = 10
    isolated: bool = False
    isolated_wallet: Decimal = ZERO
    update_time: int = 1720736417660


@dataclass(frozen=True)
class Transfer:
    tran_id: int
    type: str
    asset: str
    amount: Decimal
    timestamp: int
    status: str = "CONFIRMED"


@dataclass(frozen=True)
class MarginChange:
    family: str
    symbol: str
    type: int  # 1 add, 2 reduce
    amount: Decimal
    asset: str
    time: int


@dataclass(frozen=True)
class Figures:
    """One position's figures at the current mark."""

    notional: Decimal  # signed; COIN-M: notionalValue in the coin
    upnl: Decimal
    initial: Decimal
    maint: Decimal


@dataclass(frozen=True)
class AssetFigures:
    asset: str
    cross_wallet: Decimal
    wallet: Decimal
    upnl: Decimal
    cross_upnl: Decimal
    initial: Decimal
    cross_initial: Decimal
    maint: Decimal
    available: Decimal
    max_withdraw: Decimal


def default_spot() -> dict[str, Decimal]:
    return {"USDT": D("20000"), "ETH": D("5"), "SOL": D("100"), "BTC": D("0.05"), "ADA": D("20000")}


def default_cross() -> dict[str, dict[str, Decimal]]:
    return {USDM: {"USDT": D("7500")}, COINM: {"BTC": D("0.025"), "ADA": D("0")}}


def default_positions() -> dict[str, Position]:
    """Every kind side by side, each hedge at margin ratio 0.5 at the default marks:
    ETHUSDT cross, SOLUSDT isolated, BTCUSDT isolated and in no hedge, BTCUSD_PERP cross,
    ADAUSD_PERP isolated."""
    positions = [
        Position("ETHUSDT", D("-5"), D("3000"), leverage=10),
        Position(
            "SOLUSDT", D("-100"), D("150"), leverage=10, isolated=True, isolated_wallet=D("7500")
        ),
        Position(
            "BTCUSDT", D("-0.1"), D("60000"), leverage=5, isolated=True, isolated_wallet=D("1200")
        ),
        Position("BTCUSD_PERP", D("-30"), D("60000"), leverage=10),
        Position(
            "ADAUSD_PERP",
            D("-1000"),
            D("0.5"),
            leverage=10,
            isolated=True,
            isolated_wallet=D("10000"),
        ),
    ]
    return {p.symbol: p for p in positions}


def default_marks() -> dict[str, Decimal]:
    return {
        "ETHUSDT": D("3000"),
        "SOLUSDT": D("150"),
        "BTCUSDT": D("60000"),
        "BTCUSD_PERP": D("60000"),
        "ADAUSD_PERP": D("0.5"),
    }


@dataclass
class Account:
    """Everything the fake serves. Guard every read and change with `lock` (the server's
    handlers hold it too); the helper methods take it themselves."""

    spot: dict[str, Decimal] = field(default_factory=default_spot)
    spot_locked: dict[str, Decimal] = field(default_factory=dict)
    cross: dict[str, dict[str, Decimal]] = field(default_factory=default_cross)
    positions: dict[str, Position] = field(default_factory=default_positions)
    marks: dict[str, Decimal] = field(default_factory=default_marks)
    funding_rates: dict[str, Decimal] = field(
        default_factory=lambda: {s: D("0.0001") for s in PERPS}
    )
    #: symbols moved off Binance's 8-hour funding interval, listed by fundingInfo (hours)
    funding_interval_hours: dict[str, int] = field(default_factory=dict)
    transfers: list[Transfer] = field(default_factory=list)
    margin_changes: list[MarginChange] = field(default_factory=list)
    next_tran_id: int = 11415955596
    #: a Portfolio Margin account (`portfolio.py`): its USD-M USDT wallet and USD-M positions
    #: are the PM account's, moved with the PM transfer types (`portfolio.transfer`), read
    #: through `/papi/v1`
    portfolio_margin: bool = False
    #: the USD-M asset mode (`GET /fapi/v1/multiAssetsMargin`): True is multi-assets mode. The
    #: `/fapi/v3/account` totals are then the whole pool's in USD: the USDT figures plus every
    #: coin in the USD-M wallet at its collateral rate (`collateral_rate`); the positions are
    #: USDT-margined (`multi_assets_account`)
    multi_assets_margin: bool = False
    #: multi-assets mode's haircut per coin (`GET /fapi/v1/assetIndex` `bidBuffer`); a coin's
    #: index is its USDT perpetual's mark
    haircuts: dict[str, Decimal] = field(
        default_factory=lambda: {"ETH": D("0.05"), "BTC": D("0.05"), "SOL": D("0.1")}
    )
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    # test-side changes ----------------------------------------------------------------------

    def set_mark(self, symbol: str, price: str | Decimal) -> None:
        with self.lock:
            if symbol not in PERPS:
                raise KeyError(symbol)
            self.marks[symbol] = D(price)

    def set_position(self, symbol: str, amount: str | Decimal, **changes: Any) -> None:
        with self.lock:
            market = PERPS[symbol]
            existing = self.positions.get(symbol)
            if existing is None:
                existing = Position(symbol, ZERO, self.marks[market.symbol])
                self.positions[symbol] = existing
            existing.amount = D(amount)
            for key, value in changes.items():
                setattr(existing, key, D(value) if isinstance(value, str) else value)

    def set_cross_wallet(self, family: str, asset: str, amount: str | Decimal) -> None:
        with self.lock:
            self.cross[family][asset] = D(amount)

    def set_spot(self, asset: str, free: str | Decimal) -> None:
        with self.lock:
            self.spot[asset] = D(free)

    # figures --------------------------------------------------------------------------------

    def figures(self, position: Position) -> Figures:
        market = PERPS[position.symbol]
        mark = self.marks[position.symbol]
        amount = position.amount
        if market.family == USDM:
            notional = amount * mark
            upnl = amount * (mark - position.entry_price)
        else:
            size = market.contract_size
            notional = amount * size / mark
            upnl = amount * size * (1 / position.entry_price - 1 / mark)
        return Figures(
            notional=notional,
            upnl=upnl,
            initial=abs(notional) / position.leverage,
            maint=abs(notional) * market.maint_rate,
        )

    def open_positions(self, family: str, asset: str | None = None) -> list[Position]:
        return [
            p
            for p in self.positions.values()
            if p.amount != 0
            and PERPS[p.symbol].family == family
            and (asset is None or PERPS[p.symbol].margin_asset == asset)
        ]

    def asset_figures(self, family: str, asset: str) -> AssetFigures:
        cross_wallet = self.cross[family].get(asset, ZERO)
        wallet, upnl, cross_upnl, initial, cross_initial, maint = (
            cross_wallet, ZERO, ZERO, ZERO, ZERO, ZERO,
        )  # fmt: skip
        for position in self.open_positions(family, asset):
            f = self.figures(position)
            upnl += f.upnl
            initial += f.initial
            maint += f.maint
            if position.isolated:
                wallet += position.isolated_wallet
            else:
                cross_upnl += f.upnl
                cross_initial += f.initial
        available = max(ZERO, cross_wallet + cross_upnl - cross_initial)
        withdraw = max(ZERO, min(available, cross_wallet + min(ZERO, cross_upnl) - cross_initial))
        return AssetFigures(
            asset, cross_wallet, wallet, upnl, cross_upnl, initial, cross_initial, maint,
            available, withdraw,
        )  # fmt: skip

    def collateral_rate(self, asset: str) -> tuple[Decimal, Decimal, Decimal]:
        """(index, bidBuffer, bidRate) of a coin: what one unit counts for as margin in
        multi-assets mode."""
        index = self.marks[f"{asset}USDT"]
        haircut = self.haircuts[asset]
        return index, haircut, (index * (1 - haircut)).quantize(EIGHT, rounding=ROUND_DOWN)

    def coins_value(self) -> Decimal:
        """The USD-M wallet's coins at their collateral rates (multi-assets mode)."""
        return sum(
            (
                amount * self.collateral_rate(asset)[2]
                for asset, amount in self.cross[USDM].items()
                if asset != "USDT" and amount > 0
            ),
            ZERO,
        )

    def pool_free(self) -> Decimal:
        """What may leave the multi-assets pool, in USD: the wallet (coins at their rates)
        less unrealized loss and the initial margin held."""
        usdt = self.asset_figures(USDM, "USDT")
        wallet = usdt.cross_wallet + self.coins_value()
        return max(ZERO, wallet + min(ZERO, usdt.cross_upnl) - usdt.cross_initial)

    def max_withdraw(self, family: str, asset: str) -> Decimal:
        """What may leave a futures wallet in `asset` (in multi-assets mode, the pool's free
        USD figure in that asset, at most what the wallet holds)."""
        figures = self.asset_figures(family, asset)
        if family != USDM or not self.multi_assets_margin:
            return figures.max_withdraw
        free = self.pool_free()
        if asset != "USDT":
            free = (free / self.collateral_rate(asset)[2]).quantize(EIGHT, rounding=ROUND_DOWN)
        return max(ZERO, min(figures.cross_wallet, free))

    def liquidation_price(self, position: Position) -> Decimal:
        market = PERPS[position.symbol]
        if position.isolated:
            equity = position.isolated_wallet
        else:
            equity = self.cross[market.family].get(market.margin_asset, ZERO)
            for other in self.open_positions(market.family, market.margin_asset):
                if other.symbol != position.symbol and not other.isolated:
                    f = self.figures(other)
                    equity += f.upnl - f.maint
        amount, rate, entry = position.amount, market.maint_rate, position.entry_price
        if market.family == USDM:
            # equity + amount (P - entry) = |amount| P rate
            denominator = amount - abs(amount) * rate
            price = (amount * entry - equity) / denominator if denominator else ZERO
        else:
            # equity + amount size (1/entry - 1/P) = |amount| size rate / P
            size = market.contract_size
            denominator = equity + amount * size / entry
            numerator = size * (amount + abs(amount) * rate)
            price = numerator / denominator if denominator else ZERO
        return price if price > 0 else ZERO

    def max_removable(self, position: Position) -> Decimal:
        f = self.figures(position)
        return max(ZERO, position.isolated_wallet + min(ZERO, f.upnl) - f.initial)

    # moving money ---------------------------------------------------------------------------

    def check_amount(self, amount: Decimal) -> None:
        """A transfer's amount: positive, at most 8 decimals."""
        if amount != amount.quantize(EIGHT, rounding=ROUND_DOWN):
            raise refuse(PRECISION)
        if amount <= 0:
            raise BinanceRefusal(
                -1102, "Mandatory parameter 'amount' was not sent, was empty/null, or malformed."
            )

    def transfer(self, kind: str, asset: str, amount: Decimal, now: int) -> Transfer:
        """A universal transfer between spot (MAIN) and USD-M / COIN-M, applied at once."""
        self.check_amount(amount)
        source, _, target = kind.partition("_")
        families = {"UMFUTURE": USDM, "CMFUTURE": COINM}
        if kind in PORTFOLIO_TYPES:
            raise refuse(NOT_PORTFOLIO, 401)  # a PM account's are `portfolio.transfer`
        if source == "MAIN" and target in families:
            if self.spot.get(asset, ZERO) < amount:
                raise refuse(TRANSFER_INSUFFICIENT)
            self.spot[asset] -= amount
            wallets = self.cross[families[target]]
            wallets[asset] = wallets.get(asset, ZERO) + amount
        elif target == "MAIN" and source in families:
            family = families[source]
            if self.max_withdraw(family, asset) < amount:
                raise refuse(TRANSFER_INSUFFICIENT)
            self.cross[family][asset] -= amount
            self.spot[asset] = self.spot.get(asset, ZERO) + amount
        else:
            raise BinanceRefusal(-1100, "Illegal characters found in parameter 'type'.")
        return self.record(kind, asset, amount, now)

    def record(self, kind: str, asset: str, amount: Decimal, now: int) -> Transfer:
        """An applied transfer, in the history with its new `tranId`."""
        record = Transfer(self.next_tran_id, kind, asset, amount, now)
        self.next_tran_id += 1
        self.transfers.append(record)
        return record

    def modify_margin(
        self, family: str, symbol: str, kind: int, amount: Decimal, now: int
    ) -> MarginChange:
        market = PERPS.get(symbol)
        if market is None or market.family != family:
            raise BinanceRefusal(-1121, "Invalid symbol.")
        if amount <= 0:
            raise refuse(AMOUNT_NOT_POSITIVE)
        if kind not in (1, 2):
            raise BinanceRefusal(-1100, "Illegal characters found in parameter 'type'.")
        position = self.positions.get(symbol)
        if position is None or position.amount == 0:
            raise refuse(POSITION_ZERO)
        if not position.isolated:
            raise refuse(NOT_ISOLATED)
        asset = market.margin_asset
        if kind == 1:
            if self.asset_figures(family, asset).available < amount:
                raise refuse(CROSS_INSUFFICIENT)
            self.cross[family][asset] -= amount
            position.isolated_wallet += amount
        else:
            if self.max_removable(position) < amount:
                raise refuse(ISOLATED_INSUFFICIENT)
            position.isolated_wallet -= amount
            self.cross[family][asset] = self.cross[family].get(asset, ZERO) + amount
        change = MarginChange(family, symbol, kind, amount, asset, now)
        self.margin_changes.append(change)
        return change

    # answers --------------------------------------------------------------------------------

    def spot_account(self, now: int) -> dict[str, Any]:
        """`GET /api/v3/account` (Spot "Account information")."""
        assets = sorted(set(self.spot) | set(self.spot_locked))
        return {
            "makerCommission": 10,
            "takerCommission": 10,
            "buyerCommission": 0,
            "sellerCommission": 0,
            "commissionRates": {
                "maker": "0.00100000",
                "taker": "0.00100000",
                "buyer": "0.00000000",
                "seller": "0.00000000",
            },
            "canTrade": True,
            "canWithdraw": True,
            "canDeposit": True,
            "brokered": False,
            "requireSelfTradePrevention": False,
            "preventSor": False,
            "updateTime": now,
            "accountType": "SPOT",
            "balances": [
                {
                    "asset": a,
                    "free": text(self.spot.get(a, ZERO)),
                    "locked": text(self.spot_locked.get(a, ZERO)),
                }
                for a in assets
            ],
            "permissions": ["SPOT"],
            "uid": 354937868,
        }

    def _asset_row(self, family: str, figures: AssetFigures, now: int) -> dict[str, Any]:
        f = figures
        row: dict[str, Any] = {
            "asset": f.asset,
            "walletBalance": text(f.wallet),
            "unrealizedProfit": text(f.upnl),
            "marginBalance": text(f.wallet + f.upnl),
            "maintMargin": text(f.maint),
            "initialMargin": text(f.initial),
            "positionInitialMargin": text(f.initial),
            "openOrderInitialMargin": "0.00000000",
            "crossWalletBalance": text(f.cross_wallet),
            "crossUnPnl": text(f.cross_upnl),
            "availableBalance": text(f.available),
            "maxWithdrawAmount": text(f.max_withdraw),
            "updateTime": now,
        }
        if family == USDM and self.multi_assets_margin:
            may_leave = text(self.max_withdraw(family, f.asset))
            row["availableBalance"] = row["maxWithdrawAmount"] = may_leave
        if family == USDM:
            row["marginAvailable"] = True
        return row

    def _assets(self, family: str) -> list[str]:
        listed = set(self.cross[family])
        listed |= {PERPS[p.symbol].margin_asset for p in self.open_positions(family)}
        return sorted(listed)

    def usdm_account(self, now: int) -> dict[str, Any]:
        """`GET /fapi/v3/account` (single-asset mode): only symbols with a position are listed
        in `positions`, as the V3 page says."""
        rows = [self.asset_figures(USDM, a) for a in self._assets(USDM)]
        usdt = next((r for r in rows if r.asset == "USDT"), None)
        zero = text(ZERO)

        def top(value: Decimal | None) -> str:
            return text(value) if value is not None else zero

        positions = []
        for p in self.open_positions(USDM):
            f = self.figures(p)
            positions.append(
                {
                    "symbol": p.symbol,
                    "positionSide": "BOTH",
                    "positionAmt": str(p.amount),
                    "unrealizedProfit": text(f.upnl),
                    "isolatedMargin": text(p.isolated_wallet + f.upnl if p.isolated else ZERO),
                    "notional": text(f.notional),
                    "isolatedWallet": text(p.isolated_wallet if p.isolated else ZERO),
                    "initialMargin": text(f.initial),
                    "maintMargin": text(f.maint),
                    "updateTime": p.update_time,
                }
            )
        coins = self.coins_value() if self.multi_assets_margin else ZERO
        return {
            "totalInitialMargin": top(usdt and usdt.initial),
            "totalMaintMargin": top(usdt and usdt.maint),
            "totalWalletBalance": top(usdt and usdt.wallet + coins),
            "totalUnrealizedProfit": top(usdt and usdt.upnl),
            "totalMarginBalance": top(usdt and usdt.wallet + usdt.upnl + coins),
            "totalPositionInitialMargin": top(usdt and usdt.initial),
            "totalOpenOrderInitialMargin": zero,
            "totalCrossWalletBalance": top(usdt and usdt.cross_wallet),
            "totalCrossUnPnl": top(usdt and usdt.cross_upnl),
            "availableBalance": top(usdt and usdt.available),
            "maxWithdrawAmount": top(usdt and usdt.max_withdraw),
            "assets": [self._asset_row(USDM, r, now) for r in rows],
            "positions": positions,
        }

    def coinm_account(self, now: int) -> dict[str, Any]:
        """`GET /dapi/v1/account`: every perpetual is listed in `positions`, flat or not."""
        positions = []
        for market in PERPS.values():
            if market.family != COINM:
                continue
            p = self.positions.get(market.symbol) or Position(market.symbol, ZERO, ZERO)
            f = self.figures(p) if p.amount else Figures(ZERO, ZERO, ZERO, ZERO)
            positions.append(
                {
                    "symbol": market.symbol,
                    "positionAmt": str(p.amount),
                    "initialMargin": text(f.initial),
                    "maintMargin": text(f.maint),
                    "unrealizedProfit": text(f.upnl),
                    "positionInitialMargin": text(f.initial),
                    "openOrderInitialMargin": "0",
                    "leverage": str(p.leverage),
                    "isolated": p.isolated,
                    "positionSide": "BOTH",
                    "entryPrice": str(p.entry_price),
                    "breakEvenPrice": str(p.entry_price),
                    "maxQty": "1000000",
                    "updateTime": p.update_time if p.amount else 0,
                }
            )
        return {
            "assets": [
                self._asset_row(COINM, self.asset_figures(COINM, a), now)
                for a in self._assets(COINM)
            ],
            "positions": positions,
            "canDeposit": True,
            "canTrade": True,
            "canWithdraw": True,
            "feeTier": 0,
            "updateTime": 0,
        }

    def usdm_position_risk(self, symbol: str | None) -> list[dict[str, Any]]:
        """`GET /fapi/v3/positionRisk` (one-way mode): open positions only, no `marginType`
        (an isolated one shows its `isolatedWallet`, a cross one "0")."""
        rows = []
        for p in self.open_positions(USDM):
            if symbol is not None and p.symbol != symbol:
                continue
            f = self.figures(p)
            rows.append(
                {
                    "symbol": p.symbol,
                    "positionSide": "BOTH",
                    "positionAmt": str(p.amount),
                    "entryPrice": str(p.entry_price),
                    "breakEvenPrice": str(p.entry_price),
                    "markPrice": text(self.marks[p.symbol]),
                    "unRealizedProfit": text(f.upnl),
                    "liquidationPrice": text(self.liquidation_price(p)),
                    "isolatedMargin": text(p.isolated_wallet + f.upnl if p.isolated else ZERO),
                    "notional": text(f.notional),
                    "marginAsset": PERPS[p.symbol].margin_asset,
                    "isolatedWallet": text(p.isolated_wallet if p.isolated else ZERO),
                    "initialMargin": text(f.initial),
                    "maintMargin": text(f.maint),
                    "positionInitialMargin": text(f.initial),
                    "openOrderInitialMargin": "0",
                    "adl": 2,
                    "bidNotional": "0",
                    "askNotional": "0",
                    "updateTime": p.update_time,
                }
            )
        return rows

    def coinm_position_risk(self, pair: str | None) -> list[dict[str, Any]]:
        """`GET /dapi/v1/positionRisk`: a row per perpetual (flat ones too), with `marginType`,
        `isolatedWallet` and `notionalValue` as the live answer has them."""
        rows = []
        for market in PERPS.values():
            if market.family != COINM or (pair is not None and market.pair != pair):
                continue
            p = self.positions.get(market.symbol) or Position(market.symbol, ZERO, ZERO)
            f = self.figures(p) if p.amount else Figures(ZERO, ZERO, ZERO, ZERO)
            rows.append(_coinm_row(self, market, p, f))
        return rows


def _coinm_row(account: Account, market: PerpMarket, p: Position, f: Figures) -> dict[str, Any]:
    open_ = p.amount != 0
    return {
        "symbol": market.symbol,
        "positionAmt": str(p.amount),
        "entryPrice": text(p.entry_price),
        "breakEvenPrice": text(p.entry_price),
        "markPrice": text(account.marks[market.symbol]) if open_ else "0.00000000",
        "unRealizedProfit": text(f.upnl),
        "liquidationPrice": text(account.liquidation_price(p)) if open_ else "0",
        "leverage": str(p.leverage),
        "maxQty": "1000000",
        "marginType": "isolated" if p.isolated else "cross",
        "isolatedMargin": text(p.isolated_wallet + f.upnl if p.isolated else ZERO),
        "isAutoAddMargin": "false",
        "positionSide": "BOTH",
        "notionalValue": text(f.notional),
        "isolatedWallet": text(p.isolated_wallet if p.isolated else ZERO),
        "updateTime": p.update_time if open_ else 0,
    }


def multi_assets_account() -> Account:
    """A USD-M account in multi-assets mode holding one hedge: 100 ETH in spot against a 100 ETH
    USD-M cross short (entry and mark 3000, maintenance 0.5 %: 1500 USD) with 4500 USDT in the
    USD-M wallet: totalMarginBalance 4500 over totalMaintMargin 1500, multiAssetsMMR 3."""
    short = Position("ETHUSDT", D(-100), D(3000), leverage=125)
    return Account(
        multi_assets_margin=True,
        spot=default_spot() | {"ETH": D(100)},
        cross={USDM: {"USDT": D(4500)}, COINM: {}},
        positions={short.symbol: short},
    )
