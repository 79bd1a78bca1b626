"""The fake's Portfolio Margin account (`Account(portfolio_margin=True)`), written from Binance's
Portfolio Margin pages ("Account Information", "Query UM Position Information", "Query CM
Position Information") and the wallet's "User Universal Transfer" (types
`MAIN_PORTFOLIO_MARGIN`, `PORTFOLIO_MARGIN_MAIN`).

Accounting here, kept to what the bot's hedges need: the PM account's USD figures are its
USDT (the account's USD-M cross wallet, `cross["usdm"]["USDT"]`) plus the unrealized PnL of its
USD-M positions, all cross:

- `accountEquity` = wallet + uPnL; `accountMaintMargin` / `accountInitialMargin` = the
  positions' maintenance / initial margin; `uniMMR` = equity / maintenance;
- `virtualMaxWithdrawAmount` = wallet + min(0, uPnL) - initial margin, at least 0: what a
  `PORTFOLIO_MARGIN_MAIN` transfer may take (else -5013).

Binance answers a key's request to the API of the other kind of account with -2015 (the server
refuses `/papi` on a classic account and the classic futures account reads on a PM one).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.fakes.binance.accounts import (
    TRANSFER_INSUFFICIENT,
    Account,
    BinanceRefusal,
    Position,
    Transfer,
    default_spot,
    refuse,
    text,
)
from tests.fakes.binance.markets import COINM, PERPS, USDM

ZERO = Decimal(0)
TO_PORTFOLIO = "MAIN_PORTFOLIO_MARGIN"
FROM_PORTFOLIO = "PORTFOLIO_MARGIN_MAIN"

#: the classic futures account reads a PM account's key is refused at
CLASSIC_ONLY = frozenset(
    {
        ("GET", "/fapi/v3/account"),
        ("GET", "/dapi/v1/account"),
        ("GET", "/fapi/v3/positionRisk"),
        ("GET", "/dapi/v1/positionRisk"),
        ("GET", "/fapi/v1/multiAssetsMargin"),
    }
)


def figures(account: Account) -> dict[str, Decimal]:
    wallet = account.cross[USDM].get("USDT", ZERO)
    upnl = initial = maint = ZERO
    for position in account.open_positions(USDM, "USDT"):
        f = account.figures(position)
        upnl += f.upnl
        initial += f.initial
        maint += f.maint
    return {
        "wallet": wallet,
        "upnl": upnl,
        "equity": wallet + upnl,
        "initial": initial,
        "maint": maint,
        "may_leave": max(ZERO, wallet + min(ZERO, upnl) - initial),
    }


def account_information(account: Account, now: int) -> dict[str, Any]:
    """`GET /papi/v1/account`."""
    f = figures(account)
    uni_mmr = f["equity"] / f["maint"] if f["maint"] else ZERO
    return {
        "uniMMR": text(uni_mmr),
        "accountEquity": text(f["equity"]),
        "actualEquity": text(f["equity"]),
        "accountInitialMargin": text(f["initial"]),
        "accountMaintMargin": text(f["maint"]),
        "accountStatus": "NORMAL",
        "virtualMaxWithdrawAmount": text(f["may_leave"]),
        "totalAvailableBalance": text(max(ZERO, f["equity"] - f["initial"])),
        "totalMarginOpenLoss": "0.00000000",
        "updateTime": now,
    }


def um_position_risk(account: Account, symbol: str | None) -> list[dict[str, Any]]:
    """`GET /papi/v1/um/positionRisk`: open positions, no margin type (PM is cross)."""
    rows = []
    for p in account.open_positions(USDM):
        if symbol is not None and p.symbol != symbol:
            continue
        f = account.figures(p)
        rows.append(
            {
                "entryPrice": str(p.entry_price),
                "leverage": str(p.leverage),
                "markPrice": text(account.marks[p.symbol]),
                "maxNotionalValue": "6000000",
                "positionAmt": str(p.amount),
                "notional": text(f.notional),
                "symbol": p.symbol,
                "unRealizedProfit": text(f.upnl),
                "liquidationPrice": "0",
                "positionSide": "BOTH",
                "updateTime": p.update_time,
            }
        )
    return rows


def cm_position_risk(account: Account, pair: str | None) -> list[dict[str, Any]]:
    """`GET /papi/v1/cm/positionRisk`: open positions, `notionalValue` in the coin."""
    rows = []
    for p in account.open_positions(COINM):
        market = PERPS[p.symbol]
        if pair is not None and market.pair != pair:
            continue
        f = account.figures(p)
        rows.append(
            {
                "symbol": p.symbol,
                "positionAmt": str(p.amount),
                "entryPrice": str(p.entry_price),
                "markPrice": text(account.marks[p.symbol]),
                "unRealizedProfit": text(f.upnl),
                "liquidationPrice": "0",
                "leverage": str(p.leverage),
                "positionSide": "BOTH",
                "updateTime": p.update_time,
                "maxQty": "1000000",
                "notionalValue": text(f.notional),
            }
        )
    return rows


def transfer(account: Account, kind: str, asset: str, amount: Decimal, now: int) -> Transfer:
    """Spot <-> the PM account's `asset`, applied at once; out of PM at most
    `virtualMaxWithdrawAmount`. A PM account takes no other transfer type here."""
    if kind not in (TO_PORTFOLIO, FROM_PORTFOLIO):
        raise BinanceRefusal(-1100, "Illegal characters found in parameter 'type'.")
    account.check_amount(amount)
    wallets = account.cross[USDM]
    if kind == TO_PORTFOLIO:
        if account.spot.get(asset, ZERO) < amount:
            raise refuse(TRANSFER_INSUFFICIENT)
        account.spot[asset] -= amount
        wallets[asset] = wallets.get(asset, ZERO) + amount
    else:
        if asset != "USDT" or figures(account)["may_leave"] < amount:
            raise refuse(TRANSFER_INSUFFICIENT)
        wallets[asset] -= amount
        account.spot[asset] = account.spot.get(asset, ZERO) + amount
    return account.record(kind, asset, amount, now)


def portfolio_account() -> Account:
    """A PM account holding one hedge: 100 ETH in spot against a 100 ETH USD-M short (entry and
    mark 3000, maintenance 0.5 %: 1500 USDT) with 4500 USDT in the account: uniMMR 3."""
    spot = default_spot() | {"ETH": Decimal(100)}
    short = Position("ETHUSDT", Decimal(-100), Decimal(3000), leverage=125)
    return Account(
        portfolio_margin=True,
        spot=spot,
        cross={USDM: {"USDT": Decimal(4500)}, COINM: {}},
        positions={short.symbol: short},
    )
