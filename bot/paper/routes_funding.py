"""Funding rate history: `GET /fapi/v1/fundingRate` (USD-M) and `GET /dapi/v1/fundingRate`
(COIN-M), in Binance's documented shape ("Get Funding Rate History": symbol, fundingRate with 8
decimals, fundingTime, markPrice), oldest first.

The history is the paper's own: one row per perpetual at each funding time the paper booked
(`book_funding`, i.e. `POST /_paper/funding` or `bot paper funding`), holding the rate and mark
that settlement used. It is market-wide like Binance's (a settlement of every perpetual, held
or not, when no symbol is named), but it starts at the paper account's first booked funding:
an account that never booked one answers `[]`, as Binance does for a contract before its first
funding time. Nothing is made up, so the history always agrees with the income rows.

Parameters as Binance documents them: `symbol` (optional on USD-M, mandatory on COIN-M),
`startTime`, `endTime`, `limit` (default 100, at most 1000). Without `startTime` the most recent
`limit` rows are answered; with it, the first `limit` rows from it.

The rows live beside the paper state file (`<state>.funding.json`), or in memory for an
in-memory store, so the paper state's own format is unchanged.

`GET /fapi/v1/fundingInfo` and `GET /dapi/v1/fundingInfo` ("Get Funding Rate Info"): as Binance
documents, only the symbols whose funding is adjusted, here those whose interval is not the
default 8 hours (the paper's `interval_hours`), each as symbol, adjustedFundingRateCap,
adjustedFundingRateFloor, fundingIntervalHours (a JSON number) and disclaimer.
"""

from __future__ import annotations

from typing import Any

from bot.paper.model import FUNDING_INTERVAL_HOURS, MarketKind, PaperState
from bot.paper.routing import Call, Endpoint, int_param, symbol_filter
from bot.paper.side_log import SideLog
from bot.paper.state import StateStore
from bot.paper.wire import BinanceError, fmt8, mandatory_missing

DEFAULT_LIMIT, MAX_LIMIT = 100, 1000
SETTLEMENTS = SideLog("funding")


def record_settlements(
    store: StateStore, state: PaperState, now: int, symbol: str | None = None
) -> None:
    """Add a row per perpetual (or `symbol`'s) settled at `now`, at its current rate and mark.
    The caller holds the income lock (`book_funding`), so rows are never written twice."""
    rows = [
        {
            "kind": market.kind.value,
            "symbol": market.symbol,
            "fundingRate": fmt8(state.funding[market.symbol].rate),
            "fundingTime": now,
            "markPrice": fmt8(state.mark_price(market.symbol)),
        }
        for market in state.markets
        if market.perpetual and market.symbol in state.funding and symbol in (None, market.symbol)
    ]
    if not rows:
        return
    SETTLEMENTS.save(store, SETTLEMENTS.load(store) + rows)


def _history(call: Call, kind: MarketKind, *, symbol_required: bool) -> list[dict[str, Any]]:
    symbol = symbol_filter(call, kind)
    if symbol is None and symbol_required:
        raise mandatory_missing("symbol")
    start = int_param(call, "startTime")
    end = int_param(call, "endTime")
    limit = int_param(call, "limit") or DEFAULT_LIMIT
    if not 1 <= limit <= MAX_LIMIT:
        raise BinanceError(400, -1130, "Data sent for parameter 'limit' is not valid.")
    rows = [
        {key: row[key] for key in ("symbol", "fundingRate", "fundingTime", "markPrice")}
        for row in SETTLEMENTS.load(call.store)
        if row["kind"] == kind.value
        and symbol in (None, row["symbol"])
        and (start is None or row["fundingTime"] >= start)
        and (end is None or row["fundingTime"] <= end)
    ]
    return rows[:limit] if start is not None else rows[-limit:]


def usdm_funding_rate(call: Call) -> Any:
    return _history(call, MarketKind.LINEAR, symbol_required=False)


def coinm_funding_rate(call: Call) -> Any:
    return _history(call, MarketKind.INVERSE, symbol_required=True)


#: the paper's funding rate bounds, as Binance answers them for most USD-M symbols
RATE_CAP, RATE_FLOOR = "0.02000000", "-0.02000000"


def _funding_info(call: Call, kind: MarketKind) -> list[dict[str, Any]]:
    return [
        {
            "symbol": market.symbol,
            "adjustedFundingRateCap": RATE_CAP,
            "adjustedFundingRateFloor": RATE_FLOOR,
            "fundingIntervalHours": funding.interval_hours,
            "disclaimer": False,
        }
        for market in call.state.markets_of(kind)
        if (funding := call.state.funding.get(market.symbol)) is not None
        and funding.interval_hours != FUNDING_INTERVAL_HOURS
    ]


def usdm_funding_info(call: Call) -> Any:
    return _funding_info(call, MarketKind.LINEAR)


def coinm_funding_info(call: Call) -> Any:
    return _funding_info(call, MarketKind.INVERSE)


ENDPOINTS = (
    Endpoint("GET", "/fapi/v1/fundingRate", usdm_funding_rate),
    Endpoint("GET", "/dapi/v1/fundingRate", coinm_funding_rate),
    Endpoint("GET", "/fapi/v1/fundingInfo", usdm_funding_info),
    Endpoint("GET", "/dapi/v1/fundingInfo", coinm_funding_info),
)
