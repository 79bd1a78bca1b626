"""ccxt's `features` of an exchange class that only reads: markets, balances, positions, rates.

`features` says which parameters each order and order-history method takes per market type
(ccxt's `test_features` checks its structure). A read-only class has none of those methods, so
every block is None ("not supported") but `createOrder`: ccxt's constructor
(`features_generator`) writes into that block, so it cannot be None; it is a block with every
capability False, which reads the same way (`has['createOrder']` is False besides).
"""

from __future__ import annotations

from typing import Any

#: every order method `features` describes, none of which a read-only class has
ORDER_METHODS = (
    "createOrders",
    "fetchMyTrades",
    "fetchOrder",
    "fetchOpenOrders",
    "fetchOrders",
    "fetchClosedOrders",
    "fetchOHLCV",
)


def no_create_order(*, hedged: bool) -> dict[str, Any]:
    """A `createOrder` block with every capability False."""
    trigger_types = {"last": False, "mark": False, "index": False}
    return {
        "marginMode": False,
        "triggerPrice": False,
        "triggerPriceType": dict(trigger_types),
        "triggerDirection": False,
        "stopLossPrice": False,
        "takeProfitPrice": False,
        "attachedStopLossTakeProfit": {"triggerPriceType": dict(trigger_types), "price": False},
        "timeInForce": {"GTC": False, "IOC": False, "FOK": False, "PO": False, "GTD": False},
        "hedged": hedged,
        "trailing": False,
        "leverage": False,
        "marketBuyRequiresPrice": False,
        "marketBuyByCost": False,
        "selfTradePrevention": False,
        "iceberg": False,
    }


def read_only_block() -> dict[str, Any]:
    """The features of one market type of a read-only class: no sandbox, no order methods."""
    block: dict[str, Any] = {"sandbox": False, "createOrder": no_create_order(hedged=False)}
    block.update(dict.fromkeys(ORDER_METHODS))
    return block


def read_only_features(*, spot: bool, linear_swap: bool) -> dict[str, Any]:
    """`describe()['features']` for the market types the class lists (absent types are left
    out, so ccxt reports them as None)."""
    features: dict[str, Any] = {}
    if spot:
        features["spot"] = read_only_block()
    if linear_swap:
        features["swap"] = {"linear": read_only_block(), "inverse": None}
    return features
