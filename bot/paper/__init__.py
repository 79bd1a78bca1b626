"""The built-in paper exchange: a loopback HTTP server speaking Binance's REST dialect, with real
account state and Binance's transfer rules, so the real ccxt binance client (and the bot) can move
money on it and tests can assert on what it applied."""

from bot.paper.auth import PAPER_API_KEY, PAPER_SECRET
from bot.paper.faults import Fault, FaultKind, FaultPlan
from bot.paper.model import MarketKind, PaperState, Wallet, default_state
from bot.paper.routes_ws import WS_DAPI_PATH, binance_ws_urls
from bot.paper.server import PaperExchange, PaperExchangeThread, binance_urls, serve_forever
from bot.paper.state import StateStore

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
