"""A small CoinW REST server on loopback, for driving the real `coinw` ccxt client over HTTP.

It checks both signature schemes as CoinW documents them (written here independently of the
client, so a shared mistake cannot cancel out), serves the documented response shapes from an
in-memory state the test sets (`getUserAssets` is the docs' example, number for number), and
enforces per-endpoint rate limits with a sliding window, refusing with CoinW's
`{"code": 29001, "msg": "API access frequently"}`. `time_scale` shrinks every window (0.1 makes
5 requests / 2 s into 5 requests / 0.2 s) so rate-limit tests stay fast.

Numbers are served as JSON numbers with the exact digits of the `Decimal`s in the state, as
CoinW sends them; strings stay strings (`account/available`'s value is a string in the docs).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from tests.fakes.loopback import LoopbackFake

API_KEY = "coinw-test-api-key"
SECRET = "coinw-test-secret-0123456789"

D = Decimal


class Number(str):
    """A JSON number written with exactly this text, e.g. `Number("4.926e-05")`."""


#: `GET /v1/perpum/account/getUserAssets`, the example response's data (Get Futures Account
#: Assets, https://www.coinw.com/api-doc/en/futures-trading/assets/get-futures-account-assets)
SEED_USER_ASSETS: dict[str, Any] = {
    "alFreeze": 0,
    "alMargin": D("0.14311"),
    "almightyGold": D("4.64407693"),
    "availableMargin": D("499.71964459000003"),
    "availableUsdt": D("495.07556766"),
    "time": 1742374984772,
    "userId": 1162061,
}
#: the `account/available` example (get-max-transferable-balance), a string on the wire
DOC_TRANSFERABLE = "438.799142390000018"

DEFAULT_INSTRUMENTS: list[dict[str, Any]] = [
    {
        "base": "eth",
        "quote": "usdt",
        "name": "ETH",
        "oneLotSize": D("0.01"),
        "minSize": 1,
        "pricePrecision": 2,
        "status": "online",
        "makerFee": "0.0002",
        "takerFee": "0.0006",
        "minLeverage": 1,
        "maxLeverage": 100,
        "settledPeriod": 8,
        "settledAt": 1742400000000,
    },
    {
        "base": "btc",
        "quote": "usdt",
        "name": "BTC",
        "oneLotSize": D("0.001"),
        "minSize": 1,
        "pricePrecision": 1,
        "status": "online",
        "makerFee": "0.0002",
        "takerFee": "0.0006",
        "minLeverage": 1,
        "maxLeverage": 125,
        "settledPeriod": 8,
        "settledAt": 1742400000000,
    },
]

DEFAULT_SYMBOLS: list[dict[str, Any]] = [
    {
        "currencyPair": "ETH_USDT",
        "currencyBase": "ETH",
        "currencyQuote": "USDT",
        "pricePrecision": 2,
        "countPrecision": 4,
        "minBuyCount": D("0.001"),
        "maxBuyCount": 10000,
        "minBuyPrice": D("0.01"),
        "maxBuyPrice": 1000000,
        "minBuyAmount": 5,
        "maxBuyAmount": 1000000,
        "state": 1,
    },
    {
        "currencyPair": "BTC_USDT",
        "currencyBase": "BTC",
        "currencyQuote": "USDT",
        "pricePrecision": 2,
        "countPrecision": 6,
        "minBuyCount": D("0.0001"),
        "maxBuyCount": 1000,
        "minBuyPrice": D("0.01"),
        "maxBuyPrice": 10000000,
        "minBuyAmount": 5,
        "maxBuyAmount": 1000000,
        "state": 1,
    },
]

#: a short ETH position in the documented field names (the websocket page's example shows
#: strings; `liquidationPrice` and `profitUnreal` as in the REST model)
DEFAULT_POSITIONS: list[dict[str, Any]] = [
    {
        "id": "2435521222631981320",
        "instrument": "ETH",
        "direction": "short",
        "currentPiece": "150",
        "baseSize": "1.5",
        "openPrice": "3000.5",
        "indexPrice": "3100.25",
        "margin": "450.075",
        "positionMargin": "450.075",
        "profitUnreal": "-149.625",
        "liquidationPrice": "3290.4",
        "leverage": "10",
        "positionModel": 1,
        "contractType": 1,
        "status": "open",
        "updatedDate": 1742374984000,
    }
]

DEFAULT_SPOT_BALANCES: dict[str, dict[str, str]] = {
    "USDT": {"available": "1500.25", "onOrders": "0"},
    "ETH": {"available": "1.5", "onOrders": "0.25"},
}

#: per-endpoint limits: (requests, window in seconds) per API key, as the docs give them
RATE_LIMITS: dict[str, tuple[int, float]] = {
    "/v1/perpum/instruments": (5, 1.0),
    "/v1/perpum/fundingRate": (8, 1.0),
    "/v1/perpum/account/getUserAssets": (5, 2.0),
    "/v1/perpum/account/available": (5, 1.0),
    "/v1/perpum/positions": (10, 1.0),
    "/v1/perpum/positions/all": (30, 1.0),
    "returnSymbol": (80, 1.0),
    "returnCompleteBalances": (5, 2.0),
}

TOO_FREQUENT = "API access frequently"


@dataclass
class CoinWFakeState:
    """What the fake serves; tests change it freely between requests."""

    user_assets: dict[str, Any] = field(default_factory=lambda: dict(SEED_USER_ASSETS))
    transferable: Any = DOC_TRANSFERABLE
    instruments: list[dict[str, Any]] = field(
        default_factory=lambda: copy.deepcopy(DEFAULT_INSTRUMENTS)
    )
    spot_symbols: list[dict[str, Any]] = field(
        default_factory=lambda: copy.deepcopy(DEFAULT_SYMBOLS)
    )
    positions: list[dict[str, Any]] = field(
        default_factory=lambda: copy.deepcopy(DEFAULT_POSITIONS)
    )
    funding_rates: dict[str, Any] = field(
        default_factory=lambda: {"ETH": D("0.00010937"), "BTC": Number("4.926e-05")}
    )
    spot_balances: dict[str, dict[str, str]] = field(
        default_factory=lambda: copy.deepcopy(DEFAULT_SPOT_BALANCES)
    )
    #: HTTP statuses to answer the next requests with, instead of serving them
    fail_next: list[int] = field(default_factory=list)
    #: endpoint key (as in `RATE_LIMITS`) -> a JSON body served verbatim, once the request is
    #: authenticated and within its limit: for bodies the state cannot express
    raw_bodies: dict[str, str] = field(default_factory=dict)
    #: requests served (or refused) per endpoint key, and the refusals for being too frequent
    hits: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)


def dumps(payload: Any) -> str:
    """JSON with every `Decimal` (and `Number`) written as a number with exactly its digits."""
    literals: dict[str, str] = {}

    def encode(value: Any) -> Any:
        if isinstance(value, Decimal | Number):
            marker = f"__number_{len(literals)}__"
            literals[marker] = str(value)
            return marker
        if isinstance(value, Mapping):
            return {key: encode(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [encode(item) for item in value]
        return value

    text = json.dumps(encode(payload))
    for marker, literal in literals.items():
        text = text.replace(f'"{marker}"', literal)
    return text


class SlidingWindow:
    """At most `requests` accepted per `window` seconds per key."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._accepted: dict[str, deque[float]] = {}

    def admit(self, key: str, requests: int, window: float) -> bool:
        now = self._clock()
        times = self._accepted.setdefault(key, deque())
        while times and now - times[0] >= window:
            times.popleft()
        if len(times) >= requests:
            return False
        times.append(now)
        return True


