"""ccxt's own validators over every stock Binance class the bot uses against the paper exchange.

The paper exchange claims that the unmodified ccxt `binance`, `binanceusdm` and `binancecoinm`
clients work against it; here ccxt itself judges the answers (`suite.run_claimed`, the
validators imported unmodified from the installed package). Each class has an explicit list of
the methods the paper serves for it, and every one must pass with zero failures: a method that
starts failing, or is dropped from what the paper serves, fails the test and names the class.

Transfers and income are seeded first through the paper exchange's own HTTP routes (a real
`transfer()` through the client, `POST /_paper/transfer`, `POST /_paper/funding`), so
fetchTransfers, fetchLedger and fetchFundingRateHistory validate real rows, not empty lists.

Skipped properties are listed per class and method with the reason; each one is something the
real venue or ccxt itself does the same way (see `SKIPPED`), never a paper shortcut.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import ccxt.async_support as ccxt_async
import pytest
from ccxt.test.exchange.base import test_transfer as validate_transfer

from bot.paper import PAPER_API_KEY, PAPER_SECRET, PaperExchange, StateStore, binance_urls
from bot.venues.binance.venue import BinanceVenue
from tests.ccxt_validators.suite import Target, claims, run_claimed
from tests.fakes.loopback import on_loopback

#: what every class is checked for (the has keys the bot calls, and the reads the paper serves)
COMMON = (
    "loadMarkets",
    "fetchMarkets",
    "fetchCurrencies",
    "fetchBalance",
    "fetchPositions",
    "fetchFundingRate",
    "fetchFundingRates",
    "fetchFundingRateHistory",
    "fetchTransfers",
    "fetchTicker",
    "fetchTickers",
    "fetchLastPrices",
    "fetchStatus",
    "fetchLeverageTiers",
    "fetchTime",
    "features",
)

#: the bot loads currencies from markets, never from /sapi/v1/capital/config/getall
#: (`BinanceVenue.ccxt_options`): its clients see COIN-M's USD as a currency
BOT_OPTIONS = {
    **BinanceVenue.ccxt_options({}),
    "fetchMarkets": {"types": ["spot", "linear", "inverse"]},
}

USD_NOT_A_COIN = (
    "with keys ccxt takes its currencies from /sapi/v1/capital/config/getall, Binance's list of "
    "coins, and COIN-M's quote USD is a unit of account, not a coin there (the paper lists no "
    "USD either); ccxt's own skip-tests.json skips currencyIdAndCode for binance loadMarkets "
    "for the same reason ('binance does not have currency code BCC'). The bot loads currencies "
    "from markets (fetchCurrencies: False), where USD is one: the 'as the bot' case checks "
    "loadMarkets without this skip"
)
NO_LEVERAGE_IN_V3 = (
    "ccxt reads USD-M positions from /fapi/v3/positionRisk, whose documented answer (Position "
    "Information V3) has no leverage field, so ccxt leaves it None on Binance too"
)
OPTIONS_NOT_LOADED = (
    "ccxt's binance class claims has['option'] but loads spot, linear and inverse markets by "
    "default, never options (ccxt's own skip key for this, optionsNotLoadedByDefault); the paper "
    "serves no options either"
)
INCOME_IS_NOT_A_WALLET_LEDGER = (
    "ccxt reads the futures ledger from /fapi|dapi/v1/income, whose rows (Binance's 'Get Income "
    "History') name no wallet, balance before or after, status or fee: ccxt leaves them None on "
    "Binance too"
)
LEDGER_SKIPS = dict.fromkeys(
    ("account", "before", "after", "status", "fee"), INCOME_IS_NOT_A_WALLET_LEDGER
)
ONE_TYPE_OF_TICKERS = (
    "the multi-market binance class loads spot, USD-M and COIN-M markets but fetch_tickers() "
    "asks one market type (defaultType spot), so tickers cover only the spot markets; real "
    "Binance answers the same way"
)


TRANSFER_ANSWER = (
    "Binance's POST /sapi/v1/asset/transfer answers only {tranId}, and ccxt's transfer() parses "
    "that alone, so the rest is None on Binance too; the same transfer is then validated in full "
    "as fetch_transfers lists it"
)
TRANSFER_ANSWER_SKIPS = dict.fromkeys(
    ("timestamp", "datetime", "amount", "status"), TRANSFER_ANSWER
)


@dataclass(frozen=True)
class Subject:
    """One ccxt class as the bot builds it: its options, what it is pointed at, the methods
    the paper serves for it, what it skips and why, and the transfer it makes."""

    name: str
    exchange_id: str
    target: Target
    methods: tuple[str, ...]
    transfer: tuple[str, str, str, str]  # code, amount, from account, to account
    options: Mapping[str, Any] = field(default_factory=dict)
    skipped: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    targets: Mapping[str, Target] = field(default_factory=dict)  # a method's own target

    def target_of(self, method: str) -> Target:
        return self.targets.get(method, self.target)


SUBJECTS = (
    Subject(
        "binance",
        "binance",
        Target("ETH/USDT:USDT", "USDT"),
        # fetchLedger: ccxt's binance class raises NotSupported ("supports contract wallets
        # only") for its default spot type; the ledger is checked on the contract classes
        COMMON,
        ("USDT", "25", "spot", "linear"),
        skipped={
            "loadMarkets": {
                "currencyIdAndCode": USD_NOT_A_COIN,
                "optionsNotLoadedByDefault": OPTIONS_NOT_LOADED,
            },
            "fetchMarkets": {"currencyIdAndCode": USD_NOT_A_COIN},
            "fetchPositions": {"leverage": NO_LEVERAGE_IN_V3},
            "fetchTickers": {"checkActiveSymbols": ONE_TYPE_OF_TICKERS},
        },
    ),
    Subject(
        "binance as the bot",
        "binance",
        Target("ETH/USDT:USDT", "USDT"),
        ("loadMarkets", "fetchMarkets", "fetchBalance", "fetchTransfers"),
        ("USDT", "25", "spot", "linear"),
        options=BOT_OPTIONS,
        skipped={"loadMarkets": {"optionsNotLoadedByDefault": OPTIONS_NOT_LOADED}},
    ),
    Subject(
        "binanceusdm",
        "binanceusdm",
        Target("ETH/USDT:USDT", "USDT"),
        (*COMMON, "fetchLedger"),
        ("USDT", "25", "spot", "linear"),
        skipped={"fetchPositions": {"leverage": NO_LEVERAGE_IN_V3}, "fetchLedger": LEDGER_SKIPS},
    ),
    Subject(
        "binancecoinm",
        "binancecoinm",
        Target("BTC/USD:BTC", "BTC"),
        (*COMMON, "fetchLedger"),
        ("BTC", "0.01", "spot", "inverse"),
        # ccxt's fetch_transfers() without params lists MAIN_UMFUTURE on every class
        # (fromAccount spot, toAccount swap), so on binancecoinm too it finds the USDT moves
        targets={"fetchTransfers": Target("BTC/USD:BTC", "USDT")},
        skipped={
            "loadMarkets": {"currencyIdAndCode": USD_NOT_A_COIN},
            "fetchMarkets": {"currencyIdAndCode": USD_NOT_A_COIN},
            "fetchLedger": LEDGER_SKIPS,
        },
    ),
)


def make_client(exchange_id: str, base_url: str, options: Mapping[str, Any]) -> Any:
    """The stock ccxt class, only its API URLs pointed at the paper exchange."""
    client = getattr(ccxt_async, exchange_id)(
        {
            "apiKey": PAPER_API_KEY,
            "secret": PAPER_SECRET,
            "enableRateLimit": False,
            "timeout": 10_000,
            "options": dict(options),
        }
    )
    client.urls["api"] = binance_urls(base_url, client.urls["api"])
    on_loopback(client)
    return client


@pytest.fixture
async def paper(tmp_path: Path) -> AsyncIterator[PaperExchange]:
    async with PaperExchange(StateStore(tmp_path / "paper.json"), test_hooks=True) as running:
        await seed(running.base_url)
        yield running


async def seed(base_url: str) -> None:
    """History for the reads to validate, through the paper's own HTTP hooks: transfers made
    by hand into each futures family and back out of USD-M (ccxt's fetch_transfers() lists
    MAIN_UMFUTURE by default, UMFUTURE_MAIN on binanceusdm), and a funding time (income on
    both held perpetuals, a funding-rate row on every perpetual)."""
    async with aiohttp.ClientSession() as session:
        for body in (
            {"asset": "USDT", "amount": "100", "type": "MAIN_UMFUTURE"},
            {"asset": "BTC", "amount": "0.05", "type": "MAIN_CMFUTURE"},
            {"asset": "USDT", "amount": "50", "type": "UMFUTURE_MAIN"},
        ):
            async with session.post(f"{base_url}/_paper/transfer", json=body) as answer:
                assert answer.status == 200, await answer.text()
        async with session.post(f"{base_url}/_paper/funding", json={}) as answer:
            assert answer.status == 200, await answer.text()
            booked = (await answer.json())["booked"]
    assert {row["symbol"] for row in booked} == {"ETHUSDT", "BTCUSD_PERP"}


@pytest.mark.parametrize("subject", SUBJECTS, ids=[s.name for s in SUBJECTS])
async def test_every_served_method_passes_cctxs_validators(
    paper: PaperExchange, subject: Subject
) -> None:
    client = make_client(subject.exchange_id, paper.base_url, subject.options)
    try:
        always = ("loadMarkets", "features")  # every exchange has them, `has` names neither
        unclaimed = [m for m in subject.methods if m not in always and not claims(client, m)]
        assert unclaimed == [], f"{subject.name} does not claim {unclaimed}"
        failures: dict[str, str] = {}
        passed: list[str] = []
        for method in subject.methods:
            skipped = subject.skipped.get(method, {})
            report = await run_claimed(client, skipped, subject.target_of(method), [method])
            failures.update(report.failures)
            passed.extend(report.passed)
        assert failures == {}, f"{subject.name}: {failures}"
        assert passed == list(subject.methods)
    finally:
        await client.close()


@pytest.mark.parametrize("subject", SUBJECTS, ids=[s.name for s in SUBJECTS])
async def test_a_real_transfer_passes_cctxs_transfer_validator(
    paper: PaperExchange, subject: Subject
) -> None:
    code, amount, source, destination = subject.transfer
    client = make_client(subject.exchange_id, paper.base_url, subject.options)
    try:
        await client.load_markets()
        moved = await client.transfer(code, amount, source, destination)
        validate_transfer(client, TRANSFER_ANSWER_SKIPS, "transfer", moved, code)
        accounts = {"fromAccount": source, "toAccount": destination}
        listed = {
            entry["id"]: entry for entry in await client.fetch_transfers(code, None, None, accounts)
        }
        # the history's record of the same transfer carries every field: validated in full
        validate_transfer(client, {}, "fetchTransfers", listed[moved["id"]], code)
        assert (listed[moved["id"]]["fromAccount"], listed[moved["id"]]["toAccount"]) == (
            source,
            destination,
        )
    finally:
        await client.close()
