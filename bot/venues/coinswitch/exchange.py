"""CoinSwitch PRO (spot v2 + futures v2) as a ccxt async exchange: `coinswitch`, usable with
or without the bot.

ccxt 4.5.90 has no CoinSwitch, so `coinswitch` is our own `Exchange` subclass: anything that
speaks ccxt calls `load_markets`, `fetch_balance`, `fetch_positions` and `fetch_funding_rate` on
it exactly as on a ccxt exchange. It imports nothing of the bot but three small helpers
(`bot.venues.implicit`, `bot.venues.readonly_features`, and `bot.venues.decode` for its exact
figures and JSON loader, which needs only `bot.errors`); the bot's adapter is
`bot.venues.coinswitch.venue`. Futures v2 has no wallet-to-wallet transfer API, so
`has['transfer']` is False. `has` claims only what is implemented here; ccxt's "emulated"
defaults (`editOrder`, `fetchCurrenciesWs`) are switched off.

Currencies: Active Coins spells pairs in upper case ("ETH/USDT"), Get Instrument Info its assets
in lower case (`base_asset: "eth"`). ccxt builds its currency table from the markets'
`baseId`/`quoteId`, so both kinds of market carry the upper-case id (the spelling of the
Portfolio and the wallet); the instrument's own spelling stays in `info`.

The docs promise numbers as strings, but Get Ticker sends the funding rate and the mark and
index prices as JSON numbers, and the Portfolio's INR row numbers too. Bodies are therefore
decoded with every non-integer number kept as its literal text (`decode.loads_exact`, the
loader of every client the bot builds), never as a float, so `info` always holds the venue's
own digits; one key twice in an object is refused. Figures are not judged here: an unreadable
one leaves its unified field None. A positions answer that is not a list of rows naming their
symbol raises `BadResponse` rather than reading as "no positions".

Sources (CoinSwitch PRO API docs, https://api-trading.coinswitch.co):
- signing: /get-started/authentication, /resources/reference-client
- base URLs, envelope, numbers as strings, drift window: /get-started/api-surfaces
- status codes and the `{"message": ...}` error body: /resources/errors-and-rate-limits
- futures wallet: "Get Wallet Balance" (GET /trade/api/v2/futures/wallet_balance)
- every other endpoint: cited on the method that calls it.

Python ccxt does not build implicit API methods from `describe()['api']` at run time (its own
exchanges ship generated `ccxt.abstract.*` classes), so `ImplicitAPI` below is generated from
the same `API` table, the way ccxt's build does it: `futures_get_wallet_balance()` and
`futuresGetWalletBalance()`, each carrying its endpoint's rate-limit `cost`.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Mapping
from typing import Any

from ccxt.async_support.base.exchange import Exchange
from ccxt.base.decimal_to_precision import TICK_SIZE
from ccxt.base.errors import (
    AuthenticationError,
    BadRequest,
    BadResponse,
    BadSymbol,
    BaseError,
    ExchangeNotAvailable,
    InsufficientFunds,
    PermissionDenied,
    RateLimitExceeded,
    RequestTimeout,
)
from ccxt.base.precise import Precise

from bot.venues.decode import AmbiguousBody, finite_text, loads_exact, shown
from bot.venues.implicit import implicit_api
from bot.venues.readonly_features import read_only_features

EXCHANGE_ID = "coinswitch"
SPOT = "spot"  # fetch_balance's name for the spot wallet (the portfolio)
FUTURES = "futures"  # fetch_balance's name for the futures wallet
FUTURES_EXCHANGE = "EXCHANGE_2"  # "the futures exchange identifier" (api-surfaces)
DEFAULT_SPOT_EXCHANGE = "c2c1"  # the USDT spot venue (spot/concepts/exchange-identifiers)
SIGNATURE_SEED_BYTES = 32
#: the base spot fee, maker and taker alike: 0.09%, the `maker_fee`/`taker_fee` the Trading Fee
#: page shows (/spot/reference/trading-fee). The page warns the schedule is per user (cohort,
#: volume, discounts): the account's own rate is GET /trade/api/v2/tradingFee, not read here.
SPOT_FEE = "0.0009"

# The venue limits wallet_balance and positions to 20 requests per 60 s and the ticker and
# instrument_info to 100 per 60 s (each endpoint's page). ccxt's leaky bucket spaces requests
# by `cost x rateLimit` ms: cost 5 -> one per 3.15 s (19 per 60 s), cost 1 -> one per 0.63 s.
# The 5 % over 600 ms is headroom: the bucket paces departures but the venue counts arrivals,
# and a slow first request (a TLS handshake) would otherwise land the 21st inside its window.
RATE_LIMIT_MS = 630
COST_20_PER_MINUTE = 5
COST_100_PER_MINUTE = 1

# One table for describe()['api'] and for the generated implicit methods. Sections name both
# the base URL (urls['api'][section]) and whether requests are signed (all but 'public').
API: dict[str, dict[str, dict[str, dict[str, Any]]]] = {
    "public": {
        "get": {
            # GET /trade/api/v2/time (changelog, 2 Jul 2024): the docs show no response; the
            # public clients we found call it unsigned and read {"serverTime": <ms>}
            "time": {"cost": COST_100_PER_MINUTE},
        },
    },
    "spot": {
        "get": {
            "user/portfolio": {"cost": COST_100_PER_MINUTE},  # 5000 per 10 s
            "coins": {"cost": COST_100_PER_MINUTE},
        },
        "post": {
            "exchangePrecision": {"cost": COST_100_PER_MINUTE},
        },
    },
    "futures": {
        "get": {
            "wallet_balance": {"cost": COST_20_PER_MINUTE},
            "positions": {"cost": COST_20_PER_MINUTE},
            "ticker": {"cost": COST_100_PER_MINUTE},
            "all-pairs/ticker": {"cost": COST_100_PER_MINUTE},
            "instrument_info": {"cost": COST_100_PER_MINUTE},
        },
    },
    # the HFT surface (https://dma.coinswitch.co, /hft/reference/): Bybit v5's dialect under
    # /v5, and Transfer Funds under /dma/api/v1. No rate limit is documented for these.
    "hft": {
        "get": {
            "v5/account/wallet-balance": {"cost": COST_100_PER_MINUTE},
            "v5/position/list": {"cost": COST_100_PER_MINUTE},
        },
    },
    "dma": {
        "post": {
            "funds/transfer": {"cost": COST_100_PER_MINUTE},
        },
    },
}

FUTURES_BALANCE_TYPES = frozenset({"swap", "future", "futures"})
SPOT_BALANCE_TYPES = frozenset({"spot", "main"})
HFT = "hft"  # fetch_balance's name for the HFT trading account, and the `surface` option
HFT_BALANCE_TYPES = frozenset({HFT})
HFT_BASE_URL = "https://dma.coinswitch.co"
#: Transfer Funds' `direction`: IN moves wallet -> HFT account, OUT the reverse
TRANSFER_DIRECTIONS = {(SPOT, HFT): "IN", (HFT, SPOT): "OUT"}
#: the settlement currencies an HFT account can be locked to (Transfer Funds: `quote_asset`)
SETTLEMENT_ASSETS = frozenset({"USDT", "INR"})
#: fields of a JSON body sent as a JSON number written with our exact digits ("amount |
#: number" on Transfer Funds), never through a float
NUMBER_BODY_FIELDS = frozenset({"amount"})

_STATUS_ERRORS: dict[int, type[BaseError]] = {
    400: BadRequest,
    401: AuthenticationError,
    403: PermissionDenied,
    404: BadRequest,
    408: RequestTimeout,
    422: BadRequest,
    429: RateLimitExceeded,
}


class DuplicateClientTxnId(BadRequest):
    """Transfer Funds refused a `client_txn_id` it has seen: the first transfer sent with it
    stands ("If you retry with the same client_txn_id, the duplicate is rejected")."""


#: How the refusal of a repeated `client_txn_id` reads. GUESS: the Transfer Funds page says
#: the duplicate "is rejected" and shows no error body, so any refusal whose `retMsg` (or
#: `message`) names a duplicate is taken as one; the envelope's `retCode` is not documented.
DUPLICATE_WORDS = ("duplicate",)
#: A refused transfer for want of funds (GUESS, undocumented on the HFT pages: the Futures
#: API's "more than available balance" and Bybit's "Insufficient balance" both match)
INSUFFICIENT_WORDS = ("insufficient", "more than available balance")


def hft_refusal(message: str) -> type[BaseError] | None:
    """The ccxt class of an HFT refusal by its words (see the two tables above), or None."""
    lowered = message.lower()
    if any(word in lowered for word in DUPLICATE_WORDS):
        return DuplicateClientTxnId
    if any(word in lowered for word in INSUFFICIENT_WORDS):
        return InsufficientFunds
    return None


def json_body(query: Mapping[str, Any]) -> str:
    """The JSON body of `query`, with `NUMBER_BODY_FIELDS` given as decimal text written as
    JSON numbers of exactly those digits (Transfer Funds' `amount` is a number)."""
    parts = []
    for key, value in query.items():
        if key in NUMBER_BODY_FIELDS and isinstance(value, str):
            if not _PLAIN_DECIMAL.fullmatch(value):
                raise BadRequest(f"{EXCHANGE_ID} {key} must be a plain decimal, got {value!r}")
            parts.append(f"{json.dumps(key)}:{value}")
        else:
            parts.append(f"{json.dumps(key)}:{json.dumps(value)}")
    return "{" + ",".join(parts) + "}"


_PLAIN_DECIMAL = re.compile(r"-?(0|[1-9]\d*)(\.\d+)?")


# signing (pure) ---------------------------------------------------------------------------


def signing_message(method: str, path_with_query: str, epoch: str) -> str:
    """The exact text CoinSwitch signs: METHOD + URL-decoded path?query + epoch.

    Decoding follows the reference client (`unquote_plus`: `%2C` -> `,`, `+` -> space).
    The body is not signed.
    """
    return method.upper() + urllib.parse.unquote_plus(path_with_query) + epoch


def signed_path(url: str) -> str:
    """The path and query of `url`, still encoded, without scheme and host."""
    parts = urllib.parse.urlsplit(url)
    return parts.path + ("?" + parts.query if parts.query else "")


def seed_from_secret(secret: str | None) -> bytes:
    """The 32-byte Ed25519 seed from the hex secret; the error never repeats the secret."""
    try:
        seed = bytes.fromhex(secret or "")
    except ValueError:
        seed = b""
    if len(seed) != SIGNATURE_SEED_BYTES:
        raise AuthenticationError(
            f"{EXCHANGE_ID} secret must be the Ed25519 private key seed as 64 hex characters "
            "(the secret key shown once by CoinSwitch PRO); check the variable named by secret_env"
        )
    return seed


def sign_hex(message: str, seed: bytes) -> str:
    """Hex Ed25519 signature of the UTF-8 message (ccxt's `eddsa` answers base64)."""
    signature_b64 = Exchange.eddsa(message.encode("utf-8"), seed, "ed25519")
    return Exchange.binary_to_base16(Exchange.base64_to_binary(signature_b64))


# what ccxt's build would have written as ccxt/abstract/coinswitch.py
ImplicitAPI = implicit_api("ImplicitAPI", API)


# the exchange ------------------------------------------------------------------------------


class coinswitch(Exchange, ImplicitAPI):
    """CoinSwitch PRO spot (portfolio, USDT pairs) and USDT-margined perpetuals, read side."""

    def describe(self) -> dict[str, Any]:
        return self.deep_extend(
            super().describe(),
            {
                "id": EXCHANGE_ID,
                "name": "CoinSwitch PRO",
                "countries": ["IN"],
                "version": "v2",
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
                    "fetchTime": True,
                    "fetchBalance": True,
                    "fetchPositions": True,
                    "fetchPosition": False,
                    "fetchFundingRate": True,
                    "fetchFundingRates": True,
                    "fetchTicker": False,
                    "fetchTickers": False,
                    "createOrder": False,
                    "editOrder": False,
                    "fetchCurrenciesWs": False,
                    "transfer": False,
                    "fetchTransfers": False,
                    "withdraw": False,
                },
                "urls": {
                    "logo": None,
                    "api": {
                        "public": "https://coinswitch.co/trade/api/v2",
                        "spot": "https://coinswitch.co/trade/api/v2",
                        "futures": "https://coinswitch.co/trade/api/v2/futures",
                        "hft": HFT_BASE_URL,
                        "dma": HFT_BASE_URL + "/dma/api/v1",
                    },
                    "www": "https://coinswitch.co",
                    "doc": ["https://api-trading.coinswitch.co"],
                },
                "api": API,
                "fees": {
                    "trading": {
                        "tierBased": True,
                        "percentage": True,
                        "maker": self.parse_number(SPOT_FEE),
                        "taker": self.parse_number(SPOT_FEE),
                    },
                },
                "features": read_only_features(spot=True, linear_swap=True),
                "requiredCredentials": {"apiKey": True, "secret": True},
                "precisionMode": TICK_SIZE,
                "options": {
                    "spotExchange": DEFAULT_SPOT_EXCHANGE,
                    "futuresExchange": FUTURES_EXCHANGE,
                    # "futures": the Futures v2 API, no transfers; "hft": the HFT API (balances
                    # and positions of the HFT account, Transfer Funds)
                    "surface": "futures",
                    "defaultType": SPOT,
                    "adjustForTimeDifference": False,
                    "timeDifference": 0,
                },
                "exceptions": {
                    "exact": {},
                    "broad": {
                        "Invalid Access": AuthenticationError,
                        "more than available balance": InsufficientFunds,
                    },
                },
            },
        )

    # signing -----------------------------------------------------------------------------

    def sign(
        self,
        path: str,
        api: Any = "public",
        method: str = "GET",
        params: dict | None = None,
        headers: Any = None,
        body: Any = None,
    ) -> dict[str, Any]:
        """Headers of the Authentication page: X-AUTH-APIKEY (the hex public key),
        X-AUTH-EPOCH (ms) and X-AUTH-SIGNATURE over `signing_message` (the body is unsigned)."""
        section = api[0] if isinstance(api, list | tuple) else api
        params = params or {}
        query = self.omit(params, self.extract_params(path))
        url = self.urls["api"][section] + "/" + self.implode_params(path, params)
        if method in ("GET", "DELETE"):
            if query:
                url += "?" + self.urlencode(query)
        elif query:
            body = json_body(query)
        headers = {"Content-Type": "application/json"}
        if section != "public":
            self.check_required_credentials()
            seed = seed_from_secret(self.secret)
            epoch = str(self.milliseconds() - self.safe_integer(self.options, "timeDifference", 0))
            headers["X-AUTH-APIKEY"] = self.apiKey
            headers["X-AUTH-EPOCH"] = epoch
            headers["X-AUTH-SIGNATURE"] = sign_hex(
                signing_message(method, signed_path(url), epoch), seed
            )
        return {"url": url, "method": method, "body": body, "headers": headers}

    # transport ---------------------------------------------------------------------------

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
            path = urllib.parse.urlsplit(url).path
            raise BadResponse(f"{method} {path}: {exc}") from None

    def figure(self, row: object, key: str) -> str | None:
        """A figure's literal text for the unified fields; None when absent or unreadable."""
        return finite_text(row.get(key)) if isinstance(row, Mapping) else None

    def figure_number(self, row: object, key: str) -> float | None:
        return self.parse_number(self.figure(row, key))

    def handle_errors(
        self,
        code: int,
        reason: str,
        url: str,
        method: str,
        headers: dict,
        body: str,
        response: Any,
        request_headers: Any,
        request_body: Any,
    ) -> None:
        """Errors & Rate Limits: 401 bad signature/key/epoch skew, 422 names the field, 429
        over the limit, 5xx unknown outcome. The text is ours plus the venue's body only."""
        if isinstance(response, dict) and "retCode" in response:
            return self.handle_hft_errors(code, reason, body, response)
        if code is None or code < 400:
            return None
        message = self.safe_string(response, "message") if isinstance(response, dict) else None
        feedback = f"{self.id} {body}" if body else f"{self.id} HTTP {code} {reason}"
        if message is not None:
            self.throw_exactly_matched_exception(self.exceptions["exact"], message, feedback)
            self.throw_broadly_matched_exception(self.exceptions["broad"], message, feedback)
        error_class = _STATUS_ERRORS.get(code)
        if error_class is None:
            error_class = ExchangeNotAvailable if code >= 500 else BadRequest
        raise error_class(feedback)

    def handle_hft_errors(self, code: int, reason: str, body: str, response: dict) -> None:
        """The HFT envelope (`{retCode, retMsg, result}`, /get-started/api-surfaces): anything
        but `retCode` 0 is a refusal, whatever the HTTP status; a 5xx is the server's (the
        outcome unknown, whatever its words); else by its words a duplicate `client_txn_id` or
        a want of funds, else by the HTTP status as on the other APIs."""
        ret_code = response.get("retCode")
        if code is not None and code < 400 and str(ret_code) == "0":
            return None
        feedback = f"{self.id} {body}"
        if code is not None and code >= 500:
            raise ExchangeNotAvailable(feedback)
        message = self.safe_string(response, "retMsg") or ""
        found = hft_refusal(message)
        if found is not None:
            raise found(feedback)
        raise _STATUS_ERRORS.get(code, BadRequest)(feedback)

    def __init__(self, config: dict | None = None) -> None:
        super().__init__(config or {})
        if self.surface == HFT:
            self.has["transfer"] = True  # Transfer Funds; no endpoint lists past transfers

    @property
    def surface(self) -> str:
        """Which API the client speaks for balances, positions and transfers (`futures`,
        `hft`): the `surface` option."""
        return self.safe_string(self.options, "surface", "futures") or "futures"

    # markets -----------------------------------------------------------------------------

    async def fetch_time(self, params: dict | None = None) -> int | None:
        """GET /trade/api/v2/time, unsigned, read as {"serverTime": 1719905777483} (assumed)."""
        response = await self.public_get_time(params or {})
        server_time = self.safe_integer(response, "serverTime")
        if server_time is None:
            server_time = self.safe_integer(self.safe_dict(response, "data"), "serverTime")
        return server_time

    async def fetch_markets(self, params: dict | None = None) -> list[dict[str, Any]]:
        """Linear perpetuals from Get Instrument Info (/futures/reference/get-instrument-info)
        and the spot USDT pairs from Active Coins (/spot/reference/active-coins) with their
        decimals from Exchange Precision (/spot/reference/exchange-precision)."""
        if self.safe_bool(self.options, "adjustForTimeDifference", False):
            await self.load_time_difference()
        futures_exchange = self.safe_string(self.options, "futuresExchange", FUTURES_EXCHANGE)
        spot_exchange = self.safe_string(self.options, "spotExchange", DEFAULT_SPOT_EXCHANGE)
        instruments = await self.futures_get_instrument_info({"exchange": futures_exchange})
        coins = await self.spot_get_coins({"exchange": spot_exchange})
        precisions = await self.spot_post_exchangeprecision({"exchange": spot_exchange})
        precision_by_symbol = self.safe_dict(self.safe_dict(precisions, "data"), spot_exchange, {})
        markets = []
        for pair in self.safe_list(self.safe_dict(coins, "data"), spot_exchange, []):
            precision = self.safe_dict(precision_by_symbol, pair)
            markets.append(self.parse_spot_market(pair, spot_exchange, precision))
        for market_id, instrument in _instruments(self.safe_dict(instruments, "data", {})).items():
            markets.append(self.parse_swap_market(market_id, instrument))
        return [market for market in markets if market is not None]

    def parse_spot_market(
        self, pair: str, spot_exchange: str, precision: dict | None
    ) -> dict[str, Any] | None:
        """An Active Coins pair ("ETH/USDT", BASE/QUOTE as Exchange Identifiers describes)."""
        if not isinstance(pair, str) or pair.count("/") != 1:
            return None
        base_id, quote_id = (part.upper() for part in pair.split("/"))
        base = self.safe_currency_code(base_id)
        quote = self.safe_currency_code(quote_id)
        amount_decimals = self.safe_string(precision, "base")
        price_decimals = self.safe_string(precision, "quote")
        return self.safe_market_structure(
            {
                "id": pair,
                "lowercaseId": pair.lower(),
                "symbol": base + "/" + quote,
                "base": base,
                "quote": quote,
                "baseId": base_id,
                "quoteId": quote_id,
                "type": "spot",
                "spot": True,
                "margin": False,
                "active": True,
                "contract": False,
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
                "info": {"exchange": spot_exchange, "symbol": pair, "precision": precision},
            }
        )

    def parse_swap_market(self, market_id: str, instrument: dict) -> dict[str, Any] | None:
        if self.safe_string(instrument, "type") != "PERPETUAL_FUTURES":
            return None
        base_id = self.safe_string(instrument, "base_asset")
        quote_id = self.safe_string(instrument, "quote_asset")
        if base_id is None or quote_id is None:
            return None
        # the Portfolio's spelling (see the module): one currency id per code
        base_id, quote_id = base_id.upper(), quote_id.upper()
        base = self.safe_currency_code(base_id)
        quote = self.safe_currency_code(quote_id)
        settle = quote  # "Futures trading on CoinSwitch is USDT-margined" (margin-and-leverage)
        amount_step = self.safe_string(instrument, "base_quantity_step_size")
        if amount_step is None:
            amount_step = self.parse_precision(self.safe_string(instrument, "quantity_precision"))
        price_decimals = self.safe_string(instrument, "price_precision")
        return self.safe_market_structure(
            {
                "id": market_id,
                "lowercaseId": market_id.lower(),
                "symbol": base + "/" + quote + ":" + settle,
                "base": base,
                "quote": quote,
                "settle": settle,
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
                "active": self.safe_string(instrument, "status") == "TRADING",
                "contract": True,
                "linear": True,
                "inverse": False,
                "subType": "linear",
                "taker": self.safe_number(instrument, "taker_fee_rate"),
                "maker": self.safe_number(instrument, "maker_fee_rate"),
                # position_size is "in base asset" (Get Positions): one contract is one coin
                "contractSize": self.parse_number("1"),
                "precision": {
                    "amount": self.parse_number(amount_step) if amount_step else None,
                    "price": self.parse_number(self.parse_precision(price_decimals))
                    if price_decimals is not None
                    else None,
                },
                "limits": {
                    "leverage": {
                        "min": self.safe_number(instrument, "min_leverage"),
                        "max": self.safe_number(instrument, "max_leverage"),
                    },
                    "amount": {
                        "min": self.safe_number(instrument, "min_base_quantity"),
                        "max": self.safe_number(instrument, "max_base_quantity"),
                    },
                    "market": {
                        "min": self.safe_number(instrument, "min_base_quantity"),
                        "max": self.safe_number(instrument, "max_market_base_quantity"),
                    },
                },
                "info": instrument,
            }
        )

    # balances ----------------------------------------------------------------------------

    async def fetch_balance(self, params: dict | None = None) -> dict[str, Any]:
        """`params['type']`: 'spot' (default) reads GET /trade/api/v2/user/portfolio
        (/spot/reference/portfolio); 'futures' (or 'swap', 'future') reads
        GET /trade/api/v2/futures/wallet_balance ("Get Wallet Balance", no request parameters)."""
        params = params or {}
        requested = self.safe_string_lower(params, "type")
        if requested is None:
            requested = self.safe_string(self.options, "defaultType", SPOT)
        rest = self.omit(params, "type")
        if requested in HFT_BALANCE_TYPES or (
            requested in FUTURES_BALANCE_TYPES and self.surface == HFT
        ):
            request = self.extend({"accountType": "UNIFIED"}, rest)
            return self.parse_hft_balance(await self.hft_get_v5_account_wallet_balance(request))
        if requested in FUTURES_BALANCE_TYPES:
            return self.parse_futures_balance(await self.futures_get_wallet_balance(rest))
        if requested in SPOT_BALANCE_TYPES:
            return self.parse_spot_balance(await self.spot_get_user_portfolio(rest))
        raise BadRequest(
            f"{self.id} fetch_balance() type must be 'spot', 'futures' or 'hft' "
            f"(also accepted: 'swap', 'future'), got {requested!r}"
        )

    def parse_hft_balance(self, response: dict) -> dict[str, Any]:
        """The HFT account's coins (GET /v5/account/wallet-balance, Bybit v5's shape): total =
        walletBalance, used = totalPositionIM + totalOrderIM (free is what is left)."""
        result: dict[str, Any] = {"info": response, "timestamp": None, "datetime": None}
        accounts = self.safe_list(self.safe_dict(response, "result", {}), "list", [])
        for entry in self.safe_list(accounts[0] if accounts else {}, "coin", []):
            code = self.safe_currency_code(self.safe_string(entry, "coin"))
            if code is None or code in result:
                continue  # unified balances hold one entry per asset; info keeps them all
            position_im = self.figure(entry, "totalPositionIM") or "0"
            order_im = self.figure(entry, "totalOrderIM") or "0"
            account = self.account()
            account["total"] = self.figure(entry, "walletBalance")
            account["used"] = Precise.string_add(position_im, order_im)
            result[code] = account
        return self.safe_balance(result)

    def parse_futures_balance(self, response: dict) -> dict[str, Any]:
        """free = total_available_balance, used = total_blocked_balance, total = total_balance
        per settlement asset; the per-symbol locked margin stays in info['data']['asset']."""
        data = self.safe_dict(response, "data", {})
        result: dict[str, Any] = {"info": response, "timestamp": None, "datetime": None}
        for entry in self.safe_list(data, "base_asset_balances", []):
            code = self.safe_currency_code(self.safe_string(entry, "base_asset"))
            balances = self.safe_dict(entry, "balances", {})
            if code is None or code in result:
                continue  # unified balances hold one entry per asset; info keeps them all
            account = self.account()
            account["free"] = self.figure(balances, "total_available_balance")
            account["used"] = self.figure(balances, "total_blocked_balance")
            account["total"] = self.figure(balances, "total_balance")
            result[code] = account
        return self.safe_balance(result)

    def parse_spot_balance(self, response: dict) -> dict[str, Any]:
        """free = main_balance ("Available balance"), used = blocked_balance_order. Crypto rows
        carry strings, the INR row numbers (Portfolio page)."""
        result: dict[str, Any] = {"info": response, "timestamp": None, "datetime": None}
        for entry in self.safe_list(response, "data", []):
            code = self.safe_currency_code(self.safe_string(entry, "currency"))
            if code is None or code in result:
                continue  # unified balances hold one entry per asset; info keeps them all
            account = self.account()
            account["free"] = self.figure(entry, "main_balance")
            account["used"] = self.figure(entry, "blocked_balance_order")
            result[code] = account
        return self.safe_balance(result)

    # positions ---------------------------------------------------------------------------

    async def fetch_positions(
        self, symbols: list[str] | None = None, params: dict | None = None
    ) -> list[dict[str, Any]]:
        """GET /trade/api/v2/futures/positions (/futures/reference/get-positions): `symbol` is
        mandatory, so one request per symbol, each costing 5 of the 20-per-minute budget.

        Without symbols, every open position: the futures wallet's `asset` list ("per-symbol
        breakdown of locked margin", Get Wallet Balance) names each symbol holding margin, and
        an open position holds margin; so one wallet request, then one per listed symbol,
        instead of one per perpetual the venue lists.
        """
        params = params or {}
        await self.load_markets()
        if self.surface == HFT:
            return await self.fetch_hft_positions(symbols, params)
        if symbols:
            markets = [self.market(symbol) for symbol in symbols]
        else:
            markets = await self.markets_holding_margin()
        futures_exchange = self.safe_string(self.options, "futuresExchange", FUTURES_EXCHANGE)
        positions = []
        for market in markets:
            if not market["swap"]:
                raise BadSymbol(
                    f"{self.id} fetch_positions() supports swap markets only, "
                    f"got {market['symbol']}"
                )
            request = {"exchange": futures_exchange, "symbol": market["id"]}
            response = await self.futures_get_positions(self.extend(request, params))
            for raw in position_rows(response):
                positions.append(self.parse_position(raw, market))
        return self.filter_by_array_positions(positions, "symbol", symbols)

    async def fetch_hft_positions(
        self, symbols: list[str] | None, params: dict
    ) -> list[dict[str, Any]]:
        """GET /v5/position/list (/hft/reference/positions, Bybit v5's shape), category
        linear: one request per symbol asked for, or one for every USDT-settled position."""
        requests = (
            [{"category": "linear", "symbol": self.market(symbol)["id"]} for symbol in symbols]
            if symbols
            else [{"category": "linear", "settleCoin": "USDT"}]
        )
        positions = []
        for request in requests:
            response = await self.hft_get_v5_position_list(self.extend(request, params))
            for raw in hft_position_rows(response):
                positions.append(self.parse_hft_position(raw))
        return self.filter_by_array_positions(positions, "symbol", symbols)

    def parse_hft_position(self, position: dict) -> dict[str, Any]:
        market = self.safe_market(self.safe_string(position, "symbol"), None, None, "swap")
        updated = self.safe_integer(position, "updatedTime")
        side = {"Buy": "long", "Sell": "short"}.get(self.safe_string(position, "side", ""))
        return self.safe_position(
            {
                "info": position,
                "id": None,
                "symbol": market["symbol"],
                "timestamp": updated,
                "datetime": self.iso8601(updated),
                "side": side,
                "contracts": self.figure_number(position, "size"),
                "contractSize": self.safe_number(market, "contractSize"),
                "notional": self.figure_number(position, "positionValue"),
                "entryPrice": self.figure_number(position, "avgPrice"),
                "markPrice": self.figure_number(position, "markPrice"),
                "unrealizedPnl": self.figure_number(position, "unrealisedPnl"),
                "liquidationPrice": self.figure_number(position, "liqPrice"),
                "leverage": self.figure_number(position, "leverage"),
                "initialMargin": self.figure_number(position, "positionIM"),
                "maintenanceMargin": self.figure_number(position, "positionMM"),
                "marginMode": "cross",
                "hedged": None,
            }
        )

    # transfers ---------------------------------------------------------------------------

    async def transfer(
        self,
        code: str,
        amount: float | str,
        fromAccount: str,  # ccxt's unified parameter names
        toAccount: str,
        params: dict | None = None,
    ) -> dict[str, Any]:
        """Transfer Funds (POST /dma/api/v1/funds/transfer, /hft/reference/transfer-funds):
        `direction` IN from the CoinSwitch wallet ('spot') to the HFT account ('hft'), OUT
        back; `quote_asset` the settlement currency (USDT or INR); `client_txn_id` in params
        (our idempotency key: a repeat is refused, `DuplicateClientTxnId`). HFT surface only."""
        if self.surface != HFT:
            raise BadRequest(f"{self.id} transfer() needs the HFT surface (options.surface)")
        accounts = {"spot": SPOT, "main": SPOT, "hft": HFT, "swap": HFT, "futures": HFT}
        direction = TRANSFER_DIRECTIONS.get(
            (accounts.get(fromAccount, fromAccount), accounts.get(toAccount, toAccount))
        )
        if direction is None:
            raise BadRequest(
                f"{self.id} transfer() moves between 'spot' and 'hft' only, "
                f"got {fromAccount!r} -> {toAccount!r}"
            )
        currency = self.safe_currency_code(code)
        if currency not in SETTLEMENT_ASSETS:
            raise BadRequest(f"{self.id} transfer() moves USDT or INR only, got {code!r}")
        request = {
            "direction": direction,
            "amount": self.number_to_string(amount),
            "quote_asset": currency,
        }
        response = await self.dma_post_funds_transfer(self.extend(request, params or {}))
        result = self.safe_dict(response, "result", {})
        return {
            "info": response,
            "id": self.safe_string(result, "txn_id"),
            "timestamp": self.safe_integer(response, "time"),
            "datetime": self.iso8601(self.safe_integer(response, "time")),
            "currency": currency,
            "amount": self.figure_number(result, "amount"),
            "fromAccount": fromAccount,
            "toAccount": toAccount,
            "status": "ok" if str(response.get("retCode")) == "0" else None,
        }

    async def markets_holding_margin(self) -> list[dict[str, Any]]:
        """The perpetuals the futures wallet lists in `asset`, once each, in its order; a
        symbol the markets do not know is read as a bare swap market of that id."""
        response = await self.futures_get_wallet_balance()
        listed = symbols_holding_margin(response)
        return [self.safe_market(market_id, None, None, "swap") for market_id in listed]

    def parse_position(self, position: dict, market: Any = None) -> dict[str, Any]:
        market_id = self.safe_string(position, "symbol")
        market = self.safe_market(market_id, market, None, "swap")
        updated = self.safe_integer(position, "updated_at")
        margin = self.figure(position, "position_margin")
        size = self.figure(position, "position_size")
        value = self.figure(position, "position_value")
        pnl = self.figure(position, "unrealised_pnl")
        maintenance = self.figure(position, "maint_margin")
        ratios = position_ratios(
            margin=margin,
            maintenance=maintenance,
            notional=Precise.string_abs(value) if value else None,
            pnl=pnl,
        )
        return self.safe_position(
            {
                "info": position,
                "id": self.safe_string(position, "position_id"),
                "symbol": market["symbol"],
                "timestamp": updated,
                "datetime": self.iso8601(updated),
                "lastUpdateTimestamp": updated,
                "side": self.safe_string_lower(position, "position_side"),
                "contracts": self.parse_number(Precise.string_abs(size) if size else None),
                "contractSize": self.safe_number(market, "contractSize"),
                "notional": self.parse_number(Precise.string_abs(value) if value else None),
                "entryPrice": self.figure_number(position, "avg_entry_price"),
                "markPrice": self.figure_number(position, "mark_price"),
                "lastPrice": self.figure_number(position, "last_price"),
                "unrealizedPnl": self.parse_number(pnl),
                "realizedPnl": None,
                "liquidationPrice": self.figure_number(position, "liquidation_price"),
                "leverage": self.safe_number(position, "leverage"),
                "marginMode": self.safe_string_lower(position, "margin_type"),
                "initialMargin": self.parse_number(margin),
                "positionMargin": self.parse_number(margin),
                "maintenanceMargin": self.parse_number(maintenance),
                "collateral": self.parse_number(ratios["collateral"]),
                "initialMarginPercentage": self.parse_number(ratios["initialMarginPercentage"]),
                "maintenanceMarginPercentage": self.parse_number(
                    ratios["maintenanceMarginPercentage"]
                ),
                "marginRatio": self.parse_number(ratios["marginRatio"]),
                "percentage": self.parse_number(ratios["percentage"]),
                "hedged": None,
                "stopLossPrice": None,
                "takeProfitPrice": None,
            }
        )

    # funding -----------------------------------------------------------------------------

    async def fetch_funding_rate(self, symbol: str, params: dict | None = None) -> dict[str, Any]:
        """GET /trade/api/v2/futures/ticker (/futures/reference/get-ticker); `data` is keyed by
        exchange identifier and the rate, mark and index prices are JSON numbers there."""
        await self.load_markets()
        market = self.market(symbol)
        if not market["swap"]:
            raise BadSymbol(f"{self.id} fetch_funding_rate() supports swap markets only")
        futures_exchange = self.safe_string(self.options, "futuresExchange", FUTURES_EXCHANGE)
        request = {"exchange": futures_exchange, "symbol": market["id"]}
        response = await self.futures_get_ticker(self.extend(request, params or {}))
        data = self.safe_dict(response, "data", {})
        ticker = self.safe_dict(data, futures_exchange, data)
        return self.parse_funding_rate(ticker, market)

    async def fetch_funding_rates(
        self, symbols: list[str] | None = None, params: dict | None = None
    ) -> dict[str, Any]:
        """GET /trade/api/v2/futures/all-pairs/ticker (/futures/reference/get-all-pairs-ticker):
        one request for every symbol, same shape as Get Ticker, keyed by symbol."""
        await self.load_markets()
        futures_exchange = self.safe_string(self.options, "futuresExchange", FUTURES_EXCHANGE)
        request = {"exchange": futures_exchange}
        response = await self.futures_get_all_pairs_ticker(self.extend(request, params or {}))
        data = self.safe_dict(response, "data", {})
        tickers = self.safe_dict(data, futures_exchange, data)
        rates = [self.parse_funding_rate(ticker) for ticker in tickers.values()]
        return self.filter_by_array(rates, "symbol", symbols)

    def parse_funding_rate(self, contract: dict, market: Any = None) -> dict[str, Any]:
        market_id = self.safe_string(contract, "symbol")
        market = self.safe_market(market_id, market, None, "swap")
        timestamp = self.safe_integer(contract, "timestamp")
        # the rate shown is the one charged at next_funding_timestamp: both ccxt keys get it
        next_funding = self.safe_integer(contract, "next_funding_timestamp")
        return {
            "info": contract,
            "symbol": market["symbol"],
            "markPrice": self.figure_number(contract, "mark_price"),
            "indexPrice": self.figure_number(contract, "index_price"),
            "interestRate": None,
            "estimatedSettlePrice": None,
            "timestamp": timestamp,
            "datetime": self.iso8601(timestamp),
            "fundingRate": self.figure_number(contract, "funding_rate"),
            "fundingTimestamp": next_funding,
            "fundingDatetime": self.iso8601(next_funding),
            "nextFundingRate": None,
            "nextFundingTimestamp": next_funding,
            "nextFundingDatetime": self.iso8601(next_funding),
            "previousFundingRate": None,
            "previousFundingTimestamp": None,
            "previousFundingDatetime": None,
            "interval": None,
        }


