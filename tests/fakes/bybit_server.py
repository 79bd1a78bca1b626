"""An independent Bybit v5 fake on loopback, written from Bybit's API documentation
(https://bybit-exchange.github.io/docs/v5/intro) and ccxt's recorded requests, so the stock
`ccxt.async_support.bybit` client can be driven over HTTP against a Unified Trading Account
(UNIFIED) and its Funding wallet (FUND). The account and its arithmetic:
`bybit/accounts.py`; the instruments: `bybit/markets.py`; the faults: `bybit/faults.py`.

Serves (every path as Bybit spells it):

    GET  /v5/market/time                                   server time
    GET  /v5/market/instruments-info                       spot, linear (inverse, option: none)
    GET  /v5/market/tickers                                mark, index, funding rate
    GET  /v5/asset/coin/query-info                 (signed) coins (ccxt's fetch_currencies)
    GET  /v5/user/query-api                        (signed) the key (ccxt reads `uta`)
    GET  /v5/account/info                          (signed) unifiedMarginStatus, marginMode
    GET  /v5/account/wallet-balance                (signed) UNIFIED: rates, equity, coins
    GET  /v5/asset/transfer/query-account-coins-balance (signed) FUND; UNIFIED with `coin`
    GET  /v5/position/list                         (signed) linear positions
    POST /v5/asset/transfer/inter-transfer         (signed) UNIFIED <-> FUND by transferId
    GET  /v5/asset/transfer/query-inter-transfer-list (signed) paged with `cursor`

Signed requests ("Integration Guidance", Authentication): headers `X-BAPI-API-KEY`,
`X-BAPI-TIMESTAMP`, `X-BAPI-RECV-WINDOW` (default 5000) and `X-BAPI-SIGN` = lower-case hex
HMAC-SHA256 under the secret of timestamp + key + recvWindow + (the query string as sent for
GET | the JSON body as sent for POST). A missing or unknown key is refused with retCode 10003,
a wrong signature with 10004, a timestamp outside [server_time - recvWindow, server_time + 1000)
with 10002. Every answer is `{"retCode", "retMsg", "result", "retExtInfo", "time"}` with HTTP
200, refusals included, and carries the `X-Bapi-Limit*` headers of the Rate Limit Rules page.

Test hooks: `fake.account` (under `fake.account.lock`), `fake.faults.add(...)`,
`fake.calls[(METHOD, path)]`, `fake.requests` (what arrived, parameters as strings), and
`fake.unserved` (paths the fake does not serve, answered 404).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from collections import Counter
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from tests.fakes.bybit.accounts import (
    FUND,
    UNIFIED,
    Account,
    BybitRefusal,
    text,
    transfer_row,
)
from tests.fakes.bybit.faults import FAIL_AFTER, RATE_LIMITED, TOO_MANY_VISITS, Fault, Faults
from tests.fakes.bybit.markets import (
    COINS,
    FUNDING_INTERVAL_MINUTES,
    PERPETUALS,
    SPOTS,
    coin_row,
    dated_future_row,
    perpetual_row,
    spot_row,
)
from tests.fakes.loopback import LoopbackFake

API_KEY = "fake-bybit-key-0123456789"
SECRET = "fake-bybit-secret-abcdefghijklmnopqrstuv"

Params = dict[str, str]
SEVEN_DAYS_MS = 7 * 24 * 3600 * 1000
LAUNCHED_MS = 1_585_526_400_000
#: per-second limits from the Rate Limit Rules table (the per-minute ones as their minute)
RATE_LIMITS: dict[str, int] = {
    "/v5/account/wallet-balance": 50,
    "/v5/account/info": 50,
    "/v5/position/list": 50,
    "/v5/asset/transfer/query-account-coins-balance": 5,
    "/v5/asset/coin/query-info": 5,
    "/v5/user/query-api": 10,
    "/v5/asset/transfer/inter-transfer": 60,
    "/v5/asset/transfer/query-inter-transfer-list": 60,
}


@dataclass(frozen=True)
class Route:
    handler: Callable[[Params, int], Any]
    signed: bool


def envelope(code: int, msg: str, result: Any, now: int) -> str:
    """Bybit's common response: `retExtInfo` is `{}` "most of the time"."""
    return json.dumps(
        {"retCode": code, "retMsg": msg, "result": result, "retExtInfo": {}, "time": now},
        separators=(",", ":"),
    )


