"""CoinSwitch PRO on loopback, so the real `coinswitch` ccxt client is tested over HTTP.

It checks the Ed25519 signature exactly as the Authentication page describes (METHOD +
URL-decoded path?query + X-AUTH-EPOCH, 60 s drift window), answers with the documented
response shapes (the futures wallet exactly as the "Get Wallet Balance" page shows it) from
state a test can set,
and enforces each endpoint's documented rate limit. `time_scale` shrinks every rate-limit
window (0.01 turns "20 per 60 s" into "20 per 0.6 s") so tests stay fast; the epoch window is
not scaled.
"""

from __future__ import annotations

import copy
import json
import time
import urllib.parse
import zlib
from collections import Counter, defaultdict, deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

SPOT_PREFIX = "/trade/api/v2"
FUTURES_PREFIX = "/trade/api/v2/futures"
FUTURES_EXCHANGE = "EXCHANGE_2"
SPOT_EXCHANGES = ("coinswitchx", "c2c1", "c2c2")
EPOCH_WINDOW_MS = 60_000  # "X-AUTH-EPOCH skew >60s" is a 401 (errors-and-rate-limits)
UNSIGNED_PATHS = frozenset({f"{SPOT_PREFIX}/time"})

# The futures wallet, exactly as the "Get Wallet Balance" page shows it.
SEED_WALLET_BALANCE: dict[str, Any] = {
    "base_asset_balances": [
        {
            "base_asset": "USDT",
            "balances": {
                "total_balance": "60960.82599588",
                "total_available_balance": "60910.77418715",
                "total_blocked_balance": "50.05180873",
                "total_position_margin": "56.83032573",
                "total_open_order_margin": "-6.778517",
            },
        }
    ],
    "asset": [
        {
            "symbol": "DOGEUSDT",
            "base_asset": "USDT",
            "exchange": "EXCHANGE_2",
            "blocked_balance": "50.04968529",
            "position_margin": "50.04959675",
            "open_order_margin": "0.00008854",
        }
    ],
}

# Get Ticker documents these three as JSON numbers, the rest as strings.
TICKER_NUMBER_FIELDS = ("index_price", "mark_price", "funding_rate")


@dataclass(frozen=True)
class Limit:
    requests: int
    window_s: float


# Per endpoint, from each endpoint's page; endpoints without a documented limit have none here.
RATE_LIMITS: dict[str, Limit] = {
    f"{FUTURES_PREFIX}/wallet_balance": Limit(20, 60.0),
    f"{FUTURES_PREFIX}/positions": Limit(20, 60.0),
    f"{FUTURES_PREFIX}/ticker": Limit(100, 60.0),
    f"{FUTURES_PREFIX}/all-pairs/ticker": Limit(100, 60.0),
    f"{FUTURES_PREFIX}/instrument_info": Limit(100, 60.0),
    f"{SPOT_PREFIX}/user/portfolio": Limit(5000, 10.0),
}


def new_key_pair() -> tuple[str, str]:
    """A fresh (api key, secret): the Ed25519 public key and private seed, both hex."""
    private = ed25519.Ed25519PrivateKey.generate()
    seed = private.private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )
    public = private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return public.hex(), seed.hex()


def _instrument(base: str, price_precision: int, step: str, max_qty: str) -> dict[str, Any]:
    """A Get Instrument Info entry (the documented fields, values as the doc's example)."""
    return {
        "symbol": base,
        "base_asset": base,
        "quote_asset": "usdt",
        "status": "TRADING",
        "type": "PERPETUAL_FUTURES",
        "min_leverage": "1",
        "max_leverage": "25",
        "leverage_step": 1,
        "min_base_quantity": step,
        "base_quantity_step_size": step,
        "lot_size": step,
        "quantity_precision": len(step.split(".")[1]) if "." in step else 0,
        "price_precision": price_precision,
        "tick_size": 1,
        "max_market_base_quantity": max_qty,
        "max_base_quantity": max_qty,
        "risk_limit": "1000000",
        "maint_margin_rate": "0.56",
        "taker_fee_rate": "0.0005",
        "maker_fee_rate": "0.0002",
    }


