"""What the paper exchange's push streams say: Binance's futures user-data and mark-price events,
built from two paper states. Pure, no I/O; figures are Decimal text as Binance sends them.

`ACCOUNT_UPDATE` follows Binance's "Event: Balance and Position Update" (USD-M and COIN-M):
`{"e", "E", "T", "a": {"m", "B": [{"a", "wb", "cw", "bc"}], "P": [{"s", "pa", "ep", "bep",
"cr", "up", "mt", "iw", "ps"}]}}`, COIN-M with the account alias `"i"` as well. It is sent when a
futures wallet balance or a position changes, never for a mark move alone (unrealized PnL is not
an account update on Binance). `B` lists the assets whose wallet or cross wallet moved; `P` lists
the positions that changed (USD-M: "only symbols of changed positions"; COIN-M: "all symbols",
read here as every open position plus the changed ones). `bc` is the wallet change (the paper
realizes no trading PnL or commission, so all of it counts). `cr` is "0": the paper keeps no
accumulated realized PnL.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bot.paper.accounting import AccountFigures, account_figures
from bot.paper.model import (
    MARGIN_WALLET,
    Market,
    MarketKind,
    PaperState,
    Position,
    next_funding_boundary,
)
from bot.paper.transfers import TRANSFER_TYPES
from bot.paper.wire import fixed, fmt8, short_price

ZERO = Decimal(0)
COINM_ACCOUNT_ALIAS = "SgsR"  # the alias /dapi/v1/balance answers (routes_coinm)
BOTH = "BOTH"

DEPOSIT = "DEPOSIT"
WITHDRAW = "WITHDRAW"
ORDER = "ORDER"
FUNDING_FEE = "FUNDING_FEE"
MARGIN_TRANSFER = "MARGIN_TRANSFER"
MARGIN_TYPE_CHANGE = "MARGIN_TYPE_CHANGE"
ADJUSTMENT = "ADJUSTMENT"


@dataclass(frozen=True)
class MarkStream:
    """A subscribed mark-price stream: one symbol (market id) or all (`symbol=None`)."""

    name: str
    symbol: str | None
    every_second: bool  # @1s; otherwise Binance's 3 s


def parse_mark_stream(name: str, markets: Iterable[Market]) -> MarkStream | None:
    """`ethusdt@markPrice@1s`, `ethusdt@markPrice`, `!markPrice@arr@1s`, `!markPrice@arr`
    against the family's markets; None for any other stream (accepted, but it carries nothing)."""
    every_second = name.endswith("@1s")
    stem = name[: -len("@1s")] if every_second else name
    if stem == "!markPrice@arr":
        return MarkStream(name=name, symbol=None, every_second=every_second)
    lower, _, channel = stem.partition("@")
    if channel != "markPrice":
        return None
    for market in markets:
        if market.symbol.lower() == lower:
            return MarkStream(name=name, symbol=market.symbol, every_second=every_second)
    return None


def mark_price_update(state: PaperState, market: Market, now: int) -> dict[str, Any]:
    """Binance's `markPriceUpdate`; the paper's index and settle price are its mark."""
    mark = fmt8(state.mark_price(market.symbol))
    funding = state.funding.get(market.symbol)
    rate, next_time = "", 0
    if funding is not None:
        rate = fmt8(funding.rate)
        next_time = funding.next_funding_time
        if next_time <= now:  # as premiumIndex: a passed time rolls onto the grid
            next_time = next_funding_boundary(now, funding.interval_hours)
    return {
        "e": "markPriceUpdate",
        "E": now,
        "s": market.symbol,
        "p": mark,
        "i": mark,
        "P": mark,
        "r": rate,
        "T": next_time,
    }


def listen_key_expired(listen_key: str, now: int) -> dict[str, Any]:
    """Binance's "User Data Stream Expired" event (its current example sends E as text)."""
    return {"e": "listenKeyExpired", "E": str(now), "listenKey": listen_key}


def _position_key(position: Position) -> tuple[Decimal, Decimal, str, Decimal]:
    return (position.amount, position.entry_price, position.margin_type, position.isolated_wallet)


def changed_positions(before: PaperState, after: PaperState, kind: MarketKind) -> list[str]:
    """Symbols whose amount, entry, margin type or isolated wallet differ (mark moves do not)."""
    old = {p.symbol: _position_key(p) for p in before.positions if p.kind == kind}
    new = {p.symbol: _position_key(p) for p in after.positions if p.kind == kind}
    return [symbol for symbol in {**old, **new} if old.get(symbol) != new.get(symbol)]


