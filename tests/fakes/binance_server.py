"""An independent Binance fake on loopback, written from Binance's API documentation (not from
`bot/paper/`), for the protective-path tests: the bot's real `binance` venue (ccxt's `binance`
class, `urls:` pointed here) runs `bot balances`, `plan`, `rebalance` and `reconcile` against it.

Serves (every path as Binance spells it; the account and its accounting: `binance/accounts.py`):

    GET  /api/v3/time, /fapi/v1/time, /dapi/v1/time                       server time
    GET  /api/v3/exchangeInfo, /fapi/v1/exchangeInfo, /dapi/v1/exchangeInfo  markets
    GET  /fapi/v1/premiumIndex, /dapi/v1/premiumIndex                     mark, funding
    GET  /fapi/v1/fundingInfo, /dapi/v1/fundingInfo                 symbols off the 8 h interval
    GET  /api/v3/account                                         (signed) spot balances
    GET  /fapi/v3/account, /fapi/v3/positionRisk                 (signed) USD-M
    GET  /fapi/v1/assetIndex                                              coins' collateral rates
    GET  /fapi/v1/multiAssetsMargin                              (signed) USD-M asset mode
    GET  /dapi/v1/account, /dapi/v1/positionRisk                 (signed) COIN-M
    GET  /fapi/v1/leverageBracket, /dapi/v2/leverageBracket      (signed) maintenance tiers
    GET  /fapi/v1/income, /dapi/v1/income                        (signed) funding income (none)
    POST /sapi/v1/asset/transfer, GET /sapi/v1/asset/transfer    (signed) universal transfer
    POST /fapi/v1/positionMargin, /dapi/v1/positionMargin        (signed) isolated margin
    GET  /fapi/v1/positionMargin/history, /dapi/v1/positionMargin/history (signed)
    GET  /papi/v1/account, /papi/v1/um/positionRisk, /papi/v1/cm/positionRisk (signed)
                                      Portfolio Margin (`binance/portfolio.py`): answered only
                                      for `Account(portfolio_margin=True)`, which in turn is
                                      refused the classic futures account reads (-2015)

Signed requests (Binance "SIGNED (TRADE and USER_DATA) Endpoint security"): the key in
`X-MBX-APIKEY` (missing: -2014, unknown: -2015, both HTTP 401), `signature` = hex HMAC-SHA256 of
the query string concatenated with the body (without `signature`) under the secret (-1022), and
`timestamp` within `recvWindow` (default 5000 ms, at most 60000) of the server's clock (-1021).

Test hooks, in Python (`fake.account.set_mark(...)`, `fake.faults.add(...)`, `fake.calls[...]`)
and over HTTP: `POST /_fake/mark {"symbol", "price"}`, `POST /_fake/fault {"method", "path",
"kind", "times", "status", "code", "msg", "hold"}`, `DELETE /_fake/faults`, `GET /_fake/calls`.
Every call of a served endpoint is counted in `calls[(METHOD, path)]`, faulted ones included;
a path the fake does not serve is answered 404 and listed in `unserved`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from tests.fakes.binance import portfolio
from tests.fakes.binance.accounts import Account, BinanceRefusal
from tests.fakes.binance.faults import Fault, Faults
from tests.fakes.binance.markets import (
    COINM,
    PERPS,
    USDM,
    futures_exchange_info,
    spot_exchange_info,
)
from tests.fakes.in_thread import FakeThread
from tests.fakes.loopback import LoopbackFake

API_KEY = "fake-binance-key-0123456789abcdef"
SECRET = "fake-binance-secret-fedcba9876543210"

Params = dict[str, str]
Answer = tuple[int, str]  # HTTP status, body


@dataclass(frozen=True)
class Route:
    handler: Callable[[Params, int], Any]
    signed: bool


def _json(payload: Any) -> Answer:
    return 200, json.dumps(payload, separators=(",", ":"))


def _error(code: int, msg: str, status: int = 400) -> Answer:
    return status, json.dumps({"code": code, "msg": msg}, separators=(",", ":"))


def _decimal(params: Params, name: str) -> Decimal:
    raw = params.get(name)
    try:
        value = Decimal(raw) if raw is not None else None
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite():
        raise BinanceRefusal(
            -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
        )
    return value


def _required(params: Params, name: str) -> str:
    value = params.get(name)
    if not value:
        raise BinanceRefusal(
            -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
        )
    return value


def _int(params: Params, name: str, default: int | None = None) -> int | None:
    raw = params.get(name)
    if raw is None:
        return default
    if not raw.lstrip("-").isdigit():
        raise BinanceRefusal(-1100, f"Illegal characters found in parameter '{name}'.")
    return int(raw)


class BinanceFake(LoopbackFake):
    """`async with BinanceFake() as fake:` serves on `fake.base_url` until the block ends."""

    def __init__(
        self,
        account: Account | None = None,
        *,
        api_key: str = API_KEY,
        secret: str = SECRET,
        clock_offset_ms: int = 0,
    ) -> None:
        super().__init__(clock_offset_ms=clock_offset_ms)
        self.account = account or Account()
        self.faults = Faults()
        self.api_key = api_key
        self.secret = secret
        self.requests: list[tuple[str, str, Params]] = []  # (METHOD, path, params w/o signature)
        self._weights: Counter[tuple[int, str]] = Counter()  # (minute, prefix) -> weight used
        self.routes: dict[tuple[str, str], Route] = {
            ("GET", "/api/v3/time"): Route(self._time, False),
            ("GET", "/fapi/v1/time"): Route(self._time, False),
            ("GET", "/dapi/v1/time"): Route(self._time, False),
            ("GET", "/api/v3/exchangeInfo"): Route(lambda p, now: spot_exchange_info(now), False),
            ("GET", "/fapi/v1/exchangeInfo"): Route(
                lambda p, now: futures_exchange_info(USDM, now), False
            ),
            ("GET", "/dapi/v1/exchangeInfo"): Route(
                lambda p, now: futures_exchange_info(COINM, now), False
            ),
            ("GET", "/fapi/v1/premiumIndex"): Route(self._premium_usdm, False),
            ("GET", "/dapi/v1/premiumIndex"): Route(self._premium_coinm, False),
            ("GET", "/fapi/v1/fundingInfo"): Route(self._funding_info(USDM), False),
            ("GET", "/dapi/v1/fundingInfo"): Route(self._funding_info(COINM), False),
            ("GET", "/api/v3/account"): Route(lambda p, now: self.account.spot_account(now), True),
            ("GET", "/fapi/v3/account"): Route(lambda p, now: self.account.usdm_account(now), True),
            ("GET", "/dapi/v1/account"): Route(
                lambda p, now: self.account.coinm_account(now), True
            ),
            ("GET", "/fapi/v1/assetIndex"): Route(self._asset_index, False),
            ("GET", "/fapi/v1/multiAssetsMargin"): Route(
                lambda p, now: {"multiAssetsMargin": self.account.multi_assets_margin}, True
            ),
            ("GET", "/fapi/v3/positionRisk"): Route(
                lambda p, now: self.account.usdm_position_risk(p.get("symbol")), True
            ),
            ("GET", "/dapi/v1/positionRisk"): Route(
                lambda p, now: self.account.coinm_position_risk(p.get("pair")), True
            ),
            ("GET", "/fapi/v1/leverageBracket"): Route(self._brackets(USDM), True),
            ("GET", "/dapi/v2/leverageBracket"): Route(self._brackets(COINM), True),
            ("GET", "/fapi/v1/income"): Route(lambda p, now: [], True),
            ("GET", "/dapi/v1/income"): Route(lambda p, now: [], True),
            ("POST", "/sapi/v1/asset/transfer"): Route(self._transfer, True),
            ("GET", "/sapi/v1/asset/transfer"): Route(self._transfer_history, True),
            ("POST", "/fapi/v1/positionMargin"): Route(self._margin(USDM), True),
            ("POST", "/dapi/v1/positionMargin"): Route(self._margin(COINM), True),
            ("GET", "/fapi/v1/positionMargin/history"): Route(self._margin_history(USDM), True),
            ("GET", "/dapi/v1/positionMargin/history"): Route(self._margin_history(COINM), True),
            ("GET", "/papi/v1/account"): Route(
                lambda p, now: portfolio.account_information(self.account, now), True
            ),
            ("GET", "/papi/v1/um/positionRisk"): Route(
                lambda p, now: portfolio.um_position_risk(self.account, p.get("symbol")), True
            ),
            ("GET", "/papi/v1/cm/positionRisk"): Route(
                lambda p, now: portfolio.cm_position_risk(self.account, p.get("pair")), True
            ),
        }

    # lifecycle ------------------------------------------------------------------------------

    # dispatch -------------------------------------------------------------------------------

    async def _dispatch(self, request: web.Request) -> web.Response:
        method, path = request.method, request.path
        if path.startswith("/_fake/"):
            return await self._control(request)
        route = self.routes.get((method, path))
        if route is None:
            self.unserved.append((method, path))
            return web.Response(status=404, text="<html><body><h2>404 Not found</h2></body></html>")
        self.calls[(method, path)] += 1
        body = await request.text()
        fault = self.faults.take(method, path)
        if fault is not None and not fault.applies:
            if fault.holds:
                await self._hold(fault)
            return self._respond(path, (fault.status, fault.body))
        answer = self._serve(request, route, body)
        if fault is not None:
            if fault.holds:
                await self._hold(fault)
                return self._respond(path, answer)
            return self._respond(path, (fault.status, fault.body))
        return self._respond(path, answer)

    async def _hold(self, fault: Fault) -> None:
        assert self._stopping is not None
        with suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), fault.hold)

    def _respond(self, path: str, answer: Answer) -> web.Response:
        status, text = answer
        minute = self.now() // 60000
        prefix = "/" + path.split("/")[1] + "/"
        self._weights[(minute, prefix)] += 1
        used = str(self._weights[(minute, prefix)])
        if prefix == "/sapi/":
            headers = {"X-SAPI-USED-IP-WEIGHT-1M": used}
        else:
            headers = {"X-MBX-USED-WEIGHT-1M": used}
        content_type = "application/json" if text[:1] in "{[" else "text/plain"
        return web.Response(status=status, text=text, content_type=content_type, headers=headers)

    def _serve(self, request: web.Request, route: Route, body: str) -> Answer:
        query = request.rel_url.raw_query_string
        params: Params = dict(parse_qsl(body, keep_blank_values=True))
        params.update(parse_qsl(query, keep_blank_values=True))  # the query string wins
        now = self.now()
        try:
            if route.signed:
                self._authenticate(request, query, body, params, now)
                self._check_account_kind(request.method, request.path)
            params.pop("signature", None)
            self.requests.append((request.method, request.path, params))
            with self.account.lock:
                result = route.handler(params, now)
        except BinanceRefusal as refusal:
            return _error(refusal.code, refusal.msg, refusal.status)
        if isinstance(result, tuple):
            return result
        return _json(result)

    def _authenticate(
        self, request: web.Request, query: str, body: str, params: Params, now: int
    ) -> None:
        key = request.headers.get("X-MBX-APIKEY")
        if not key:
            raise BinanceRefusal(-2014, "API-key format invalid.", 401)
        if key != self.api_key:
            raise BinanceRefusal(-2015, "Invalid API-key, IP, or permissions for action.", 401)
        signature = params.get("signature")
        if not signature:
            raise BinanceRefusal(
                -1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed."
            )
        total = _without_signature(query) + _without_signature(body)
        expected = hmac.new(self.secret.encode(), total.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature.lower()):
            raise BinanceRefusal(-1022, "Signature for this request is not valid.")
        stamp = _int(params, "timestamp")
        window = _int(params, "recvWindow", 5000)
        assert window is not None
        if stamp is None:
            raise BinanceRefusal(
                -1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed."
            )
        if window > 60000:
            raise BinanceRefusal(-1131, "recvWindow must be less than 60000")
        if stamp > now + 1000 or now - stamp > window:
            raise BinanceRefusal(-1021, "Timestamp for this request is outside of the recvWindow.")

    def _check_account_kind(self, method: str, path: str) -> None:
        """The key reaches one kind of account: the other kind's API refuses it (-2015)."""
        if self.account.portfolio_margin:
            refused = (method, path) in portfolio.CLASSIC_ONLY
        else:
            refused = path.startswith("/papi/")
        if refused:
            raise BinanceRefusal(-2015, "Invalid API-key, IP, or permissions for action.", 401)

    # public ---------------------------------------------------------------------------------

    def _time(self, params: Params, now: int) -> dict[str, Any]:
        return {"serverTime": now}

    def _premium_row(self, symbol: str, now: int) -> dict[str, Any]:
        mark = self.account.marks[symbol]
        market = PERPS[symbol]
        row: dict[str, Any] = {"symbol": symbol}
        if market.family == COINM:
            row["pair"] = market.pair
        row |= {
            "markPrice": f"{mark:.8f}",
            "indexPrice": f"{mark:.8f}",
            "estimatedSettlePrice": f"{mark:.8f}",
            "lastFundingRate": f"{self.account.funding_rates[symbol]:.8f}",
            "interestRate": "0.00010000",
            "nextFundingTime": (now // 28_800_000 + 1) * 28_800_000,
            "time": now,
        }
        return row

    def _premium_usdm(self, params: Params, now: int) -> Any:
        symbol = params.get("symbol")
        if symbol is None:
            return [self._premium_row(m.symbol, now) for m in PERPS.values() if m.family == USDM]
        if symbol not in PERPS or PERPS[symbol].family != USDM:
            raise BinanceRefusal(-1121, "Invalid symbol.")
        return self._premium_row(symbol, now)

    def _premium_coinm(self, params: Params, now: int) -> Any:
        """COIN-M answers a list even for one symbol (its documented example)."""
        symbol, pair = params.get("symbol"), params.get("pair")
        rows = [
            self._premium_row(m.symbol, now)
            for m in PERPS.values()
            if m.family == COINM
            and (symbol is None or m.symbol == symbol)
            and (pair is None or m.pair == pair)
        ]
        return rows

    def _funding_info(self, family: str) -> Callable[[Params, int], Any]:
        """ "Get Funding Rate Info": only the symbols with an adjusted cap, floor or interval
        (here: an interval set in `account.funding_interval_hours`), `fundingIntervalHours` a
        JSON number."""

        def answer(params: Params, now: int) -> Any:
            return [
                {
                    "symbol": symbol,
                    "adjustedFundingRateCap": "0.02000000",
                    "adjustedFundingRateFloor": "-0.02000000",
                    "fundingIntervalHours": hours,
                    "disclaimer": False,
                }
                for symbol, hours in sorted(self.account.funding_interval_hours.items())
                if PERPS[symbol].family == family
            ]

        return answer

    def _asset_index(self, params: Params, now: int) -> Answer:
        """`GET /fapi/v1/assetIndex` ("Asset Index"): one row for `symbol`, else every coin."""

        def row(asset: str) -> dict[str, Any]:
            index, haircut, rate = self.account.collateral_rate(asset)
            return {
                "symbol": f"{asset}USD",
                "time": now,
                "index": _plain(index),
                "bidBuffer": _plain(haircut),
                "askBuffer": _plain(haircut),
                "bidRate": _plain(rate),
                "askRate": _plain(index * (1 + haircut)),
                "autoExchangeBidBuffer": _plain(haircut / 2),
                "autoExchangeAskBuffer": _plain(haircut / 2),
                "autoExchangeBidRate": _plain(index * (1 - haircut / 2)),
                "autoExchangeAskRate": _plain(index * (1 + haircut / 2)),
            }

        symbol = params.get("symbol")
        if symbol is None:
            return _json([row(asset) for asset in sorted(self.account.haircuts)])
        asset = symbol.removesuffix("USD")
        if not symbol.endswith("USD") or asset not in self.account.haircuts:
            return _error(-1121, "Invalid symbol.")
        return _json(row(asset))

    def _brackets(self, family: str) -> Callable[[Params, int], Any]:
        """USD-M "Notional and Leverage Brackets" (`notionalCap`/`notionalFloor`) and COIN-M
        v2 "Notional Bracket for Symbol" (`qtyCap`/`qtyFloor`): one tier per symbol here."""

        def brackets(params: Params, now: int) -> Any:
            rows = []
            for m in PERPS.values():
                if m.family != family or params.get("symbol") not in (None, m.symbol):
                    continue
                tier: dict[str, Any] = {
                    "bracket": 1,
                    "initialLeverage": m.max_leverage,
                    "maintMarginRatio": float(m.maint_rate),
                    "cum": 0.0,
                }
                if family == USDM:
                    tier.update(notionalCap=10_000_000, notionalFloor=0)
                    rows.append({"symbol": m.symbol, "notionalCoef": 1.0, "brackets": [tier]})
                else:
                    tier.update(qtyCap=1_000_000, qtyFloor=0)
                    rows.append({"symbol": m.symbol, "brackets": [tier]})
            return rows

        return brackets

    # universal transfer ---------------------------------------------------------------------

    def _transfer(self, params: Params, now: int) -> dict[str, Any]:
        """`POST /sapi/v1/asset/transfer` ("User Universal Transfer"): `{"tranId": n}`."""
        kind = _required(params, "type")
        asset = _required(params, "asset")
        amount = _decimal(params, "amount")
        if self.account.portfolio_margin:
            record = portfolio.transfer(self.account, kind, asset, amount, now)
        else:
            record = self.account.transfer(kind, asset, amount, now)
        return {"tranId": record.tran_id}

    def _transfer_history(self, params: Params, now: int) -> dict[str, Any]:
        """`GET /sapi/v1/asset/transfer` ("Query User Universal Transfer History"): `type`
        required, `startTime`/`endTime`, `current` (default 1), `size` (default 10, max 100);
        newest first; `{"total": 0}` without `rows` when nothing matches."""
        kind = _required(params, "type")
        start = _int(params, "startTime")
        end = _int(params, "endTime")
        current = max(1, _int(params, "current", 1) or 1)
        size = min(100, max(1, _int(params, "size", 10) or 10))
        matching = [
            t
            for t in self.account.transfers
            if t.type == kind
            and (start is None or t.timestamp >= start)
            and (end is None or t.timestamp <= end)
        ]
        matching.sort(key=lambda t: (t.timestamp, t.tran_id), reverse=True)
        if not matching:
            return {"total": 0}
        page = matching[(current - 1) * size : current * size]
        return {
            "total": len(matching),
            "rows": [
                {
                    "asset": t.asset,
                    "amount": _plain(t.amount),
                    "type": t.type,
                    "status": t.status,
                    "tranId": t.tran_id,
                    "timestamp": t.timestamp,
                }
                for t in page
            ],
        }

    # isolated margin ------------------------------------------------------------------------

    def _margin(self, family: str) -> Callable[[Params, int], Any]:
        def modify(params: Params, now: int) -> Answer:
            """Binance's "Modify Isolated Position Margin": `{"amount": 100.0, "code": 200, "msg":
            "Successfully modify position margin.", "type": 1}` (amount a JSON number)."""
            symbol = _required(params, "symbol")
            kind = _int(params, "type")
            amount = _decimal(params, "amount")
            side = params.get("positionSide", "BOTH")
            if side != "BOTH":
                raise BinanceRefusal(-4061, "Order's position side does not match user's setting.")
            if kind is None:
                raise BinanceRefusal(
                    -1102, "Mandatory parameter 'type' was not sent, was empty/null, or malformed."
                )
            self.account.modify_margin(family, symbol, kind, amount, now)
            literal = _plain(amount)
            literal = literal if "." in literal else literal + ".0"
            return 200, (
                f'{{"amount":{literal},"code":200,'
                f'"msg":"Successfully modify position margin.","type":{kind}}}'
            )

        return modify

    def _margin_history(self, family: str) -> Callable[[Params, int], Any]:
        default_limit = 500 if family == USDM else 50

        def history(params: Params, now: int) -> list[dict[str, Any]]:
            """Binance's "Get Position Margin Change History": `symbol` required; `type`,
            `startTime`, `endTime`, `limit` (USD-M default 500, COIN-M 50); oldest first."""
            symbol = _required(params, "symbol")
            kind = _int(params, "type")
            start = _int(params, "startTime")
            end = _int(params, "endTime")
            limit = _int(params, "limit", default_limit) or default_limit
            rows = []
            for c in self.account.margin_changes:
                if c.family != family or c.symbol != symbol:
                    continue
                if kind is not None and c.type != kind:
                    continue
                if (start is not None and c.time < start) or (end is not None and c.time > end):
                    continue
                row: dict[str, Any] = {
                    "symbol": c.symbol,
                    "type": c.type,
                    "deltaType": "USER_ADJUST",
                    "amount": _plain(c.amount),
                    "asset": c.asset,
                    "time": c.time,
                    "positionSide": "BOTH",
                }
                if family == COINM:
                    del row["deltaType"]
                rows.append(row)
            return rows[:limit]

        return history

    # test hooks over HTTP -------------------------------------------------------------------

    async def _control(self, request: web.Request) -> web.Response:
        path = request.path
        if request.method == "POST" and path == "/_fake/mark":
            data = await request.json()
            self.account.set_mark(data["symbol"], str(data["price"]))
            return web.json_response({"ok": True})
        if request.method == "POST" and path == "/_fake/fault":
            data = await request.json()
            options = {k: data[k] for k in ("times", "status", "code", "msg", "hold") if k in data}
            self.faults.add(data["method"], data["path"], data["kind"], **options)
            return web.json_response({"ok": True})
        if request.method == "DELETE" and path == "/_fake/faults":
            self.faults.clear()
            return web.json_response({"ok": True})
        if request.method == "GET" and path == "/_fake/calls":
            return web.json_response({f"{m} {p}": n for (m, p), n in sorted(self.calls.items())})
        return web.json_response({"error": f"no hook {request.method} {path}"}, status=404)


def _without_signature(raw: str) -> str:
    return "&".join(part for part in raw.split("&") if part and not part.startswith("signature="))


def _plain(value: Decimal) -> str:
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


class BinanceFakeThread(FakeThread[BinanceFake]):
    """The fake on its own event loop in a background thread, for synchronous tests and for the
    bot's CLI (which runs its own loop): `with BinanceFakeThread() as fake: fake.base_url`.
    `fake.account`, `fake.faults` and `fake.calls` are the running fake's own."""

    def __init__(self, account: Account | None = None, **options: Any) -> None:
        super().__init__(BinanceFake(account, **options))


@contextmanager
def binance_fake(account: Account | None = None, **options: Any) -> Iterator[BinanceFakeThread]:
    """`with binance_fake() as fake:` a running fake in a background thread."""
    with BinanceFakeThread(account, **options) as running:
        yield running
