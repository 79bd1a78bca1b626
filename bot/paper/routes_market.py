"""Public market data: server time, exchange info, mark prices and funding, tickers.

Shapes follow Binance's spot (/api/v3), USD-M (/fapi) and COIN-M (/dapi) docs; ccxt's
`parse_market` reads the filters for precision and limits.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from bot.paper.model import (
    PERPETUAL_DELIVERY_DATE,
    Market,
    MarketKind,
    next_funding_boundary,
    quarterly_deliveries,
)
from bot.paper.routing import Call, Endpoint, symbol_filter
from bot.paper.wire import fmt8, plain

INTEREST_RATE = Decimal("0.0001")


def _rate_limits(weight_limit: int) -> list[dict[str, Any]]:
    return [
        {
            "rateLimitType": "REQUEST_WEIGHT",
            "interval": "MINUTE",
            "intervalNum": 1,
            "limit": weight_limit,
        },
        {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
    ]


def _price_filter(market: Market) -> dict[str, Any]:
    return {
        "filterType": "PRICE_FILTER",
        "minPrice": plain(market.tick_size),
        "maxPrice": "1000000",
        "tickSize": plain(market.tick_size),
    }


def _lot_size(market: Market, filter_type: str = "LOT_SIZE") -> dict[str, Any]:
    return {
        "filterType": filter_type,
        "minQty": plain(market.min_qty),
        "maxQty": plain(market.max_qty),
        "stepSize": plain(market.step_size),
    }


def spot_symbol(market: Market) -> dict[str, Any]:
    return {
        "symbol": market.symbol,
        "status": "TRADING",
        "baseAsset": market.base,
        "baseAssetPrecision": 8,
        "quoteAsset": market.quote,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "baseCommissionPrecision": 8,
        "quoteCommissionPrecision": 8,
        "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"],
        "icebergAllowed": True,
        "ocoAllowed": True,
        "quoteOrderQtyMarketAllowed": True,
        "allowTrailingStop": True,
        "cancelReplaceAllowed": True,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": True,
        "filters": [
            _price_filter(market),
            _lot_size(market),
            {"filterType": "ICEBERG_PARTS", "limit": 10},
            _lot_size(market, "MARKET_LOT_SIZE"),
            {
                "filterType": "NOTIONAL",
                "minNotional": plain(market.min_notional),
                "applyMinToMarket": True,
                "maxNotional": "9000000",
                "applyMaxToMarket": False,
                "avgPriceMins": 5,
            },
            {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 200},
        ],
        "permissions": [],
        "permissionSets": [["SPOT", "MARGIN"]],
        "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
    }


def _contract_filters(market: Market) -> list[dict[str, Any]]:
    filters = [
        _price_filter(market),
        _lot_size(market),
        _lot_size(market, "MARKET_LOT_SIZE"),
        {"filterType": "MAX_NUM_ORDERS", "limit": 200},
        {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
        {
            "filterType": "PERCENT_PRICE",
            "multiplierUp": "1.0500",
            "multiplierDown": "0.9500",
            "multiplierDecimal": "4",
        },
    ]
    if market.kind == MarketKind.LINEAR:
        filters.append({"filterType": "MIN_NOTIONAL", "notional": plain(market.min_notional)})
    return filters


def contract_terms(market: Market, now: int) -> tuple[str, int, str]:
    """`contractType`, `deliveryDate` and status of a futures market at `now`: a perpetual never
    delivers; a dated future is CURRENT_QUARTER until the first quarterly delivery, NEXT_QUARTER
    before the second, and once its time has passed it is SETTLING with no contract type (the
    paper does not roll a new quarter into a saved account; a new account lists the current
    one)."""
    if market.delivery_date is None:
        return "PERPETUAL", PERPETUAL_DELIVERY_DATE, "TRADING"
    current, following = quarterly_deliveries(now)
    if market.delivery_date == current:
        return "CURRENT_QUARTER", market.delivery_date, "TRADING"
    if market.delivery_date == following:
        return "NEXT_QUARTER", market.delivery_date, "TRADING"
    return "", market.delivery_date, "SETTLING"


def linear_symbol(market: Market, now: int) -> dict[str, Any]:
    contract_type, delivery, status = contract_terms(market, now)
    return {
        "symbol": market.symbol,
        "pair": market.pair,
        "contractType": contract_type,
        "deliveryDate": delivery,
        "onboardDate": market.onboard_date,
        "status": status,
        "maintMarginPercent": "2.5000",
        "requiredMarginPercent": "5.0000",
        "baseAsset": market.base,
        "quoteAsset": market.quote,
        "marginAsset": market.margin_asset,
        "pricePrecision": market.price_precision,
        "quantityPrecision": market.quantity_precision,
        "baseAssetPrecision": 8,
        "quotePrecision": 8,
        "underlyingType": "COIN",
        "underlyingSubType": ["Layer-1"],
        "triggerProtect": "0.0500",
        "liquidationFee": "0.012500",
        "marketTakeBound": "0.05",
        "maxMoveOrderLimit": 10000,
        "filters": _contract_filters(market),
        "orderTypes": [
            "LIMIT",
            "MARKET",
            "STOP",
            "STOP_MARKET",
            "TAKE_PROFIT",
            "TAKE_PROFIT_MARKET",
            "TRAILING_STOP_MARKET",
        ],
        "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"],
    }


def inverse_symbol(market: Market, now: int) -> dict[str, Any]:
    contract_type, delivery, status = contract_terms(market, now)
    return {
        "symbol": market.symbol,
        "pair": market.pair,
        "contractType": contract_type,
        "deliveryDate": delivery,
        "onboardDate": market.onboard_date,
        "contractStatus": status,
        "contractSize": int(market.contract_size)
        if market.contract_size == market.contract_size.to_integral_value()
        else market.contract_size,
        "marginAsset": market.margin_asset,
        "maintMarginPercent": "2.5000",
        "requiredMarginPercent": "5.0000",
        "baseAsset": market.base,
        "quoteAsset": market.quote,
        "pricePrecision": market.price_precision,
        "quantityPrecision": market.quantity_precision,
        "baseAssetPrecision": 8,
        "quotePrecision": 8,
        "equalQtyPrecision": 4,
        "maxMoveOrderLimit": 10000,
        "triggerProtect": "0.0500",
        "underlyingType": "COIN",
        "underlyingSubType": [],
        "liquidationFee": "0.015000",
        "marketTakeBound": "0.05",
        "filters": _contract_filters(market),
        "orderTypes": [
            "LIMIT",
            "MARKET",
            "STOP",
            "STOP_MARKET",
            "TAKE_PROFIT",
            "TAKE_PROFIT_MARKET",
            "TRAILING_STOP_MARKET",
        ],
        "timeInForce": ["GTC", "IOC", "FOK", "GTX"],
    }


def server_time(call: Call) -> dict[str, Any]:
    return {"serverTime": call.now}


def ping(call: Call) -> dict[str, Any]:
    return {}


def system_status(call: Call) -> dict[str, Any]:
    return {"status": 0, "msg": "normal"}


def spot_exchange_info(call: Call) -> dict[str, Any]:
    markets = call.state.markets_of(MarketKind.SPOT)
    symbol = symbol_filter(call, MarketKind.SPOT)
    return {
        "timezone": "UTC",
        "serverTime": call.now,
        "rateLimits": _rate_limits(6000),
        "exchangeFilters": [],
        "symbols": [spot_symbol(m) for m in markets if symbol in (None, m.symbol)],
    }


def linear_exchange_info(call: Call) -> dict[str, Any]:
    markets = call.state.markets_of(MarketKind.LINEAR)
    assets = sorted({m.margin_asset for m in markets if m.margin_asset} | set(call.state.usdm))
    return {
        "timezone": "UTC",
        "serverTime": call.now,
        "futuresType": "U_MARGINED",
        "rateLimits": _rate_limits(2400),
        "exchangeFilters": [],
        "assets": [
            {"asset": asset, "marginAvailable": True, "autoAssetExchange": "-10000"}
            for asset in assets
        ],
        "symbols": [linear_symbol(m, call.now) for m in markets],
    }


def inverse_exchange_info(call: Call) -> dict[str, Any]:
    return {
        "timezone": "UTC",
        "serverTime": call.now,
        "rateLimits": _rate_limits(2400),
        "exchangeFilters": [],
        "symbols": [inverse_symbol(m, call.now) for m in call.state.markets_of(MarketKind.INVERSE)],
    }


def _next_funding_time(call: Call, symbol: str) -> tuple[Decimal | None, int]:
    """The rate and next funding time; (None, 0) for a market that pays no funding (a dated
    future: Binance sends an empty rate and time 0 for those)."""
    funding = call.state.funding.get(symbol)
    if funding is None:
        return None, 0
    next_time = funding.next_funding_time
    if next_time <= call.now:  # the stored time has passed: roll onto the grid
        next_time = next_funding_boundary(call.now, funding.interval_hours)
    return funding.rate, next_time


def _premium_entry(call: Call, market: Market) -> dict[str, Any]:
    mark = call.state.mark_price(market.symbol)
    rate, next_time = _next_funding_time(call, market.symbol)
    entry: dict[str, Any] = {"symbol": market.symbol}
    if market.kind == MarketKind.INVERSE:
        entry["pair"] = market.pair
    entry.update(
        {
            "markPrice": fmt8(mark),
            "indexPrice": fmt8(mark),
            "estimatedSettlePrice": fmt8(mark),
            "lastFundingRate": "" if rate is None else fmt8(rate),
            "interestRate": "" if rate is None else fmt8(INTEREST_RATE),
            "nextFundingTime": next_time,
            "time": call.now,
        }
    )
    return entry


def linear_premium_index(call: Call) -> Any:
    symbol = symbol_filter(call, MarketKind.LINEAR)
    markets = call.state.markets_of(MarketKind.LINEAR)
    if symbol is not None:
        market = call.state.market(MarketKind.LINEAR, symbol)
        assert market is not None
        return _premium_entry(call, market)
    return [_premium_entry(call, m) for m in markets]


def inverse_premium_index(call: Call) -> Any:
    """COIN-M answers a list even for one symbol; `pair` selects a pair's contracts."""
    symbol = symbol_filter(call, MarketKind.INVERSE)
    pair = call.params.get("pair")
    return [
        _premium_entry(call, m)
        for m in call.state.markets_of(MarketKind.INVERSE)
        if symbol in (None, m.symbol) and pair in (None, "", m.pair)
    ]


