"""CoinW as a ccxt async exchange (`coinw`), and the bot's venue for it (`CoinWVenue`).

ccxt 4.5.90 has no CoinW class. `coinw` is written the way ccxt's own exchanges are:
`describe()` with the endpoints and their throttle costs, `sign()`, `handle_errors()`, and the
unified `fetch_*` methods the bot calls, so the rest of the bot reads CoinW like any ccxt
exchange. `CoinWVenue` then handles what the generic `Venue` would get wrong on CoinW:

- The futures wallet's `availableMargin` includes the margin held by filled orders (`alMargin`)
  and the Mega Coupon balance (`almightyGold`), so it is not free money (seed 003). What may
  leave the futures wallet is a separate endpoint, `account/available`.
- CoinW sends amounts as JSON numbers. The body is decoded with every non-integer number kept as
  its literal text (`json.loads(..., parse_float=str)`), never as a float: ccxt's `safe_string`
  reads such text (it ignores `Decimal`s), `info` stays JSON-serialisable for the ledger, and the
  venue parses it into `Decimal` exactly. ccxt's unified fields are floats, as everywhere in
  ccxt; the venue reads the raw fields from `info` instead.
- CoinW documents no futures <-> spot transfer API (`spotWealthTransfer` moves spot <-> funding
  only), so `has['transfer']` is False and the bot records such moves as manual.

Sources, all under https://www.coinw.com/api-doc/en/ :
- futures auth: common/AuthCode/certify-code-futures (headers `api_key`, `timestamp`, `sign` =
  base64 HMAC-SHA256 of timestamp + METHOD + path [+ "?" + query] [+ JSON body])
- spot auth: common/AuthCode/certify-code-spot (`sign` = upper-case MD5 of the parameters sorted
  by name, `k=v&...`, followed by `&secret_key=<secret>`)
- error codes and the 29001 refusal: common/error-codes, common/precautions
- each endpoint's page is named next to it in `ENDPOINTS`; `throttle_cost` turns its own limit
  into the ccxt `cost` in `describe()['api']`, and `CoinWImplicitAPI` is generated from that
  table the way ccxt's build generates `ccxt.abstract.*` (Python ccxt does not do it at run time).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from fractions import Fraction
from typing import Any, Final
from urllib.parse import parse_qs, quote, urlsplit

from ccxt.async_support.base.exchange import Exchange
from ccxt.base.decimal_to_precision import TICK_SIZE
from ccxt.base.errors import (
    AuthenticationError,
    BadRequest,
    BadSymbol,
    ExchangeError,
    ExchangeNotAvailable,
    PermissionDenied,
    RateLimitExceeded,
)

from bot.errors import VenueUnusable
from bot.model import SPOT, Funding, Position, VenueState, Wallet
from bot.money import ZERO, plain, to_decimal, to_decimal_or_none
from bot.venues.errors import ErrorKind, VenueError
from bot.venues.implicit import implicit_api
from bot.venues.venue import Venue

EXCHANGE_ID: Final = "coinw"
BASE_URL: Final = "https://api.coinw.com"
DOCS: Final = "https://www.coinw.com/api-doc/en/"

#: the account name `fetch_balance` takes for the futures wallet (ccxt's generic name)
FUTURES: Final = "swap"
#: the settle asset of the futures wallet `getUserAssets` describes
FUTURES_SETTLE: Final = "USDT"
#: `params['type']` values `fetch_balance` accepts, and the wallet each one reads
BALANCE_TYPES: Final[Mapping[str, str]] = {
    SPOT: SPOT,
    "swap": FUTURES,
    "future": FUTURES,
    "futures": FUTURES,
}

#: the step planned (manual) transfers are rounded down to
MANUAL_TRANSFER_STEP: Final = Decimal("0.01")

#: ccxt `rateLimit`: milliseconds per unit of throttle cost. 20 calls a second at most overall,
#: far under CoinW's global limits (100/s per user on futures, 100/s per IP on spot).
RATE_LIMIT_MS: Final = 50
#: space calls 25% wider than the venue's own limit: ccxt's leaky bucket lets one call through
#: early after an idle spell, and arrival times jitter
HEADROOM: Final = Fraction(5, 4)

_SUCCESS_CODES: Final = frozenset({"0", "200"})  # futures envelopes say 0, spot ones "200"


# endpoints ----------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Endpoint:
    """One CoinW REST endpoint and its own rate limit: `requests` per `window_ms`.

    For spot, `path` is the `command` of `/api/v1/public` or `/api/v1/private`.
    """

    section: str  # "futures" or "spot"
    access: str  # "public" or "private"
    method: str
    path: str
    requests: int
    window_ms: int
    doc: str


ENDPOINTS: Final[tuple[Endpoint, ...]] = (
    Endpoint(
        section="futures",
        access="public",
        method="GET",
        path="v1/perpum/instruments",
        requests=5,
        window_ms=1000,
        doc=DOCS + "futures-trading/market/get-instrument-information",
    ),
    Endpoint(
        section="futures",
        access="public",
        method="GET",
        path="v1/perpum/fundingRate",
        requests=8,
        window_ms=1000,
        doc=DOCS + "futures-trading/market/get-last-settelment-funding-fee-rate",
    ),
    Endpoint(
        section="futures",
        access="private",
        method="GET",
        path="v1/perpum/account/getUserAssets",
        requests=5,
        window_ms=2000,
        doc=DOCS + "futures-trading/assets/get-futures-account-assets",
    ),
    Endpoint(
        section="futures",
        access="private",
        method="GET",
        path="v1/perpum/account/available",
        requests=5,
        window_ms=1000,
        doc=DOCS + "futures-trading/assets/get-max-transferable-balance",
    ),
    # The two position limits were not on pages we could read; 5/s is below what CoinW.Net
    # (JKorf) configures for them (10/s and 30/s).
    Endpoint(
        section="futures",
        access="private",
        method="GET",
        path="v1/perpum/positions",
        requests=5,
        window_ms=1000,
        doc=DOCS + "futures-trading/position/get-current-position-information",
    ),
    Endpoint(
        section="futures",
        access="private",
        method="GET",
        path="v1/perpum/positions/all",
        requests=5,
        window_ms=1000,
        doc=DOCS + "futures-trading/position/get-current-positions",
    ),
    # Not read: CoinW.Net allows 80/s; called once per load_markets.
    Endpoint(
        section="spot",
        access="public",
        method="GET",
        path="returnSymbol",
        requests=5,
        window_ms=1000,
        doc=DOCS + "spot-trading/market/get-trading-pair-information",
    ),
    Endpoint(
        section="spot",
        access="private",
        method="POST",
        path="returnCompleteBalances",
        requests=5,
        window_ms=2000,
        doc=DOCS + "spot-trading/account/get-total-spot-account-balance",
    ),
)


def throttle_cost(endpoint: Endpoint, rate_limit_ms: int = RATE_LIMIT_MS) -> int:
    """The ccxt throttle cost that keeps `endpoint` under its own limit, with `HEADROOM`."""
    interval_ms = Fraction(endpoint.window_ms, endpoint.requests) * HEADROOM
    return max(1, math.ceil(interval_ms / rate_limit_ms))


def build_api(endpoints: Iterable[Endpoint]) -> dict[str, Any]:
    """ccxt's `describe()['api']`: section -> access -> method -> path -> cost."""
    api: dict[str, Any] = {}
    for endpoint in endpoints:
        by_method = api.setdefault(endpoint.section, {}).setdefault(endpoint.access, {})
        by_method.setdefault(endpoint.method.lower(), {})[endpoint.path] = throttle_cost(endpoint)
    return api


