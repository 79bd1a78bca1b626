"""Spot account (GET /api/v3/account): free and locked balance per asset."""

from __future__ import annotations

from typing import Any

from bot.paper.routing import Call, Endpoint
from bot.paper.wire import fmt8

PAPER_UID = "100000001"


def spot_account(call: Call) -> dict[str, Any]:
    state = call.state
    omit_zero = call.params.get("omitZeroBalances", "false").lower() == "true"
    balances = [
        {"asset": asset, "free": fmt8(balance.free), "locked": fmt8(balance.locked)}
        for asset, balance in state.spot.items()
        if not (omit_zero and balance.free.is_zero() and balance.locked.is_zero())
    ]
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
        "updateTime": state.spot_update_time,
        "accountType": "SPOT",
        "balances": balances,
        "permissions": ["SPOT"],
        "uid": int(PAPER_UID),
    }


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("GET", "/api/v3/account", spot_account, signed=True, weight=20),
)
