"""What an endpoint is: a method and path, whether it is signed, its weight (and whether it
counts against the IP or the account), and a handler.

Handlers are synchronous functions of a `Call`: they read the state, and a mutating one commits
the next state before returning, so nothing can interleave between the check and the change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.paper.limits import LimitKind
from bot.paper.model import MarketKind, PaperState
from bot.paper.state import StateStore
from bot.paper.wire import BinanceError


@dataclass(frozen=True)
class Call:
    params: Mapping[str, str]
    now: int  # server time in ms, clock offset included
    store: StateStore

    @property
    def state(self) -> PaperState:
        return self.store.state

    def commit(self, new_state: PaperState) -> None:
        self.store.commit(new_state)


Handler = Callable[[Call], Any]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    handler: Handler
    signed: bool = False
    weight: int = 1
    keyed: bool = False  # USER_STREAM security: the X-MBX-APIKEY header, no signature
    limit: LimitKind = LimitKind.IP  # sapi endpoints are IP or UID limited (see `limits`)


def endpoints_by_route(groups: Iterable[Iterable[Endpoint]]) -> dict[tuple[str, str], Endpoint]:
    table: dict[tuple[str, str], Endpoint] = {}
    for group in groups:
        for endpoint in group:
            key = (endpoint.method, endpoint.path)
            if key in table:
                raise ValueError(f"duplicate endpoint {key}")
            table[key] = endpoint
    return table


INVALID_SYMBOL = BinanceError(400, -1121, "Invalid symbol.")


def symbol_filter(call: Call, kind: MarketKind) -> str | None:
    """The `symbol` parameter, checked against the markets of `kind`."""
    symbol = call.params.get("symbol")
    if symbol is None or symbol == "":
        return None
    if call.state.market(kind, symbol) is None:
        raise INVALID_SYMBOL
    return symbol


def int_param(call: Call, name: str) -> int | None:
    """An optional integer parameter (a time, a limit); refused as Binance refuses one that is
    not a number (-1100)."""
    value = call.params.get(name)
    if value is None or value == "":
        return None
    if not value.lstrip("-").isdigit():
        raise BinanceError(400, -1100, f"Illegal characters found in parameter '{name}'.")
    return int(value)
