"""What the Bybit fake lists: spot and USDT-perpetual instruments in the shape of "Get
Instruments Info" (https://bybit-exchange.github.io/docs/v5/market/instrument), coins in the
shape of "Get Coin Info" (https://bybit-exchange.github.io/docs/v5/asset/coin-info), and the
per-perpetual risk figures the account's margin is computed from.

Every number is a string, as Bybit sends it."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

#: the venue's funding interval for the perpetuals listed here, minutes ("fundingInterval")
FUNDING_INTERVAL_MINUTES = 480


@dataclass(frozen=True)
class Perpetual:
    """A linear USDT perpetual: the tier-1 maintenance margin rate Bybit's risk-limit table
    gives for it (https://bybit-exchange.github.io/docs/v5/market/risk-limit), its tick and
    quantity steps."""

    symbol: str
    base: str
    tick: str
    qty_step: str
    min_qty: str
    max_qty: str
    max_leverage: str
    maint_rate: Decimal


@dataclass(frozen=True)
class Spot:
    symbol: str
    base: str
    tick: str
    base_precision: str
    min_qty: str
    max_qty: str


PERPETUALS: dict[str, Perpetual] = {
    p.symbol: p
    for p in (
        Perpetual(
            "BTCUSDT", "BTC", "0.10", "0.001", "0.001", "1190.000", "100.00", Decimal("0.005")
        ),
        Perpetual("ETHUSDT", "ETH", "0.01", "0.01", "0.01", "7240.00", "100.00", Decimal("0.005")),
    )
}

SPOTS: dict[str, Spot] = {
    s.symbol: s
    for s in (
        Spot("BTCUSDT", "BTC", "0.01", "0.000001", "0.000048", "71.73956243"),
        Spot("ETHUSDT", "ETH", "0.01", "0.00001", "0.00062", "1229.2336343"),
    )
}

#: a dated USDT future (contractType LinearFutures): listed, never held; stock ccxt claims
#: `has["future"]` for bybit and its validators look for one
DATED_FUTURE = "BTCUSDT-26JUN26"
DATED_FUTURE_DELIVERY_MS = 1_782_460_800_000  # 2026-06-26 08:00 UTC

#: coins the fake knows, with the accuracy of their main chain ("minAccuracy")
COINS: dict[str, tuple[str, str]] = {
    "USDT": ("Tether USDT", "8"),
    "USDC": ("USD Coin", "8"),
    "BTC": ("Bitcoin", "8"),
    "ETH": ("Ethereum", "8"),
}


def perpetual_row(p: Perpetual, launched_ms: int) -> dict[str, Any]:
    """One `category=linear` entry, the documented fields."""
    return {
        "symbol": p.symbol,
        "contractType": "LinearPerpetual",
        "status": "Trading",
        "baseCoin": p.base,
        "quoteCoin": "USDT",
        "launchTime": str(launched_ms),
        "deliveryTime": "0",
        "deliveryFeeRate": "",
        "priceScale": str(len(p.tick.split(".")[1])),
        "leverageFilter": {
            "minLeverage": "1",
            "maxLeverage": p.max_leverage,
            "leverageStep": "0.01",
        },
        "priceFilter": {"minPrice": p.tick, "maxPrice": "1999999.80", "tickSize": p.tick},
        "lotSizeFilter": {
            "maxOrderQty": p.max_qty,
            "minOrderQty": p.min_qty,
            "qtyStep": p.qty_step,
            "postOnlyMaxOrderQty": p.max_qty,
            "maxMktOrderQty": p.max_qty,
            "minNotionalValue": "5",
        },
        "unifiedMarginTrade": True,
        "fundingInterval": FUNDING_INTERVAL_MINUTES,
        "settleCoin": "USDT",
        "copyTrading": "both",
        "upperFundingRate": "0.005",
        "lowerFundingRate": "-0.005",
        "isPreListing": False,
        "preListingInfo": None,
        "riskParameters": {"priceLimitRatioX": "0.01", "priceLimitRatioY": "0.02"},
        "symbolType": "",
    }


def dated_future_row(launched_ms: int) -> dict[str, Any]:
    """The dated future's entry: a perpetual's fields with its contract type and delivery."""
    row = perpetual_row(PERPETUALS["BTCUSDT"], launched_ms)
    row.update(
        symbol=DATED_FUTURE,
        contractType="LinearFutures",
        deliveryTime=str(DATED_FUTURE_DELIVERY_MS),
        deliveryFeeRate="0.0005",
        fundingInterval=0,
    )
    return row


def spot_row(s: Spot) -> dict[str, Any]:
    """One `category=spot` entry, the documented fields."""
    return {
        "symbol": s.symbol,
        "baseCoin": s.base,
        "quoteCoin": "USDT",
        "innovation": "0",
        "status": "Trading",
        "marginTrading": "utaOnly",
        "stTag": "0",
        "lotSizeFilter": {
            "basePrecision": s.base_precision,
            "quotePrecision": "0.00000001",
            "minOrderQty": s.min_qty,
            "maxOrderQty": s.max_qty,
            "minOrderAmt": "5",
            "maxOrderAmt": "8000000",
        },
        "priceFilter": {"tickSize": s.tick},
        "riskParameters": {"priceLimitRatioX": "0.005", "priceLimitRatioY": "0.01"},
        "symbolType": "",
    }


def coin_row(coin: str) -> dict[str, Any]:
    """One "Get Coin Info" row: the coin and its main chain."""
    name, accuracy = COINS[coin]
    chain = {"BTC": "BTC", "ETH": "ETH"}.get(coin, "ETH")
    return {
        "name": name,
        "coin": coin,
        "remainAmount": "1000000",
        "chains": [
            {
                "chainType": chain,
                "confirmation": "6",
                "withdrawFee": "0.0005" if coin == "BTC" else "1",
                "depositMin": "0",
                "withdrawMin": "0.001" if coin == "BTC" else "2",
                "chain": chain,
                "chainDeposit": "1",
                "chainWithdraw": "1",
                "minAccuracy": accuracy,
                "withdrawPercentageFee": "0",
                "contractAddress": "",
                "safeConfirmNumber": "6",
            }
        ],
    }
