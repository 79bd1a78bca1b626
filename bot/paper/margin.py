"""Isolated margin on the paper exchange: `positionMargin` add/reduce, `marginType`, and the
margin-change history, with Binance's rules and error codes. Pure: state in, state out.

Binance "Modify Isolated Position Margin (TRADE)" (`POST /fapi/v1/positionMargin`, COIN-M the
same under `/dapi`): `type` 1 adds margin from the cross wallet (refused with -4050 "Cross
balance insufficient." beyond its available balance), 2 removes it (refused with -4051
"Isolated balance insufficient." beyond what may leave, `PositionFigures.removable_margin`).
Codes from Binance's futures "Error Codes" page: -4049 a cross position, -4054 no position,
-4055 an amount that is not positive, -4046 / -4048 for `marginType`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal, InvalidOperation

from bot.paper.accounting import account_figures
from bot.paper.model import (
    CROSS,
    ISOLATED,
    MarginChange,
    MarketKind,
    PaperState,
    Position,
)
from bot.paper.wire import BinanceError, mandatory_missing

ADD, REDUCE = 1, 2
EIGHT_DECIMALS = Decimal("0.00000001")

NOT_ISOLATED = BinanceError(400, -4049, "Add margin only support for isolated position.")
CROSS_INSUFFICIENT = BinanceError(400, -4050, "Cross balance insufficient.")
ISOLATED_INSUFFICIENT = BinanceError(400, -4051, "Isolated balance insufficient.")
NO_POSITION = BinanceError(400, -4054, "Cannot add position margin: position is 0.")
NOT_POSITIVE = BinanceError(400, -4055, "Amount must be positive.")
SAME_MARGIN_TYPE = BinanceError(400, -4046, "No need to change margin type.")
HAS_POSITION = BinanceError(400, -4048, "Margin type cannot be changed if there exists position.")
MARGIN_TYPES = {"ISOLATED": ISOLATED, "CROSSED": CROSS}


def _invalid(name: str) -> BinanceError:
    return BinanceError(400, -1130, f"Data sent for parameter '{name}' is not valid.")


def parse_margin_amount(raw: str | None) -> Decimal:
    if raw is None or raw == "":
        raise mandatory_missing("amount")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise _invalid("amount") from None
    if not value.is_finite():
        raise _invalid("amount")
    if value <= 0:
        raise NOT_POSITIVE
    if value != value.quantize(EIGHT_DECIMALS):
        raise BinanceError(400, -1111, "Precision is over the maximum defined for this asset.")
    return value


def apply_margin_change(
    state: PaperState, kind: MarketKind, params: Mapping[str, str], now: int
) -> tuple[PaperState, MarginChange]:
    """Move margin between the cross wallet and one isolated position."""
    symbol = params.get("symbol") or ""
    if not symbol:
        raise mandatory_missing("symbol")
    market = state.market(kind, symbol)
    if market is None or market.margin_asset is None:
        raise BinanceError(400, -1121, "Invalid symbol.")
    raw_type = params.get("type")
    if raw_type in (None, ""):
        raise mandatory_missing("type")
    if raw_type not in (str(ADD), str(REDUCE)):
        raise _invalid("type")
    change_type = int(raw_type)
    amount = parse_margin_amount(params.get("amount"))
    position = state.position(kind, symbol)
    if position is None or position.amount.is_zero():
        raise NO_POSITION
    if not position.isolated:
        raise NOT_ISOLATED
    figures = account_figures(state, kind)
    if change_type == ADD:
        wallet = figures.wallets.get(market.margin_asset)
        if wallet is None or wallet.available_balance < amount:
            raise CROSS_INSUFFICIENT
        moved = position.isolated_wallet + amount
    else:
        if figures.positions[symbol].removable_margin < amount:
            raise ISOLATED_INSUFFICIENT
        moved = position.isolated_wallet - amount
    record = MarginChange(
        kind=kind,
        symbol=symbol,
        type=change_type,
        amount=amount,
        asset=market.margin_asset,
        time=now,
    )
    positions = tuple(
        replace(p, isolated_wallet=moved, update_time=now) if p is position else p
        for p in state.positions
    )
    changed = replace(state, positions=positions, margin_changes=(*state.margin_changes, record))
    return changed, record


def apply_margin_type(
    state: PaperState, kind: MarketKind, params: Mapping[str, str], now: int
) -> PaperState:
    """POST marginType: ISOLATED or CROSSED, only while the symbol holds no position."""
    symbol = params.get("symbol") or ""
    if not symbol:
        raise mandatory_missing("symbol")
    if state.market(kind, symbol) is None:
        raise BinanceError(400, -1121, "Invalid symbol.")
    wanted = MARGIN_TYPES.get((params.get("marginType") or "").upper())
    if wanted is None:
        raise mandatory_missing("marginType")
    position = state.position(kind, symbol)
    if position is not None and position.margin_type == wanted:
        raise SAME_MARGIN_TYPE
    if position is None and wanted == CROSS:
        raise SAME_MARGIN_TYPE
    if position is not None and not position.amount.is_zero():
        raise HAS_POSITION
    if position is None:
        flat = Position(
            kind=kind,
            symbol=symbol,
            amount=Decimal(0),
            entry_price=Decimal(0),
            update_time=now,
            margin_type=wanted,
        )
        return replace(state, positions=(*state.positions, flat))
    positions = tuple(
        replace(p, margin_type=wanted, isolated_wallet=Decimal(0)) if p is position else p
        for p in state.positions
    )
    return replace(state, positions=positions)


def margin_history(
    state: PaperState, kind: MarketKind, params: Mapping[str, str]
) -> list[MarginChange]:
    """GET positionMargin/history: `symbol` mandatory; `type`, `startTime`, `endTime`, `limit`
    (default 500 on USD-M, 50 on COIN-M, as documented) narrow it; oldest first, as Binance's
    example lists them."""
    symbol = params.get("symbol") or ""
    if not symbol:
        raise mandatory_missing("symbol")
    if state.market(kind, symbol) is None:
        raise BinanceError(400, -1121, "Invalid symbol.")
    wanted_type = params.get("type") or None
    start = _optional_int(params, "startTime")
    end = _optional_int(params, "endTime")
    limit = _optional_int(params, "limit") or (500 if kind == MarketKind.LINEAR else 50)
    found = [
        change
        for change in state.margin_changes
        if change.kind == kind
        and change.symbol == symbol
        and (wanted_type is None or str(change.type) == wanted_type)
        and (start is None or change.time >= start)
        and (end is None or change.time <= end)
    ]
    return found[:limit]


def _optional_int(params: Mapping[str, str], name: str) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    if not raw.isdigit():
        raise _invalid(name)
    return int(raw)