API: Final = build_api(ENDPOINTS)

# ccxt generates this class from describe()['api'] at build time; here it is built at import.
CoinWImplicitAPI = implicit_api("CoinWImplicitAPI", API)


# signing (pure) -----------------------------------------------------------------------------


def futures_sign_payload(timestamp: str, method: str, path: str, query: str, body: str) -> str:
    """timestamp + METHOD + path [+ "?" + query] [+ body]: exactly what is sent."""
    return timestamp + method.upper() + path + (f"?{query}" if query else "") + body


def futures_signature(secret: str, payload: str) -> str:
    digest = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def spot_query(params: Mapping[str, object]) -> str:
    """The parameters sorted by name as `k=v&...`; this string is both signed and sent."""
    return "&".join(f"{key}={quote(str(params[key]), safe='')}" for key in sorted(params))


def spot_signature(query: str, secret: str) -> str:
    signed = f"{query}&secret_key={secret}" if query else f"secret_key={secret}"
    return hashlib.md5(signed.encode()).hexdigest().upper()


# responses (pure) ---------------------------------------------------------------------------


def envelope_failure(response: object) -> tuple[str, str] | None:
    """(code, message) when a CoinW envelope reports a failure, else None.

    Futures envelopes carry `code: 0`; spot ones `code: "200"` with `success`/`failed` flags;
    refusals come with HTTP 200 and another code (`{"code": 29001, "msg": "API access
    frequently"}`), some with `message` instead of `msg`.
    """
    if not isinstance(response, Mapping) or response.get("code") is None:
        return None
    code = str(response["code"])
    message = str(response.get("msg") or response.get("message") or "")
    if code in _SUCCESS_CODES and response.get("success") is not False:
        return None if response.get("failed") is not True else (code, message)
    return code, message


