"""The markets the fake lists, and its three `exchangeInfo` answers.

Field names and types follow Binance's "Exchange Information" pages:
- spot `GET /api/v3/exchangeInfo`
  (https://developers.binance.com/docs/binance-spot-api-docs/rest-api/general-endpoints)
- USD-M `GET /fapi/v1/exchangeInfo`
  (https://developers.binance.com/docs/derivatives/usds-margined-futures/market-data/rest-api/Exchange-Information)
- COIN-M `GET /dapi/v1/exchangeInfo`
  (https://developers.binance.com/docs/derivatives/coin-margined-futures/market-data/rest-api/Exchange-Information)
A perpetual's `deliveryDate` is 4133404800000 (2100-12-25), as Binance lists it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

USDM = "usdm"
COINM = "coinm"
PERPETUAL_DELIVERY = 4133404800000
ONBOARD = 1569398400000


@dataclass(frozen=True)
class SpotMarket:
    symbol: str
    base: str
    quote: str
    tick: str
    step: str


@dataclass(frozen=True)
class PerpMarket:
    symbol: str  # Binance's id: ETHUSDT, BTCUSD_PERP
    family: str  # USDM or COINM
    base: str
    quote: str
    margin_asset: str
    tick: str
    step: str
    contract_size: Decimal  # COIN-M: USD per contract; USD-M: 1 (quantity is in the base)
    maint_rate: Decimal  # first bracket's maintMarginRatio
    max_leverage: int

    @property
    def pair(self) -> str:
        return self.base + self.quote


SPOT_MARKETS = (
    SpotMarket("ETHUSDT", "ETH", "USDT", "0.01", "0.0001"),
    SpotMarket("SOLUSDT", "SOL", "USDT", "0.01", "0.001"),
    SpotMarket("BTCUSDT", "BTC", "USDT", "0.01", "0.00001"),
    SpotMarket("ADAUSDT", "ADA", "USDT", "0.0001", "0.1"),
)

PERP_MARKETS = (
    PerpMarket(
        "ETHUSDT", USDM, "ETH", "USDT", "USDT", "0.01", "0.001", Decimal(1), Decimal("0.005"), 125
    ),
    PerpMarket(
        "SOLUSDT", USDM, "SOL", "USDT", "USDT", "0.01", "0.01", Decimal(1), Decimal("0.005"), 75
    ),
    PerpMarket(
        "BTCUSDT", USDM, "BTC", "USDT", "USDT", "0.1", "0.001", Decimal(1), Decimal("0.004"), 125
    ),
    PerpMarket(
        "BTCUSD_PERP", COINM, "BTC", "USD", "BTC", "0.1", "1", Decimal(100), Decimal("0.004"), 125
    ),
    PerpMarket(
        "ADAUSD_PERP", COINM, "ADA", "USD", "ADA", "0.0001", "1", Decimal(10), Decimal("0.01"), 75
    ),
)

PERPS = {m.symbol: m for m in PERP_MARKETS}


def _decimals(step: str) -> int:
    return max(0, -Decimal(step).normalize().as_tuple().exponent)  # type: ignore[operator]


def spot_exchange_info(server_time: int) -> dict[str, Any]:
    symbols = []
    for m in SPOT_MARKETS:
        symbols.append(
            {
                "symbol": m.symbol,
                "status": "TRADING",
                "baseAsset": m.base,
                "baseAssetPrecision": 8,
                "quoteAsset": m.quote,
                "quotePrecision": 8,
                "quoteAssetPrecision": 8,
                "baseCommissionPrecision": 8,
                "quoteCommissionPrecision": 8,
                "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET"],
                "icebergAllowed": True,
                "ocoAllowed": True,
                "otoAllowed": True,
                "quoteOrderQtyMarketAllowed": True,
                "allowTrailingStop": False,
                "cancelReplaceAllowed": False,
                "isSpotTradingAllowed": True,
                "isMarginTradingAllowed": False,
                "filters": [
                    {
                        "filterType": "PRICE_FILTER",
                        "minPrice": m.tick,
                        "maxPrice": "1000000.00",
                        "tickSize": m.tick,
                    },
                    {
                        "filterType": "LOT_SIZE",
                        "minQty": m.step,
                        "maxQty": "90000",
                        "stepSize": m.step,
                    },
                    {
                        "filterType": "NOTIONAL",
                        "minNotional": "5.00",
                        "applyMinToMarket": True,
                        "maxNotional": "9000000.00",
                        "applyMaxToMarket": False,
                        "avgPriceMins": 5,
                    },
                ],
                "permissions": [],
                "permissionSets": [["SPOT"]],
                "defaultSelfTradePreventionMode": "NONE",
                "allowedSelfTradePreventionModes": ["NONE"],
            }
        )
    return {
        "timezone": "UTC",
        "serverTime": server_time,
        "rateLimits": [
            {
                "rateLimitType": "REQUEST_WEIGHT",
                "interval": "MINUTE",
                "intervalNum": 1,
                "limit": 6000,
            }
        ],
        "exchangeFilters": [],
        "symbols": symbols,
    }


def _perp_filters(m: PerpMarket) -> list[dict[str, Any]]:
    return [
        {
            "filterType": "PRICE_FILTER",
            "minPrice": m.tick,
            "maxPrice": "1000000",
            "tickSize": m.tick,
        },
        {"filterType": "LOT_SIZE", "minQty": m.step, "maxQty": "100000", "stepSize": m.step},
        {"filterType": "MARKET_LOT_SIZE", "minQty": m.step, "maxQty": "10000", "stepSize": m.step},
        {"filterType": "MAX_NUM_ORDERS", "limit": 200},
        {
            "filterType": "PERCENT_PRICE",
            "multiplierUp": "1.0500",
            "multiplierDown": "0.9500",
            "multiplierDecimal": "4",
        },
    ]


def futures_exchange_info(family: str, server_time: int) -> dict[str, Any]:
    symbols = []
    for m in PERP_MARKETS:
        if m.family != family:
            continue
        row: dict[str, Any] = {
            "symbol": m.symbol,
            "pair": m.pair,
            "contractType": "PERPETUAL",
            "deliveryDate": PERPETUAL_DELIVERY,
            "onboardDate": ONBOARD,
            "maintMarginPercent": "2.5000",
            "requiredMarginPercent": "5.0000",
            "baseAsset": m.base,
            "quoteAsset": m.quote,
            "marginAsset": m.margin_asset,
            "pricePrecision": _decimals(m.tick),
            "quantityPrecision": _decimals(m.step),
            "baseAssetPrecision": 8,
            "quotePrecision": 8,
            "underlyingType": "COIN",
            "underlyingSubType": [],
            "triggerProtect": "0.0500",
            "liquidationFee": "0.012500",
            "marketTakeBound": "0.05",
            "filters": _perp_filters(m),
            "orderTypes": ["LIMIT", "MARKET", "STOP", "STOP_MARKET"],
            "timeInForce": ["GTC", "IOC", "FOK", "GTX"],
        }
        if family == USDM:
            row["status"] = "TRADING"
            row["settlePlan"] = 0
            row["filters"].append({"filterType": "MIN_NOTIONAL", "notional": "5"})
        else:
            row["contractStatus"] = "TRADING"
            row["contractSize"] = int(m.contract_size)
            row["equalQtyPrecision"] = 4
        symbols.append(row)
    answer: dict[str, Any] = {
        "timezone": "UTC",
        "serverTime": server_time,
        "rateLimits": [
            {
                "rateLimitType": "REQUEST_WEIGHT",
                "interval": "MINUTE",
                "intervalNum": 1,
                "limit": 2400,
            }
        ],
        "exchangeFilters": [],
        "symbols": symbols,
    }
    if family == USDM:
        answer["futuresType"] = "U_MARGINED"
        answer["assets"] = [
            {"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "-10000"}
        ]
    return answer
