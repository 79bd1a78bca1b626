"""The OKX fake's account: the trading account (`18`, spot and swaps together) and the funding
account (`6`), balances per currency in `Decimal`, USDT perpetual swap positions in net mode,
marks and funding rates, the transfers between the two accounts and the bills they leave.

The account mode is `acctLv` of "Get account configuration": 1 Spot mode, 2 Futures mode
(single-currency margin), 3 Multi-currency margin, 4 Portfolio margin (served here as 3). The
figures follow OKX's product pages the "Get balance" page points to:

- Multi-currency margin ("Multi-currency margin mode: cross margin trading",
  https://www.okx.com/help/iv-multi-currency-margin-mode-cross-margin-trading):
      Equity (cross)   = Balance + Floating PnL (cross)          (per currency)
      Adjusted equity  = sum(Equity x Discount rate x USD price)  (`adjEq`)
      Maintenance margin = sum(Position value x tier maintenance rate) (`mmr`)
      Margin ratio     = Adjusted equity / (Maintenance margin + liquidation fees) (`mgnRatio`)
  Liquidation starts when the margin ratio reaches 100% (sent as "1").
- Futures mode ("Futures mode: cross margin trading",
  https://www.okx.com/help/iii-single-currency-margin-cross-margin-trading): each currency
  margins only the positions settled in it, so the ratio is per currency (`details[].mgnRatio`)
  and per cross position (the position's `mgnRatio`, the same figure): Equity of the currency /
  (its maintenance margin + fees). A spot coin (BTC held) is not collateral for USDT swaps.
  An isolated position's ratio is (margin + its P&L) / its maintenance margin.

Simplifications, all exact in Decimal: discount rates are 1, liquidation fees 0, one maintenance
tier, no orders, no borrowing; `availEq`/`availBal` are the cross equity less the cross initial
margin (capped by the cash balance for `availBal`), and what may leave the trading account
(`maxWd`) is that, converted at the currency's USD price in multi-currency margin.
Ratios are written to 8 places and USD figures to 8 (the rounding OKX uses is not documented:
half-up here).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from tests.fakes.okx.markets import SWAPS

D = Decimal
FUNDING, TRADING = "6", "18"
ACCOUNTS = (FUNDING, TRADING)
SPOT_MODE, FUTURES_MODE, MULTI_CURRENCY, PORTFOLIO = "1", "2", "3", "4"
#: the transfer states "Get funds transfer state" documents
SUCCESS, PENDING, FAILED = "success", "pending", "failed"
PLACES = D("0.00000001")
#: internal transfers are exact to 8 decimal places ("Get currencies", wdTickSz)
AMOUNT_PLACES = PLACES
#: a client id is "a combination of case-sensitive alphanumerics, all numbers, or all letters
#: of up to 32 characters" (Funds transfer, clientId)
CLIENT_ID_MAX = 32


class OkxRefusal(Exception):
    """A request OKX answers with a non-zero `code` (HTTP 200 unless `status` says otherwise:
    the error-code tables give an HTTP status per code)."""

    def __init__(self, code: str, msg: str, status: int = 200) -> None:
        super().__init__(f"{code} {msg}")
        self.code = code
        self.msg = msg
        self.status = status


#: what the fake answers for a repeated clientId. OKX's pages do not say what a repeated
#: clientId on "Funds transfer" gets; the general code "{param} already exists" (50071, Error
#: Code > Public > General Class) is the documented refusal that fits. A guess: see the report.
REPEATED_CLIENT_ID = ("50071", "clientId already exists")
#: what "Get funds transfer state" answers for an id it does not know: 58129 "{param} is
#: incorrect or {param} does not match with 'type'" (Error Code > Funding). Also a guess.
UNKNOWN_TRANSFER = "58129"


def text(value: Decimal) -> str:
    """A Decimal as OKX writes it: plain digits, no exponent."""
    return format(value, "f")


def fixed(value: Decimal) -> str:
    return text(value.quantize(PLACES, rounding=ROUND_HALF_UP))


@dataclass
class Position:
    """A net-mode swap position: `pos` in contracts, positive long, negative short.
    `margin` is the isolated margin (it has left the cash balance); cross positions have none."""

    inst_id: str
    pos: Decimal
    avg_px: Decimal
    lever: Decimal
    mgn_mode: str = "cross"
    margin: Decimal = field(default_factory=Decimal)
    pos_id: str = ""
    created_ms: int = 1_700_000_000_000
    updated_ms: int = 1_700_000_000_000


@dataclass
class Transfer:
    trans_id: str
    client_id: str
    ccy: str
    amt: Decimal
    from_acct: str
    to_acct: str
    ts: int
    state: str


@dataclass
class Bill:
    """One balance change in the trading account (`account/bills`) or the funding account
    (`asset/bills`)."""

    bill_id: str
    ccy: str
    bal_chg: Decimal
    bal: Decimal
    ts: int
    transfer: Transfer


@dataclass
class Account:
    """What the fake serves; tests change it freely (under `lock` while the fake runs)."""

    acct_lv: str = MULTI_CURRENCY
    pos_mode: str = "net_mode"
    trading: dict[str, Decimal] = field(
        default_factory=lambda: {"USDT": D("10000"), "BTC": D("0.5")}
    )
    funding: dict[str, Decimal] = field(
        default_factory=lambda: {"USDT": D("25000"), "USDC": D("0")}
    )
    positions: list[Position] = field(
        default_factory=lambda: [
            Position("BTC-USDT-SWAP", D("-50"), D("60000"), D("10"), pos_id="1001"),
            Position("ETH-USDT-SWAP", D("-40"), D("3000"), D("10"), pos_id="1002"),
        ]
    )
    marks: dict[str, Decimal] = field(
        default_factory=lambda: {"BTC-USDT-SWAP": D("62000"), "ETH-USDT-SWAP": D("3100")}
    )
    funding_rates: dict[str, str] = field(
        default_factory=lambda: {"BTC-USDT-SWAP": "0.0001", "ETH-USDT-SWAP": "-0.00003512"}
    )
    #: USD price of one unit (USDT's own index is taken as 1 here)
    usd_prices: dict[str, Decimal] = field(
        default_factory=lambda: {
            "USDT": D("1"),
            "USDC": D("1"),
            "BTC": D("62000"),
            "ETH": D("3100"),
        }
    )
    transfers: list[Transfer] = field(default_factory=list)
    trading_bills: list[Bill] = field(default_factory=list)
    funding_bills: list[Bill] = field(default_factory=list)
    #: states the next transfers are recorded with (then success): a pending one has left the
    #: source already, a failed one has moved nothing
    next_states: list[str] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _next_id: int = 754_147

    # per position -----------------------------------------------------------------------------

    def coins(self, p: Position) -> Decimal:
        return abs(p.pos) * D(SWAPS[p.inst_id].ct_val)

    def notional(self, p: Position) -> Decimal:
        """Value at the mark, USDT."""
        return self.coins(p) * self.marks[p.inst_id]

    def upl(self, p: Position) -> Decimal:
        move = self.marks[p.inst_id] - p.avg_px
        return move * self.coins(p) if p.pos > 0 else -move * self.coins(p)

    def position_imr(self, p: Position) -> Decimal:
        return self.notional(p) / p.lever

    def position_mmr(self, p: Position) -> Decimal:
        return self.notional(p) * SWAPS[p.inst_id].maint_rate

    def cross(self) -> list[Position]:
        return [p for p in self.positions if p.mgn_mode == "cross"]

    def isolated(self) -> list[Position]:
        return [p for p in self.positions if p.mgn_mode == "isolated"]

    # per currency (every swap here settles in USDT) -------------------------------------------

    def _settled_in(self, ccy: str, positions: list[Position]) -> list[Position]:
        return positions if ccy == "USDT" else []

    def cross_upl(self, ccy: str) -> Decimal:
        return sum((self.upl(p) for p in self._settled_in(ccy, self.cross())), D(0))

    def cross_eq(self, ccy: str) -> Decimal:
        return self.trading.get(ccy, D(0)) + self.cross_upl(ccy)

    def iso_eq(self, ccy: str) -> Decimal:
        held = self._settled_in(ccy, self.isolated())
        return sum((p.margin + self.upl(p) for p in held), D(0))

    def eq(self, ccy: str) -> Decimal:
        return self.cross_eq(ccy) + self.iso_eq(ccy)

    def cross_imr(self, ccy: str) -> Decimal:
        return sum((self.position_imr(p) for p in self._settled_in(ccy, self.cross())), D(0))

    def cross_mmr(self, ccy: str) -> Decimal:
        return sum((self.position_mmr(p) for p in self._settled_in(ccy, self.cross())), D(0))

    def avail_eq(self, ccy: str) -> Decimal:
        return max(D(0), self.cross_eq(ccy) - self.cross_imr(ccy))

    def currency_margin_ratio(self, ccy: str) -> Decimal | None:
        """Futures mode: the currency's cross equity over its cross maintenance margin."""
        mmr = self.cross_mmr(ccy)
        return self.cross_eq(ccy) / mmr if mmr > 0 else None

    # account-wide, USD ------------------------------------------------------------------------

    def adj_eq(self) -> Decimal:
        return sum((self.cross_eq(c) * self.usd_prices[c] for c in self.trading), D(0))

    def total_eq(self) -> Decimal:
        return sum((self.eq(c) * self.usd_prices[c] for c in self.trading), D(0))

    def imr_usd(self) -> Decimal:
        return self.cross_imr("USDT") * self.usd_prices["USDT"]

    def mmr_usd(self) -> Decimal:
        return self.cross_mmr("USDT") * self.usd_prices["USDT"]

    def margin_ratio(self) -> Decimal | None:
        """Multi-currency margin: adjusted equity over maintenance margin (None: no positions)."""
        mmr = self.mmr_usd()
        return self.adj_eq() / mmr if mmr > 0 else None

    def set_adj_eq(self, value: Decimal) -> None:
        """Put the account's adjusted equity (`adjEq`) at `value` by changing the trading
        account's USDT cash, as a deposit or a loss elsewhere would: a test's way to the side
        of the band it needs (refused where USDT would go negative: no borrowing here)."""
        usdt = self.trading.get("USDT", D(0)) + (value - self.adj_eq()) / self.usd_prices["USDT"]
        if usdt < 0:
            raise ValueError(f"an adjusted equity of {value} needs {usdt} USDT")
        self.trading["USDT"] = usdt

    def max_withdrawal(self, ccy: str) -> Decimal:
        """What may leave the trading account in `ccy` (`maxWd`), never below 0."""
        held = self.trading.get(ccy, D(0))
        if self.acct_lv == FUTURES_MODE:
            return max(D(0), min(held, self.avail_eq(ccy)))
        price = self.usd_prices.get(ccy, D(0))
        if price <= 0:
            return D(0)
        free_usd = self.adj_eq() - self.imr_usd()
        return max(D(0), min(held, free_usd / price))

    def position_margin_ratio(self, p: Position) -> Decimal | None:
        """A position's `mgnRatio`: an isolated one on its own margin; a cross one shares its
        currency's (Futures mode) or the account's (multi-currency margin) ratio."""
        if p.mgn_mode == "isolated":
            mmr = self.position_mmr(p)
            return (p.margin + self.upl(p)) / mmr if mmr > 0 else None
        if self.acct_lv == FUTURES_MODE:
            return self.currency_margin_ratio("USDT")
        return self.margin_ratio()

    # answers ----------------------------------------------------------------------------------

    def balance(self, ccys: list[str] | None, now: int) -> dict[str, Any]:
        """`GET /api/v5/account/balance`'s one `data` entry; "" where the mode does not apply
        (the page's table of fields per account level)."""
        multi = self.acct_lv in (SPOT_MODE, MULTI_CURRENCY, PORTFOLIO)
        rows = []
        for ccy, cash in self.trading.items():
            if ccys is not None and ccy not in ccys:
                continue
            if ccys is None and cash == 0 and self.eq(ccy) == 0:
                continue  # "not returned when cashBal and eq is both 0"
            rows.append(self._detail(ccy, cash, now))
        ratio = self.margin_ratio()
        return {
            "uTime": str(now),
            "totalEq": fixed(self.total_eq()),
            "isoEq": fixed(sum((self.iso_eq(c) * self.usd_prices[c] for c in self.trading), D(0))),
            "adjEq": fixed(self.adj_eq()) if multi else "",
            "availEq": fixed(self.adj_eq() - self.imr_usd()) if multi else "",
            "ordFroz": "0" if multi else "",
            "imr": fixed(self.imr_usd()) if multi else "",
            "mmr": fixed(self.mmr_usd()) if multi else "",
            "borrowFroz": "0" if multi else "",
            "mgnRatio": fixed(ratio) if multi and ratio is not None else "",
            "notionalUsd": fixed(sum((self.notional(p) for p in self.positions), D(0)))
            if multi
            else "",
            "notionalUsdForBorrow": "0" if multi else "",
            "notionalUsdForSwap": fixed(sum((self.notional(p) for p in self.positions), D(0)))
            if multi
            else "",
            "notionalUsdForFutures": "0" if multi else "",
            "notionalUsdForOption": "0" if multi else "",
            "upl": fixed(sum((self.upl(p) for p in self.positions), D(0))) if multi else "",
            "details": rows,
        }

    def _detail(self, ccy: str, cash: Decimal, now: int) -> dict[str, Any]:
        futures = self.acct_lv == FUTURES_MODE
        ratio = self.currency_margin_ratio(ccy) if futures else None
        has_cross = futures and self.cross_mmr(ccy) > 0
        frozen = self.cross_imr(ccy) + sum(
            (p.margin for p in self._settled_in(ccy, self.isolated())), D(0)
        )
        return {
            "ccy": ccy,
            "eq": text(self.eq(ccy)),
            "cashBal": text(cash),
            "uTime": str(now),
            "isoEq": text(self.iso_eq(ccy)),
            "availEq": text(self.avail_eq(ccy)),
            "disEq": fixed(self.cross_eq(ccy) * self.usd_prices[ccy]),
            "fixedBal": "0",
            "availBal": text(max(D(0), min(cash, self.avail_eq(ccy)))),
            "frozenBal": text(frozen),
            "ordFrozen": "0",
            "liab": "0",
            "upl": text(self.cross_upl(ccy) + self.iso_eq(ccy) - self._iso_margin(ccy)),
            "uplLiab": "0",
            "crossLiab": "0",
            "rewardBal": "0",
            "isoLiab": "0",
            "mgnRatio": fixed(ratio) if ratio is not None else "",
            "imr": fixed(self.cross_imr(ccy)) if has_cross else "",
            "mmr": fixed(self.cross_mmr(ccy)) if has_cross else "",
            "interest": "0",
            "twap": "0",
            "frpType": "0",
            "maxLoan": "",
            "eqUsd": fixed(self.eq(ccy) * self.usd_prices[ccy]),
            "borrowFroz": "",
            "notionalLever": "",
            "stgyEq": "0",
            "isoUpl": text(self.iso_eq(ccy) - self._iso_margin(ccy)),
            "spotInUseAmt": "",
            "clSpotInUseAmt": "",
            "maxSpotInUse": "",
            "spotIsoBal": "0",
            "smtSyncEq": "0",
            "spotCopyTradingEq": "0",
            "spotBal": "",
            "openAvgPx": "",
            "accAvgPx": "",
            "spotUpl": "",
            "spotUplRatio": "",
            "totalPnl": "",
            "totalPnlRatio": "",
            "colRes": "0",
            "colBorrAutoConversion": "0",
            "collateralEnabled": self.acct_lv == MULTI_CURRENCY,
            "autoLendStatus": "unsupported",
            "autoLendMtAmt": "0",
        }

    def _iso_margin(self, ccy: str) -> Decimal:
        return sum((p.margin for p in self._settled_in(ccy, self.isolated())), D(0))

    def funding_balances(self, ccys: list[str] | None) -> list[dict[str, Any]]:
        """`GET /api/v5/asset/balances`: "only ... a balance greater than 0 will be returned"."""
        return [
            {"ccy": c, "bal": text(b), "frozenBal": "0", "availBal": text(b)}
            for c, b in self.funding.items()
            if b > 0 and (ccys is None or c in ccys)
        ]

    def position_row(self, p: Position) -> dict[str, Any]:
        """One `GET /api/v5/account/positions` entry (net mode)."""
        ratio = self.position_margin_ratio(p)
        liquidation = self.liquidation_price(p)
        notional = self.notional(p)
        cross = p.mgn_mode == "cross"
        return {
            "instType": "SWAP",
            "mgnMode": p.mgn_mode,
            "posId": p.pos_id,
            "posSide": "net",
            "pos": text(p.pos),
            "posCcy": "",
            "availPos": "",
            "avgPx": text(p.avg_px),
            "nonSettleAvgPx": "",
            "markPx": text(self.marks[p.inst_id]),
            "upl": text(self.upl(p)),
            "uplRatio": fixed(self.upl(p) / (p.avg_px * self.coins(p) / p.lever)),
            "uplLastPx": text(self.upl(p)),
            "uplRatioLastPx": fixed(self.upl(p) / (p.avg_px * self.coins(p) / p.lever)),
            "instId": p.inst_id,
            "lever": text(p.lever),
            "liqPx": text(liquidation) if liquidation is not None else "",
            "imr": fixed(self.position_imr(p)) if cross else "",
            "margin": text(p.margin) if not cross else "",
            "mgnRatio": fixed(ratio) if ratio is not None else "",
            "mmr": fixed(self.position_mmr(p)),
            "liab": "",
            "liabCcy": "",
            "interest": "0",
            "tradeId": "1",
            "optVal": "",
            "pendingCloseOrdLiabVal": "",
            "notionalUsd": fixed(notional * self.usd_prices["USDT"]),
            "adl": "1",
            "ccy": "USDT",
            "last": text(self.marks[p.inst_id]),
            "idxPx": text(self.marks[p.inst_id]),
            "usdPx": text(self.usd_prices["USDT"]),
            "bePx": text(p.avg_px),
            "deltaBS": "",
            "deltaPA": "",
            "gammaBS": "",
            "gammaPA": "",
            "thetaBS": "",
            "thetaPA": "",
            "vegaBS": "",
            "vegaPA": "",
            "spotInUseAmt": "",
            "spotInUseCcy": "",
            "clSpotInUseAmt": "",
            "maxSpotInUseAmt": "",
            "bizRefId": "",
            "bizRefType": "",
            "realizedPnl": "0",
            "settledPnl": "",
            "pnl": "0",
            "fee": "0",
            "fundingFee": "0",
            "liqPenalty": "0",
            "closeOrderAlgo": [],
            "cTime": str(p.created_ms),
            "uTime": str(p.updated_ms),
        }

    def liquidation_price(self, p: Position) -> Decimal | None:
        """The mark at which this position's margin ratio reaches 1 with everything else held
        where it is (None when no positive price does it; OKX sends ""). Solved from
        equity_others + cash + s x q x (L - avg) = mmr_others + q x L x rate, s = +1 long."""
        rate = SWAPS[p.inst_id].maint_rate
        q = self.coins(p)
        side = D(1) if p.pos > 0 else D(-1)
        if p.mgn_mode == "isolated":
            base, others_mmr = p.margin, D(0)
        elif self.acct_lv == FUTURES_MODE:
            base = self.cross_eq("USDT") - self.upl(p)
            others_mmr = self.cross_mmr("USDT") - self.position_mmr(p)
        else:
            base = self.adj_eq() - self.upl(p) * self.usd_prices["USDT"]
            others_mmr = self.mmr_usd() - self.position_mmr(p)
        price = (others_mmr - base + side * q * p.avg_px) / (q * (side - rate))
        if price <= 0:
            return None
        tick = D(SWAPS[p.inst_id].tick)
        return (price / tick).quantize(D(1), rounding=ROUND_HALF_UP) * tick

    # transfers --------------------------------------------------------------------------------

    def _new_id(self) -> str:
        self._next_id += 1
        return str(self._next_id)

    def transfer(
        self, ccy: str, amt: Decimal, from_acct: str, to_acct: str, client_id: str, now: int
    ) -> Transfer:
        """Apply one transfer within the account, or refuse it with the code OKX documents
        (Error Code > Funding, https://www.okx.com/docs-v5/en/#error-code-rest-api-funding)."""
        if client_id and any(t.client_id == client_id for t in self.transfers):
            raise OkxRefusal(*REPEATED_CLIENT_ID)
        if from_acct == to_acct:
            raise OkxRefusal("58123", "The From parameter cannot be the same as the To parameter.")
        if from_acct not in ACCOUNTS:
            raise OkxRefusal("51000", "Parameter from error")
        if to_acct not in ACCOUNTS:
            raise OkxRefusal("51000", "Parameter to error")
        if ccy not in self.usd_prices:
            raise OkxRefusal("51000", "Parameter ccy error")
        if amt <= 0:
            raise OkxRefusal("58114", "Transfer amount must be greater than 0", 400)
        if amt != amt.quantize(AMOUNT_PLACES):
            raise OkxRefusal("51000", "Parameter amt error")
        may_leave = (
            self.max_withdrawal(ccy) if from_acct == TRADING else self.funding.get(ccy, D(0))
        )
        if amt > may_leave:
            raise OkxRefusal("58350", "Insufficient balance.")
        state = self.next_states.pop(0) if self.next_states else SUCCESS
        record = Transfer(self._new_id(), client_id, ccy, amt, from_acct, to_acct, now, state)
        self.transfers.append(record)
        if state != FAILED:
            self._move(record, from_acct, -amt, now)
        if state == SUCCESS:
            self._move(record, to_acct, amt, now)
        return record

    def _move(self, record: Transfer, acct: str, change: Decimal, now: int) -> None:
        wallet = self.trading if acct == TRADING else self.funding
        wallet[record.ccy] = wallet.get(record.ccy, D(0)) + change
        bills = self.trading_bills if acct == TRADING else self.funding_bills
        bills.append(Bill(self._new_id(), record.ccy, change, wallet[record.ccy], now, record))

    def settle(self, trans_id: str, state: str, now: int) -> None:
        """Move a pending transfer to success (credited) or failed (refunded)."""
        (record,) = [t for t in self.transfers if t.trans_id == trans_id]
        assert record.state == PENDING, f"{trans_id} is {record.state}"
        if state == SUCCESS:
            self._move(record, record.to_acct, record.amt, now)
        else:
            self._move(record, record.from_acct, record.amt, now)
        record.state = state

    def find_transfer(self, trans_id: str | None, client_id: str | None) -> Transfer | None:
        """By transId when given ("If both are passed, transId will be used"), else clientId."""
        for t in self.transfers:
            if (trans_id and t.trans_id == trans_id) or (
                not trans_id and client_id and t.client_id == client_id
            ):
                return t
        return None