def envelope_data(response: object) -> Any:
    return response.get("data") if isinstance(response, Mapping) else None


def _decimal(raw: Mapping[str, Any], key: str) -> Decimal:
    return to_decimal_or_none(raw.get(key), key) or ZERO


@dataclass(frozen=True, kw_only=True)
class FuturesFigures:
    """The futures wallet as CoinW reports it, and what of it is really free.

    `availableMargin` includes the coupon balance (in the seed's example it is exactly
    `availableUsdt + almightyGold`) and, per the docs, the margin of filled orders; so free money
    is at most `min(availableUsdt, availableMargin - almightyGold) - alMargin`. Coupons are not
    counted anywhere: they cannot be withdrawn and expire.
    """

    available_margin: Decimal
    available_usdt: Decimal
    held_margin: Decimal  # alMargin: held by filled orders
    frozen: Decimal  # alFreeze: held by unfilled orders
    coupon: Decimal  # almightyGold: the Mega Coupon balance
    transferable: Decimal  # account/available: what may leave the futures wallet now

    @property
    def free(self) -> Decimal:
        cash = min(self.available_usdt, self.available_margin - self.coupon)
        return max(ZERO, cash - self.held_margin)

    @property
    def used(self) -> Decimal:
        return self.held_margin + self.frozen

    @property
    def total(self) -> Decimal:
        return self.free + self.used


def futures_figures(assets: Mapping[str, Any], transferable: object) -> FuturesFigures:
    """`getUserAssets` data and `account/available`'s value as Decimals."""
    return FuturesFigures(
        available_margin=_decimal(assets, "availableMargin"),
        available_usdt=_decimal(assets, "availableUsdt"),
        held_margin=_decimal(assets, "alMargin"),
        frozen=_decimal(assets, "alFreeze"),
        coupon=_decimal(assets, "almightyGold"),
        transferable=max(ZERO, to_decimal_or_none(transferable, "value") or ZERO),
    )


def transferable_value(data: object) -> object:
    """`account/available`'s data: documented as `{"value": ...}`; a bare number is accepted."""
    return data.get("value") if isinstance(data, Mapping) else data


@dataclass(frozen=True, kw_only=True)
class PositionFigures:
    """One row of `/v1/perpum/positions` as Decimals; `notional` is absolute, in the settle asset.

    The row carries no mark price; `indexPrice` (documented as the latest index price) stands
    in for it unless a `markPrice` field is present.
    """

    side: str
    contracts: Decimal
    contract_size: Decimal
    entry_price: Decimal | None
    mark_price: Decimal | None
    unrealized_pnl: Decimal
    liquidation_price: Decimal | None
    initial_margin: Decimal | None

    @property
    def size(self) -> Decimal:
        return self.contracts * self.contract_size

    @property
    def notional(self) -> Decimal | None:
        return None if self.mark_price is None else abs(self.size * self.mark_price)


def position_figures(row: Mapping[str, Any], contract_size: Decimal) -> PositionFigures:
    """`currentPiece` counts contracts of `oneLotSize` base units each (the market's size)."""
    mark = to_decimal_or_none(row.get("markPrice"), "markPrice")
    if mark is None:
        mark = to_decimal_or_none(row.get("indexPrice"), "indexPrice")
    margin = to_decimal_or_none(row.get("margin"), "margin")
    if margin is None:
        margin = to_decimal_or_none(row.get("positionMargin"), "positionMargin")
    return PositionFigures(
        side=str(row.get("direction") or "").lower(),
        contracts=abs(_decimal(row, "currentPiece")),
        contract_size=contract_size,
        entry_price=to_decimal_or_none(row.get("openPrice"), "openPrice"),
        mark_price=mark,
        unrealized_pnl=_decimal(row, "profitUnreal"),
        liquidation_price=to_decimal_or_none(row.get("liquidationPrice"), "liquidationPrice"),
        initial_margin=margin,
    )


def funding_rate_value(data: object) -> object:
    """`fundingRate`'s data: `{"value": ...}` like CoinW's other single values, or a bare number."""
    return data.get("value") if isinstance(data, Mapping) else data


# the ccxt exchange --------------------------------------------------------------------------


