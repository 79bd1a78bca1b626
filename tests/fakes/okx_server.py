"""An independent OKX v5 fake on loopback, written from OKX's API documentation
(https://www.okx.com/docs-v5/en/) and ccxt's recorded requests
(ts/src/test/static/request|response/okx.json), so the stock `ccxt.async_support.okx` client
can be driven over HTTP against a trading account (`18`) and a funding account (`6`). The
account and its arithmetic: `okx/accounts.py`; the instruments: `okx/markets.py`; the faults:
`okx/faults.py`.

Serves (every path as OKX spells it):

    GET  /api/v5/public/time                        server time
    GET  /api/v5/public/instruments                 SPOT, SWAP, one FUTURES (OPTION, MARGIN: none)
    GET  /api/v5/public/funding-rate                one swap, or instId=ANY for all
    GET  /api/v5/public/mark-price                  swap marks
    GET  /api/v5/asset/currencies          (signed) currencies (ccxt's fetch_currencies)
    GET  /api/v5/account/config            (signed) acctLv, posMode
    GET  /api/v5/account/balance           (signed) trading account: equity, margin, details
    GET  /api/v5/asset/balances            (signed) funding account
    GET  /api/v5/account/positions         (signed) swap positions (net mode)
    GET  /api/v5/account/max-withdrawal    (signed) what may leave the trading account
    POST /api/v5/asset/transfer            (signed) 6 <-> 18 with clientId
    GET  /api/v5/asset/transfer-state      (signed) by transId or clientId
    GET  /api/v5/account/bills             (signed) trading-account bills, paged by billId
    GET  /api/v5/account/bills-archive     (signed) the same (ccxt's fetch_transfers, type=1)
    GET  /api/v5/asset/bills               (signed) funding-account bills, paged by ts

Signed requests ("Authentication", REST Authentication): headers `OK-ACCESS-KEY`,
`OK-ACCESS-PASSPHRASE`, `OK-ACCESS-TIMESTAMP` (ISO 8601 UTC with milliseconds) and
`OK-ACCESS-SIGN` = base64 HMAC-SHA256 under the secret of timestamp + METHOD + requestPath (with
`?query` for GET) + body (POST). Refusals, with the code and HTTP status of the API-class error
table: a missing header 50103/50104/50106/50107, an unknown key 50111, a wrong passphrase
50105, a timestamp that is not ISO 8601 50112, a wrong signature 50113 (all HTTP 401), and a
timestamp more than 30 s away from the server's 50102 (HTTP 401; the 30 s is OKX's usual
window, not found in the pages read: an assumption). Every answer is
`{"code": "0", "msg": "", "data": [...]}`, refusals `{"code": "<code>", "msg": "...",
"data": []}`.

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
import re
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from tests.fakes.loopback import LoopbackFake
from tests.fakes.okx.accounts import (
    CLIENT_ID_MAX,
    TRADING,
    UNKNOWN_TRANSFER,
    Account,
    Bill,
    OkxRefusal,
    funding_bill_row,
    text,
    trading_bill_row,
    transfer_row,
)
from tests.fakes.okx.faults import (
    FAIL_AFTER,
    RATE_LIMIT_CODE,
    RATE_LIMIT_MSG,
    RATE_LIMITED,
    Fault,
    Faults,
)
from tests.fakes.okx.markets import (
    CURRENCIES,
    FUNDING_INTERVAL_MS,
    SPOTS,
    SWAPS,
    currency_row,
    dated_future_row,
    spot_row,
    swap_row,
)

API_KEY = "fake-okx-key-0123456789"
SECRET = "FAKEOKXSECRET0123456789ABCDEF"
PASSPHRASE = "fake-okx-passphrase"

Params = dict[str, str]
#: how far OK-ACCESS-TIMESTAMP may be from the server's clock, ms (an assumption, see above)
TIMESTAMP_WINDOW_MS = 30_000
PAGE_MAX = 100
ISO_STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
CLIENT_ID = re.compile(rf"^[A-Za-z0-9]{{1,{CLIENT_ID_MAX}}}$")


@dataclass(frozen=True)
class Route:
    handler: Callable[[Params, int], list[Any]]
    signed: bool


def envelope(code: str, msg: str, data: list[Any]) -> str:
    return json.dumps({"code": code, "msg": msg, "data": data}, separators=(",", ":"))


def _required(params: Params, name: str) -> str:
    value = params.get(name)
    if not value:
        raise OkxRefusal("50014", f"Parameter {name} can not be empty.", 400)
    return value


def _int(params: Params, name: str) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    if not raw.isdigit():
        raise OkxRefusal("51000", f"Parameter {name} error")
    return int(raw)


def _limit(params: Params) -> int:
    limit = _int(params, "limit")
    if limit is None:
        return PAGE_MAX
    if not 1 <= limit <= PAGE_MAX:
        raise OkxRefusal("51000", "Parameter limit error")
    return limit


def _list(params: Params, name: str) -> list[str] | None:
    raw = params.get(name)
    return [v for v in raw.split(",") if v] if raw else None


def iso_ms(stamp: str) -> int:
    """OK-ACCESS-TIMESTAMP ("2020-12-08T09:08:57.715Z") as epoch milliseconds."""
    parsed = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return int(parsed.timestamp() * 1000)


class OkxFake(LoopbackFake):
    """`async with OkxFake() as fake:` serves on `fake.base_url` until the block ends."""

    def __init__(
        self,
        account: Account | None = None,
        *,
        api_key: str = API_KEY,
        secret: str = SECRET,
        passphrase: str = PASSPHRASE,
        clock_offset_ms: int = 0,
    ) -> None:
        super().__init__(clock_offset_ms=clock_offset_ms)
        self.account = account or Account()
        self.faults = Faults()
        self.api_key = api_key
        self.secret = secret
        self.passphrase = passphrase
        self.requests: list[tuple[str, str, Params]] = []
        api = "/api/v5"
        self.routes: dict[tuple[str, str], Route] = {
            ("GET", f"{api}/public/time"): Route(self._time, False),
            ("GET", f"{api}/public/instruments"): Route(self._instruments, False),
            ("GET", f"{api}/public/funding-rate"): Route(self._funding_rate, False),
            ("GET", f"{api}/public/mark-price"): Route(self._mark_price, False),
            ("GET", f"{api}/asset/currencies"): Route(self._currencies, True),
            ("GET", f"{api}/account/config"): Route(self._config, True),
            ("GET", f"{api}/account/balance"): Route(self._balance, True),
            ("GET", f"{api}/asset/balances"): Route(self._funding_balances, True),
            ("GET", f"{api}/account/positions"): Route(self._positions, True),
            ("GET", f"{api}/account/max-withdrawal"): Route(self._max_withdrawal, True),
            ("POST", f"{api}/asset/transfer"): Route(self._transfer, True),
            ("GET", f"{api}/asset/transfer-state"): Route(self._transfer_state, True),
            ("GET", f"{api}/account/bills"): Route(self._trading_bills, True),
            ("GET", f"{api}/account/bills-archive"): Route(self._trading_bills, True),
            ("GET", f"{api}/asset/bills"): Route(self._funding_bills, True),
        }

    # lifecycle ------------------------------------------------------------------------------

    def client_urls(self) -> dict[str, Any]:
        """ccxt's `urls` for the okx class: its one REST root pointed here."""
        return {"api": {"rest": self.base_url}}

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
            return self._fault_answer(fault)
        answer = self._serve(request, route, body, now)
        if fault is None:
            return answer
        if fault.kind == FAIL_AFTER:
            return self._fault_answer(fault)
        await self._hold(fault)  # TIMEOUT_AFTER: the client gave up long before
        return answer

    def _fault_answer(self, fault: Fault) -> web.Response:
        if fault.kind == RATE_LIMITED:
            text_ = json.dumps({"msg": RATE_LIMIT_MSG, "code": RATE_LIMIT_CODE})
            return web.Response(status=429, text=text_, content_type="application/json")
        content_type = "application/json" if fault.body[:1] in "{[" else "text/plain"
        return web.Response(status=fault.status, text=fault.body, content_type=content_type)

    async def _hold(self, fault: Fault) -> None:
        assert self._stopping is not None
        with suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), fault.hold)

    def _serve(self, request: web.Request, route: Route, body: str, now: int) -> web.Response:
        status = 200
        try:
            if route.signed:
                self._authenticate(request, body, now)
            params = self._params(request.method, request.rel_url.raw_query_string, body)
            self.requests.append((request.method, request.path, params))
            with self.account.lock:
                data = route.handler(params, now)
            text_ = envelope("0", "", data)
        except OkxRefusal as refusal:
            status, text_ = refusal.status, envelope(refusal.code, refusal.msg, [])
        return web.Response(status=status, text=text_, content_type="application/json")

    def _params(self, method: str, query: str, body: str) -> Params:
        params: Params = dict(parse_qsl(query, keep_blank_values=True))
        if method == "POST" and body:
            try:
                # numbers kept exact: an amount sent as a JSON number is read digit for digit
                data = json.loads(body, parse_float=Decimal, parse_int=Decimal)
            except ValueError as exc:
                raise OkxRefusal("50002", "JSON syntax error", 400) from exc
            if not isinstance(data, dict):
                raise OkxRefusal("50002", "JSON syntax error", 400)
            params.update(
                {k: text(v) if isinstance(v, Decimal) else str(v) for k, v in data.items()}
            )
        return params

    def _authenticate(self, request: web.Request, body: str, now: int) -> None:
        headers = request.headers
        key = headers.get("OK-ACCESS-KEY", "")
        passphrase = headers.get("OK-ACCESS-PASSPHRASE", "")
        stamp = headers.get("OK-ACCESS-TIMESTAMP", "")
        sign = headers.get("OK-ACCESS-SIGN", "")
        for value, code, name in (
            (key, "50103", "OK-ACCESS-KEY"),
            (passphrase, "50104", "OK-ACCESS-PASSPHRASE"),
            (sign, "50106", "OK-ACCESS-SIGN"),
            (stamp, "50107", "OK-ACCESS-TIMESTAMP"),
        ):
            if not value:
                raise OkxRefusal(code, f'Request header "{name}" cannot be empty.', 401)
        if key != self.api_key:
            raise OkxRefusal("50111", "Invalid OK-ACCESS-KEY.", 401)
        if not ISO_STAMP.match(stamp):
            raise OkxRefusal("50112", "Invalid OK-ACCESS-TIMESTAMP.", 401)
        if passphrase != self.passphrase:
            raise OkxRefusal("50105", 'Request header "OK-ACCESS-PASSPHRASE" incorrect.', 401)
        payload = stamp + request.method + request.raw_path
        if request.method != "GET":
            payload += body
        digest = hmac.new(self.secret.encode(), payload.encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(base64.b64encode(digest).decode(), sign):
            raise OkxRefusal("50113", "Invalid signature.", 401)
        if abs(iso_ms(stamp) - now) > TIMESTAMP_WINDOW_MS:
            raise OkxRefusal("50102", "Timestamp request expired.", 401)

    # public ---------------------------------------------------------------------------------

    def _time(self, params: Params, now: int) -> list[Any]:
        return [{"ts": str(now)}]

    def _instruments(self, params: Params, now: int) -> list[Any]:
        inst_type = _required(params, "instType")
        inst_id = params.get("instId")
        if inst_type == "SPOT":
            rows = [spot_row(s) for s in SPOTS.values()]
        elif inst_type == "SWAP":
            rows = [swap_row(s) for s in SWAPS.values()]
        elif inst_type == "OPTION":
            if not (params.get("uly") or params.get("instFamily")):
                raise OkxRefusal("50015", "Either parameter uly or instFamily is required", 400)
            rows = []
        elif inst_type == "FUTURES":
            rows = [dated_future_row()]
        elif inst_type == "MARGIN":
            rows = []
        else:
            raise OkxRefusal("51000", "Parameter instType error")
        return [r for r in rows if inst_id in (None, r["instId"])]

    def _funding_rate(self, params: Params, now: int) -> list[Any]:
        """`fundingTime` is the coming settlement, `nextFundingTime` the one after it."""
        inst_id = _required(params, "instId")
        if inst_id == "ANY":
            ids = list(SWAPS)
        elif inst_id in SWAPS:
            ids = [inst_id]
        else:
            raise OkxRefusal("51001", "Instrument ID does not exist.")
        settles = (now // FUNDING_INTERVAL_MS + 1) * FUNDING_INTERVAL_MS
        return [
            {
                "instType": "SWAP",
                "instId": i,
                "method": "current_period",
                "formulaType": "withRate",
                "fundingRate": self.account.funding_rates[i],
                "nextFundingRate": "",
                "fundingTime": str(settles),
                "nextFundingTime": str(settles + FUNDING_INTERVAL_MS),
                "minFundingRate": "-0.0075",
                "maxFundingRate": "0.0075",
                "interestRate": "0.0001",
                "impactValue": "20000",
                "settState": "settled",
                "settFundingRate": self.account.funding_rates[i],
                "premium": "0",
                "ts": str(now),
            }
            for i in ids
        ]

    def _mark_price(self, params: Params, now: int) -> list[Any]:
        inst_type = _required(params, "instType")
        inst_id = params.get("instId")
        if inst_type != "SWAP":
            return []
        return [
            {"instType": "SWAP", "instId": i, "markPx": text(px), "ts": str(now)}
            for i, px in self.account.marks.items()
            if inst_id in (None, i)
        ]

    # private: account -----------------------------------------------------------------------

    def _currencies(self, params: Params, now: int) -> list[Any]:
        wanted = _list(params, "ccy")
        return [currency_row(c) for c in CURRENCIES if wanted is None or c in wanted]

    def _config(self, params: Params, now: int) -> list[Any]:
        return [
            {
                "uid": "44705892343619584",
                "mainUid": "44705892343619584",
                "acctLv": self.account.acct_lv,
                "acctStpMode": "cancel_maker",
                "posMode": self.account.pos_mode,
                "autoLoan": False,
                "greeksType": "PA",
                "feeType": "0",
                "level": "Lv1",
                "levelTmp": "",
                "ctIsoMode": "automatic",
                "mgnIsoMode": "automatic",
                "spotOffsetType": "",
                "roleType": "0",
                "traderInsts": [],
                "spotRoleType": "0",
                "spotTraderInsts": [],
                "opAuth": "0",
                "kycLv": "2",
                "label": "fake",
                "ip": "127.0.0.1",
                "perm": "read_only,trade",
                "liquidationGear": "-1",
                "enableSpotBorrow": False,
                "spotBorrowAutoRepay": False,
                "type": "0",
                "settleCcy": "USDT",
                "settleCcyList": ["USD", "USDC", "USDG"],
            }
        ]

    def _balance(self, params: Params, now: int) -> list[Any]:
        return [self.account.balance(_list(params, "ccy"), now)]

    def _funding_balances(self, params: Params, now: int) -> list[Any]:
        return self.account.funding_balances(_list(params, "ccy"))

    def _positions(self, params: Params, now: int) -> list[Any]:
        """ "Get positions": newest first by cTime; instId at most 10, posId at most 20."""
        inst_type = params.get("instType")
        if inst_type not in (None, "", "SWAP", "MARGIN", "FUTURES", "OPTION"):
            raise OkxRefusal("51000", "Parameter instType error")
        if inst_type not in (None, "", "SWAP"):
            return []
        ids, pos_ids = _list(params, "instId"), _list(params, "posId")
        if ids is not None and len(ids) > 10:
            raise OkxRefusal("51000", "Parameter instId error")
        held = [
            p
            for p in self.account.positions
            if (ids is None or p.inst_id in ids) and (pos_ids is None or p.pos_id in pos_ids)
        ]
        held.sort(key=lambda p: p.created_ms, reverse=True)
        return [self.account.position_row(p) for p in held]

    def _max_withdrawal(self, params: Params, now: int) -> list[Any]:
        wanted = _list(params, "ccy")
        ccys = wanted if wanted is not None else [c for c, b in self.account.trading.items() if b]
        return [
            {
                "ccy": c,
                "maxWd": text(self.account.max_withdrawal(c)),
                "maxWdEx": text(self.account.max_withdrawal(c)),
                "spotOffsetMaxWd": "",
                "spotOffsetMaxWdEx": "",
            }
            for c in ccys
        ]

    # private: transfers ---------------------------------------------------------------------

    def _transfer(self, params: Params, now: int) -> list[Any]:
        """ "Funds transfer": `{"transId", "clientId", "ccy", "from", "amt", "to"}`."""
        ccy = _required(params, "ccy")
        raw_amt = _required(params, "amt")
        from_acct = _required(params, "from")
        to_acct = _required(params, "to")
        if params.get("type", "0") != "0":
            raise OkxRefusal(
                "58127",
                "Main account API key does not support current transfer 'type' parameter. "
                "Please refer to the API documentation.",
            )
        client_id = params.get("clientId", "")
        if client_id and not CLIENT_ID.match(client_id):
            raise OkxRefusal("51000", "Parameter clientId error")
        try:
            amt = Decimal(raw_amt)
        except InvalidOperation as exc:
            raise OkxRefusal("51000", "Parameter amt error") from exc
        if not amt.is_finite():
            raise OkxRefusal("51000", "Parameter amt error")
        record = self.account.transfer(ccy, amt, from_acct, to_acct, client_id, now)
        return [
            {
                "transId": record.trans_id,
                "clientId": record.client_id,
                "ccy": record.ccy,
                "from": record.from_acct,
                "amt": text(record.amt),
                "to": record.to_acct,
            }
        ]

    def _transfer_state(self, params: Params, now: int) -> list[Any]:
        trans_id, client_id = params.get("transId"), params.get("clientId")
        if not (trans_id or client_id):
            raise OkxRefusal("50015", "Either parameter transId or clientId is required", 400)
        found = self.account.find_transfer(trans_id, client_id)
        if found is None:
            name = "transId" if trans_id else "clientId"
            raise OkxRefusal(
                UNKNOWN_TRANSFER, f"{name} is incorrect or {name} does not match with 'type'"
            )
        return [transfer_row(found)]

    def _trading_bills(self, params: Params, now: int) -> list[Any]:
        """ "Get bills details": newest first; `after`/`before` page by billId, `begin`/`end`
        filter by ts; `limit` up to 100 (default 100)."""
        limit = _limit(params)
        after, before = _int(params, "after"), _int(params, "before")
        begin, end = _int(params, "begin"), _int(params, "end")
        ccy, bill_type = params.get("ccy"), params.get("type")
        rows = [
            b
            for b in reversed(self.account.trading_bills)
            if ccy in (None, b.ccy)
            and bill_type in (None, "1")  # only transfers move this account here
            and (after is None or int(b.bill_id) < after)
            and (before is None or int(b.bill_id) > before)
            and (begin is None or b.ts >= begin)
            and (end is None or b.ts <= end)
        ]
        return [trading_bill_row(b) for b in self._page(rows, limit, before is not None)]

    def _funding_bills(self, params: Params, now: int) -> list[Any]:
        """ "Asset bills details": newest first; `after`/`before` page by ts."""
        limit = _limit(params)
        after, before = _int(params, "after"), _int(params, "before")
        ccy, bill_type, client_id = params.get("ccy"), params.get("type"), params.get("clientId")
        rows = [
            b
            for b in reversed(self.account.funding_bills)
            if ccy in (None, b.ccy)
            and bill_type in (None, funding_bill_row(b)["type"])
            and client_id in (None, b.transfer.client_id)
            and (after is None or b.ts < after)
            and (before is None or b.ts > before)
        ]
        return [funding_bill_row(b) for b in self._page(rows, limit, before is not None)]

    @staticmethod
    def _page(rows: list[Bill], limit: int, newer: bool) -> list[Bill]:
        """A page of newest-first rows: with `before`, the ones just newer than it."""
        return rows[-limit:] if newer else rows[:limit]


__all__ = ["API_KEY", "PASSPHRASE", "SECRET", "TRADING", "OkxFake"]
