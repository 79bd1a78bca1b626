"""ccxt's own validators of its unified structures, run unmodified over what an exchange claims.

ccxt ships them inside the package (`ccxt/test/exchange/async/test_*.py`, the structure checks in
`ccxt/test/exchange/base/`); ccxt's CI runs them against live venues. Here they run against a
loopback server (the paper exchange, or a fake written from a venue's documentation), imported
from the installed package and never edited. Each claimed method is one `Check`: which `has` key
claims it, and how its validator is called.

Two validators of ccxt 4.5.90 cannot be used as they are, so their checks are made here from
the same pieces:
- `test_fetch_markets` expects a dict where `fetch_markets()` returns a list (it fails on every
  stock exchange): `fetch_markets` is checked market by market with `test_market`.
- `assert_non_emtpy_array` skips its check unless `emptyResponse` is in the skipped properties
  (the guard is inverted): every list a validator receives is fetched once more here and must
  not be empty (`NON_EMPTY`).

`skipped` maps a property the validators check to the reason it is skipped for a venue: a field
the venue does not carry. ccxt reads it as its `skipped_properties`.

`fetchFundingRate` has no validator in 4.5.90; `check_funding_rate` holds a rate to the
structure ccxt documents (`FundingRate` in ccxt's types) with the same `assert_structure`.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ccxt.async_support.base.exchange import Exchange
from ccxt.test.exchange.base import test_market, test_shared_methods

#: a validator's extra argument: none, the symbol of a perpetual, or a currency code
NONE, SYMBOL, CODE = "none", "symbol", "code"


@dataclass(frozen=True)
class Target:
    """What the validators are pointed at: a perpetual the account holds, and a currency it
    has moved."""

    symbol: str
    code: str


@dataclass(frozen=True)
class Check:
    """One unified method: the `has` key that claims it, the validator module of
    `ccxt/test/exchange/async`, the argument it takes, and the call whose answer must not be
    empty (None when the answer is not a list, or may rightly be empty)."""

    claim: str
    module: str
    argument: str = NONE
    listed: str | None = None
    listed_with_argument: bool = True


#: every validator of ccxt 4.5.90 that reads (none of them sends an order or moves money)
CHECKS: tuple[Check, ...] = (
    Check("loadMarkets", "test_load_markets"),
    Check("fetchCurrencies", "test_fetch_currencies"),
    Check("fetchBalance", "test_fetch_balance"),
    Check("fetchPositions", "test_fetch_positions", SYMBOL, "fetch_positions", False),
    Check(
        "fetchFundingRateHistory",
        "test_fetch_funding_rate_history",
        SYMBOL,
        "fetch_funding_rate_history",
    ),
    Check("fetchTransfers", "test_fetch_transfers", CODE, "fetch_transfers"),
    Check("fetchLedger", "test_fetch_ledger", CODE, "fetch_ledger"),
    Check("fetchTicker", "test_fetch_ticker", SYMBOL),
    Check("fetchTickers", "test_fetch_tickers", SYMBOL),
    Check("fetchLastPrices", "test_fetch_last_prices", SYMBOL),
    Check("fetchStatus", "test_fetch_status"),
    Check("fetchLeverageTiers", "test_fetch_leverage_tiers", SYMBOL),
    Check("fetchMarketLeverageTiers", "test_fetch_market_leverage_tiers", SYMBOL),
    Check("fetchMarginMode", "test_fetch_margin_mode", SYMBOL),
    Check("fetchMarginModes", "test_fetch_margin_modes", SYMBOL),
    Check("fetchTradingFee", "test_fetch_trading_fee", SYMBOL),
    Check("fetchTradingFees", "test_fetch_trading_fees"),
    Check("fetchAccounts", "test_fetch_accounts"),
    Check("fetchOrderBook", "test_fetch_order_book", SYMBOL),
    Check("fetchTrades", "test_fetch_trades", SYMBOL),
    Check("fetchOHLCV", "test_fetch_ohlcv", SYMBOL),
    Check("fetchMyTrades", "test_fetch_my_trades", SYMBOL),
    Check("fetchOpenOrders", "test_fetch_open_orders", SYMBOL),
    Check("fetchClosedOrders", "test_fetch_closed_orders", SYMBOL),
    Check("fetchOrders", "test_fetch_orders", SYMBOL),
    Check("fetchDeposits", "test_fetch_deposits", CODE),
    Check("fetchWithdrawals", "test_fetch_withdrawals", CODE),
    Check("fetchDepositsWithdrawals", "test_fetch_deposit_withdrawals", CODE),
    Check("fetchOpenInterestHistory", "test_fetch_open_interest_history", SYMBOL),
    Check("fetchBorrowInterest", "test_fetch_borrow_interest", CODE),
)

#: has keys whose check is made here, not by a ccxt validator module (see the module docstring;
#: 4.5.90 has no validator for fetchFundingRate(s) or fetchTime)
OWN_CHECKS = ("fetchMarkets", "fetchFundingRate", "fetchFundingRates", "fetchTime", "features")

#: `has` keys that are not unified methods, or that name the WebSocket methods of ccxt.pro
NOT_METHODS = frozenset(
    {
        "CORS",
        "spot",
        "margin",
        "swap",
        "future",
        "option",
        "publicAPI",
        "privateAPI",
        "sandbox",
        "pro",
    }
)


def claims(exchange: Exchange, key: str) -> bool:
    """Whether `has[key]` says the method works (True or "emulated")."""
    return exchange.has.get(key) not in (None, False)


def claimed_methods(exchange: Exchange) -> list[str]:
    """The has keys of `exchange` that a check here covers and the exchange claims
    (`loadMarkets` and `features` always: every exchange has them)."""
    keys = [check.claim for check in CHECKS] + list(OWN_CHECKS)
    always = ("loadMarkets", "features")
    return [key for key in keys if key in always or claims(exchange, key)]


def unchecked_claims(exchange: Exchange) -> list[str]:
    """Methods `has` claims (True or "emulated") that no check here covers: a class that claims
    only what works, and only what is checked, has none."""
    covered = {check.claim for check in CHECKS} | set(OWN_CHECKS)
    return sorted(
        key
        for key, value in exchange.has.items()
        if value not in (None, False)
        and key not in NOT_METHODS
        and not key.endswith("Ws")
        and not key.startswith("watch")
        and key not in covered
    )


def _validator(module: str) -> Any:
    # "async" is a keyword, so the package's async validators are imported by name
    loaded = importlib.import_module(f"ccxt.test.exchange.async.{module}")
    return getattr(loaded, module)


def _argument(check: Check, target: Target) -> list[Any]:
    return {NONE: [], SYMBOL: [target.symbol], CODE: [target.code]}[check.argument]


async def check_markets(exchange: Exchange, skipped: Mapping[str, str]) -> None:
    """`fetch_markets`: a non-empty list, each market valid for `test_market`."""
    markets = await exchange.fetch_markets()
    assert isinstance(markets, list) and markets, f"{exchange.id} fetch_markets() is empty"
    for market in markets:
        test_market(exchange, dict(skipped), "fetchMarkets", market)


#: ccxt's FundingRate structure (ts/src/base/types.ts), values of the type each key must have
FUNDING_RATE_FORMAT: dict[str, Any] = {
    "info": {},
    "symbol": "BTC/USDT:USDT",
    "markPrice": 1.0,
    "indexPrice": 1.0,
    "interestRate": 1.0,
    "estimatedSettlePrice": 1.0,
    "timestamp": 1,
    "datetime": "2026-01-01T00:00:00.000Z",
    "fundingRate": 1.0,
    "fundingTimestamp": 1,
    "fundingDatetime": "2026-01-01T00:00:00.000Z",
    "nextFundingRate": 1.0,
    "nextFundingTimestamp": 1,
    "nextFundingDatetime": "2026-01-01T00:00:00.000Z",
    "previousFundingRate": 1.0,
    "previousFundingTimestamp": 1,
    "previousFundingDatetime": "2026-01-01T00:00:00.000Z",
    "interval": "8h",
}
#: the keys a venue may leave None (ccxt's own parsers leave them None where not sent)
FUNDING_RATE_REQUIRED = ("info", "symbol", "fundingRate")


async def check_funding_rate(exchange: Exchange, skipped: Mapping[str, str], symbol: str) -> None:
    """`fetch_funding_rate(symbol)` has ccxt's structure: every key present, of its type, the
    symbol the one asked for, a rate, and timestamps that agree with their datetimes."""
    rate = await exchange.fetch_funding_rate(symbol)
    allow_none = [key for key in FUNDING_RATE_FORMAT if key not in FUNDING_RATE_REQUIRED]
    test_shared_methods.assert_structure(
        exchange, dict(skipped), "fetchFundingRate", rate, FUNDING_RATE_FORMAT, allow_none
    )
    test_shared_methods.assert_symbol(
        exchange, dict(skipped), "fetchFundingRate", rate, "symbol", symbol
    )
    for prefix in ("", "funding", "nextFunding", "previousFunding"):
        stamp = f"{prefix}Timestamp" if prefix else "timestamp"
        text = f"{prefix}Datetime" if prefix else "datetime"
        if rate.get(stamp) is not None:
            assert rate[text] == exchange.iso8601(rate[stamp]), f"{text} does not match {stamp}"


async def check_funding_rates(exchange: Exchange, skipped: Mapping[str, str], symbol: str) -> None:
    """`fetch_funding_rates([symbol])`: a dict by symbol holding `symbol`, each entry a
    funding-rate structure keyed by its own symbol."""
    rates = await exchange.fetch_funding_rates([symbol])
    assert isinstance(rates, dict) and symbol in rates, f"fetch_funding_rates() lacks {symbol}"
    allow_none = [key for key in FUNDING_RATE_FORMAT if key not in FUNDING_RATE_REQUIRED]
    for key, rate in rates.items():
        test_shared_methods.assert_structure(
            exchange, dict(skipped), "fetchFundingRates", rate, FUNDING_RATE_FORMAT, allow_none
        )
        assert rate["symbol"] == key, f"fetch_funding_rates() keys {rate['symbol']} as {key}"


#: how far the venue's clock may be from ours on loopback
CLOCK_TOLERANCE_MS = 60_000


async def check_time(exchange: Exchange) -> None:
    """`fetch_time()`: milliseconds since the epoch, near the local clock."""
    served = await exchange.fetch_time()
    assert isinstance(served, int), f"fetch_time() returned {served!r}, not an int"
    assert abs(served - exchange.milliseconds()) < CLOCK_TOLERANCE_MS, "fetch_time() is off"


@dataclass
class Outcome:
    """What the validators said of one claimed method: None when it passed."""

    method: str
    failure: str | None = None


@dataclass
class Report:
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def failures(self) -> dict[str, str]:
        return {o.method: o.failure for o in self.outcomes if o.failure is not None}

    @property
    def passed(self) -> list[str]:
        return [o.method for o in self.outcomes if o.failure is None]


async def run_check(
    exchange: Exchange, key: str, skipped: Mapping[str, str], target: Target
) -> None:
    """Run the check of one has key; raises what the validator raised."""
    props = dict(skipped)
    if key == "fetchMarkets":
        await check_markets(exchange, skipped)
        return
    if key == "fetchFundingRate":
        await check_funding_rate(exchange, skipped, target.symbol)
        return
    if key == "fetchFundingRates":
        await check_funding_rates(exchange, skipped, target.symbol)
        return
    if key == "fetchTime":
        await check_time(exchange)
        return
    if key == "features":
        await _validator("test_features")(exchange, props)
        return
    check = next(c for c in CHECKS if c.claim == key)
    args = _argument(check, target)
    if check.listed is not None:
        answer = await getattr(exchange, check.listed)(
            *(args if check.listed_with_argument else [])
        )
        assert isinstance(answer, list) and answer, (
            f"{exchange.id} {check.listed}{tuple(args)} is empty"
        )
    await _validator(check.module)(exchange, props, *args)


async def run_claimed(
    exchange: Exchange,
    skipped: Mapping[str, str],
    target: Target,
    methods: list[str] | None = None,
) -> Report:
    """Every claimed method's check (or those of `methods`), each failure kept with its text."""
    await exchange.load_markets()
    await _validator("test_after_construct")(exchange, dict(skipped))
    report = Report()
    for key in methods if methods is not None else claimed_methods(exchange):
        try:
            await run_check(exchange, key, skipped, target)
        except Exception as exc:  # every failure is reported, not just the first
            report.outcomes.append(Outcome(key, f"{type(exc).__name__}: {exc}"[:600]))
        else:
            report.outcomes.append(Outcome(key))
    return report