def _required(params: Params, name: str) -> str:
    value = params.get(name)
    if not value:
        raise BybitRefusal(10001, f"missing params: {name}")
    return value


def _int(params: Params, name: str, default: int | None = None) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    if not raw.lstrip("-").isdigit():
        raise BybitRefusal(10001, f"params error: {name}")
    return int(raw)


def _coins(params: Params) -> list[str] | None:
    raw = params.get("coin")
    return [c for c in raw.split(",") if c] if raw else None


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def decode_cursor(cursor: str) -> int:
    try:
        offset = json.loads(base64.urlsafe_b64decode(cursor.encode()))["offset"]
    except (ValueError, KeyError, TypeError) as exc:
        raise BybitRefusal(10001, "params error: cursor") from exc
    if not isinstance(offset, int) or offset < 0:
        raise BybitRefusal(10001, "params error: cursor")
    return offset


class BybitFake(LoopbackFake):
    """`async with BybitFake() as fake:` serves on `fake.base_url` until the block ends."""

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
        self.requests: list[tuple[str, str, Params]] = []
        self._per_second: Counter[tuple[str, int]] = Counter()
        self.routes: dict[tuple[str, str], Route] = {
            ("GET", "/v5/market/time"): Route(self._time, False),
            ("GET", "/v5/market/instruments-info"): Route(self._instruments, False),
            ("GET", "/v5/market/tickers"): Route(self._tickers, False),
            ("GET", "/v5/asset/coin/query-info"): Route(self._coin_info, True),
            ("GET", "/v5/user/query-api"): Route(self._query_api, True),
            ("GET", "/v5/account/info"): Route(self._account_info, True),
            ("GET", "/v5/account/wallet-balance"): Route(self._wallet_balance, True),
            ("GET", "/v5/asset/transfer/query-account-coins-balance"): Route(
                self._coins_balance, True
            ),
            ("GET", "/v5/position/list"): Route(self._positions, True),
            ("POST", "/v5/asset/transfer/inter-transfer"): Route(self._transfer, True),
            ("GET", "/v5/asset/transfer/query-inter-transfer-list"): Route(
                self._transfer_list, True
            ),
        }

    # lifecycle ------------------------------------------------------------------------------

    def client_urls(self) -> dict[str, Any]:
        """ccxt's `urls` for the bybit class, every API pointed here."""
        apis = ("spot", "futures", "v2", "public", "private")
        return {"api": {name: self.base_url for name in apis}}

    # dispatch -------------------------------------------------------------------------------

    async def _dispatch(self, request: web.Request) -> web.Response:
        method, path = request.method, request.path
        route = self.routes.get((method, path))
        if route is None:
            self.unserved.append((method, path))
            return web.Response(status=404, text="404 page not found")
        self.calls[(method, path)] += 1
        body = await request.text()
        now = self.now()
        fault = self.faults.take(method, path)
        if fault is not None and not fault.applies:
            return self._fault_answer(fault, path, now)
        answer = self._serve(request, route, body, now)
        if fault is None:
            return answer
        if fault.kind == FAIL_AFTER:
            return self._fault_answer(fault, path, now)
        await self._hold(fault)  # TIMEOUT_AFTER: the client gave up long before
        return answer

    def _fault_answer(self, fault: Fault, path: str, now: int) -> web.Response:
        if fault.kind == RATE_LIMITED:
            limit = RATE_LIMITS.get(path, 10)
            headers = {
                "X-Bapi-Limit": str(limit),
                "X-Bapi-Limit-Status": "0",
                "X-Bapi-Limit-Reset-Timestamp": str(now + 1000),
            }
            text_ = envelope(10006, TOO_MANY_VISITS, {}, now)
            return web.Response(text=text_, content_type="application/json", headers=headers)
        content_type = "application/json" if fault.body[:1] in "{[" else "text/plain"
        return web.Response(status=fault.status, text=fault.body, content_type=content_type)

    async def _hold(self, fault: Fault) -> None:
        assert self._stopping is not None
        with suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), fault.hold)

    def _serve(self, request: web.Request, route: Route, body: str, now: int) -> web.Response:
        query = request.rel_url.raw_query_string
        try:
            params = self._params(request.method, query, body)
            if route.signed:
                self._authenticate(request, query, body, now)
            self.requests.append((request.method, request.path, params))
            with self.account.lock:
                result = route.handler(params, now)
            code, msg = 0, "OK"
        except BybitRefusal as refusal:
            result, code, msg = {}, refusal.code, refusal.msg
        headers = self._limit_headers(request.path, now) if route.signed else {}
        return web.Response(
            text=envelope(code, msg, result, now), content_type="application/json", headers=headers
        )

    def _params(self, method: str, query: str, body: str) -> Params:
        params: Params = dict(parse_qsl(query, keep_blank_values=True))
        if method == "POST" and body:
            try:
                # numbers kept exact: an amount sent as a JSON number is read digit for digit
                data = json.loads(body, parse_float=Decimal, parse_int=Decimal)
            except ValueError as exc:
                raise BybitRefusal(10001, "request body is not valid JSON") from exc
            if not isinstance(data, dict):
                raise BybitRefusal(10001, "request body is not a JSON object")
            params.update(
                {k: text(v) if isinstance(v, Decimal) else str(v) for k, v in data.items()}
            )
        return params

    def _limit_headers(self, path: str, now: int) -> dict[str, str]:
        second = now // 1000
        self._per_second[(path, second)] += 1
        limit = RATE_LIMITS.get(path, 10)
        remaining = max(0, limit - self._per_second[(path, second)])
        return {
            "X-Bapi-Limit": str(limit),
            "X-Bapi-Limit-Status": str(remaining),
            "X-Bapi-Limit-Reset-Timestamp": str(now),
        }

    def _authenticate(self, request: web.Request, query: str, body: str, now: int) -> None:
        headers = request.headers
        key = headers.get("X-BAPI-API-KEY")
        if not key or key != self.api_key:
            raise BybitRefusal(10003, "API key is invalid.")
        stamp_text = headers.get("X-BAPI-TIMESTAMP", "")
        window_text = headers.get("X-BAPI-RECV-WINDOW", "5000")
        if not stamp_text.isdigit() or not window_text.isdigit():
            raise BybitRefusal(10001, "params error: X-BAPI-TIMESTAMP or X-BAPI-RECV-WINDOW")
        payload = stamp_text + key + window_text + (body if request.method == "POST" else query)
        expected = hmac.new(self.secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, headers.get("X-BAPI-SIGN", "")):
            raise BybitRefusal(
                10004, "Error sign, please check your signature generation algorithm."
            )
        stamp, window = int(stamp_text), int(window_text)
        if not now - window <= stamp < now + 1000:
            raise BybitRefusal(
                10002,
                "invalid request, please check your server timestamp or recv_window param. "
                f"req_timestamp[{stamp}],server_timestamp[{now}],recv_window[{window}]",
            )

    # public ---------------------------------------------------------------------------------

    def _time(self, params: Params, now: int) -> dict[str, str]:
        return {"timeSecond": str(now // 1000), "timeNano": str(now * 1_000_000)}

    def _instruments(self, params: Params, now: int) -> dict[str, Any]:
        """One page always (`nextPageCursor` ""); pre-launch markets: none."""
        category = _required(params, "category")
        symbol = params.get("symbol")
        rows: list[dict[str, Any]] = []
        if params.get("status", "Trading") == "Trading":
            if category == "spot":
                rows = [spot_row(s) for s in SPOTS.values()]
            elif category == "linear":
                rows = [perpetual_row(p, LAUNCHED_MS) for p in PERPETUALS.values()]
                rows.append(dated_future_row(LAUNCHED_MS))
            elif category not in ("inverse", "option"):
                raise BybitRefusal(10001, "params error: category")
        rows = [r for r in rows if symbol in (None, r["symbol"])]
        return {"category": category, "list": rows, "nextPageCursor": ""}

    def _tickers(self, params: Params, now: int) -> dict[str, Any]:
        category = _required(params, "category")
        symbol = params.get("symbol")
        if category == "linear":
            symbols = list(PERPETUALS)
            make = self._linear_ticker
        elif category == "spot":
            symbols = list(SPOTS)
            make = self._spot_ticker
        else:
            raise BybitRefusal(10001, "params error: category")
        if symbol is not None:
            if symbol not in symbols:
                raise BybitRefusal(10001, "Not supported symbols")
            symbols = [symbol]
        return {"category": category, "list": [make(s, now) for s in symbols]}

    def _linear_ticker(self, symbol: str, now: int) -> dict[str, Any]:
        mark = text(self.account.marks[symbol])
        interval_ms = FUNDING_INTERVAL_MINUTES * 60_000
        return {
            "symbol": symbol,
            "lastPrice": mark,
            "indexPrice": mark,
            "markPrice": mark,
            "prevPrice24h": mark,
            "price24hPcnt": "0",
            "highPrice24h": mark,
            "lowPrice24h": mark,
            "prevPrice1h": mark,
            "openInterest": "50000",
            "openInterestValue": "1000000000.00",
            "turnover24h": text(self.account.marks[symbol] * 1000),
            "volume24h": "1000",
            "fundingRate": self.account.funding_rates[symbol],
            "nextFundingTime": str((now // interval_ms + 1) * interval_ms),
            "predictedDeliveryPrice": "",
            "basisRate": "",
            "deliveryFeeRate": "",
            "deliveryTime": "0",
            "ask1Size": "1.5",
            "bid1Price": mark,
            "ask1Price": mark,
            "bid1Size": "1.5",
            "basis": "",
            "preOpenPrice": "",
            "preQty": "",
            "curPreListingPhase": "",
            "fundingIntervalHour": str(FUNDING_INTERVAL_MINUTES // 60),
            "basisRateYear": "",
            "fundingCap": "0.005",
        }

    def _spot_ticker(self, symbol: str, now: int) -> dict[str, Any]:
        price = text(self.account.usd_prices[SPOTS[symbol].base])
        return {
            "symbol": symbol,
            "bid1Price": price,
            "bid1Size": "1",
            "ask1Price": price,
            "ask1Size": "1",
            "lastPrice": price,
            "prevPrice24h": price,
            "price24hPcnt": "0",
            "highPrice24h": price,
            "lowPrice24h": price,
            "turnover24h": text(self.account.usd_prices[SPOTS[symbol].base] * 100),
            "volume24h": "100",
            "usdIndexPrice": price,
        }

    # private: key and account ---------------------------------------------------------------

    def _coin_info(self, params: Params, now: int) -> dict[str, Any]:
        wanted = params.get("coin")
        return {"rows": [coin_row(c) for c in COINS if wanted in (None, c)]}

    def _query_api(self, params: Params, now: int) -> dict[str, Any]:
        """ "Get API Key Information": ccxt reads `unified` and `uta` (1: a UTA)."""
        uta = 1 if self.account.unified_margin_status >= 3 else 0
        return {
            "id": "13770661",
            "note": "fake",
            "apiKey": self.api_key,
            "readOnly": 0,
            "secret": "",
            "permissions": {
                "ContractTrade": ["Order", "Position"],
                "Spot": ["SpotTrade"],
                "Wallet": ["AccountTransfer"],
                "Options": [],
                "Derivatives": [],
                "CopyTrading": [],
                "BlockTrade": [],
                "Exchange": [],
                "NFT": [],
                "Affiliate": [],
                "Earn": [],
            },
            "ips": ["127.0.0.1"],
            "type": 1,
            "deadlineDay": 83,
            "expiredAt": "2030-05-15T03:21:05Z",
            "createdAt": "2024-10-16T02:24:40Z",
            "unified": 0,
            "uta": uta,
            "userID": 24600000,
            "inviterID": 0,
            "vipLevel": "No VIP",
            "mktMakerLevel": "0",
            "affiliateID": 0,
            "rsaPublicKey": "",
            "isMaster": True,
            "parentUid": "0",
            "kycLevel": "LEVEL_DEFAULT",
            "kycRegion": "",
        }

    def _account_info(self, params: Params, now: int) -> dict[str, Any]:
        return {
            "marginMode": self.account.margin_mode,
            "updatedTime": str(now - 60_000),
            "unifiedMarginStatus": self.account.unified_margin_status,
            "dcpStatus": "OFF",
            "timeWindow": 0,
            "smpGroup": 0,
            "isMasterTrader": False,
            "spotHedgingStatus": "OFF",
        }

    def _wallet_balance(self, params: Params, now: int) -> dict[str, Any]:
        if _required(params, "accountType") != UNIFIED:
            raise BybitRefusal(10001, "accountType only support UNIFIED.")
        return self.account.wallet_balance(_coins(params))

    def _coins_balance(self, params: Params, now: int) -> dict[str, Any]:
        """ "Get All Coins Balance": `coin` is mandatory for UNIFIED (up to 10 coins)."""
        account_type = _required(params, "accountType")
        coins = _coins(params)
        if account_type not in (UNIFIED, FUND):
            raise BybitRefusal(10001, "params error: accountType")
        if account_type == UNIFIED and (coins is None or len(coins) > 10):
            raise BybitRefusal(10001, "params error: coin is required for UNIFIED")
        return {
            "memberId": "24600000",
            "accountType": account_type,
            "balance": self.account.coins_balance(account_type, coins),
        }

    def _positions(self, params: Params, now: int) -> dict[str, Any]:
        """ "Get Position Info": linear needs `symbol`, `baseCoin` or `settleCoin`."""
        category = _required(params, "category")
        if category != "linear":
            return {"category": category, "list": [], "nextPageCursor": ""}
        symbol, settle, base = (
            params.get("symbol"),
            params.get("settleCoin"),
            params.get("baseCoin"),
        )
        if not (symbol or settle or base):
            raise BybitRefusal(
                10001, "Missing some parameters that must be filled in, symbol or settleCoin"
            )
        limit = _int(params, "limit", 20) or 20
        if not 1 <= limit <= 200:
            raise BybitRefusal(10001, "params error: limit")
        if symbol is not None and symbol not in PERPETUALS:
            raise BybitRefusal(10001, "params error: symbol invalid")
        rows = [
            self.account.position_row(p)
            for p in self.account.positions
            if symbol in (None, p.symbol)
            and settle in (None, "USDT")
            and base in (None, PERPETUALS[p.symbol].base)
        ]
        return {"category": "linear", "list": rows[:limit], "nextPageCursor": ""}

    # private: transfers ---------------------------------------------------------------------

    def _transfer(self, params: Params, now: int) -> dict[str, Any]:
        """ "Create Internal Transfer": `{"transferId", "status"}`."""
        transfer_id = _required(params, "transferId")
        coin = _required(params, "coin")
        from_type = _required(params, "fromAccountType")
        to_type = _required(params, "toAccountType")
        try:
            amount = Decimal(_required(params, "amount"))
        except InvalidOperation as exc:
            raise BybitRefusal(131215, "Amount error") from exc
        if not amount.is_finite():
            raise BybitRefusal(131215, "Amount error")
        record = self.account.transfer(transfer_id, coin, amount, from_type, to_type, now)
        return {"transferId": record.transfer_id, "status": record.status}

    def _transfer_list(self, params: Params, now: int) -> dict[str, Any]:
        """ "Get Internal Transfer Records": newest first; `limit` [1, 50] (default 20); the
        window is the past 7 days unless given, at most 7 days, compared by the second."""
        limit = _int(params, "limit", 20) or 20
        if not 1 <= limit <= 50:
            raise BybitRefusal(10001, "params error: limit")
        start, end = _int(params, "startTime"), _int(params, "endTime")
        if start is None and end is None:
            start, end = now - SEVEN_DAYS_MS, now
        elif end is None:
            end = start + SEVEN_DAYS_MS  # type: ignore[operator]
        elif start is None:
            start = end - SEVEN_DAYS_MS
        assert start is not None and end is not None
        if end - start > SEVEN_DAYS_MS:
            raise BybitRefusal(10001, "The time range between startTime and endTime is > 7 days")
        wanted = {k: params.get(k) for k in ("transferId", "coin", "status")}
        matching = [
            t
            for t in reversed(self.account.transfers)
            if start // 1000 <= t.timestamp_ms // 1000 <= end // 1000
            and wanted["transferId"] in (None, t.transfer_id)
            and wanted["coin"] in (None, t.coin)
            and wanted["status"] in (None, t.status)
        ]
        offset = decode_cursor(params["cursor"]) if params.get("cursor") else 0
        page = matching[offset : offset + limit]
        more = offset + limit < len(matching)
        return {
            "list": [transfer_row(t) for t in page],
            "nextPageCursor": encode_cursor(offset + limit) if more else "",
        }