def position_rows(response: object) -> list[dict[str, Any]]:
    """The rows of a Get Positions answer; `BadResponse` unless `data` is a list of rows that
    each name their symbol (the text starts with the request, so a summary keeps it)."""
    where = "GET /trade/api/v2/futures/positions"
    data = response.get("data") if isinstance(response, Mapping) else None
    if not isinstance(data, list):
        raise BadResponse(f"{where}: data is {shown(data)}, not a list of positions")
    for index, row in enumerate(data):
        if not isinstance(row, dict):
            raise BadResponse(f"{where}: data[{index}] is {shown(row)}, not a position")
        symbol = row.get("symbol")
        if not isinstance(symbol, str) or not symbol:
            raise BadResponse(f"{where}: data[{index}].symbol is {shown(symbol)}, not a name")
    return data


def hft_position_rows(response: object) -> list[dict[str, Any]]:
    """The rows of a GET /v5/position/list answer; `BadResponse` unless `result.list` is a
    list of rows naming their symbol (never read as "no positions")."""
    where = "GET /v5/position/list"
    result = response.get("result") if isinstance(response, Mapping) else None
    rows = result.get("list") if isinstance(result, Mapping) else None
    if not isinstance(rows, list):
        raise BadResponse(f"{where}: result.list is {shown(rows)}, not a list of positions")
    for index, row in enumerate(rows):
        symbol = row.get("symbol") if isinstance(row, Mapping) else None
        if not isinstance(symbol, str) or not symbol:
            raise BadResponse(f"{where}: result.list[{index}].symbol is {shown(symbol)}")
    return rows