def _ticker_24hr(call: Call, market: Market) -> dict[str, Any]:
    mark = call.state.mark_price(market.symbol)
    last = fmt8(mark)
    entry: dict[str, Any] = {"symbol": market.symbol}
    if market.kind == MarketKind.INVERSE:
        entry["pair"] = market.pair
    entry.update(
        {
            "priceChange": "0.00000000",
            "priceChangePercent": "0.000",
            "weightedAvgPrice": last,
        }
    )
    if market.kind == MarketKind.SPOT:
        entry.update(
            {
                "prevClosePrice": last,
                "lastPrice": last,
                "lastQty": "0.00000000",
                "bidPrice": last,
                "bidQty": "0.00000000",
                "askPrice": last,
                "askQty": "0.00000000",
            }
        )
    else:
        entry.update({"lastPrice": last, "lastQty": "0"})
    entry.update({"openPrice": last, "highPrice": last, "lowPrice": last, "volume": "0"})
    if market.kind == MarketKind.INVERSE:
        entry["baseVolume"] = "0"
    else:
        entry["quoteVolume"] = "0"
    entry.update(
        {
            "openTime": call.now - 86_400_000,
            "closeTime": call.now,
            "firstId": -1,
            "lastId": -1,
            "count": 0,
        }
    )
    return entry


