"""Isolated margin endpoints of USD-M (/fapi) and COIN-M (/dapi): modify position margin, its
history, and the margin type. The rules are `margin.py`'s; this module shapes the answers as
Binance's documented examples do (tests/fixtures/binance-docs/position-margin*.json)."""

from __future__ import annotations

from typing import Any

from bot.paper.margin import apply_margin_change, apply_margin_type, margin_history
from bot.paper.model import MarginChange, MarketKind
from bot.paper.routing import Call, Endpoint
from bot.paper.wire import RawNumber, fmt8, short_price


def _modify(kind: MarketKind):  # type: ignore[no-untyped-def]
    def handler(call: Call) -> dict[str, Any]:
        new_state, record = apply_margin_change(call.state, kind, call.params, call.now)
        call.commit(new_state)
        return {
            "amount": RawNumber(short_price(record.amount)),  # a JSON number: 100.0
            "code": 200,
            "msg": "Successfully modify position margin.",
            "type": record.type,
        }

    return handler


def _history_entry(change: MarginChange) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "symbol": change.symbol,
        "type": change.type,
        "amount": fmt8(change.amount),
        "asset": change.asset,
        "time": change.time,
        "positionSide": "BOTH",
    }
    if change.kind == MarketKind.LINEAR:
        entry["deltaType"] = "USER_ADJUST"
    return entry


def _history(kind: MarketKind):  # type: ignore[no-untyped-def]
    def handler(call: Call) -> list[dict[str, Any]]:
        return [_history_entry(c) for c in margin_history(call.state, kind, call.params)]

    return handler


def _margin_type(kind: MarketKind):  # type: ignore[no-untyped-def]
    def handler(call: Call) -> dict[str, Any]:
        call.commit(apply_margin_type(call.state, kind, call.params, call.now))
        return {"code": 200, "msg": "success"}

    return handler


ENDPOINTS: tuple[Endpoint, ...] = tuple(
    endpoint
    for prefix, kind in (("/fapi", MarketKind.LINEAR), ("/dapi", MarketKind.INVERSE))
    for endpoint in (
        Endpoint("POST", f"{prefix}/v1/positionMargin", _modify(kind), signed=True),
        Endpoint("GET", f"{prefix}/v1/positionMargin/history", _history(kind), signed=True),
        Endpoint("POST", f"{prefix}/v1/marginType", _margin_type(kind), signed=True),
    )
)