def _ticker(symbol: str, last: str, mark: str, index: str, rate: str, next_ms: int) -> dict:
    return {
        "low_price_24h": last,
        "high_price_24h": last,
        "last_price": last,
        "symbol": symbol,
        "exchange": FUTURES_EXCHANGE,
        "timestamp": next_ms - 16_593_320,
        "best_ask_price": last,
        "best_bid_price": last,
        "price_24h_pcnt": "-1.297300",
        "base_asset_volume_24h": "93707.6800",
        "quote_asset_volume_24h": "8970676685.2608",
        "index_price": index,
        "mark_price": mark,
        "open_interest": "67529.878",
        "open_interest_value": "6424569744.32",
        "funding_rate": rate,
        "next_funding_timestamp": next_ms,
        "best_bid_size": "3.189",
        "best_ask_size": "3.963",
    }


def _position(symbol: str, side: str, size: str, value: str, **fields: str) -> dict[str, Any]:
    row: dict[str, Any] = {
        "exchange": FUTURES_EXCHANGE,
        "position_id": f"00000000-0000-4000-8000-{zlib.crc32(symbol.encode()):012d}",
        "symbol": symbol,
        "position_side": side,
        "leverage": "5",
        "position_size": size,
        "position_value": value,
        "position_margin": "0",
        "maint_margin": "0",
        "avg_entry_price": "0",
        "mark_price": "0",
        "last_price": "0",
        "unrealised_pnl": "0",
        "liquidation_price": "0",
        "client_txn_id": "00000000-0000-0000-0000-000000000000",
        "margin_type": "ISOLATED",
        "status": "OPEN",
        "created_at": 1732617093684,
        "updated_at": 1732636761825,
    }
    row.update(fields)
    return row


@dataclass
class FakeState:
    """What the fake serves; tests change it freely. Amounts are Decimal strings."""

    wallet_balance: dict[str, Any] = field(
        default_factory=lambda: copy.deepcopy(SEED_WALLET_BALANCE)
    )
    portfolio: list[dict[str, Any]] = field(
        default_factory=lambda: [
            {
                "currency": "ETH",
                "blocked_balance_order": "0.0019",
                "main_balance": "0.00008393",
                "buy_average_price": 110882.72063601,
                "invested_value": 220.40483679829757,
                "invested_value_excluding_fee": 219.98355595139932,
                "current_value": 324.10075659,
                "sell_rate": 163363,
                "buy_rate": 164531,
                "is_average_price_available": True,
                "name": "Ethereum",
                "is_delisted_coin": False,
            },
            {
                "currency": "USDT",
                "blocked_balance_order": "12.5",
                "main_balance": "1500.12345678",
                "name": "Tether",
                "is_delisted_coin": False,
            },
            {
                "name": "Indian Rupee",
                "currency": "INR",
                "main_balance": 802.33,
                "blocked_balance_order": 0,
                "invested_value": 308.9,
                "current_value": 654.95,
            },
        ]
    )
    instruments: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {
            "BTCUSDT": _instrument("btc", 1, "0.001", "952"),
            "ETHUSDT": _instrument("eth", 2, "0.001", "5000"),
            "DOGEUSDT": _instrument("doge", 5, "1", "1000000"),
        }
    )
    coins: dict[str, list[str]] = field(
        default_factory=lambda: {
            "coinswitchx": ["BTC/INR", "ETH/INR"],
            "c2c1": ["BTC/USDT", "ETH/USDT", "DOGE/USDT"],
            "c2c2": ["BTC/USDT", "ETH/USDT"],
        }
    )
    precisions: dict[str, dict[str, dict[str, int]]] = field(
        default_factory=lambda: {
            "coinswitchx": {"BTC/INR": {"base": 5, "quote": 2, "limit": 0}},
            "c2c1": {
                "BTC/USDT": {"base": 5, "quote": 2, "limit": 0},
                "ETH/USDT": {"base": 4, "quote": 2, "limit": 0},
                "DOGE/USDT": {"base": 0, "quote": 5, "limit": 0},
            },
            "c2c2": {"BTC/USDT": {"base": 5, "quote": 2, "limit": 0}},
        }
    )
    positions: list[dict[str, Any]] = field(
        default_factory=lambda: [
            _position(
                "ETHUSDT",
                "SHORT",
                "1.5",
                "5273.2845",
                position_margin="1054.6569",
                maint_margin="26.3664225",
                avg_entry_price="3498.27",
                mark_price="3515.523",
                last_price="3515.40",
                unrealised_pnl="-25.8795",
                liquidation_price="4183.50",
                leverage="5",
            ),
            _position(
                "DOGEUSDT",
                "LONG",
                "65",
                "25.09455",
                position_margin="34.052117186199",
                maint_margin="37.641825",
                avg_entry_price="0.38607",
                mark_price="0.38231",
                last_price="0.38135",
                unrealised_pnl="0.3068",
                liquidation_price="0.129122150942",
                leverage="25",
            ),
        ]
    )
    tickers: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {
            "BTCUSDT": _ticker(
                "BTCUSDT", "95136.60", "95136.7", "95046.53", "0.00039681", 1732838400000
            ),
            "ETHUSDT": _ticker(
                "ETHUSDT", "3515.40", "3515.523", "3514.9", "0.000125", 1732838400000
            ),
        }
    )
    clock_offset_ms: int = 0  # the fake's clock minus the real one


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Number(str):
    """A JSON number written with exactly this text, e.g. `Number("NaN")`."""


