"""What the OKX fake lists: spot pairs and USDT-margined perpetual swaps in the shape of "Get
instruments" (https://www.okx.com/docs-v5/en/#public-data-rest-api-get-instruments), currencies
in the shape of the funding account's "Get currencies"
(https://www.okx.com/docs-v5/en/#funding-account-rest-api-get-currencies), and the per-swap
figures the account's margin is computed from.

Every number is a string, as OKX sends it. A swap trades in contracts of `ct_val` base coin
(BTC-USDT-SWAP: 0.01 BTC), so a position's `pos` is a count of contracts, not of coins."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

#: the funding interval of the swaps listed here, milliseconds (8 h, as OKX's USDT swaps)
FUNDING_INTERVAL_MS = 8 * 3600 * 1000
LISTED_MS = 1_611_916_800_000


@dataclass(frozen=True)
class Swap:
    """A linear USDT perpetual: contract value in base coin, tick and lot, the maximum
    leverage, and the tier-1 maintenance margin rate of OKX's position tiers
    (https://www.okx.com/docs-v5/en/#public-data-rest-api-get-position-tiers)."""

    inst_id: str
    base: str
    ct_val: str
    tick: str
    lot: str
    max_leverage: str
    maint_rate: Decimal


@dataclass(frozen=True)
class Spot:
    inst_id: str
    base: str
    tick: str
    lot: str
    min_size: str


SWAPS: dict[str, Swap] = {
    s.inst_id: s
    for s in (
        Swap("BTC-USDT-SWAP", "BTC", "0.01", "0.1", "0.01", "100", Decimal("0.004")),
        Swap("ETH-USDT-SWAP", "ETH", "0.1", "0.01", "0.01", "100", Decimal("0.004")),
    )
}

SPOTS: dict[str, Spot] = {
    s.inst_id: s
    for s in (
        Spot("BTC-USDT", "BTC", "0.1", "0.00000001", "0.00001"),
        Spot("ETH-USDT", "ETH", "0.01", "0.000001", "0.0001"),
    )
}

#: currencies the fake knows: name, and the withdrawal precision of their main chain
#: (`wdTickSz`: digits after the point; internal transfers are exact to 8 places)
CURRENCIES: dict[str, tuple[str, str, str]] = {
    "USDT": ("Tether", "USDT-TRC20", "6"),
    "USDC": ("USD Coin", "USDC-ERC20", "6"),
    "BTC": ("Bitcoin", "BTC-Bitcoin", "8"),
    "ETH": ("Ethereum", "ETH-ERC20", "8"),
}


def _common_row(inst_type: str, inst_id: str) -> dict[str, Any]:
    """The fields every instrument carries, empty where OKX sends them empty."""
    return {
        "instType": inst_type,
        "instId": inst_id,
        "instFamily": "",
        "uly": "",
        "category": "1",
        "baseCcy": "",
        "quoteCcy": "",
        "settleCcy": "",
        "ctVal": "",
        "ctMult": "",
        "ctValCcy": "",
        "optType": "",
        "stk": "",
        "listTime": str(LISTED_MS),
        "contTdSwTime": str(LISTED_MS),
        "expTime": "",
        "lever": "",
        "tickSz": "",
        "lotSz": "",
        "minSz": "",
        "ctType": "",
        "alias": "",
        "state": "live",
        "ruleType": "normal",
        "maxLmtSz": "",
        "maxMktSz": "",
        "maxLmtAmt": "",
        "maxMktAmt": "",
        "maxTwapSz": "",
        "maxIcebergSz": "",
        "maxTriggerSz": "",
        "maxStopSz": "",
    }


def spot_row(s: Spot) -> dict[str, Any]:
    """One `instType=SPOT` entry."""
    row = _common_row("SPOT", s.inst_id)
    row.update(
        baseCcy=s.base,
        quoteCcy="USDT",
        lever="10",
        tickSz=s.tick,
        lotSz=s.lot,
        minSz=s.min_size,
        maxLmtSz="9999999999",
        maxMktSz="1000000",
        maxLmtAmt="20000000",
        maxMktAmt="1000000",
    )
    return row


def swap_row(s: Swap) -> dict[str, Any]:
    """One `instType=SWAP` entry: a linear swap settled in USDT."""
    row = _common_row("SWAP", s.inst_id)
    family = f"{s.base}-USDT"
    row.update(
        instFamily=family,
        uly=family,
        settleCcy="USDT",
        ctVal=s.ct_val,
        ctMult="1",
        ctValCcy=s.base,
        lever=s.max_leverage,
        tickSz=s.tick,
        lotSz=s.lot,
        minSz=s.lot,
        ctType="linear",
        maxLmtSz="100000000",
        maxMktSz="10000",
        maxLmtAmt="20000000",
        maxMktAmt="",
    )
    return row


def currency_row(ccy: str) -> dict[str, Any]:
    """One "Get currencies" row: the currency on its main chain."""
    name, chain, tick = CURRENCIES[ccy]
    return {
        "ccy": ccy,
        "name": name,
        "logoLink": "",
        "chain": chain,
        "ctAddr": "",
        "canDep": True,
        "canWd": True,
        "canInternal": True,
        "depEstOpenTime": "",
        "wdEstOpenTime": "",
        "minDep": "0.00000001",
        "minWd": "0.001" if ccy == "BTC" else "2",
        "minInternal": "0.0001",
        "maxWd": "10000000",
        "wdTickSz": tick,
        "wdQuota": "10000000",
        "usedWdQuota": "0",
        "fee": "0.0001" if ccy == "BTC" else "1",
        "burningFeeRate": "",
        "mainNet": True,
        "needTag": False,
        "minDepArrivalConfirm": "6",
        "minWdUnlockConfirm": "12",
        "depQuotaFixed": "",
        "usedDepQuotaFixed": "",
        "depQuoteDailyLayer2": "",
    }


#: a dated USDT-margined future: listed, never held; stock ccxt claims `has["future"]` for okx
#: and its load_markets validator looks for one
DATED_FUTURE = "BTC-USDT-260626"
DATED_FUTURE_EXPIRY_MS = 1_782_460_800_000  # 2026-06-26 08:00 UTC


def dated_future_row() -> dict[str, Any]:
    """The dated future's `instType=FUTURES` entry: the BTC swap's fields with an expiry."""
    row = swap_row(SWAPS["BTC-USDT-SWAP"])
    row.update(
        instType="FUTURES",
        instId=DATED_FUTURE,
        expTime=str(DATED_FUTURE_EXPIRY_MS),
        alias="quarter",
    )
    return row