def position_ratios(
    *, margin: str | None, maintenance: str | None, notional: str | None, pnl: str | None
) -> dict[str, str | None]:
    """ccxt's derived position figures from a Get Positions row's own, as exact strings:
    collateral = margin + unrealized PnL; initial and maintenance margin as fractions of the
    notional; marginRatio = maintenance margin / collateral; percentage = PnL in % of the
    margin. None where a figure it needs is missing (or a divisor is zero)."""

    def ratio(numerator: str | None, denominator: str | None) -> str | None:
        if numerator is None or denominator is None or Precise.string_eq(denominator, "0"):
            return None
        return Precise.string_div(numerator, denominator)

    collateral = Precise.string_add(margin, pnl) if margin and pnl else None
    percentage = ratio(pnl, margin)
    return {
        "collateral": collateral,
        "initialMarginPercentage": ratio(margin, notional),
        "maintenanceMarginPercentage": ratio(maintenance, notional),
        "marginRatio": ratio(maintenance, collateral),
        "percentage": Precise.string_mul(percentage, "100") if percentage else None,
    }


def symbols_holding_margin(response: object) -> list[str]:
    """The symbols of a Get Wallet Balance answer's `asset` list, once each; `BadResponse`
    unless `data.asset` is a list of rows naming their symbol (a malformed list must not read
    as "no positions"). A wallet without `asset` holds no margin anywhere."""
    where = "GET /trade/api/v2/futures/wallet_balance"
    data = response.get("data") if isinstance(response, Mapping) else None
    if not isinstance(data, Mapping):
        raise BadResponse(f"{where}: data is {shown(data)}, not a wallet")
    rows = data.get("asset", [])
    if not isinstance(rows, list):
        raise BadResponse(f"{where}: data.asset is {shown(rows)}, not a list")
    symbols: list[str] = []
    for index, row in enumerate(rows):
        symbol = row.get("symbol") if isinstance(row, Mapping) else None
        if not isinstance(symbol, str) or not symbol:
            raise BadResponse(f"{where}: data.asset[{index}].symbol is {shown(symbol)}")
        if symbol.upper() not in symbols:
            symbols.append(symbol.upper())
    return symbols


def _instruments(data: Mapping[str, Any]) -> dict[str, dict]:
    """Instrument info keyed by symbol; without `exchange` the venue may nest it by exchange."""
    nested = data.get(FUTURES_EXCHANGE)
    if isinstance(nested, dict) and all(isinstance(v, dict) for v in nested.values()):
        return dict(nested)
    return {key: value for key, value in data.items() if isinstance(value, dict)}