def dumps(payload: Any) -> str:
    """JSON with every `Decimal` (and `Number`) written as a number with exactly its digits."""
    literals: dict[str, str] = {}

    def encode(value: Any) -> Any:
        if isinstance(value, Decimal | Number):
            marker = f"__number_{len(literals)}__"
            literals[marker] = str(value)
            return marker
        if isinstance(value, dict):
            return {key: encode(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [encode(item) for item in value]
        return value

    text = json.dumps(encode(payload))
    for marker, literal in literals.items():
        text = text.replace(f'"{marker}"', literal)
    return text


def reply(payload: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, text=dumps(payload), content_type="application/json")


def error(status: int, message: str) -> web.Response:
    """The Spot/Futures v2 error body: {"message": ...}."""
    return reply({"message": message}, status=status)


def _ticker_json(ticker: dict[str, Any]) -> dict[str, Any]:
    """Get Ticker's number fields as JSON numbers, with the state's exact digits."""
    shown = dict(ticker)
    for key in TICKER_NUMBER_FIELDS:
        if isinstance(shown.get(key), str) and not isinstance(shown[key], Number):
            shown[key] = Decimal(shown[key])
    return shown


class CoinSwitchServer:
    """The fake venue; `async with CoinSwitchServer(api_keys=[key]) as server: server.base_url`."""

    def __init__(
        self,
        *,
        api_keys: Iterable[str],
        state: FakeState | None = None,
        time_scale: float = 1.0,
        host: str = "127.0.0.1",
    ) -> None:
        self.keys = {
            key.lower(): ed25519.Ed25519PublicKey.from_public_bytes(bytes.fromhex(key))
            for key in api_keys
        }
        self.state = state or FakeState()
        self.time_scale = time_scale
        self.host = host
        self.responses: Counter[tuple[str, int]] = Counter()  # (path, status) -> count
        self.received: list[tuple[str, str, dict[str, str]]] = []  # method, raw path, headers
        self.served_times: list[int] = []  # every serverTime /time answered
        self._hits: dict[tuple[str, str], deque[float]] = defaultdict(deque)
        self._faults: dict[str, deque[tuple[int, str]]] = defaultdict(deque)
        self.raw_bodies: dict[str, str] = {}  # path -> a JSON body served verbatim
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    # lifecycle --------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise RuntimeError("the fake CoinSwitch server is not started")
        return f"http://{self.host}:{self.port}"

    def api_urls(self) -> dict[str, str]:
        """What to put in the client's urls['api'] to point it here."""
        return {
            "public": self.base_url + SPOT_PREFIX,
            "spot": self.base_url + SPOT_PREFIX,
            "futures": self.base_url + FUTURES_PREFIX,
        }

    def routes(self) -> list[web.RouteDef]:
        """What the fake serves (a fake of another surface adds its own)."""
        return [
            web.get(f"{SPOT_PREFIX}/time", self._time),
            web.get(f"{SPOT_PREFIX}/user/portfolio", self._portfolio),
            web.get(f"{SPOT_PREFIX}/coins", self._coins),
            web.post(f"{SPOT_PREFIX}/exchangePrecision", self._exchange_precision),
            web.get(f"{FUTURES_PREFIX}/wallet_balance", self._wallet_balance),
            web.get(f"{FUTURES_PREFIX}/positions", self._positions),
            web.get(f"{FUTURES_PREFIX}/ticker", self._ticker),
            web.get(f"{FUTURES_PREFIX}/all-pairs/ticker", self._all_pairs_ticker),
            web.get(f"{FUTURES_PREFIX}/instrument_info", self._instrument_info),
        ]

    async def start(self) -> None:
        app = web.Application(middlewares=[self._gate])
        app.add_routes(self.routes())
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> CoinSwitchServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # test controls ----------------------------------------------------------------------

    def serve_raw(self, path: str, body: str) -> None:
        """Answer every accepted request to `path` with `body`, verbatim, until cleared."""
        self.raw_bodies[path] = body

    def fail_next(self, path: str, status: int, message: str = "Internal server error") -> None:
        """The next accepted request to `path` (e.g. '/trade/api/v2/futures/ticker') fails."""
        self._faults[path].append((status, message))

    def count(self, status: int, path: str | None = None) -> int:
        return sum(n for (p, s), n in self.responses.items() if s == status and path in (None, p))

    def now_ms(self) -> int:
        return int(time.time() * 1000) + self.state.clock_offset_ms

    # auth, limits, faults ---------------------------------------------------------------

    @web.middleware
    async def _gate(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        self.received.append((request.method, request.raw_path, dict(request.headers)))
        response = await self._admit(request, handler)
        self.responses[(request.path, response.status)] += 1
        return response

    async def _admit(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path not in UNSIGNED_PATHS:
            refusal = self.check_signature(request.method, request.raw_path, request.headers)
            if refusal is not None:
                return error(401, refusal)
            if not self._within_limit(request.headers["X-AUTH-APIKEY"].lower(), request.path):
                return error(429, "Too many requests, please try again later")
        faults = self._faults.get(request.path)
        if faults:
            status, message = faults.popleft()
            return error(status, message)
        raw = self.raw_bodies.get(request.path)
        if raw is not None:
            return web.Response(text=raw, content_type="application/json")
        try:
            return await handler(request)
        except web.HTTPException as exc:
            return error(exc.status, exc.reason)

    def check_signature(self, method: str, raw_path: str, headers: Any) -> str | None:
        """None when the request is signed as documented, else why it is refused."""
        api_key = (headers.get("X-AUTH-APIKEY") or "").lower()
        epoch = headers.get("X-AUTH-EPOCH") or ""
        signature = headers.get("X-AUTH-SIGNATURE") or ""
        public_key = self.keys.get(api_key)
        if public_key is None:
            return "Invalid Access: unknown X-AUTH-APIKEY"
        if not epoch.isdigit():
            return "Invalid Access: X-AUTH-EPOCH must be Unix milliseconds"
        if abs(self.now_ms() - int(epoch)) > EPOCH_WINDOW_MS:
            return "Invalid Access: X-AUTH-EPOCH is more than 60 s from server time"
        message = method.upper() + urllib.parse.unquote_plus(raw_path) + epoch
        try:
            public_key.verify(bytes.fromhex(signature), message.encode("utf-8"))
        except (InvalidSignature, ValueError):
            return "Invalid Access: signature does not match"
        return None

    def _within_limit(self, api_key: str, path: str) -> bool:
        limit = RATE_LIMITS.get(path)
        if limit is None:
            return True
        window = limit.window_s * self.time_scale
        now = time.monotonic()
        hits = self._hits[(api_key, path)]
        while hits and hits[0] <= now - window:
            hits.popleft()
        if len(hits) >= limit.requests:
            return False
        hits.append(now)
        return True

    # endpoints --------------------------------------------------------------------------

    async def _time(self, request: web.Request) -> web.Response:
        self.served_times.append(self.now_ms())
        return reply({"serverTime": self.served_times[-1]})

    async def _portfolio(self, request: web.Request) -> web.Response:
        return reply({"data": self.state.portfolio})

    async def _coins(self, request: web.Request) -> web.Response:
        exchange = _spot_exchange(request.query.get("exchange"))
        return reply({"data": {exchange: self.state.coins.get(exchange, [])}})

    async def _exchange_precision(self, request: web.Request) -> web.Response:
        try:
            body = json.loads(await request.text() or "{}")
        except ValueError:
            raise _invalid("body") from None
        exchange = _spot_exchange(body.get("exchange"))
        by_symbol = self.state.precisions.get(exchange, {})
        symbol = body.get("symbol")
        if symbol is not None:
            if symbol.upper() not in by_symbol:
                raise _invalid("symbol")
            by_symbol = {symbol.upper(): by_symbol[symbol.upper()]}
        return reply({"data": {exchange: by_symbol}})

    async def _wallet_balance(self, request: web.Request) -> web.Response:
        return reply({"data": self.state.wallet_balance})

    async def _positions(self, request: web.Request) -> web.Response:
        symbol = self._futures_symbol(request)
        rows = [p for p in self.state.positions if p["symbol"] == symbol]
        return reply({"data": rows})

    async def _ticker(self, request: web.Request) -> web.Response:
        symbol = self._futures_symbol(request)
        ticker = self.state.tickers.get(symbol)
        if ticker is None:
            raise _invalid("symbol")
        return reply({"data": {FUTURES_EXCHANGE: _ticker_json(ticker)}})

    async def _all_pairs_ticker(self, request: web.Request) -> web.Response:
        _futures_exchange(request.query.get("exchange"), required=True)
        tickers = {s: _ticker_json(t) for s, t in self.state.tickers.items()}
        return reply({"data": tickers})

    async def _instrument_info(self, request: web.Request) -> web.Response:
        _futures_exchange(request.query.get("exchange"), required=False)
        return reply({"data": self.state.instruments})

    def _futures_symbol(self, request: web.Request) -> str:
        _futures_exchange(request.query.get("exchange"), required=True)
        symbol = request.query.get("symbol")
        if not symbol:
            raise _missing("symbol")
        if symbol.upper() not in self.state.instruments:
            raise _invalid("symbol")
        return symbol.upper()


def _missing(name: str) -> web.HTTPException:
    return web.HTTPUnprocessableEntity(reason=f"Input {name} is missing")


def _invalid(name: str) -> web.HTTPException:
    return web.HTTPUnprocessableEntity(
        reason=f"The value you provided for the field {name} is not valid"
    )


def _futures_exchange(value: str | None, *, required: bool) -> None:
    if value is None:
        if required:
            raise _missing("exchange")
        return
    if value.upper() != FUTURES_EXCHANGE:
        raise _invalid("exchange")


def _spot_exchange(value: str | None) -> str:
    if not value:
        raise _missing("exchange")
    if value.lower() not in SPOT_EXCHANGES:
        raise _invalid("exchange")
    return value.lower()