class coinw(Exchange, CoinWImplicitAPI):  # type: ignore[misc,valid-type]
    """CoinW perpetuals and spot, read-only: markets, balances, positions and funding rates.

    Lower case, like ccxt's own classes: the class name is the exchange id.
    """

    def describe(self) -> dict[str, Any]:
        return self.deep_extend(
            super().describe(),
            {
                "id": EXCHANGE_ID,
                "name": "CoinW",
                "version": "v1",
                "rateLimit": RATE_LIMIT_MS,
                "certified": False,
                "pro": False,
                "has": {
                    "CORS": None,
                    "spot": True,
                    "margin": False,
                    "swap": True,
                    "future": False,
                    "option": False,
                    "fetchMarkets": True,
                    "fetchCurrencies": False,
                    "fetchBalance": True,
                    "fetchPositions": True,
                    "fetchFundingRate": True,
                    "fetchTime": False,
                    "transfer": False,
                    "fetchTransfers": False,
                    "withdraw": False,
                    "createOrder": False,
                    "cancelOrder": False,
                },
                "urls": {
                    "api": {"rest": BASE_URL},
                    "www": "https://www.coinw.com",
                    "doc": DOCS + "common/introduction",
                },
                "api": API,
                "requiredCredentials": {"apiKey": True, "secret": True},
                "precisionMode": TICK_SIZE,
                "options": {"defaultType": SPOT},
                "exceptions": {
                    "exact": {
                        "29001": RateLimitExceeded,  # API access frequently
                        "6000": AuthenticationError,  # authentication error
                        "6001": AuthenticationError,  # invalid signature
                        "6003": PermissionDenied,  # require more permission
                        "402": BadRequest,  # param required
                        "904": BadRequest,  # method parameters verification failed
                        "9016": BadRequest,  # incorrect parameter format/type
                        "9001": BadSymbol,  # contract not found
                    },
                    "broad": {
                        "API access frequently": RateLimitExceeded,
                        "require more permission": PermissionDenied,
                    },
                },
            },
        )

    # transport ------------------------------------------------------------------------------

    def on_json_response(self, response_body: str) -> Any:
        """Keep non-integer numbers as their literal text: amounts never become floats."""
        return json.loads(response_body, parse_float=str)

    def sign(
        self,
        path: str,
        api: Any = "public",
        method: str = "GET",
        params: dict[str, Any] | None = None,
        headers: dict[str, Any] | None = None,
        body: Any = None,
    ) -> dict[str, Any]:
        section, access = api
        params = dict(params or {})
        base = self.urls["api"]["rest"].rstrip("/")
        request_headers: dict[str, str] = {}
        if section == "spot":
            kind = "private" if access == "private" else "public"
            url = f"{base}/api/v1/{kind}?command={path}"
            if access == "private":
                self.check_required_credentials()
                query = spot_query({**params, "api_key": self.apiKey})
                url += f"&{query}&sign={spot_signature(query, self.secret)}"
            elif params:
                url += "&" + spot_query(params)
            return {"url": url, "method": method, "body": None, "headers": request_headers}

        request_path = "/" + path
        query = ""
        text = ""
        if method in ("POST", "PUT"):
            text = self.json(params) if params else ""
            request_headers["Content-Type"] = "application/json"
        elif params:
            query = self.urlencode(params)
        if access == "private":
            self.check_required_credentials()
            timestamp = str(self.milliseconds())
            payload = futures_sign_payload(timestamp, method, request_path, query, text)
            request_headers.update(
                {
                    "api_key": self.apiKey,
                    "timestamp": timestamp,
                    "sign": futures_signature(self.secret, payload),
                }
            )
        url = base + request_path + (f"?{query}" if query else "")
        return {"url": url, "method": method, "body": text or None, "headers": request_headers}

    def handle_errors(
        self,
        code: int,
        reason: str,
        url: str,
        method: str,
        headers: dict[str, Any],
        body: str,
        response: Any,
        request_headers: Any,
        request_body: Any,
    ) -> None:
        """Raise for any refusal. Messages name the endpoint, never the query (spot signs there)."""
        where = f"{self.id} {method} {_endpoint_of(url)}"
        failure = envelope_failure(response)
        detail = ""
        if failure is not None:
            detail = " " + json.dumps({"code": failure[0], "msg": failure[1]})
        if code >= 500:
            raise ExchangeNotAvailable(f"{where} HTTP {code}{detail}")
        if failure is not None:
            feedback = where + detail
            self.throw_exactly_matched_exception(self.exceptions["exact"], failure[0], feedback)
            self.throw_broadly_matched_exception(self.exceptions["broad"], failure[1], feedback)
            raise ExchangeError(feedback)
        if code == 429:
            raise RateLimitExceeded(f"{where} HTTP 429")
        if code in (401, 403):
            raise AuthenticationError(f"{where} HTTP {code}")
        if code >= 400:
            raise ExchangeError(f"{where} HTTP {code}")
        return None

    # markets --------------------------------------------------------------------------------

    async def fetch_markets(self, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """USDT/USDC-margined perpetuals from `/v1/perpum/instruments`, spot pairs from
        `returnSymbol`."""
        instruments = await self.futures_public_get_v1_perpum_instruments(params or {})
        symbols = await self.spot_public_get_returnsymbol()
        swaps = [self.parse_swap_market(row) for row in envelope_data(instruments) or []]
        spots = [self.parse_spot_market(row) for row in envelope_data(symbols) or []]
        return [market for market in (*swaps, *spots) if market is not None]

    def parse_swap_market(self, row: dict[str, Any]) -> dict[str, Any] | None:
        market_id = self.safe_string(row, "name")
        base_id = self.safe_string(row, "base")
        quote_id = self.safe_string(row, "quote")
        if market_id is None or base_id is None or quote_id is None:
            return None
        base = self.safe_currency_code(base_id.upper())
        quote = self.safe_currency_code(quote_id.upper())
        price_decimals = self.safe_string(row, "pricePrecision")
        return self.safe_market_structure(
            {
                "id": market_id,
                "lowercaseId": market_id.lower(),
                "symbol": f"{base}/{quote}:{quote}",
                "base": base,
                "quote": quote,
                "settle": quote,
                "baseId": base_id,
                "quoteId": quote_id,
                "settleId": quote_id,
                "type": "swap",
                "spot": False,
                "margin": False,
                "swap": True,
                "future": False,
                "option": False,
                "index": False,
                "active": self.safe_string(row, "status") == "online",
                "contract": True,
                "linear": True,
                "inverse": False,
                "subType": "linear",
                "taker": self.safe_number(row, "takerFee"),
                "maker": self.safe_number(row, "makerFee"),
                # one contract ("piece") is oneLotSize base units: positions count pieces
                "contractSize": self.safe_number(row, "oneLotSize"),
                "precision": {
                    "amount": self.parse_number("1"),
                    "price": self.parse_number(self.parse_precision(price_decimals))
                    if price_decimals is not None
                    else None,
                },
                "limits": {
                    "leverage": {
                        "min": self.safe_number(row, "minLeverage"),
                        "max": self.safe_number(row, "maxLeverage"),
                    },
                    "amount": {"min": self.safe_number(row, "minSize"), "max": None},
                    "price": {"min": None, "max": None},
                    "cost": {"min": None, "max": None},
                },
                "marginModes": {"cross": True, "isolated": True},
                "info": row,
            }
        )

    def parse_spot_market(self, row: dict[str, Any]) -> dict[str, Any] | None:
        market_id = self.safe_string(row, "currencyPair")
        base_id = self.safe_string(row, "currencyBase")
        quote_id = self.safe_string(row, "currencyQuote")
        if market_id is None or base_id is None or quote_id is None:
            return None
        base = self.safe_currency_code(base_id.upper())
        quote = self.safe_currency_code(quote_id.upper())
        amount_decimals = self.safe_string(row, "countPrecision")
        price_decimals = self.safe_string(row, "pricePrecision")
        return self.safe_market_structure(
            {
                "id": market_id,
                "lowercaseId": market_id.lower(),
                "symbol": f"{base}/{quote}",
                "base": base,
                "quote": quote,
                "baseId": base_id,
                "quoteId": quote_id,
                "type": "spot",
                "spot": True,
                "margin": False,
                "active": self.safe_string(row, "state") == "1",
                "linear": None,
                "inverse": None,
                "precision": {
                    "amount": self.parse_number(self.parse_precision(amount_decimals))
                    if amount_decimals is not None
                    else None,
                    "price": self.parse_number(self.parse_precision(price_decimals))
                    if price_decimals is not None
                    else None,
                },
                "limits": {
                    "amount": {
                        "min": self.safe_number(row, "minBuyCount"),
                        "max": self.safe_number(row, "maxBuyCount"),
                    },
                    "price": {
                        "min": self.safe_number(row, "minBuyPrice"),
                        "max": self.safe_number(row, "maxBuyPrice"),
                    },
                    "cost": {
                        "min": self.safe_number(row, "minBuyAmount"),
                        "max": self.safe_number(row, "maxBuyAmount"),
                    },
                },
                "info": row,
            }
        )

    # balances -------------------------------------------------------------------------------

    def balance_wallet(self, params: Mapping[str, Any]) -> str:
        """`spot` or `swap` from `params['type']` (`future`/`futures` mean `swap`)."""
        requested = self.safe_string_lower(params, "type") or self.options.get("defaultType")
        wallet = BALANCE_TYPES.get(str(requested))
        if wallet is None:
            known = ", ".join(BALANCE_TYPES)
            raise BadRequest(f"{self.id} fetch_balance() type {requested!r} is not one of {known}")
        return wallet

    async def fetch_balance(self, params: dict[str, Any] | None = None) -> dict[str, Any]:
        params = dict(params or {})
        wallet = self.balance_wallet(params)
        rest = self.omit(params, "type")
        if wallet == FUTURES:
            return await self.fetch_futures_balance(rest)
        return await self.fetch_spot_balance(rest)

    async def fetch_futures_balance(self, params: dict[str, Any]) -> dict[str, Any]:
        """`free` is the real free money (see `FuturesFigures`), not `availableMargin`; `info`
        holds every raw `getUserAssets` field plus `transferable` from `account/available`."""
        assets = envelope_data(
            await self.futures_private_get_v1_perpum_account_getuserassets(params)
        )
        available = envelope_data(await self.futures_private_get_v1_perpum_account_available())
        assets = dict(assets) if isinstance(assets, Mapping) else {}
        transferable = transferable_value(available)
        figures = futures_figures(assets, transferable)
        timestamp = self.safe_integer(assets, "time")
        return self.safe_balance(
            {
                "info": {**assets, "transferable": transferable},
                "timestamp": timestamp,
                "datetime": self.iso8601(timestamp),
                FUTURES_SETTLE: {
                    "free": plain(figures.free),
                    "used": plain(figures.used),
                    "total": plain(figures.total),
                },
            }
        )

    async def fetch_spot_balance(self, params: dict[str, Any]) -> dict[str, Any]:
        response = await self.spot_private_post_returncompletebalances(params)
        data = envelope_data(response)
        result: dict[str, Any] = {"info": response, "timestamp": None, "datetime": None}
        for currency_id, entry in (data or {}).items():
            if not isinstance(entry, Mapping):
                continue
            account = self.account()
            account["free"] = self.safe_string(entry, "available")
            account["used"] = self.safe_string(entry, "onOrders")
            result[self.safe_currency_code(currency_id.upper())] = account
        return self.safe_balance(result)

    # positions and funding ------------------------------------------------------------------

    async def fetch_positions(
        self, symbols: list[str] | None = None, params: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Open positions: per instrument for the given symbols, else `/v1/perpum/positions/all`."""
        await self.load_markets()
        params = dict(params or {})
        symbols = self.market_symbols(symbols)
        rows: list[Any] = []
        if symbols:
            for symbol in symbols:
                market = self.market(symbol)
                if not market["swap"]:
                    raise BadSymbol(f"{self.id} fetch_positions() {symbol} is not a perpetual")
                request = self.extend({"instrument": market["id"]}, params)
                response = await self.futures_private_get_v1_perpum_positions(request)
                rows.extend(envelope_data(response) or [])
        else:
            rows.extend(
                envelope_data(await self.futures_private_get_v1_perpum_positions_all(params)) or []
            )
        positions = [self.parse_position(row) for row in rows if isinstance(row, Mapping)]
        return self.filter_by_array_positions(positions, "symbol", symbols)

    def parse_position(self, position: dict[str, Any], market: Any = None) -> dict[str, Any]:
        instrument = self.safe_string_upper(position, "instrument")
        market = self.safe_market(instrument, market, None, "swap")
        contract_size = to_decimal_or_none(market.get("contractSize")) or Decimal(1)
        if market.get("info"):
            contract_size = _decimal(market["info"], "oneLotSize") or contract_size
        figures = position_figures(position, contract_size)
        model = self.safe_integer(position, "positionModel")
        updated = self.safe_integer(position, "updatedDate")
        return self.safe_position(
            {
                "info": position,
                "id": self.safe_string(position, "id"),
                "symbol": market.get("symbol"),
                "timestamp": updated,
                "datetime": self.iso8601(updated),
                "lastUpdateTimestamp": updated,
                "side": figures.side or None,
                "contracts": self.parse_number(plain(figures.contracts)),
                "contractSize": self.parse_number(plain(figures.contract_size)),
                "notional": self.parse_number(plain(figures.notional)),
                "entryPrice": self.parse_number(plain(figures.entry_price)),
                "markPrice": self.parse_number(plain(figures.mark_price)),
                "unrealizedPnl": self.parse_number(plain(figures.unrealized_pnl)),
                "liquidationPrice": self.parse_number(plain(figures.liquidation_price)),
                "initialMargin": self.parse_number(plain(figures.initial_margin)),
                "maintenanceMargin": None,
                "marginMode": {0: "isolated", 1: "cross"}.get(model) if model is not None else None,
                "leverage": self.safe_number(position, "leverage"),
                "hedged": None,
                "percentage": None,
            }
        )

    async def fetch_funding_rate(
        self, symbol: str, params: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The rate of the last settlement (CoinW's REST has no upcoming rate)."""
        await self.load_markets()
        market = self.market(symbol)
        if not market["swap"]:
            raise BadSymbol(f"{self.id} fetch_funding_rate() {symbol} is not a perpetual")
        # the docs spell the instrument in lower case ("btc") and call it case-sensitive
        request = self.extend({"instrument": market["lowercaseId"]}, params or {})
        response = await self.futures_public_get_v1_perpum_fundingrate(request)
        return self.parse_funding_rate(envelope_data(response), market)

    def parse_funding_rate(self, contract: Any, market: Any = None) -> dict[str, Any]:
        rate = self.parse_number(plain(to_decimal_or_none(funding_rate_value(contract))))
        hours = self.safe_string(market.get("info") or {}, "settledPeriod") if market else None
        return {
            "info": contract,
            "symbol": market["symbol"] if market else None,
            "markPrice": None,
            "indexPrice": None,
            "interestRate": None,
            "estimatedSettlePrice": None,
            "timestamp": None,
            "datetime": None,
            "fundingRate": rate,
            "fundingTimestamp": None,
            "fundingDatetime": None,
            "nextFundingRate": None,
            "nextFundingTimestamp": None,
            "nextFundingDatetime": None,
            "previousFundingRate": rate,
            "previousFundingTimestamp": None,
            "previousFundingDatetime": None,
            "interval": f"{hours}h" if hours else None,
        }


def _endpoint_of(url: str) -> str:
    """The path of `url`, and its spot `command`; never the rest of the query."""
    parts = urlsplit(url)
    command = parse_qs(parts.query).get("command")
    return parts.path + (f"?command={command[0]}" if command else "")


# the venue ----------------------------------------------------------------------------------


class CoinWVenue(Venue):
    """CoinW for the bot: two wallets (`spot`, `swap`), exact Decimals, no transfer API."""

    account_aliases: Mapping[str, str] = {
        "main": SPOT,
        "swap": FUTURES,
        "future": FUTURES,
        "futures": FUTURES,
        "perpetual": FUTURES,
        "contract": FUTURES,
    }

    async def connect(self) -> None:
        await super().connect()
        for symbol, market in self._perps.items():
            if market.settle != FUTURES_SETTLE:
                raise VenueUnusable(
                    f"{symbol}: CoinW's futures account API reports {FUTURES_SETTLE} only; "
                    f"hedge a {FUTURES_SETTLE}-margined perpetual such as ETH/USDT:USDT"
                )

    def futures_account(self, market: Mapping[str, Any]) -> str:
        return FUTURES

    def transfer_step(self, asset: str) -> Decimal:
        """CoinW has no transfer API and no currency list: moves are typed in by hand, and
        ccxt's per-currency precision would only echo some market's price tick."""
        return MANUAL_TRANSFER_STEP

    def balance_params(self, account: str) -> dict[str, Any]:
        return {"type": self.normalize_account(account)}

    def parse_wallets(self, account: str, balance: Mapping[str, Any]) -> list[Wallet]:
        account = self.normalize_account(account)
        info = balance.get("info") or {}
        if account == FUTURES:
            return [futures_wallet(info)]
        if account == SPOT:
            return spot_wallets(envelope_data(info) or {})
        return super().parse_wallets(account, balance)

    async def read_positions(self, symbols: list[str]) -> list[Position]:
        return merge_positions(await super().read_positions(symbols), venue=self.name)

    def parse_position(self, raw: Mapping[str, Any]) -> Position | None:
        """From the raw row in `info`, so every figure is the venue's own digits."""
        market = self._perps.get(str(raw.get("symbol")))
        row = raw.get("info")
        if market is None or not isinstance(row, Mapping):
            return None
        figures = position_figures(row, market.contract_size)
        if figures.contracts == 0:
            return None
        if figures.notional is None:
            raise VenueError(
                ErrorKind.FATAL, self.name, f"position {market.symbol} has no index or mark price"
            )
        return Position(
            symbol=market.symbol,
            side=figures.side or "short",
            contracts=figures.contracts,
            contract_size=figures.contract_size,
            notional=figures.notional,
            entry_price=figures.entry_price,
            mark_price=figures.mark_price,
            unrealized_pnl=figures.unrealized_pnl,
            initial_margin=figures.initial_margin,
            liquidation_price=figures.liquidation_price,
        )

    async def read_funding(self, symbol: str) -> Funding:
        raw = await self.call(self.client.fetch_funding_rate, symbol)
        return Funding(
            symbol=symbol,
            rate=to_decimal_or_none(funding_rate_value(raw.get("info")), "fundingRate"),
            mark_price=None,
        )

    async def read_state(self) -> VenueState:
        return with_position_losses(await super().read_state())


def futures_wallet(info: Mapping[str, Any]) -> Wallet:
    """The USDT futures wallet from `fetch_balance(type=swap)`'s `info`."""
    figures = futures_figures(info, info.get("transferable"))
    return Wallet(
        account=FUTURES,
        asset=FUTURES_SETTLE,
        free=figures.free,
        used=figures.used,
        balance=figures.total,
        transferable=figures.transferable,
    )


def spot_wallets(data: Mapping[str, Any]) -> list[Wallet]:
    """`returnCompleteBalances` data: `{asset: {available, onOrders}}`."""
    wallets = []
    for asset, entry in sorted(data.items()):
        if not isinstance(entry, Mapping):
            continue
        free = to_decimal(entry.get("available", "0"), "available")
        on_orders = to_decimal(entry.get("onOrders", "0"), "onOrders")
        wallets.append(
            Wallet(
                account=SPOT,
                asset=asset.upper(),
                free=free,
                used=on_orders,
                balance=free + on_orders,
                transferable=free,
            )
        )
    return wallets


def merge_positions(positions: Iterable[Position], *, venue: str) -> list[Position]:
    """One position per symbol: CoinW may hold a symbol as several positions (split layout).

    Rows on one side are summed; the entry price is contract-weighted and the liquidation price
    is the nearest one (lowest for a short, highest for a long). Both sides at once is refused.
    """
    by_symbol: dict[str, list[Position]] = {}
    for position in positions:
        by_symbol.setdefault(position.symbol, []).append(position)
    merged = []
    for symbol, group in by_symbol.items():
        if len(group) == 1:
            merged.append(group[0])
            continue
        sides = {p.side for p in group}
        if len(sides) != 1:
            raise VenueError(
                ErrorKind.FATAL,
                venue,
                f"{symbol}: both long and short positions are open; the bot hedges one short "
                "per perpetual, so close one side first",
            )
        contracts = sum((p.contracts for p in group), ZERO)
        entries = [(p.entry_price, p.contracts) for p in group if p.entry_price is not None]
        entry_weight = sum((c for _, c in entries), ZERO)
        liquidations = [p.liquidation_price for p in group if p.liquidation_price is not None]
        margins = [p.initial_margin for p in group if p.initial_margin is not None]
        nearest = min if group[0].side == "short" else max
        merged.append(
            replace(
                group[0],
                contracts=contracts,
                notional=sum((p.notional for p in group), ZERO),
                unrealized_pnl=sum((p.unrealized_pnl for p in group), ZERO),
                entry_price=sum((e * c for e, c in entries), ZERO) / entry_weight
                if entry_weight
                else None,
                initial_margin=sum(margins, ZERO) if margins else None,
                liquidation_price=nearest(liquidations) if liquidations else None,
            )
        )
    return merged


def with_position_losses(state: VenueState) -> VenueState:
    """Count open positions' unrealized losses in the futures wallet's equity, never gains.

    `getUserAssets` reports no unrealized PnL, and the docs do not say whether `availableUsdt`
    already includes it. Counting a loss that may already be included can only understate
    equity (the policy tops up sooner); counting a gain could overstate it, so gains are left
    out.
    """
    losses: dict[tuple[str, str], Decimal] = {}
    for symbol, position in state.positions.items():
        market = state.markets.get(symbol)
        if market is None:
            continue
        key = (market.futures_account, market.settle)
        losses[key] = losses.get(key, ZERO) + position.unrealized_pnl
    wallets = dict(state.wallets)
    for key, pnl in losses.items():
        wallet = wallets.get(key)
        if wallet is not None:
            wallets[key] = replace(wallet, unrealized_pnl=min(ZERO, pnl))
    return replace(state, wallets=wallets)
