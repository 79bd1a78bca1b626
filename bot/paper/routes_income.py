"""Funding payments on the paper exchange: the income history endpoints and the test hook that
books a funding payment.

`GET /fapi/v1/income` (USD-M) and `GET /dapi/v1/income` (COIN-M) answer Binance's documented
shape ("Get Income History (USER_DATA)": symbol, incomeType, income with 8 decimals, asset,
info, time, tranId, tradeId; COIN-M's tranId is a string), filtered by symbol, incomeType,
startTime and endTime, oldest first, at most `limit` (default 100, at most 1000) rows.

`POST /_paper/funding` ({"symbol": "ETHUSDT"}, optional: every open position) books one funding
payment per position at the symbol's current rate and mark, as a funding time would: the short
of a positive rate receives `|notional| × rate`; the futures wallet balance moves by it.

The income rows live beside the paper state file (`<state>.income.json`), or in memory for an
in-memory store, so the paper state's own format is unchanged.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from bot.paper.accounting import notional
from bot.paper.model import FuturesBalance, MarketKind, PaperState
from bot.paper.routes_funding import record_settlements
from bot.paper.routing import Call, Endpoint, int_param, symbol_filter
from bot.paper.side_log import SideLog
from bot.paper.state import StateStore
from bot.paper.wire import BinanceError, fmt8

EIGHT = Decimal("0.00000001")
DEFAULT_LIMIT, MAX_LIMIT = 100, 1000
FIRST_INCOME_ID = 9_689_322_392  # Binance's documented example id, counted up from there
INCOME = SideLog("income")
_lock = threading.Lock()


def book_funding(store: StateStore, now: int, symbol: str | None = None) -> list[dict[str, Any]]:
    """Book one funding payment per open perpetual position (or `symbol`'s): the income rows
    added, and the wallet balances moved, in one step. The funding time is also recorded for
    every perpetual (or `symbol`), held or not: the funding rate history."""
    with _lock:
        state = store.state
        settled = state
        rows = INCOME.load(store)
        next_id = max((int(r["tranId"]) for r in rows), default=FIRST_INCOME_ID - 1) + 1
        added: list[dict[str, Any]] = []
        for position in state.positions:
            if symbol is not None and position.symbol != symbol:
                continue
            if position.amount == 0 or position.symbol not in state.funding:
                continue
            market = state.market(position.kind, position.symbol)
            if market is None or market.margin_asset is None:
                continue
            rate = state.funding[position.symbol].rate
            signed = notional(
                position.kind,
                position.amount,
                state.mark_price(position.symbol),
                market.contract_size,
            )
            income = (-signed * rate).quantize(EIGHT, rounding=ROUND_HALF_EVEN)
            if income == 0:
                continue
            state = _credit(state, position.kind, market.margin_asset, income, now)
            added.append(
                {
                    "symbol": position.symbol,
                    "incomeType": "FUNDING_FEE",
                    "income": fmt8(income),
                    "asset": market.margin_asset,
                    "info": "FUNDING_FEE",
                    "time": now,
                    "tranId": next_id,
                    "tradeId": "",
                    "kind": position.kind.value,
                }
            )
            next_id += 1
        known = {m.symbol for m in state.markets if m.kind != MarketKind.SPOT}
        if symbol is not None and symbol not in known:
            raise KeyError(f"unknown perpetual {symbol!r}")
        record_settlements(store, settled, now, symbol)
        if added:
            INCOME.save(store, rows + added)
            store.commit(state, reason="FUNDING_FEE")
        return added


def _credit(
    state: PaperState, kind: MarketKind, asset: str, income: Decimal, now: int
) -> PaperState:
    wallets = dict(state.usdm if kind == MarketKind.LINEAR else state.coinm)
    current = wallets.get(asset, FuturesBalance(wallet_balance=Decimal(0), update_time=now))
    wallets[asset] = FuturesBalance(wallet_balance=current.wallet_balance + income, update_time=now)
    if kind == MarketKind.LINEAR:
        return replace(state, usdm=wallets)
    return replace(state, coinm=wallets)


def _income_history(call: Call, kind: MarketKind) -> list[dict[str, Any]]:
    symbol = symbol_filter(call, kind)
    income_type = call.params.get("incomeType") or None
    start = int_param(call, "startTime")
    end = int_param(call, "endTime")
    limit = int_param(call, "limit") or DEFAULT_LIMIT
    if not 1 <= limit <= MAX_LIMIT:
        raise BinanceError(400, -1130, "Data sent for parameter 'limit' is not valid.")
    rows = []
    for row in INCOME.load(call.store):
        if row["kind"] != kind.value:
            continue
        if symbol is not None and row["symbol"] != symbol:
            continue
        if income_type is not None and row["incomeType"] != income_type:
            continue
        if start is not None and row["time"] < start:
            continue
        if end is not None and row["time"] > end:
            continue
        shaped = {k: v for k, v in row.items() if k != "kind"}
        if kind == MarketKind.INVERSE:
            shaped["tranId"] = str(shaped["tranId"])  # COIN-M documents it as a string
        rows.append(shaped)
    return rows[:limit]


def usdm_income(call: Call) -> Any:
    return _income_history(call, MarketKind.LINEAR)


def coinm_income(call: Call) -> Any:
    return _income_history(call, MarketKind.INVERSE)


ENDPOINTS = (
    Endpoint("GET", "/fapi/v1/income", usdm_income, signed=True, weight=30),
    Endpoint("GET", "/dapi/v1/income", coinm_income, signed=True, weight=20),
)
