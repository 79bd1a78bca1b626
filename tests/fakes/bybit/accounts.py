"""The Bybit fake's account: a Unified Trading Account (UNIFIED) and a Funding wallet (FUND),
balances per coin in `Decimal`, linear USDT positions, marks and funding rates, and the
internal transfers between the two wallets.

The UNIFIED account-wide figures follow Bybit's glossary for cross margin ("Trading Terms and
Formulas in Unified Trading Account",
https://www.bybit.com/en/help-center/article/Glossary-Unified-Trading-Account), which the
"Get Wallet Balance" page points to for `accountIMRate` and `accountMMRate`:

    Margin Balance  = Wallet Balance + Perp & Futures Unrealized P&L - Spot Borrow
    Account MM Rate = Total Maintenance Margin / (Margin Balance - Haircut Loss + Order Loss)
    Account IM Rate = Total Initial Margin     / (Margin Balance - Haircut Loss + Order Loss)
    totalAvailableBalance = totalMarginBalance - Haircut - totalInitialMargin  (wallet-balance)

Here there are no spot orders and no borrowing, so Haircut Loss, Order Loss and Spot Borrow are
0, and every coin counts at its full USD value (a collateral value ratio of 1). A position's
IM is its value at the mark / leverage and its MM its value at the mark x the tier-1
maintenance rate, as the position page says both are "calculated by mark price".
Rates are given to 4 decimals and USD figures to 8, as in the documented examples (the
rounding direction is not documented: half-up here).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from tests.fakes.bybit.markets import PERPETUALS

D = Decimal
UNIFIED, FUND = "UNIFIED", "FUND"
ACCOUNT_TYPES = (UNIFIED, FUND)
USD_PLACES = D("0.00000001")
RATE_PLACES = D("0.0001")
#: the transfer statuses "Get Internal Transfer Records" documents (enum transferStatus)
SUCCESS, PENDING, FAILED = "SUCCESS", "PENDING", "FAILED"


class BybitRefusal(Exception):
    """A request Bybit answers with a non-zero retCode (HTTP 200)."""

    def __init__(self, code: int, msg: str) -> None:
        super().__init__(f"{code} {msg}")
        self.code = code
        self.msg = msg


def text(value: Decimal) -> str:
    """A Decimal as Bybit writes it: plain digits, no exponent, trailing zeros kept."""
    return format(value, "f")


def usd(value: Decimal) -> str:
    return text(value.quantize(USD_PLACES, rounding=ROUND_HALF_UP))


def rate(value: Decimal) -> str:
    return text(value.quantize(RATE_PLACES, rounding=ROUND_HALF_UP))


@dataclass
class Position:
    """A one-way linear position: `side` "Buy" (long) or "Sell" (short), `size` positive."""

    symbol: str
    side: str
    size: Decimal
    avg_price: Decimal
    leverage: Decimal
    created_ms: int = 1_700_000_000_000
    updated_ms: int = 1_700_000_000_000


@dataclass
class Transfer:
    transfer_id: str
    coin: str
    amount: Decimal
    from_type: str
    to_type: str
    timestamp_ms: int
    status: str


@dataclass
class Account:
    """What the fake serves; tests change it freely (under `lock` while the fake runs)."""

    unified: dict[str, Decimal] = field(
        default_factory=lambda: {"USDT": D("10000"), "BTC": D("0.5")}
    )
    fund: dict[str, Decimal] = field(default_factory=lambda: {"USDT": D("25000"), "USDC": D("0")})
    positions: list[Position] = field(
        default_factory=lambda: [
            Position("BTCUSDT", "Sell", D("0.5"), D("60000"), D("10")),
            Position("ETHUSDT", "Sell", D("4"), D("3000"), D("10")),
        ]
    )
    marks: dict[str, Decimal] = field(
        default_factory=lambda: {"BTCUSDT": D("62000"), "ETHUSDT": D("3100")}
    )
    funding_rates: dict[str, str] = field(
        default_factory=lambda: {"BTCUSDT": "0.0001", "ETHUSDT": "-0.00003512"}
    )
    #: USD value of one coin (USDT's own index is taken as 1 here)
    usd_prices: dict[str, Decimal] = field(
        default_factory=lambda: {
            "USDT": D("1"),
            "USDC": D("1"),
            "BTC": D("62000"),
            "ETH": D("3100"),
        }
    )
    #: account mode, as "Get Account Info" reports it (6: UTA 2.0 pro)
    unified_margin_status: int = 6
    margin_mode: str = "REGULAR_MARGIN"
    transfers: list[Transfer] = field(default_factory=list)
    #: statuses the next transfers are recorded with (then SUCCESS): a PENDING one has moved
    #: the money out already, a FAILED one has moved nothing
    next_statuses: list[str] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    # per position -----------------------------------------------------------------------------

    def value_at_mark(self, p: Position) -> Decimal:
        return p.size * self.marks[p.symbol]

    def unrealised(self, p: Position) -> Decimal:
        move = self.marks[p.symbol] - p.avg_price
        return move * p.size if p.side == "Buy" else -move * p.size

    def position_im(self, p: Position) -> Decimal:
        return self.value_at_mark(p) / p.leverage

    def position_mm(self, p: Position) -> Decimal:
        return self.value_at_mark(p) * PERPETUALS[p.symbol].maint_rate

    def liquidation_price(self, p: Position) -> Decimal | None:
        """The mark at which the account's MM rate reaches 100% with every other position and
        balance held where it is: margin balance + this position's P&L at L = MM of the others
        + size x L x mmr. None when no positive price does it (Bybit sends "")."""
        mmr = PERPETUALS[p.symbol].maint_rate
        others_mm = self.total_mm() - self.position_mm(p)
        balance = self.margin_balance() - self.unrealised(p)
        entry_value = p.size * p.avg_price
        if p.side == "Sell":
            price = (balance + entry_value - others_mm) / (p.size * (1 + mmr))
        else:
            price = (entry_value - balance + others_mm) / (p.size * (1 - mmr))
        if price <= 0:
            return None
        tick = D(PERPETUALS[p.symbol].tick)
        return (price / tick).quantize(D(1), rounding=ROUND_HALF_UP) * tick

    # account-wide (USD) -----------------------------------------------------------------------

    def coin_unrealised(self, coin: str) -> Decimal:
        """Linear USDT perpetuals settle in USDT: their P&L belongs to that coin."""
        if coin != "USDT":
            return D(0)
        return sum((self.unrealised(p) for p in self.positions), D(0))

    def wallet_usd(self) -> Decimal:
        return sum((amount * self.usd_prices[c] for c, amount in self.unified.items()), D(0))

    def perp_upl_usd(self) -> Decimal:
        return self.coin_unrealised("USDT") * self.usd_prices["USDT"]

    def margin_balance(self) -> Decimal:
        return self.wallet_usd() + self.perp_upl_usd()

    def total_im(self) -> Decimal:
        return sum((self.position_im(p) for p in self.positions), D(0)) * self.usd_prices["USDT"]

    def total_mm(self) -> Decimal:
        return sum((self.position_mm(p) for p in self.positions), D(0)) * self.usd_prices["USDT"]

    def available_usd(self) -> Decimal:
        return self.margin_balance() - self.total_im()

    def mm_rate(self) -> Decimal:
        balance = self.margin_balance()
        return self.total_mm() / balance if balance > 0 else D(0)

    def im_rate(self) -> Decimal:
        balance = self.margin_balance()
        return self.total_im() / balance if balance > 0 else D(0)

    def set_margin_balance(self, value: Decimal) -> None:
        """Put the account's margin balance (`totalMarginBalance`) at `value` by changing the
        UNIFIED USDT held, as a deposit or a loss elsewhere would: a test's way to the side of
        the band it needs (refused where USDT would go negative: no borrowing here)."""
        usdt = self.unified.get("USDT", D(0)) + (value - self.margin_balance())
        if usdt < 0:
            raise ValueError(f"a margin balance of {value} needs {usdt} USDT")
        self.unified["USDT"] = usdt

    def unified_transferable(self, coin: str) -> Decimal:
        """What may leave UNIFIED in `coin`: its wallet balance, capped by the account's
        available balance converted at the coin's USD price (never below 0)."""
        held = self.unified.get(coin, D(0))
        price = self.usd_prices.get(coin, D(0))
        if price <= 0:
            return D(0)
        cap = self.available_usd() / price
        return max(D(0), min(held, cap))

    # answers ----------------------------------------------------------------------------------

    def wallet_balance(self, coins: list[str] | None) -> dict[str, Any]:
        """`GET /v5/account/wallet-balance?accountType=UNIFIED`'s `result`."""
        rows = []
        for coin, balance in self.unified.items():
            if coins is not None and coin not in coins:
                continue
            if coins is None and balance == 0 and self.coin_unrealised(coin) == 0:
                continue  # "currency information with assets or liabilities of 0 is not returned"
            rows.append(self._coin_row(coin, balance))
        return {
            "list": [
                {
                    "accountType": UNIFIED,
                    "accountIMRate": rate(self.im_rate()),
                    "accountIMRateByMp": rate(self.im_rate()),
                    "accountMMRate": rate(self.mm_rate()),
                    "accountMMRateByMp": rate(self.mm_rate()),
                    "totalEquity": usd(self.margin_balance()),
                    "totalWalletBalance": usd(self.wallet_usd()),
                    "totalMarginBalance": usd(self.margin_balance()),
                    "totalAvailableBalance": usd(self.available_usd()),
                    "totalPerpUPL": usd(self.perp_upl_usd()),
                    "totalInitialMargin": usd(self.total_im()),
                    "totalInitialMarginByMp": usd(self.total_im()),
                    "totalMaintenanceMargin": usd(self.total_mm()),
                    "totalMaintenanceMarginByMp": usd(self.total_mm()),
                    "accountLTV": "0",
                    "coin": rows,
                }
            ]
        }

    def _coin_row(self, coin: str, balance: Decimal) -> dict[str, Any]:
        upl = self.coin_unrealised(coin)
        held = self.positions if coin == "USDT" else []  # linear USDT perpetuals only
        return {
            "coin": coin,
            "equity": text(balance + upl),
            "usdValue": usd((balance + upl) * self.usd_prices[coin]),
            "walletBalance": text(balance),
            "locked": "0",
            "spotHedgingQty": "0",
            "borrowAmount": "0",
            "accruedInterest": "0",
            "totalOrderIM": "0",
            "totalPositionIM": usd(sum((self.position_im(p) for p in held), D(0))),
            "totalPositionMM": usd(sum((self.position_mm(p) for p in held), D(0))),
            "unrealisedPnl": text(upl),
            "cumRealisedPnl": "0",
            "bonus": "0",
            "marginCollateral": True,
            "collateralSwitch": True,
            "spotBorrow": "0",
            "free": "",  # deprecated: no Spot wallet any more
            "availableToWithdraw": "",  # deprecated for UNIFIED since 9 Jan 2025
            "availableToBorrow": "",  # deprecated, always ""
        }

    def coins_balance(self, account_type: str, coins: list[str] | None) -> list[dict[str, Any]]:
        """`GET /v5/asset/transfer/query-account-coins-balance`'s `balance` rows."""
        if account_type == FUND:
            names = coins if coins is not None else list(self.fund)
            return [
                {
                    "coin": c,
                    "walletBalance": text(self.fund.get(c, D(0))),
                    "transferBalance": text(self.fund.get(c, D(0))),
                    "bonus": "",
                }
                for c in names
            ]
        assert coins is not None  # UNIFIED requires `coin`: the caller refuses without it
        return [
            {
                "coin": c,
                "walletBalance": text(self.unified.get(c, D(0))),
                "transferBalance": text(self.unified_transferable(c)),
                "bonus": "",
            }
            for c in coins
        ]

    def position_row(self, p: Position) -> dict[str, Any]:
        """One `GET /v5/position/list` entry (one-way mode, cross margin)."""
        liquidation = self.liquidation_price(p)
        return {
            "positionIdx": 0,
            "riskId": 1,
            "riskLimitValue": "2000000",
            "symbol": p.symbol,
            "side": p.side,
            "size": text(p.size),
            "avgPrice": text(p.avg_price),
            "positionValue": text(p.size * p.avg_price),
            "tradeMode": 0,
            "autoAddMargin": 0,
            "positionStatus": "Normal",
            "leverage": text(p.leverage),
            "markPrice": text(self.marks[p.symbol]),
            "liqPrice": text(liquidation) if liquidation is not None else "",
            "bustPrice": "",
            "positionIM": usd(self.position_im(p)),
            "positionIMByMp": usd(self.position_im(p)),
            "positionMM": usd(self.position_mm(p)),
            "positionMMByMp": usd(self.position_mm(p)),
            "positionBalance": "",
            "takeProfit": "",
            "stopLoss": "",
            "trailingStop": "0",
            "sessionAvgPrice": "",
            "delta": "",
            "gamma": "",
            "vega": "",
            "theta": "",
            "unrealisedPnl": text(self.unrealised(p)),
            "curRealisedPnl": "0",
            "cumRealisedPnl": "0",
            "adlRankIndicator": 2,
            "createdTime": str(p.created_ms),
            "updatedTime": str(p.updated_ms),
            "seq": 1,
            "isReduceOnly": False,
            "mmrSysUpdatedTime": "",
            "leverageSysUpdatedTime": "",
            "tpslMode": "Full",
        }

    # transfers --------------------------------------------------------------------------------

    def transfer(
        self, transfer_id: str, coin: str, amount: Decimal, from_type: str, to_type: str, now: int
    ) -> Transfer:
        """Apply one internal transfer, or refuse it with the retCode Bybit documents (Asset
        error codes, https://bybit-exchange.github.io/docs/v5/error)."""
        if any(t.transfer_id == transfer_id for t in self.transfers):
            raise BybitRefusal(131214, "TransferId exist")
        if from_type == to_type:
            raise BybitRefusal(131211, "fromAccountType can't be the same as toAccountType")
        if from_type not in ACCOUNT_TYPES or to_type not in ACCOUNT_TYPES:
            raise BybitRefusal(131203, "Request parameter error")
        if coin not in self.usd_prices:
            raise BybitRefusal(131203, "Request parameter error")
        if amount <= 0:
            raise BybitRefusal(131215, "Amount error")
        if amount != amount.quantize(USD_PLACES):
            raise BybitRefusal(131210, "Amount accuracy error")
        source = self.unified if from_type == UNIFIED else self.fund
        target = self.unified if to_type == UNIFIED else self.fund
        may_leave = (
            self.unified_transferable(coin) if from_type == UNIFIED else source.get(coin, D(0))
        )
        if amount > may_leave:
            raise BybitRefusal(131212, "Insufficient balance")
        status = self.next_statuses.pop(0) if self.next_statuses else SUCCESS
        if status != FAILED:
            source[coin] = source.get(coin, D(0)) - amount
        if status == SUCCESS:
            target[coin] = target.get(coin, D(0)) + amount
        record = Transfer(transfer_id, coin, amount, from_type, to_type, now, status)
        self.transfers.append(record)
        return record

    def settle(self, transfer_id: str, status: str) -> None:
        """Move a PENDING transfer to SUCCESS (credited) or FAILED (refunded)."""
        (record,) = [t for t in self.transfers if t.transfer_id == transfer_id]
        assert record.status == PENDING, f"{transfer_id} is {record.status}"
        source = self.unified if record.from_type == UNIFIED else self.fund
        target = self.unified if record.to_type == UNIFIED else self.fund
        if status == SUCCESS:
            target[record.coin] = target.get(record.coin, D(0)) + record.amount
        else:
            source[record.coin] = source.get(record.coin, D(0)) + record.amount
        record.status = status


def transfer_row(t: Transfer) -> dict[str, Any]:
    """One "Get Internal Transfer Records" entry."""
    return {
        "transferId": t.transfer_id,
        "coin": t.coin,
        "amount": text(t.amount),
        "fromAccountType": t.from_type,
        "toAccountType": t.to_type,
        "timestamp": str(t.timestamp_ms),
        "status": t.status,
    }