def _new_transfers_reason(before: PaperState, after: PaperState, kind: MarketKind) -> str | None:
    known = {record.tran_id for record in before.transfers}
    wallet = MARGIN_WALLET[kind]
    for record in after.transfers:
        if record.tran_id in known or record.type not in TRANSFER_TYPES:
            continue
        source, target = TRANSFER_TYPES[record.type]
        if target == wallet:
            return DEPOSIT
        if source == wallet:
            return WITHDRAW
    return None


def update_reason(before: PaperState, after: PaperState, kind: MarketKind, hint: str | None) -> str:
    """Binance's `m`: the commit's own reason when it gave one, else what the states show."""
    if hint is not None:
        return hint
    transfer = _new_transfers_reason(before, after, kind)
    if transfer is not None:
        return transfer
    old = {p.symbol: p for p in before.positions if p.kind == kind}
    for position in after.positions:
        previous = old.get(position.symbol)
        if position.kind != kind or previous is None:
            continue
        if previous.margin_type != position.margin_type:
            return MARGIN_TYPE_CHANGE
    if len(after.margin_changes) != len(before.margin_changes):
        return MARGIN_TRANSFER
    if changed_positions(before, after, kind):
        return ORDER
    return ADJUSTMENT


def _balance_rows(before: AccountFigures, after: AccountFigures) -> list[dict[str, Any]]:
    rows = []
    for asset, wallet in after.wallets.items():
        old = before.wallets.get(asset)
        old_wallet = old.wallet_balance if old is not None else ZERO
        old_cross = old.cross_wallet_balance if old is not None else ZERO
        if old_wallet == wallet.wallet_balance and old_cross == wallet.cross_wallet_balance:
            continue
        rows.append(
            {
                "a": asset,
                "wb": fmt8(wallet.wallet_balance),
                "cw": fmt8(wallet.cross_wallet_balance),
                "bc": fmt8(wallet.wallet_balance - old_wallet),
            }
        )
    return rows


def _position_row(
    state: PaperState, figures: AccountFigures, kind: MarketKind, symbol: str
) -> dict[str, Any]:
    market = state.market(kind, symbol)
    position = state.position(kind, symbol)
    found = figures.positions.get(symbol)
    places = market.quantity_precision if market is not None else 8
    amount = position.amount if position is not None else ZERO
    isolated = position is not None and position.isolated
    return {
        "s": symbol,
        "pa": fixed(amount, places),
        "ep": short_price(position.entry_price if position and not amount.is_zero() else ZERO),
        "bep": short_price(found.break_even_price if found else ZERO),
        "cr": "0",
        "up": fmt8(found.unrealized_pnl if found else ZERO),
        "mt": position.margin_type if position is not None else "cross",
        "iw": fmt8(position.isolated_wallet if isolated and position else ZERO),
        "ps": BOTH,
    }


def account_update(
    before: PaperState,
    after: PaperState,
    kind: MarketKind,
    *,
    now: int,
    hint: str | None = None,
) -> dict[str, Any] | None:
    """The `ACCOUNT_UPDATE` a user stream of `kind` hears for this commit, or None when neither
    a wallet balance nor a position of that family changed."""
    old_figures = account_figures(before, kind)
    new_figures = account_figures(after, kind)
    balances = _balance_rows(old_figures, new_figures)
    changed = changed_positions(before, after, kind)
    if not balances and not changed:
        return None
    symbols = list(changed)
    if kind == MarketKind.INVERSE:  # COIN-M pushes every position, not only the changed ones
        symbols += [s for s in new_figures.positions if s not in symbols]
    event: dict[str, Any] = {"e": "ACCOUNT_UPDATE", "E": now, "T": now}
    if kind == MarketKind.INVERSE:
        event["i"] = COINM_ACCOUNT_ALIAS
    event["a"] = {
        "m": update_reason(before, after, kind, hint),
        "B": balances,
        "P": [_position_row(after, new_figures, kind, symbol) for symbol in symbols],
    }
    return event


def moved_marks(before: PaperState, after: PaperState) -> frozenset[str]:
    """Market ids whose mark price changed in this commit."""
    old: Mapping[str, Decimal] = before.mark_prices
    return frozenset(s for s, price in after.mark_prices.items() if old.get(s) != price)
