"""The built-in paper exchange: a loopback HTTP server speaking Binance's REST dialect, with real
account state and Binance's transfer rules, so the real ccxt binance client (and the bot) can move
money on it and tests can assert on what it applied.

The names below are imported on first use, not with the package: `bot paper mark`, `bot paper
reset` and a `bot run` control request import `bot.paper.control` (a Unix socket client), and
Python runs this file first; importing the server here would load aiohttp's web server and the
routes (~0.25 s of CPU) into commands that only talk to a running one."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.paper.auth import PAPER_API_KEY, PAPER_SECRET
    from bot.paper.faults import Fault, FaultKind, FaultPlan
    from bot.paper.model import MarketKind, PaperState, Wallet, default_state
    from bot.paper.routes_ws import WS_DAPI_PATH, binance_ws_urls
    from bot.paper.server import PaperExchange, PaperExchangeThread, binance_urls, serve_forever
    from bot.paper.state import StateStore

#: each exported name -> the module of this package that defines it
EXPORTS = {
    "PAPER_API_KEY": "auth",
    "PAPER_SECRET": "auth",
    "Fault": "faults",
    "FaultKind": "faults",
    "FaultPlan": "faults",
    "MarketKind": "model",
    "PaperState": "model",
    "Wallet": "model",
    "default_state": "model",
    "WS_DAPI_PATH": "routes_ws",
    "binance_ws_urls": "routes_ws",
    "PaperExchange": "server",
    "PaperExchangeThread": "server",
    "binance_urls": "server",
    "serve_forever": "server",
    "StateStore": "state",
}

__all__ = [
    "PAPER_API_KEY",
    "PAPER_SECRET",
    "WS_DAPI_PATH",
    "Fault",
    "FaultKind",
    "FaultPlan",
    "MarketKind",
    "PaperExchange",
    "PaperExchangeThread",
    "PaperState",
    "StateStore",
    "Wallet",
    "binance_urls",
    "binance_ws_urls",
    "default_state",
    "serve_forever",
]


def __getattr__(name: str) -> Any:
    module = EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # found directly from now on
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *EXPORTS})
