"""Wallet endpoints under /sapi: universal transfer and its history, coin configuration,
margin pair lists and API-key restrictions (the last three are read by ccxt's load_markets or
useful to a bot checking its permissions)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_DOWN, Decimal, localcontext
from typing import Any

from bot.paper.limits import LimitKind
from bot.paper.model import MarketKind, PaperState
from bot.paper.routing import Call, Endpoint
from bot.paper.transfers import apply_transfer, known_assets, query_transfers
from bot.paper.wire import EIGHT_PLACES, plain

# Every network accepts 8 decimals, matching what universal transfer accepts, so ccxt's
# currency precision (derived from withdrawIntegerMultiple) rounds transfers to a valid amount.
WITHDRAW_MULTIPLE = "0.00000001"
NETWORK_NAMES: Mapping[str, str] = {
    "ETH": "Ethereum (ERC20)",
    "BSC": "BNB Smart Chain (BEP20)",
    "TRX": "Tron (TRC20)",
    "BTC": "Bitcoin",
}
COIN_NETWORKS: Mapping[str, tuple[tuple[str, str, str], ...]] = {
    # coin: ((network, withdraw fee, withdraw min), ...); the first network is the default
    "USDT": (("ETH", "3.2", "6.4"), ("TRX", "1", "10"), ("BSC", "0.29", "0.58")),
    "BTC": (("BTC", "0.00002", "0.0001"), ("BSC", "0.0000021", "0.0000042")),
    "ETH": (("ETH", "0.00042", "0.00084"), ("BSC", "0.000021", "0.000042")),
}
COIN_NAMES: Mapping[str, str] = {"USDT": "TetherUS", "BTC": "Bitcoin", "ETH": "Ethereum"}
API_KEY_CREATED = 1700000000000


def _network(coin: str, network: str, fee: str, minimum: str, default: bool) -> dict[str, Any]:
    return {
        "network": network,
        "coin": coin,
        "withdrawIntegerMultiple": WITHDRAW_MULTIPLE,
        "isDefault": default,
        "depositEnable": True,
        "withdrawEnable": True,
        "depositDesc": "",
        "withdrawDesc": "",
        "specialTips": "",
        "specialWithdrawTips": "",
        "name": NETWORK_NAMES.get(network, network),
        "resetAddressStatus": False,
        "addressRegex": "^(0x)[0-9A-Fa-f]{40}$",
        "memoRegex": "",
        "withdrawFee": fee,
        "withdrawMin": minimum,
        "withdrawMax": "9999999999.99999999",
        "withdrawInternalMin": WITHDRAW_MULTIPLE,
        "depositDust": "0.00000001",
        "minConfirm": 12,
        "unLockConfirm": 0,
        "sameAddress": False,
        "estimatedArrivalTime": 5,
        "busy": False,
        "contractAddressUrl": "",
        "contractAddress": "",
    }


def capital_config(call: Call) -> list[dict[str, Any]]:
    state = call.state
    result = []
    for coin in sorted(known_assets(state)):
        spot = state.spot.get(coin)
        networks = COIN_NETWORKS.get(coin, ((coin, "0", "0"),))
        result.append(
            {
                "coin": coin,
                "depositAllEnable": True,
                "withdrawAllEnable": True,
                "name": COIN_NAMES.get(coin, coin),
                "free": plain(spot.free) if spot else "0",
                "locked": plain(spot.locked) if spot else "0",
                "freeze": "0",
                "withdrawing": "0",
                "ipoing": "0",
                "ipoable": "0",
                "storage": "0",
                "isLegalMoney": False,
                "trading": True,
                "networkList": [
                    _network(coin, network, fee, minimum, index == 0)
                    for index, (network, fee, minimum) in enumerate(networks)
                ],
            }
        )
    return result


def margin_all_pairs(call: Call) -> list[dict[str, Any]]:
    return [
        {
            "id": str(351637150141315861 + index),
            "symbol": market.symbol,
            "base": market.base,
            "quote": market.quote,
            "isMarginTrade": True,
            "isBuyAllowed": True,
            "isSellAllowed": True,
        }
        for index, market in enumerate(call.state.markets_of(MarketKind.SPOT))
    ]


def margin_isolated_all_pairs(call: Call) -> list[dict[str, Any]]:
    return [
        {
            "symbol": market.symbol,
            "base": market.base,
            "quote": market.quote,
            "isMarginTrade": True,
            "isBuyAllowed": True,
            "isSellAllowed": True,
        }
        for market in call.state.markets_of(MarketKind.SPOT)
    ]


def api_restrictions(call: Call) -> dict[str, Any]:
    return {
        "ipRestrict": False,
        "createTime": API_KEY_CREATED,
        "enableReading": True,
        "enableWithdrawals": False,
        "enableInternalTransfer": False,
        "enableMargin": False,
        "enableFutures": True,
        "permitsUniversalTransfer": True,
        "enableVanillaOptions": False,
        "enableFixApiTrade": False,
        "enableFixReadOnly": False,
        "enableSpotAndMarginTrading": False,
        "enablePortfolioMarginTrading": False,
    }


def account_status(call: Call) -> dict[str, Any]:
    return {"data": "Normal"}


def post_transfer(call: Call) -> dict[str, Any]:
    """POST /sapi/v1/asset/transfer: apply, persist, and answer only the transfer id."""
    new_state, record = apply_transfer(
        call.state,
        asset=call.params.get("asset"),
        amount=call.params.get("amount"),
        transfer_type=call.params.get("type"),
        now=call.now,
    )
    call.commit(new_state)
    return {"tranId": record.tran_id}


def get_transfers(call: Call) -> dict[str, Any]:
    """GET /sapi/v1/asset/transfer: `{"total": n, "rows": [...]}`, newest first (rules in
    `transfers.query_transfers`). `rows` is always there, `[]` when nothing matches: the
    documented response example always shows it, and nothing in Binance's docs says it is left
    out. (Real Binance has been seen answering `{"total": 0}` alone, e.g. ccxt/ccxt#6496 on the
    older /sapi/v1/futures/transfer; the bot's decoder accepts both.)"""
    total, rows = query_transfers(call.state, call.params, now=call.now)
    return {
        "total": total,
        "rows": [
            {
                "timestamp": record.timestamp,
                "asset": record.asset,
                "amount": plain(record.amount),
                "type": record.type,
                "status": record.status,
                "tranId": record.tran_id,
            }
            for record in rows
        ],
    }


def btc_valuation(state: PaperState, asset: str, amount: Decimal) -> Decimal:
    """`amount` of `asset` in BTC at the paper's prices (USDT at 1 USD, a coin at its XXXUSDT
    price), rounded down to 8 places; 0 for an asset without a price."""
    prices = state.mark_prices
    btc_price = prices.get("BTCUSDT")
    if btc_price is None or btc_price <= 0:
        return Decimal(0)
    if asset == "BTC":
        value = amount
    elif asset == "USDT":
        value = amount / btc_price
    elif f"{asset}USDT" in prices:
        value = amount * prices[f"{asset}USDT"] / btc_price
    else:
        return Decimal(0)
    with localcontext() as ctx:
        ctx.prec = 60
        return value.quantize(EIGHT_PLACES, rounding=ROUND_DOWN)


def funding_wallet(call: Call) -> list[dict[str, Any]]:
    """POST /sapi/v1/asset/get-funding-asset (Funding Wallet, Request Weight(IP) 1,
    https://developers.binance.com/docs/wallet/asset/funding-wallet): one entry per asset held,
    shaped as the documented example `{"asset", "free", "locked", "freeze", "withdrawing",
    "btcValuation"}`, all strings. `asset` narrows it to one asset; `btcValuation` is computed
    only when `needBtcValuation=true` ("0" otherwise). Assets whose balances are all zero are
    left out, as Binance documents for its sibling POST /sapi/v3/asset/getUserAsset ("only
    return >0 data"); the funding page documents no rule of its own."""
    wanted = call.params.get("asset") or None
    valued = call.params.get("needBtcValuation", "").lower() == "true"
    state = call.state
    result = []
    for asset in sorted(state.funding_wallet):
        balance = state.funding_wallet[asset]
        if wanted is not None and asset != wanted:
            continue
        if balance.free.is_zero() and balance.locked.is_zero():
            continue
        valuation = btc_valuation(state, asset, balance.free + balance.locked) if valued else 0
        result.append(
            {
                "asset": asset,
                "free": plain(balance.free),
                "locked": plain(balance.locked),
                "freeze": "0",
                "withdrawing": "0",
                "btcValuation": plain(Decimal(valuation)),
            }
        )
    return result


ENDPOINTS: tuple[Endpoint, ...] = (
    # Request Weight(UID) 900 (User Universal Transfer); every other sapi endpoint here is IP.
    Endpoint(
        "POST",
        "/sapi/v1/asset/transfer",
        post_transfer,
        signed=True,
        weight=900,
        limit=LimitKind.UID,
    ),
    Endpoint("GET", "/sapi/v1/asset/transfer", get_transfers, signed=True, weight=1),
    Endpoint("GET", "/sapi/v1/capital/config/getall", capital_config, signed=True, weight=10),
    Endpoint("GET", "/sapi/v1/margin/allPairs", margin_all_pairs, signed=True, weight=1),
    Endpoint(
        "GET",
        "/sapi/v1/margin/isolated/allPairs",
        margin_isolated_all_pairs,
        signed=True,
        weight=10,
    ),
    Endpoint("GET", "/sapi/v1/account/apiRestrictions", api_restrictions, signed=True),
    Endpoint("GET", "/sapi/v1/account/status", account_status, signed=True),
    Endpoint("POST", "/sapi/v1/asset/get-funding-asset", funding_wallet, signed=True),
)