class CoinWFakeServer(LoopbackFake):
    """`async with CoinWFakeServer() as fake:` serves on `fake.base_url` until the block ends."""

    def __init__(
        self,
        state: CoinWFakeState | None = None,
        *,
        api_key: str = API_KEY,
        secret: str = SECRET,
        time_scale: float = 1.0,
    ) -> None:
        super().__init__()
        self.state = state or CoinWFakeState()
        self.api_key = api_key
        self.secret = secret
        self.time_scale = time_scale
        self._limits = SlidingWindow()

    # lifecycle ------------------------------------------------------------------------------

    def build_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/v1/perpum/instruments", self._instruments)
        app.router.add_get("/v1/perpum/fundingRate", self._funding_rate)
        app.router.add_get("/v1/perpum/account/getUserAssets", self._user_assets)
        app.router.add_get("/v1/perpum/account/available", self._available)
        app.router.add_get("/v1/perpum/positions", self._positions)
        app.router.add_get("/v1/perpum/positions/all", self._all_positions)
        app.router.add_get("/api/v1/public", self._spot_public)
        app.router.add_post("/api/v1/private", self._spot_private)
        return app

    # futures --------------------------------------------------------------------------------

    async def _instruments(self, request: web.Request) -> web.Response:
        refusal = self._gate(request, "/v1/perpum/instruments", private=False)
        if refusal is not None:
            return refusal
        name = request.query.get("name", "").upper()
        rows = [r for r in self.state.instruments if not name or r["name"].upper() == name]
        return _futures_ok(rows)

    async def _funding_rate(self, request: web.Request) -> web.Response:
        refusal = self._gate(request, "/v1/perpum/fundingRate", private=False)
        if refusal is not None:
            return refusal
        instrument = request.query.get("instrument")
        if not instrument:
            return _json(400, {"code": 904, "msg": "Method parameters verification failed"})
        rate = self.state.funding_rates.get(instrument.upper())
        if rate is None:
            return _json(200, {"code": 9001, "msg": "Contract not found."})
        return _futures_ok({"value": rate})

    async def _user_assets(self, request: web.Request) -> web.Response:
        refusal = self._gate(request, "/v1/perpum/account/getUserAssets", private=True)
        return refusal or _futures_ok(self.state.user_assets)

    async def _available(self, request: web.Request) -> web.Response:
        refusal = self._gate(request, "/v1/perpum/account/available", private=True)
        return refusal or _futures_ok({"value": self.state.transferable})

    async def _positions(self, request: web.Request) -> web.Response:
        refusal = self._gate(request, "/v1/perpum/positions", private=True)
        if refusal is not None:
            return refusal
        instrument = request.query.get("instrument", "").upper()
        if not instrument:
            return _json(200, {"code": 402, "msg": "param required"})
        rows = [p for p in self.state.positions if p["instrument"].upper() == instrument]
        return _futures_ok(rows)

    async def _all_positions(self, request: web.Request) -> web.Response:
        refusal = self._gate(request, "/v1/perpum/positions/all", private=True)
        return refusal or _futures_ok(self.state.positions)

    # spot -----------------------------------------------------------------------------------

    async def _spot_public(self, request: web.Request) -> web.Response:
        command = request.query.get("command", "")
        if command != "returnSymbol":
            return _json(200, {"code": "404", "msg": "unknown command", "success": False})
        refusal = self._gate(request, command, private=False, spot=True)
        return refusal or _spot_ok(self.state.spot_symbols)

    async def _spot_private(self, request: web.Request) -> web.Response:
        command = request.query.get("command", "")
        if command != "returnCompleteBalances":
            return _json(200, {"code": "404", "msg": "unknown command", "success": False})
        refusal = self._gate(request, command, private=True, spot=True)
        return refusal or _spot_ok(self.state.spot_balances)

    # checks ---------------------------------------------------------------------------------

    def _gate(
        self, request: web.Request, endpoint: str, *, private: bool, spot: bool = False
    ) -> web.Response | None:
        """Fault injection, then authentication, then the rate limit: a refusal, a raw body
        set for the endpoint, or None to serve it from the state."""
        self.state.hits[endpoint] += 1
        if self.state.fail_next:
            status = self.state.fail_next.pop(0)
            return web.Response(status=status, text="upstream unavailable")
        key = "public:" + (request.remote or "")
        if private:
            failure = self._check_spot(request) if spot else self._check_futures(request)
            if failure is not None:
                return _spot_fail(*failure) if spot else _json(200, failure_body(*failure))
            key = self.api_key
        requests, window = RATE_LIMITS[endpoint]
        if not self._limits.admit(f"{key}:{endpoint}", requests, window * self.time_scale):
            self.state.refused[endpoint] += 1
            return _spot_fail(29001, TOO_FREQUENT) if spot else _json(200, failure_body(29001))
        raw = self.state.raw_bodies.get(endpoint)
        if raw is not None:
            return web.Response(status=200, text=raw, content_type="application/json")
        return None

    def _check_futures(self, request: web.Request) -> tuple[int, str] | None:
        """Headers `api_key`, `timestamp`, `sign` = base64(HMAC-SHA256(secret, timestamp +
        METHOD + path [+ "?" + query as sent] [+ body])), per certify-code-futures."""
        api_key = request.headers.get("api_key")
        timestamp = request.headers.get("timestamp")
        sign = request.headers.get("sign")
        if not api_key or not timestamp or not sign:
            return 6000, "missing api_key, timestamp or sign"
        if api_key != self.api_key:
            return 6000, "invalid api_key"
        query = request.rel_url.raw_query_string
        payload = timestamp + request.method + request.rel_url.raw_path
        payload += f"?{query}" if query else ""
        # GET bodies are empty; a POST body would be appended here as sent
        expected = base64.b64encode(
            hmac.new(self.secret.encode(), payload.encode(), hashlib.sha256).digest()
        ).decode()
        if not hmac.compare_digest(expected, sign):
            return 6001, "sign error"
        return None

    def _check_spot(self, request: web.Request) -> tuple[int, str] | None:
        """`sign` = upper-case MD5 of the parameters but `sign` (and the `command` in the
        endpoint URL) sorted by name as `k=v&...`, + `&secret_key=<secret>`, per
        certify-code-spot."""
        params = dict(parse_qsl(request.rel_url.raw_query_string, keep_blank_values=True))
        sign = params.pop("sign", None)
        params.pop("command", None)
        if params.get("api_key") != self.api_key or not sign:
            return 6000, "invalid api_key"
        text = "&".join(f"{key}={params[key]}" for key in sorted(params))
        expected = hashlib.md5(f"{text}&secret_key={self.secret}".encode()).hexdigest().upper()
        if not hmac.compare_digest(expected, sign):
            return 6001, "sign error"
        return None


def failure_body(code: int, message: str = TOO_FREQUENT) -> dict[str, Any]:
    return {"code": code, "msg": message}


def _json(status: int, payload: Any) -> web.Response:
    return web.Response(status=status, text=dumps(payload), content_type="application/json")


def _futures_ok(data: Any) -> web.Response:
    return _json(200, {"code": 0, "data": data, "msg": ""})


def _spot_ok(data: Any) -> web.Response:
    return _json(
        200, {"code": "200", "data": data, "msg": "SUCCESS", "success": True, "failed": False}
    )


def _spot_fail(code: int, message: str) -> web.Response:
    return _json(200, {"code": str(code), "msg": message, "success": False, "failed": True})