def _tickers(
    call: Call,
    kind: MarketKind,
    render: Callable[[Call, Market], dict[str, Any]],
    *,
    always_list: bool = False,
) -> Any:
    symbol = symbol_filter(call, kind)
    markets = [m for m in call.state.markets_of(kind) if symbol in (None, m.symbol)]
    if symbol is not None and not always_list:
        return render(call, markets[0])
    return [render(call, m) for m in markets]


def _price_entry(call: Call, market: Market) -> dict[str, Any]:
    entry: dict[str, Any] = {"symbol": market.symbol}
    if market.kind == MarketKind.INVERSE:
        entry["ps"] = market.pair
    entry["price"] = fmt8(call.state.mark_price(market.symbol))
    if market.kind != MarketKind.SPOT:
        entry["time"] = call.now
    return entry


def spot_ticker_24hr(call: Call) -> Any:
    return _tickers(call, MarketKind.SPOT, _ticker_24hr)


def linear_ticker_24hr(call: Call) -> Any:
    return _tickers(call, MarketKind.LINEAR, _ticker_24hr)


def inverse_ticker_24hr(call: Call) -> Any:
    return _tickers(call, MarketKind.INVERSE, _ticker_24hr, always_list=True)


def spot_ticker_price(call: Call) -> Any:
    return _tickers(call, MarketKind.SPOT, _price_entry)


def linear_ticker_price(call: Call) -> Any:
    return _tickers(call, MarketKind.LINEAR, _price_entry)


def inverse_ticker_price(call: Call) -> Any:
    return _tickers(call, MarketKind.INVERSE, _price_entry, always_list=True)


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("GET", "/api/v3/ping", ping),
    Endpoint("GET", "/fapi/v1/ping", ping),
    Endpoint("GET", "/dapi/v1/ping", ping),
    Endpoint("GET", "/api/v3/time", server_time),
    Endpoint("GET", "/fapi/v1/time", server_time),
    Endpoint("GET", "/dapi/v1/time", server_time),
    Endpoint("GET", "/sapi/v1/system/status", system_status),
    Endpoint("GET", "/api/v3/exchangeInfo", spot_exchange_info, weight=20),
    Endpoint("GET", "/fapi/v1/exchangeInfo", linear_exchange_info),
    Endpoint("GET", "/dapi/v1/exchangeInfo", inverse_exchange_info),
    Endpoint("GET", "/fapi/v1/premiumIndex", linear_premium_index),
    Endpoint("GET", "/dapi/v1/premiumIndex", inverse_premium_index, weight=10),
    Endpoint("GET", "/api/v3/ticker/24hr", spot_ticker_24hr, weight=2),
    Endpoint("GET", "/fapi/v1/ticker/24hr", linear_ticker_24hr),
    Endpoint("GET", "/dapi/v1/ticker/24hr", inverse_ticker_24hr),
    Endpoint("GET", "/api/v3/ticker/price", spot_ticker_price, weight=2),
    Endpoint("GET", "/fapi/v1/ticker/price", linear_ticker_price),
    Endpoint("GET", "/fapi/v2/ticker/price", linear_ticker_price),
    Endpoint("GET", "/dapi/v1/ticker/price", inverse_ticker_price),
)
