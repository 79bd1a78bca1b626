"""CoinW as a ccxt async exchange: `coinw`, usable with or without the bot.

ccxt 4.5.90 has no CoinW class. `coinw` is written the way ccxt's own exchanges are:
`describe()` with the endpoints and their throttle costs, `sign()`, `handle_errors()`, and the
unified `fetch_*` methods, so anything that speaks ccxt reads CoinW like any ccxt exchange. It
imports nothing of the bot but three small helpers (`bot.venues.implicit`,
`bot.venues.readonly_features`, and `bot.venues.decode` for its exact figures and JSON loader,
which needs only `bot.errors`); the bot's adapter is `bot.venues.coinw.venue`.

- CoinW sends amounts as JSON numbers. Bodies are decoded with every non-integer number kept as
  its literal text (`decode.loads_exact`, the loader of every client the bot builds), never as
  a float: ccxt's `safe_string` reads such text, `info` stays JSON-serialisable, and a caller
  can parse it into `Decimal` exactly.
  ccxt's unified fields are floats, as everywhere in ccxt; the exact figures are in `info`.
- A body whose shape cannot be represented (positions that are not a list, a row with no
  instrument, one key twice in an object) raises `BadResponse`: a malformed positions answer
  must never read as "no positions". Figures are not judged here: an unreadable one leaves its
  unified field None, and `info` keeps what the venue sent.
- The futures wallet's `availableMargin` includes the margin held by filled orders (`alMargin`)
  and the Mega Coupon balance (`almightyGold`), so it is not free money (the precaution on
  futures-trading/assets/get-futures-account-assets). What may leave the futures wallet is a
  separate endpoint, `account/available`; `fetch_balance(type=swap)` puts its value in
  `info['transferable']`.
- CoinW documents no futures <-> spot transfer API (`spotWealthTransfer` moves spot <-> funding
  only), so `has['transfer']` is False. `has` claims only what is implemented here; ccxt's
  "emulated" defaults (`fetchTicker`, `editOrder`, `fetchCurrenciesWs`) are switched off, since
  each would raise NotSupported.
- Funding: the REST API gives the rate of the LAST settlement only
  (futures-trading/market/get-last-settelment-funding-fee-rate); no endpoint of the docs gives
  the current (upcoming) rate. `fetch_funding_rate` therefore puts it in `previousFundingRate`
  and leaves `fundingRate` None rather than passing the settled rate off as the current one. Its
  time is not in the answer, so `previousFundingTimestamp` is None too. The bot is unaffected:
  its adapter (`bot.venues.coinw.venue.read_funding`) reads the venue's own `info['value']` and
  treats it, as it always did, as the last settled rate.
- Currencies: spot and balances spell an asset in upper case (`ETH`), the instruments list in
  lower case (`base: "eth"`). ccxt builds its currency table from the markets' `baseId`/`quoteId`,
  so both kinds of market carry the upper-case id (the one the account endpoints use); the
  instrument's own spelling stays in `info`.

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
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any, Final
from urllib.parse import parse_qs, quote, urlsplit

from ccxt.async_support.base.exchange import Exchange
from ccxt.base.decimal_to_precision import TICK_SIZE
from ccxt.base.errors import (
    AuthenticationError,
    BadRequest,
    BadResponse,
    BadSymbol,
    ExchangeError,
    ExchangeNotAvailable,
    PermissionDenied,
    RateLimitExceeded,
)

from bot.venues.decode import (
    AmbiguousBody,
    NotExact,
    exact_decimal,
    finite_text,
    loads_exact,
    shown,
)
from bot.venues.implicit import implicit_api
from bot.venues.readonly_features import read_only_features

EXCHANGE_ID: Final = "coinw"
BASE_URL: Final = "https://api.coinw.com"
DOCS: Final = "https://www.coinw.com/api-doc/en/"

#: CoinW's base spot fee, maker and taker alike: 0.1% ("the base trading fee for maker and taker
#: is 0.1%", https://www.coinw.com/fees, spot section); perpetuals carry theirs per instrument
#: (`makerFee`, `takerFee` of /v1/perpum/instruments)
SPOT_FEE: Final = "0.001"

#: the account names `fetch_balance` takes: ccxt's generic names for the spot and futures wallets
SPOT: Final = "spot"
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


def number(value: object) -> Decimal | None:
    """A figure for ccxt's unified fields: its exact `Decimal`, or None when it is unreadable.

    Lenient on purpose: the unified structure may have a hole, and `info` keeps what was sent
    for a caller that must judge it (the bot's venue refuses it).
    """
    try:
        return exact_decimal(value, bound=None)
    except NotExact:
        return None


def plain_text(amount: Decimal | None) -> str | None:
    """A Decimal as ccxt's string figures are written: no exponent, no trailing zeros."""
    if amount is None:
        return None
    text = format(amount, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


#: the `getUserAssets` fields the futures wallet's figures come from
FUTURES_ASSET_FIELDS: Final = (
    "availableMargin",
    "availableUsdt",
    "alMargin",
    "alFreeze",
    "almightyGold",
)


@dataclass(frozen=True, kw_only=True)
class FuturesFigures:
    """The futures wallet as CoinW reports it, and what of it is really free.

    `availableMargin` includes the coupon balance (in the docs' example it is exactly
    `availableUsdt + almightyGold`) and, per the docs, the margin of filled orders; so free money
    is at most `min(availableUsdt, availableMargin - almightyGold) - alMargin`. Coupons are not
    counted anywhere: they cannot be withdrawn and expire.
    """

    available_margin: Decimal
    available_usdt: Decimal
    held_margin: Decimal  # alMargin: held by filled orders
    frozen: Decimal  # alFreeze: held by unfilled orders
    coupon: Decimal  # almightyGold: the Mega Coupon balance

    @property
    def free(self) -> Decimal:
        cash = min(self.available_usdt, self.available_margin - self.coupon)
        return max(Decimal(0), cash - self.held_margin)

    @property
    def used(self) -> Decimal:
        return self.held_margin + self.frozen

    @property
    def total(self) -> Decimal:
        return self.free + self.used


def futures_figures(assets: Mapping[str, Any]) -> FuturesFigures | None:
    """`getUserAssets` data as Decimals; None when any of its figures is unreadable."""
    values: dict[str, Decimal] = {}
    for key in FUTURES_ASSET_FIELDS:
        value = number(assets.get(key))
        if value is None:
            return None
        values[key] = value
    return FuturesFigures(
        available_margin=values["availableMargin"],
        available_usdt=values["availableUsdt"],
        held_margin=values["alMargin"],
        frozen=values["alFreeze"],
        coupon=values["almightyGold"],
    )


def single_value(data: object) -> object:
    """A single-value answer (`account/available`, `fundingRate`): documented as
    `{"value": ...}`; a bare number is read as itself. None when there is no value."""
    return data.get("value") if isinstance(data, Mapping) else data


def mark_price_key(row: Mapping[str, Any]) -> str:
    """The row's mark price field: `markPrice` when sent, else `indexPrice` (documented as the
    latest index price; position rows carry no mark price)."""
    return "markPrice" if row.get("markPrice") is not None else "indexPrice"


def margin_key(row: Mapping[str, Any]) -> str:
    """The row's margin field: `margin`, else `positionMargin`."""
    return "margin" if row.get("margin") is not None else "positionMargin"


@dataclass(frozen=True, kw_only=True)
class PositionFigures:
    """One row of `/v1/perpum/positions` for ccxt's unified position; None where unreadable.

    `currentPiece` counts contracts ("pieces") of `oneLotSize` base units each; `notional` is
    absolute, in the settle asset.
    """

    side: str | None
    contracts: Decimal | None
    contract_size: Decimal | None
    entry_price: Decimal | None
    mark_price: Decimal | None
    unrealized_pnl: Decimal | None
    liquidation_price: Decimal | None
    initial_margin: Decimal | None

    @property
    def notional(self) -> Decimal | None:
        if self.contracts is None or self.contract_size is None or self.mark_price is None:
            return None
        return abs(self.contracts * self.contract_size * self.mark_price)

    @property
    def collateral(self) -> Decimal | None:
        """ccxt's collateral: the position's margin plus its unrealized PnL (what it could
        lose)."""
        if self.initial_margin is None or self.unrealized_pnl is None:
            return None
        return self.initial_margin + self.unrealized_pnl

    @property
    def initial_margin_percentage(self) -> Decimal | None:
        """The margin as a fraction of the notional (ccxt's initialMarginPercentage)."""
        notional = self.notional
        if self.initial_margin is None or not notional:
            return None
        return self.initial_margin / notional

    @property
    def percentage(self) -> Decimal | None:
        """The unrealized PnL in percent of the margin (ccxt's `percentage`)."""
        if self.initial_margin is None or self.unrealized_pnl is None or not self.initial_margin:
            return None
        return self.unrealized_pnl / self.initial_margin * 100


def position_figures(row: Mapping[str, Any], contract_size: Decimal | None) -> PositionFigures:
    contracts = number(row.get("currentPiece"))
    side = row.get("direction")
    return PositionFigures(
        side=side.lower() if isinstance(side, str) and side else None,
        contracts=abs(contracts) if contracts is not None else None,
        contract_size=contract_size,
        entry_price=number(row.get("openPrice")),
        mark_price=number(row.get(mark_price_key(row))),
        unrealized_pnl=number(row.get("profitUnreal")),
        liquidation_price=number(row.get("liquidationPrice")),
        initial_margin=number(row.get(margin_key(row))),
    )


def malformed(method: str, endpoint: str, problem: str) -> BadResponse:
    """A body the unified structures cannot represent. The text starts with the request, not
    the exchange id, so a one-line summary keeps the problem."""
    return BadResponse(f"{method} {endpoint}: {problem}")


# the ccxt exchange --------------------------------------------------------------------------


class coinw(Exchange, CoinWImplicitAPI):  # type: ignore[misc,valid-type]
    """CoinW perpetuals and spot, read-only: markets, balances, positions and funding rates.

    Lower case, like ccxt's own classes: the class name is the exchange id.

    Positions: `collateral` is the position's margin plus its unrealized PnL (ccxt's rule);
    `maintenanceMargin`, `maintenanceMarginPercentage` and `marginRatio` stay None, because a
    CoinW position row carries no maintenance figure and none is invented here.
    """

    def describe(self) -> dict[str, Any]:
        return self.deep_extend(
            super().describe(),
            {
                "id": EXCHANGE_ID,
                "name": "CoinW",
                # neither CoinW's API docs nor its fee and precaution pages name a country of
                # registration: unknown, so none is claimed
                "countries": [],
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
                    "fetchTicker": False,
                    "editOrder": False,
                    "fetchCurrenciesWs": False,
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
                "fees": {
                    "trading": {
                        "tierBased": True,  # VIP levels lower it
                        "percentage": True,
                        "maker": self.parse_number(SPOT_FEE),
                        "taker": self.parse_number(SPOT_FEE),
                    },
                },
                "features": read_only_features(spot=True, linear_swap=True),
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
        """Keep non-integer numbers (and NaN, Infinity) as their literal text: amounts never
        become floats; one key twice in an object is refused (see `fetch`)."""
        return loads_exact(response_body)

    async def fetch(
        self,
        url: str,
        method: str = "GET",
        headers: Any = None,
        body: Any = None,
    ) -> Any:
        """ccxt's `fetch`, with an ambiguous body refused as `BadResponse` naming the request."""
        try:
            return await super().fetch(url, method, headers, body)
        except AmbiguousBody as exc:
            raise malformed(method, _endpoint_of(url), str(exc)) from None

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
        # the account endpoints' spelling (see the module): one currency id per code
        base_id, quote_id = base_id.upper(), quote_id.upper()
        base = self.safe_currency_code(base_id)
        quote = self.safe_currency_code(quote_id)
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
        base_id, quote_id = base_id.upper(), quote_id.upper()
        base = self.safe_currency_code(base_id)
        quote = self.safe_currency_code(quote_id)
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
                "taker": self.fees["trading"]["taker"],
                "maker": self.fees["trading"]["maker"],
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
        holds every raw `getUserAssets` field plus `transferable`, the value of
        `account/available` (absent when that answer had none)."""
        response = await self.futures_private_get_v1_perpum_account_getuserassets(params)
        assets = envelope_data(response)
        if not isinstance(assets, Mapping):
            raise malformed(
                "GET",
                "/v1/perpum/account/getUserAssets",
                f"data is {shown(assets)}, not a JSON object",
            )
        available = envelope_data(await self.futures_private_get_v1_perpum_account_available())
        info = dict(assets)
        transferable = single_value(available)
        if transferable is not None:
            info["transferable"] = transferable
        figures = futures_figures(assets)
        timestamp = self.safe_integer(assets, "time")
        account = self.account()
        if figures is not None:
            account["free"] = plain_text(figures.free)
            account["used"] = plain_text(figures.used)
            account["total"] = plain_text(figures.total)
        return self.safe_balance(
            {
                "info": info,
                "timestamp": timestamp,
                "datetime": self.iso8601(timestamp),
                FUTURES_SETTLE: account,
            }
        )

    async def fetch_spot_balance(self, params: dict[str, Any]) -> dict[str, Any]:
        """`returnCompleteBalances`: `{asset: {available, onOrders}}`; `info` is the whole
        answer. An entry with an unreadable figure is left out of the unified part."""
        response = await self.spot_private_post_returncompletebalances(params)
        data = envelope_data(response)
        if not isinstance(data, Mapping):
            raise malformed(
                "POST",
                "/api/v1/private?command=returnCompleteBalances",
                f"data is {shown(data)}, not a JSON object",
            )
        result: dict[str, Any] = {"info": response, "timestamp": None, "datetime": None}
        for currency_id, entry in data.items():
            if not isinstance(entry, Mapping):
                continue
            free = finite_text(entry.get("available"))
            used = finite_text(entry.get("onOrders"))
            if free is None or used is None:
                continue
            account = self.account()
            account["free"] = free
            account["used"] = used
            result[self.safe_currency_code(str(currency_id).upper())] = account
        return self.safe_balance(result)

    # positions and funding ------------------------------------------------------------------

    async def fetch_positions(
        self, symbols: list[str] | None = None, params: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Open positions: per instrument for the given symbols, else `/v1/perpum/positions/all`.

        `data` must be a list of rows, each naming its instrument: anything else raises
        `BadResponse` rather than reading as "no positions"."""
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
                rows.extend(position_rows(response, "/v1/perpum/positions"))
        else:
            response = await self.futures_private_get_v1_perpum_positions_all(params)
            rows.extend(position_rows(response, "/v1/perpum/positions/all"))
        positions = [self.parse_position(row) for row in rows]
        return self.filter_by_array_positions(positions, "symbol", symbols)

    def parse_position(self, position: dict[str, Any], market: Any = None) -> dict[str, Any]:
        instrument = self.safe_string_upper(position, "instrument")
        market = self.safe_market(instrument, market, None, "swap")
        contract_size = number(self.safe_string(market.get("info") or {}, "oneLotSize"))
        if contract_size is None:
            contract_size = number(self.safe_string(market, "contractSize"))
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
                "side": figures.side,
                "contracts": self.parse_number(plain_text(figures.contracts)),
                "contractSize": self.parse_number(plain_text(figures.contract_size)),
                "notional": self.parse_number(plain_text(figures.notional)),
                "entryPrice": self.parse_number(plain_text(figures.entry_price)),
                "markPrice": self.parse_number(plain_text(figures.mark_price)),
                "unrealizedPnl": self.parse_number(plain_text(figures.unrealized_pnl)),
                "liquidationPrice": self.parse_number(plain_text(figures.liquidation_price)),
                "initialMargin": self.parse_number(plain_text(figures.initial_margin)),
                "initialMarginPercentage": self.parse_number(
                    plain_text(figures.initial_margin_percentage)
                ),
                "positionMargin": self.parse_number(plain_text(figures.initial_margin)),
                "collateral": self.parse_number(plain_text(figures.collateral)),
                # a position row carries no maintenance margin, nor its rate (see the class)
                "maintenanceMargin": None,
                "maintenanceMarginPercentage": None,
                "marginRatio": None,
                "marginMode": {0: "isolated", 1: "cross"}.get(model) if model is not None else None,
                "leverage": self.safe_number(position, "leverage"),
                "hedged": None,
                "percentage": self.parse_number(plain_text(figures.percentage)),
            }
        )

    async def fetch_funding_rate(
        self, symbol: str, params: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The rate of the last settlement, as `previousFundingRate`: CoinW's REST API has no
        current (upcoming) rate, so `fundingRate` is None (see the module)."""
        await self.load_markets()
        market = self.market(symbol)
        if not market["swap"]:
            raise BadSymbol(f"{self.id} fetch_funding_rate() {symbol} is not a perpetual")
        # the docs spell the instrument in lower case ("btc") and call it case-sensitive
        request = self.extend({"instrument": market["lowercaseId"]}, params or {})
        response = await self.futures_public_get_v1_perpum_fundingrate(request)
        return self.parse_funding_rate(envelope_data(response), market)

    def parse_funding_rate(self, contract: Any, market: Any = None) -> dict[str, Any]:
        rate = self.parse_number(plain_text(number(single_value(contract))))
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
            "fundingRate": None,  # the venue gives no current rate
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


def position_rows(response: object, endpoint: str) -> list[Mapping[str, Any]]:
    """The rows of a positions answer; `BadResponse` unless `data` is a list of rows that each
    name their instrument."""
    data = envelope_data(response)
    if not isinstance(data, list):
        raise malformed("GET", endpoint, f"data is {shown(data)}, not a list of positions")
    for index, row in enumerate(data):
        if not isinstance(row, Mapping):
            raise malformed("GET", endpoint, f"data[{index}] is {shown(row)}, not a position")
        instrument = row.get("instrument")
        if not isinstance(instrument, str) or not instrument:
            raise malformed(
                "GET", endpoint, f"data[{index}].instrument is {shown(instrument)}, not a name"
            )
    return data


def _endpoint_of(url: str) -> str:
    """The path of `url`, and its spot `command`; never the rest of the query."""
    parts = urlsplit(url)
    command = parse_qs(parts.query).get("command")
    return parts.path + (f"?command={command[0]}" if command else "")