def transfer_row(t: Transfer) -> dict[str, Any]:
    """One "Get funds transfer state" entry."""
    return {
        "transId": t.trans_id,
        "clientId": t.client_id,
        "ccy": t.ccy,
        "amt": text(t.amt),
        "type": "0",
        "from": t.from_acct,
        "to": t.to_acct,
        "subAcct": "",
        "instId": "",
        "toInstId": "",
        "state": t.state,
    }


def trading_bill_row(b: Bill) -> dict[str, Any]:
    """One trading-account bill of a transfer ("Get bills details"): type 1 Transfer, subType
    11 Transfer in / 12 Transfer out; `sz` in the currency, signed as the balance change."""
    incoming = b.bal_chg > 0
    return {
        "instType": "",
        "billId": b.bill_id,
        "type": "1",
        "subType": "11" if incoming else "12",
        "ts": str(b.ts),
        "balChg": text(b.bal_chg),
        "posBalChg": "0",
        "bal": text(b.bal),
        "posBal": "0",
        "sz": text(b.bal_chg),
        "px": "",
        "ccy": b.ccy,
        "pnl": "0",
        "fee": "0",
        "mgnMode": "",
        "instId": "",
        "ordId": "",
        "execType": "",
        "from": b.transfer.from_acct,
        "to": b.transfer.to_acct,
        "notes": "From Funding Account" if incoming else "To Funding Account",
        "interest": "0",
        "tag": "",
        "fillTime": "",
        "tradeId": "",
        "clOrdId": "",
        "fillIdxPx": "",
        "fillMarkPx": "",
        "fillPxVol": "",
        "fillPxUsd": "",
        "fillMarkVol": "",
        "fillFwdPx": "",
    }


def funding_bill_row(b: Bill) -> dict[str, Any]:
    """One funding-account bill ("Asset bills details"): type 130 Transferred from Trading
    account, 131 Transferred to Trading account."""
    incoming = b.bal_chg > 0
    return {
        "billId": b.bill_id,
        "ccy": b.ccy,
        "clientId": b.transfer.client_id,
        "balChg": text(b.bal_chg),
        "bal": text(b.bal),
        "type": "130" if incoming else "131",
        "notes": "",
        "ts": str(b.ts),
    }
