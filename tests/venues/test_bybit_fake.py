"""The Bybit v5 fake (tests/fakes/bybit_server.py) driven by the stock `ccxt.async_support.bybit`
client over loopback HTTP: what ccxt calls for each method the bot will use on a Unified
Trading Account, the figures it reads (exact, from Bybit's strings), the transfer by
`transferId` and its refusal when repeated, each fault of the exactly-once matrix as the ccxt
exception it becomes, and ccxt's own validators over the methods the fake serves."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import aiohttp
import ccxt.async_support as ccxt_async
import pytest
from ccxt.base import errors

from tests.ccxt_validators.suite import Target, run_claimed
from tests.fakes.bybit.accounts import FAILED, PENDING, SUCCESS, Account, Position
from tests.fakes.bybit.faults import FAIL_AFTER, FAIL_BEFORE, RATE_LIMITED, RAW, TIMEOUT_AFTER
from tests.fakes.bybit_server import API_KEY, SECRET, BybitFake
from tests.fakes.loopback import on_loopback

D = Decimal
TRANSFER = "/v5/asset/transfer/inter-transfer"
HISTORY = "/v5/asset/transfer/query-inter-transfer-list"
PERP = "BTC/USDT:USDT"
#: the figures of the default account, by hand: UNIFIED holds 10000 USDT and 0.5 BTC at 62000;
#: short 0.5 BTCUSDT from 60000 and 4 ETHUSDT from 3000, marks 62000 and 3100, 10x, mmr 0.005
MARGIN_BALANCE = D("10000") + D("31000") - D("1000") - D("400")  # wallet + perp uPnL = 39600
TOTAL_IM = D("3100") + D("1240")  # value at mark / 10
TOTAL_MM = D("155") + D("62")  # value at mark x 0.005


def uuid(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


@pytest.fixture
async def fake() -> AsyncIterator[BybitFake]:
    async with BybitFake() as server:
        yield server


@pytest.fixture
async def make_client() -> AsyncIterator[Callable[..., ccxt_async.bybit]]:
    clients: list[ccxt_async.bybit] = []

    def factory(fake: BybitFake, **config: Any) -> ccxt_async.bybit:
        settings: dict[str, Any] = {
            "apiKey": API_KEY,
            "secret": SECRET,
            "urls": fake.client_urls(),
            # ccxt spaces transfers and their history at 1/s (cost 50 x 20 ms): its throttler
            # is not under test here, so its unit shrinks twenty-fold
            "rateLimit": 1,
        }
        settings.update(config)
        client = ccxt_async.bybit(settings)
        on_loopback(client)
        clients.append(client)
        return client

    yield factory
    for client in clients:
        await client.close()


@pytest.fixture
async def client(fake: BybitFake, make_client: Callable[..., ccxt_async.bybit]) -> ccxt_async.bybit:
    """As the bot would configure it: only the spot and linear markets are loaded."""
    client = make_client(fake, options={"fetchMarkets": {"types": ["spot", "linear"]}})
    await client.load_markets()
    return client


def sent(fake: BybitFake, path: str) -> list[dict[str, str]]:
    return [params for _, p, params in fake.requests if p == path]


# what ccxt calls ------------------------------------------------------------------------------


async def test_stock_load_markets_asks_every_category_and_the_coins(
    fake: BybitFake, make_client: Callable[..., ccxt_async.bybit]
) -> None:
    client = make_client(fake)
    markets = await client.load_markets()
    assert set(markets) == {
        "BTC/USDT",
        "ETH/USDT",
        "BTC/USDT:USDT",
        "ETH/USDT:USDT",
        "BTC/USDT:USDT-260626",
    }
    asked = sent(fake, "/v5/market/instruments-info")
    categories = sorted(p["category"] for p in asked)
    # spot; linear and inverse, each also with status=PreLaunch; option per base coin (6)
    assert categories == ["inverse"] * 2 + ["linear"] * 2 + ["option"] * 6 + ["spot"]
    assert {"category": "linear", "limit": "1000", "status": "PreLaunch"} in asked
    assert fake.count("GET", "/v5/asset/coin/query-info") == 1  # fetch_currencies, signed
    assert client.currencies["USDT"]["precision"] == 1e-08  # from the chain's minAccuracy
    assert fake.unserved == []


async def test_the_bots_configuration_loads_spot_and_linear_only(
    fake: BybitFake, client: ccxt_async.bybit
) -> None:
    assert sorted(p["category"] for p in sent(fake, "/v5/market/instruments-info")) == [
        "linear",
        "linear",
        "spot",
    ]
    market = client.market(PERP)
    assert market["swap"] and market["linear"] and market["settle"] == "USDT"
    assert market["precision"]["price"] == 0.1 and market["precision"]["amount"] == 0.001


async def test_unified_balance_carries_bybits_account_figures_exactly(
    fake: BybitFake, client: ccxt_async.bybit
) -> None:
    balance = await client.fetch_balance()
    # ccxt asks the key's mode and the account's status first (is_unified_enabled), once
    assert fake.count("GET", "/v5/user/query-api") == 1
    assert fake.count("GET", "/v5/account/info") == 1
    assert client.options["unifiedMarginStatus"] == 6
    assert sent(fake, "/v5/account/wallet-balance") == [{"accountType": "UNIFIED"}]
    (account,) = balance["info"]["result"]["list"]
    assert D(account["totalMarginBalance"]) == MARGIN_BALANCE
    assert D(account["totalInitialMargin"]) == TOTAL_IM
    assert D(account["totalMaintenanceMargin"]) == TOTAL_MM
    assert D(account["totalAvailableBalance"]) == MARGIN_BALANCE - TOTAL_IM
    assert account["accountMMRate"] == "0.0055"  # 217 / 39600 = 0.00548.. to 4 places
    assert account["accountIMRate"] == "0.1096"  # 4340 / 39600 = 0.10959..
    (usdt,) = [c for c in account["coin"] if c["coin"] == "USDT"]
    assert usdt["availableToWithdraw"] == ""  # deprecated for UNIFIED: ccxt falls back
    assert D(usdt["equity"]) == D("10000") - D("1400")
    # ccxt's free is walletBalance - (locked + totalPositionIM + totalOrderIM): not what may
    # leave the account
    assert balance["USDT"] == {"free": 5660.0, "used": 4340.0, "total": 10000.0, "debt": 0.0}


async def test_the_mm_rate_reaches_one_at_the_liquidation_price(
    fake: BybitFake, client: ccxt_async.bybit
) -> None:
    (btc, _eth) = await client.fetch_positions()
    assert sent(fake, "/v5/position/list") == [
        {"settleCoin": "USDT", "limit": "200", "category": "linear"}
    ]
    assert btc["symbol"] == PERP and btc["side"] == "short" and btc["contracts"] == 0.5
    assert btc["maintenanceMargin"] == 155.0 and btc["initialMargin"] == 3100.0
    liquidation = D(btc["info"]["liqPrice"])
    assert liquidation == D("140374.10")  # (40600 + 30000 - 62) / (0.5 x 1.005), tick 0.10
    with fake.account.lock:
        fake.account.marks["BTCUSDT"] = liquidation
    balance = await client.fetch_balance()
    assert balance["info"]["result"]["list"][0]["accountMMRate"] == "1.0000"


async def test_funding_balance_reads_the_fund_wallet(
    fake: BybitFake, client: ccxt_async.bybit
) -> None:
    funding = await client.fetch_balance({"type": "funding"})
    assert sent(fake, "/v5/asset/transfer/query-account-coins-balance") == [{"accountType": "FUND"}]
    assert funding["USDT"]["total"] == 25000.0
    (usdt,) = [r for r in funding["info"]["result"]["balance"] if r["coin"] == "USDT"]
    assert usdt["transferBalance"] == "25000"


async def test_what_may_leave_unified_is_capped_by_the_available_balance(
    fake: BybitFake, client: ccxt_async.bybit
) -> None:
    ask = {"accountType": "UNIFIED", "coin": "USDT"}
    answer = await client.private_get_v5_asset_transfer_query_account_coins_balance(ask)
    assert answer["result"]["balance"][0]["transferBalance"] == "10000"
    with fake.account.lock:
        fake.account.unified["BTC"] = D(0)  # margin balance 8600, IM 4340: 4260 available
    answer = await client.private_get_v5_asset_transfer_query_account_coins_balance(ask)
    assert D(answer["result"]["balance"][0]["transferBalance"]) == D("4260")
    with pytest.raises(errors.BadRequest, match="10001"):  # `coin` is required for UNIFIED
        await client.private_get_v5_asset_transfer_query_account_coins_balance(
            {"accountType": "UNIFIED"}
        )


async def test_funding_rate_is_the_linear_tickers(
    fake: BybitFake, client: ccxt_async.bybit
) -> None:
    rate = await client.fetch_funding_rate(PERP)
    assert sent(fake, "/v5/market/tickers") == [{"symbol": "BTCUSDT", "category": "linear"}]
    assert rate["info"]["fundingRate"] == "0.0001" and rate["fundingRate"] == 0.0001
    assert rate["markPrice"] == 62000.0 and rate["interval"] == "8h"
    assert rate["fundingTimestamp"] % (8 * 3600 * 1000) == 0


# transfers ----------------------------------------------------------------------------------


async def test_a_transfer_moves_exactly_its_amount_and_is_listed(
    fake: BybitFake, client: ccxt_async.bybit
) -> None:
    done = await client.transfer("USDT", 100.5, "funding", "unified", {"transferId": uuid(1)})
    assert sent(fake, TRANSFER) == [
        {
            "transferId": uuid(1),
            "fromAccountType": "FUND",
            "toAccountType": "UNIFIED",
            "coin": "USDT",
            "amount": "100.5",
        }
    ]
    assert done["id"] == uuid(1) and done["info"] == {"transferId": uuid(1), "status": SUCCESS}
    assert fake.account.fund["USDT"] == D("24899.5")
    assert fake.account.unified["USDT"] == D("10100.5")
    (listed,) = await client.fetch_transfers("USDT")
    assert sent(fake, HISTORY) == [{"coin": "USDT"}]
    assert listed["id"] == uuid(1) and listed["status"] == "ok"
    assert listed["info"]["amount"] == "100.5" and listed["info"]["status"] == SUCCESS
    # ccxt names FUND "funding" going in but "fund" coming back
    assert (listed["fromAccount"], listed["toAccount"]) == ("fund", "unified")


async def test_a_repeated_transfer_id_is_refused_and_moves_nothing(
    fake: BybitFake, client: ccxt_async.bybit
) -> None:
    await client.transfer("USDT", 10, "unified", "funding", {"transferId": uuid(2)})
    with pytest.raises(errors.BadRequest, match='"retCode":131214,"retMsg":"TransferId exist"'):
        await client.transfer("USDT", 10, "unified", "funding", {"transferId": uuid(2)})
    assert fake.account.fund["USDT"] == D("25010")
    assert len(fake.account.transfers) == 1


async def test_ccxt_says_ok_for_a_pending_or_failed_transfer(
    fake: BybitFake, client: ccxt_async.bybit
) -> None:
    """ccxt's status comes from retCode 0, not from the transfer's own `status`."""
    fake.account.next_statuses = [PENDING, FAILED]
    pending = await client.transfer("USDT", 7, "funding", "unified", {"transferId": uuid(3)})
    failed = await client.transfer("USDT", 9, "funding", "unified", {"transferId": uuid(4)})
    assert pending["status"] == failed["status"] == "ok"
    assert (pending["info"]["status"], failed["info"]["status"]) == (PENDING, FAILED)
    assert fake.account.fund["USDT"] == D("24993")  # the pending one has left, the failed not
    assert fake.account.unified["USDT"] == D("10000")
    with fake.account.lock:
        fake.account.settle(uuid(3), SUCCESS)
    (listed,) = await client.fetch_transfers("USDT", params={"transferId": uuid(3)})
    assert listed["info"]["status"] == SUCCESS and fake.account.unified["USDT"] == D("10007")
    # ccxt sorts what it parsed oldest first
    assert [t["info"]["status"] for t in await client.fetch_transfers("USDT")] == [
        SUCCESS,
        FAILED,
    ]


async def test_history_is_paged_by_cursor(fake: BybitFake, client: ccxt_async.bybit) -> None:
    minute_ago = fake.now() - 60_000  # inside the default 7-day window, whatever the second
    with fake.account.lock:
        for n in range(25):
            fake.account.transfer(uuid(100 + n), "USDT", D(1), "FUND", "UNIFIED", minute_ago + n)
    first = await client.fetch_transfers("USDT", limit=10)
    assert {t["id"] for t in first} == {uuid(115 + n) for n in range(10)}  # the newest ten
    # ccxt puts the page's cursor in the first row the venue sent, then sorts the rows
    (cursor,) = [t["info"]["nextPageCursor"] for t in first if "nextPageCursor" in t["info"]]
    second = await client.fetch_transfers("USDT", limit=10, params={"cursor": cursor})
    assert {t["id"] for t in second} == {uuid(105 + n) for n in range(10)}
    everything = await client.fetch_transfers("USDT", params={"paginate": True})
    assert sorted(t["id"] for t in everything) == [uuid(100 + n) for n in range(25)]
    with pytest.raises(errors.BadRequest, match="10001"):
        await client.fetch_transfers("USDT", limit=51)


# the exactly-once matrix ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "status", "raised", "applied"),
    [
        (FAIL_BEFORE, None, errors.ExchangeNotAvailable, False),
        (FAIL_AFTER, None, errors.ExchangeNotAvailable, True),
        (FAIL_BEFORE, 502, errors.ExchangeNotAvailable, False),
        (TIMEOUT_AFTER, None, errors.RequestTimeout, True),
        (RATE_LIMITED, None, errors.RateLimitExceeded, False),
        (FAIL_BEFORE, 429, errors.RateLimitExceeded, False),
    ],
)
async def test_each_fault_is_the_ccxt_error_it_maps_to_and_a_retry_is_exactly_once(
    fake: BybitFake,
    client: ccxt_async.bybit,
    kind: str,
    status: int | None,
    raised: type[Exception],
    applied: bool,
) -> None:
    fake.faults.add("POST", TRANSFER, kind, status=status)
    client.timeout = 1000 if kind == TIMEOUT_AFTER else client.timeout  # the hold outlasts it
    with pytest.raises(raised):
        await client.transfer("USDT", 50, "funding", "unified", {"transferId": uuid(5)})
    client.timeout = 10000
    assert fake.account.fund["USDT"] == (D("24950") if applied else D("25000"))
    found = await client.fetch_transfers("USDT", params={"transferId": uuid(5)})
    assert [t["id"] for t in found] == ([uuid(5)] if applied else [])
    # the same id again: applied once, whatever the first answer was
    if applied:
        with pytest.raises(errors.BadRequest, match="131214"):
            await client.transfer("USDT", 50, "funding", "unified", {"transferId": uuid(5)})
    else:
        await client.transfer("USDT", 50, "funding", "unified", {"transferId": uuid(5)})
    assert fake.account.fund["USDT"] == D("24950")
    assert fake.count("POST", TRANSFER) == 2


async def test_the_rate_limit_answer_carries_bybits_headers(
    fake: BybitFake, client: ccxt_async.bybit
) -> None:
    fake.faults.add("GET", "/v5/position/list", RATE_LIMITED)
    with pytest.raises(errors.RateLimitExceeded, match='"retCode":10006'):
        await client.fetch_positions()
    headers = client.last_response_headers
    assert headers["X-Bapi-Limit-Status"] == "0" and headers["X-Bapi-Limit"] == "50"
    assert int(headers["X-Bapi-Limit-Reset-Timestamp"]) > 0
    await client.fetch_positions()
    assert int(client.last_response_headers["X-Bapi-Limit-Status"]) < 50


async def test_insufficient_balance_is_insufficient_funds_and_moves_nothing(
    fake: BybitFake, client: ccxt_async.bybit
) -> None:
    with pytest.raises(errors.InsufficientFunds, match="131212"):
        await client.transfer("USDT", 25000.01, "funding", "unified", {"transferId": uuid(6)})
    # UNIFIED holds 10000 USDT, but only what the available balance allows may leave
    with fake.account.lock:
        fake.account.unified["BTC"] = D(0)
    with pytest.raises(errors.InsufficientFunds, match="131212"):
        await client.transfer("USDT", 4260.01, "unified", "funding", {"transferId": uuid(7)})
    assert fake.account.fund["USDT"] == D("25000") and fake.account.transfers == []
    await client.transfer("USDT", 4260, "unified", "funding", {"transferId": uuid(8)})
    assert fake.account.unified["USDT"] == D("5740")


@pytest.mark.parametrize(
    ("body", "outcome"),
    [
        ("<html><body>502 Bad Gateway</body></html>", []),
        ("", []),
        ('{"retCode":0,"retMsg":"OK","result":{"list":"garbage"},"time":1}', []),
        ('{"retCode":0}', []),
        ("[1,2]", errors.ExchangeError),
    ],
)
async def test_a_garbage_history_mostly_reads_as_no_transfers(
    fake: BybitFake, client: ccxt_async.bybit, body: str, outcome: Any
) -> None:
    """What ccxt makes of a garbage answer with HTTP 200: an empty list, which the bot must not
    take for "the transfer did not happen" (it has to check the envelope itself)."""
    await client.transfer("USDT", 1, "funding", "unified", {"transferId": uuid(9)})
    fake.faults.add("GET", HISTORY, RAW, body=body)
    if isinstance(outcome, list):
        assert await client.fetch_transfers("USDT") == outcome
    else:
        with pytest.raises(outcome):
            await client.fetch_transfers("USDT")
    assert [t["id"] for t in await client.fetch_transfers("USDT")] == [uuid(9)]


async def test_a_garbage_row_passes_through_ccxt_unparsed(
    fake: BybitFake, client: ccxt_async.bybit
) -> None:
    row = {"transferId": None, "amount": "abc", "timestamp": "x", "status": 7}
    body = json.dumps({"retCode": 0, "retMsg": "OK", "result": {"list": [row]}, "time": 1})
    fake.faults.add("GET", HISTORY, RAW, body=body)
    (parsed,) = await client.fetch_transfers("USDT")
    assert parsed["id"] is None and parsed["amount"] is None and parsed["status"] == "7"


# signing --------------------------------------------------------------------------------------


async def test_the_documented_signature_is_accepted_and_others_refused(fake: BybitFake) -> None:
    """Signed here from the Integration Guidance's rule, not by ccxt: timestamp + key +
    recvWindow + queryString, HMAC-SHA256, lower-case hex."""

    async def get(query: str, *, key: str = API_KEY, secret: str = SECRET, skew: int = 0) -> Any:
        stamp = str(fake.now() + skew)
        signed = hmac.new(
            secret.encode(), (stamp + key + "5000" + query).encode(), hashlib.sha256
        ).hexdigest()
        headers = {
            "X-BAPI-API-KEY": key,
            "X-BAPI-TIMESTAMP": stamp,
            "X-BAPI-RECV-WINDOW": "5000",
            "X-BAPI-SIGN": signed,
        }
        url = f"{fake.base_url}/v5/account/wallet-balance?{query}"
        async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as r:
            assert r.status == 200
            return await r.json()

    assert (await get("accountType=UNIFIED"))["retCode"] == 0
    assert (await get("accountType=UNIFIED", secret="other"))["retCode"] == 10004
    assert (await get("accountType=UNIFIED", key="unknown"))["retCode"] == 10003
    assert (await get("accountType=UNIFIED", skew=-5001))["retCode"] == 10002
    assert (await get("accountType=UNIFIED", skew=60_000))["retCode"] == 10002  # ahead
    assert (await get("accountType=UNIFIED", skew=999))["retCode"] == 0
    assert (await get("accountType=FUND"))["retCode"] == 10001  # wallet-balance is UNIFIED only


async def test_ccxt_sees_bad_keys_and_stale_clocks_as_bybit_reports_them(
    fake: BybitFake, make_client: Callable[..., ccxt_async.bybit], client: ccxt_async.bybit
) -> None:
    wrong = make_client(fake, secret="not-the-secret")
    wrong.markets, wrong.currencies = client.markets, client.currencies
    with pytest.raises(errors.AuthenticationError, match="10004"):
        await wrong.fetch_positions()
    fake.clock_offset_ms = 10_000  # our clock is 10 s behind the venue's: past recvWindow
    with pytest.raises(errors.InvalidNonce, match="10002"):
        await client.fetch_positions()


# ccxt's own validators ------------------------------------------------------------------------

#: fetchMarkets is left out: stock bybit's fetch_markets() leaves `subType` None (load_markets
#: fills it in), which ccxt's test_market cannot read; loadMarkets checks every market with it
SERVED = [
    "loadMarkets",
    "fetchCurrencies",
    "fetchBalance",
    "fetchPositions",
    "fetchFundingRate",
    "fetchFundingRates",
    "fetchTransfers",
    "fetchTicker",
    "fetchTime",
]


async def test_ccxts_validators_pass_over_what_the_fake_serves(
    fake: BybitFake, client: ccxt_async.bybit
) -> None:
    await client.transfer("USDT", 5, "funding", "unified", {"transferId": uuid(10)})
    skipped = {
        "collateral": "positionBalance is deprecated (sent empty) on a UTA",
        "marginMode": "ccxt's parse_position leaves it None (tradeMode is deprecated)",
        "optionsNotLoadedByDefault": "the bot loads spot and linear markets only",
    }
    report = await run_claimed(client, skipped, Target(PERP, "USDT"), methods=SERVED)
    assert report.failures == {}
    assert report.passed == SERVED
    assert fake.unserved == []


async def test_a_custom_account_is_served_as_set(
    make_client: Callable[..., ccxt_async.bybit],
) -> None:
    account = Account(
        unified={"USDT": D("1000")},
        fund={"USDT": D("0")},
        positions=[Position("ETHUSDT", "Buy", D("1"), D("3100"), D("5"))],
        unified_margin_status=4,
    )
    async with BybitFake(account) as fake:
        client = make_client(fake, options={"fetchMarkets": {"types": ["spot", "linear"]}})
        (position,) = await client.fetch_positions()
        assert position["side"] == "long" and position["initialMargin"] == 620.0
        # long 1 ETH, MB 1000: 1000 + (L - 3100) = L x 0.005 -> L = 2100 / 0.995
        assert position["info"]["liqPrice"] == "2110.55"
        info = await client.private_get_v5_account_info()
        assert info["result"]["unifiedMarginStatus"] == 4
