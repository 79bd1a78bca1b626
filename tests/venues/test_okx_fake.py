"""The OKX v5 fake (tests/fakes/okx_server.py) driven by the stock `ccxt.async_support.okx`
client over loopback HTTP: what ccxt calls for each method the bot will use, the account
figures it reads (exact, from OKX's strings) in multi-currency margin and in Futures mode, the
transfer by `clientId` and its state, a repeated `clientId`, each fault of the exactly-once
matrix as the ccxt exception it becomes, paged and garbage bills, and ccxt's own validators
over the methods the fake serves."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import aiohttp
import ccxt.async_support as ccxt_async
import pytest
from ccxt.base import errors

from tests.ccxt_validators.suite import Target, run_claimed
from tests.fakes.loopback import on_loopback
from tests.fakes.okx.accounts import (
    FAILED,
    FUTURES_MODE,
    PENDING,
    SUCCESS,
    Account,
    Position,
)
from tests.fakes.okx.faults import FAIL_AFTER, FAIL_BEFORE, RATE_LIMITED, RAW, TIMEOUT_AFTER
from tests.fakes.okx_server import API_KEY, PASSPHRASE, SECRET, OkxFake
from tests.waiting import until

D = Decimal
API = "/api/v5"
TRANSFER = f"{API}/asset/transfer"
STATE = f"{API}/asset/transfer-state"
BILLS = f"{API}/account/bills-archive"
PERP = "BTC/USDT:USDT"
#: the default account by hand (multi-currency margin): trading holds 10000 USDT and 0.5 BTC at
#: 62000; short 50 BTC-USDT-SWAP contracts (0.5 BTC) from 60000 and 40 ETH-USDT-SWAP (4 ETH)
#: from 3000, marks 62000 and 3100, 10x, maintenance rate 0.004
ADJ_EQ = D("10000") - D("1000") - D("400") + D("31000")  # 39600
IMR = D("3100") + D("1240")  # value at mark / 10
MMR = D("124") + D("49.6")  # value at mark x 0.004


def client_id(n: int) -> str:
    return f"bot{n:08d}"


@pytest.fixture
async def fake() -> AsyncIterator[OkxFake]:
    async with OkxFake() as server:
        yield server


@pytest.fixture
async def make_client() -> AsyncIterator[Callable[..., ccxt_async.okx]]:
    clients: list[ccxt_async.okx] = []

    def factory(fake: OkxFake, **config: Any) -> ccxt_async.okx:
        settings: dict[str, Any] = {
            "apiKey": API_KEY,
            "secret": SECRET,
            "password": PASSPHRASE,
            "urls": fake.client_urls(),
            # ccxt spaces calls by cost x rateLimit (transfers cost 10 x 100 ms): its throttler
            # is not under test here, so its unit shrinks a hundredfold
            "rateLimit": 1,
        }
        settings.update(config)
        client = ccxt_async.okx(settings)
        on_loopback(client)
        clients.append(client)
        return client

    yield factory
    for client in clients:
        await client.close()


@pytest.fixture
async def client(fake: OkxFake, make_client: Callable[..., ccxt_async.okx]) -> ccxt_async.okx:
    """As the bot would configure it: only the spot and swap instruments are loaded."""
    client = make_client(fake, options={"fetchMarkets": {"types": ["spot", "swap"]}})
    await client.load_markets()
    return client


def sent(fake: OkxFake, path: str) -> list[dict[str, str]]:
    return [params for _, p, params in fake.requests if p == path]


# what ccxt calls ------------------------------------------------------------------------------


async def test_stock_load_markets_asks_every_type_and_the_currencies(
    fake: OkxFake, make_client: Callable[..., ccxt_async.okx]
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
    asked = sent(fake, f"{API}/public/instruments")
    # spot, futures, swap, and options per default underlying (BTC-USD, ETH-USD)
    assert sorted(p["instType"] for p in asked) == ["FUTURES", "OPTION", "OPTION", "SPOT", "SWAP"]
    assert {"instType": "OPTION", "uly": "ETH-USD"} in asked
    assert fake.count("GET", f"{API}/asset/currencies") == 1  # fetch_currencies, signed
    assert fake.unserved == []


async def test_the_bots_configuration_loads_spot_and_swaps_only(
    fake: OkxFake, client: ccxt_async.okx
) -> None:
    asked = sent(fake, f"{API}/public/instruments")
    assert sorted(p["instType"] for p in asked) == ["SPOT", "SWAP"]
    market = client.market(PERP)
    assert market["id"] == "BTC-USDT-SWAP" and market["swap"] and market["linear"]
    assert market["contractSize"] == 0.01 and market["precision"]["price"] == 0.1
    assert client.market("BTC/USDT")["id"] == "BTC-USDT"


async def test_account_config_names_the_account_mode(fake: OkxFake, client: ccxt_async.okx) -> None:
    (account,) = await client.fetch_accounts()
    assert account["type"] == "3" and account["info"]["posMode"] == "net_mode"
    with fake.account.lock:
        fake.account.acct_lv = FUTURES_MODE
    (config,) = (await client.private_get_account_config())["data"]
    assert config["acctLv"] == "2"


async def test_trading_balance_carries_okxs_account_figures_exactly(
    fake: OkxFake, client: ccxt_async.okx
) -> None:
    balance = await client.fetch_balance()
    assert sent(fake, f"{API}/account/balance") == [{}]
    (account,) = balance["info"]["data"]
    assert D(account["adjEq"]) == ADJ_EQ and D(account["totalEq"]) == ADJ_EQ
    assert D(account["imr"]) == IMR and D(account["mmr"]) == MMR
    assert D(account["mgnRatio"]) == (ADJ_EQ / MMR).quantize(D("1e-8"))  # 228.11059908
    (usdt,) = [d for d in account["details"] if d["ccy"] == "USDT"]
    assert D(usdt["cashBal"]) == D("10000") and D(usdt["eq"]) == D("8600")
    assert usdt["mgnRatio"] == ""  # per currency only in Futures mode
    # ccxt's total is eq and its free availEq: the equity less the initial margin
    assert balance["USDT"] == {"free": 4260.0, "used": 4340.0, "total": 8600.0}
    assert balance["BTC"]["total"] == 0.5


async def test_the_margin_ratio_reaches_one_at_the_liquidation_price(
    fake: OkxFake, client: ccxt_async.okx
) -> None:
    btc, _eth = sorted(await client.fetch_positions(), key=lambda p: p["symbol"])
    assert sent(fake, f"{API}/account/positions") == [{}]
    assert btc["symbol"] == PERP and btc["side"] == "short" and btc["contracts"] == 50.0
    assert btc["maintenanceMargin"] == 124.0 and btc["initialMargin"] == 3100.0
    assert btc["info"]["mgnMode"] == "cross" and btc["info"]["posSide"] == "net"
    # OKX's own ratio is the account's; ccxt's marginRatio is its own mmr / (imr + upl)
    assert D(btc["info"]["mgnRatio"]) == (ADJ_EQ / MMR).quantize(D("1e-8"))
    assert btc["marginRatio"] == 0.059
    liquidation = D(btc["info"]["liqPx"])
    # (49.6 - (39600 + 1000) - 0.5 x 60000) / (0.5 x (-1 - 0.004)), to the tick of 0.1
    assert liquidation == D("140538.6")
    with fake.account.lock:
        fake.account.marks["BTC-USDT-SWAP"] = liquidation
    (account,) = (await client.fetch_balance())["info"]["data"]
    assert abs(D(account["mgnRatio"]) - 1) < D("0.0001")  # within a tick of the price


async def test_futures_mode_ratio_is_per_currency_and_spot_is_not_collateral(
    fake: OkxFake, client: ccxt_async.okx
) -> None:
    with fake.account.lock:
        fake.account.acct_lv = FUTURES_MODE
    (account,) = (await client.fetch_balance())["info"]["data"]
    assert account["mgnRatio"] == account["adjEq"] == account["mmr"] == ""
    details = {d["ccy"]: d for d in account["details"]}
    usdt_ratio = D("8600") / MMR  # the USDT equity alone: the 0.5 BTC does not count
    assert D(details["USDT"]["mgnRatio"]) == usdt_ratio.quantize(D("1e-8"))
    assert D(details["USDT"]["mmr"]) == MMR and details["BTC"]["mgnRatio"] == ""
    positions = await client.fetch_positions()
    assert {D(p["info"]["mgnRatio"]) for p in positions} == {usdt_ratio.quantize(D("1e-8"))}
    # what may leave: the USDT equity less its initial margin, whatever BTC is held
    (usdt,) = (await client.private_get_account_max_withdrawal({"ccy": "USDT"}))["data"]
    assert D(usdt["maxWd"]) == D("8600") - IMR


async def test_an_isolated_position_has_its_own_ratio(
    make_client: Callable[..., ccxt_async.okx],
) -> None:
    account = Account(
        positions=[Position("ETH-USDT-SWAP", D("10"), D("3000"), D("5"), "isolated", D("600"), "7")]
    )
    async with OkxFake(account) as fake:
        client = make_client(fake, options={"fetchMarkets": {"types": ["spot", "swap"]}})
        (position,) = await client.fetch_positions()
        info = position["info"]
        assert position["side"] == "long" and position["marginMode"] == "isolated"
        # margin 600 + P&L 1 ETH x 100 over 3100 x 0.004
        assert D(info["mgnRatio"]) == (D("700") / D("12.4")).quantize(D("1e-8"))
        # long: 600 + (L - 3000) = 0.004 L -> L = 2400 / 0.996, to the tick of 0.01
        assert info["liqPx"] == "2409.64" and info["margin"] == "600" and info["imr"] == ""


async def test_funding_balance_reads_the_funding_account(
    fake: OkxFake, client: ccxt_async.okx
) -> None:
    funding = await client.fetch_balance({"type": "funding"})
    assert sent(fake, f"{API}/asset/balances") == [{}]
    assert funding["USDT"] == {"free": 25000.0, "used": 0.0, "total": 25000.0}
    assert "USDC" not in funding  # only balances above 0 are listed
    assert funding["info"]["data"] == [
        {"ccy": "USDT", "bal": "25000", "frozenBal": "0", "availBal": "25000"}
    ]


async def test_what_may_leave_trading_is_capped_by_the_free_margin(
    fake: OkxFake, client: ccxt_async.okx
) -> None:
    answer = await client.private_get_account_max_withdrawal({"ccy": "USDT"})
    assert answer["data"][0]["maxWd"] == "10000"
    with fake.account.lock:
        fake.account.trading["BTC"] = D(0)  # adjusted equity 8600, IMR 4340: 4260 free
    answer = await client.private_get_account_max_withdrawal({"ccy": "USDT"})
    assert D(answer["data"][0]["maxWd"]) == D("4260")


async def test_funding_rate_and_its_interval(fake: OkxFake, client: ccxt_async.okx) -> None:
    rate = await client.fetch_funding_rate(PERP)
    assert sent(fake, f"{API}/public/funding-rate") == [{"instId": "BTC-USDT-SWAP"}]
    assert rate["info"]["fundingRate"] == "0.0001" and rate["fundingRate"] == 0.0001
    assert rate["interval"] == "8h" and rate["fundingTimestamp"] % (8 * 3600 * 1000) == 0
    rates = await client.fetch_funding_rates([PERP, "ETH/USDT:USDT"])
    assert sent(fake, f"{API}/public/funding-rate")[-1] == {"instId": "ANY"}
    assert rates["ETH/USDT:USDT"]["info"]["fundingRate"] == "-0.00003512"


# transfers ----------------------------------------------------------------------------------


async def test_a_transfer_moves_exactly_its_amount_and_its_state_is_read_back(
    fake: OkxFake, client: ccxt_async.okx
) -> None:
    done = await client.transfer("USDT", 100.5, "funding", "trading", {"clientId": client_id(1)})
    assert sent(fake, TRANSFER) == [
        {
            "ccy": "USDT",
            "amt": "100.5",
            "type": "0",
            "from": "6",
            "to": "18",
            "clientId": client_id(1),
        }
    ]
    assert done["info"]["clientId"] == client_id(1) and done["status"] is None  # no state sent
    assert (done["fromAccount"], done["toAccount"]) == ("funding", "trading")
    assert fake.account.funding["USDT"] == D("24899.5")
    assert fake.account.trading["USDT"] == D("10100.5")
    by_id = await client.fetch_transfer(done["id"])
    assert sent(fake, STATE) == [{"transId": done["id"]}]
    assert by_id["status"] == "ok" and by_id["info"]["state"] == SUCCESS
    # by clientId: ccxt's fetch_transfer always sends transId, so the implicit method
    by_client = await client.private_get_asset_transfer_state({"clientId": client_id(1)})
    assert by_client["data"][0]["transId"] == done["id"]
    assert by_client["data"][0]["amt"] == "100.5"


async def test_a_repeated_client_id_is_refused_and_moves_nothing(
    fake: OkxFake, client: ccxt_async.okx
) -> None:
    await client.transfer("USDT", 10, "trading", "funding", {"clientId": client_id(2)})
    with pytest.raises(errors.ExchangeError, match='"code":"50071"') as refused:
        await client.transfer("USDT", 10, "trading", "funding", {"clientId": client_id(2)})
    # ccxt does not map 50071: a plain ExchangeError, not one of its subclasses
    assert type(refused.value) is errors.ExchangeError
    assert fake.account.funding["USDT"] == D("25010") and len(fake.account.transfers) == 1


async def test_an_unknown_transfer_state_is_a_refusal_not_an_empty_answer(
    fake: OkxFake, client: ccxt_async.okx
) -> None:
    with pytest.raises(errors.ExchangeError, match='"code":"58129"'):
        await client.private_get_asset_transfer_state({"clientId": client_id(3)})
    with pytest.raises(errors.ExchangeError, match='"code":"50015"'):
        await client.private_get_asset_transfer_state({})


async def test_pending_and_failed_states(fake: OkxFake, client: ccxt_async.okx) -> None:
    fake.account.next_states = [PENDING, FAILED]
    pending = await client.transfer("USDT", 7, "funding", "trading", {"clientId": client_id(4)})
    failed = await client.transfer("USDT", 9, "funding", "trading", {"clientId": client_id(5)})
    assert fake.account.funding["USDT"] == D("24993")  # the pending one has left, not the other
    assert fake.account.trading["USDT"] == D("10000")
    assert (await client.fetch_transfer(pending["id"]))["status"] == PENDING
    assert (await client.fetch_transfer(failed["id"]))["status"] == FAILED
    with fake.account.lock:
        fake.account.settle(pending["id"], SUCCESS, fake.now())
    assert (await client.fetch_transfer(pending["id"]))["status"] == "ok"
    assert fake.account.trading["USDT"] == D("10007")


async def test_transfers_are_listed_from_the_trading_accounts_bills(
    fake: OkxFake, client: ccxt_async.okx
) -> None:
    await client.transfer("USDT", 4, "trading", "funding", {"clientId": client_id(6)})
    (listed,) = await client.fetch_transfers("USDT")
    assert sent(fake, BILLS) == [{"type": "1", "ccy": "USDT"}]
    # a bill, not the transfer: its id is the billId and ccxt gives it no status
    assert listed["id"] != fake.account.transfers[0].trans_id and listed["status"] is None
    assert listed["amount"] == 4.0 and listed["info"]["balChg"] == "-4"
    assert (listed["fromAccount"], listed["toAccount"]) == ("trading", "funding")
    # the funding side's bills carry the clientId
    funding = await client.private_get_asset_bills({"ccy": "USDT"})
    assert [b["clientId"] for b in funding["data"]] == [client_id(6)]


async def test_bills_are_paged_by_bill_id(fake: OkxFake, client: ccxt_async.okx) -> None:
    with fake.account.lock:
        for n in range(25):
            fake.account.transfer("USDT", D(1), "6", "18", client_id(100 + n), fake.now())
    first = await client.fetch_transfers("USDT", limit=10)
    assert len(first) == 10
    oldest = min(int(t["id"]) for t in first)
    second = await client.fetch_transfers("USDT", limit=10, params={"after": str(oldest)})
    assert len(second) == 10 and max(int(t["id"]) for t in second) < oldest
    ids = [b.bill_id for b in fake.account.trading_bills]
    assert sorted(t["id"] for t in first + second) == sorted(ids[-20:])
    with pytest.raises(errors.BadRequest, match="51000"):
        await client.fetch_transfers("USDT", limit=101)


# the exactly-once matrix ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "status", "raised", "applied"),
    [
        (FAIL_BEFORE, None, errors.ExchangeNotAvailable, False),
        (FAIL_AFTER, None, errors.ExchangeNotAvailable, True),
        (FAIL_BEFORE, 502, errors.ExchangeNotAvailable, False),
        (TIMEOUT_AFTER, None, errors.RequestTimeout, True),
        (RATE_LIMITED, None, errors.RateLimitExceeded, False),
        # a bare 429 without OKX's body: ccxt's httpExceptions say ExchangeNotAvailable
        (FAIL_BEFORE, 429, errors.ExchangeNotAvailable, False),
    ],
)
async def test_each_fault_is_the_ccxt_error_it_maps_to_and_a_retry_is_exactly_once(
    fake: OkxFake,
    client: ccxt_async.okx,
    kind: str,
    status: int | None,
    raised: type[Exception],
    applied: bool,
) -> None:
    fake.faults.add("POST", TRANSFER, kind, status=status)
    client.timeout = 1000 if kind == TIMEOUT_AFTER else client.timeout  # the hold outlasts it
    with pytest.raises(raised):
        await client.transfer("USDT", 50, "funding", "trading", {"clientId": client_id(7)})
    client.timeout = 10000
    if applied:  # a loaded machine may time the client out before the fake has applied it
        await until(lambda: len(fake.account.transfers) == 1, "the transfer applied")
    assert fake.account.funding["USDT"] == (D("24950") if applied else D("25000"))
    ask = {"clientId": client_id(7)}
    if applied:
        state = await client.private_get_asset_transfer_state(ask)
        assert state["data"][0]["state"] == SUCCESS
        with pytest.raises(errors.ExchangeError, match="50071"):
            await client.transfer("USDT", 50, "funding", "trading", ask)
    else:
        with pytest.raises(errors.ExchangeError, match="58129"):
            await client.private_get_asset_transfer_state(ask)
        await client.transfer("USDT", 50, "funding", "trading", ask)
    assert fake.account.funding["USDT"] == D("24950")
    assert fake.count("POST", TRANSFER) == 2


async def test_the_rate_limit_answer_is_okxs(fake: OkxFake, client: ccxt_async.okx) -> None:
    fake.faults.add("GET", f"{API}/account/positions", RATE_LIMITED)
    with pytest.raises(errors.RateLimitExceeded, match='"code": "50011"'):
        await client.fetch_positions()
    assert client.last_http_response == '{"msg": "Too Many Requests", "code": "50011"}'
    assert len(await client.fetch_positions()) == 2


async def test_insufficient_balance_is_insufficient_funds_and_moves_nothing(
    fake: OkxFake, client: ccxt_async.okx
) -> None:
    with pytest.raises(errors.InsufficientFunds, match="58350"):
        await client.transfer("USDT", 25000.01, "funding", "trading", {"clientId": client_id(8)})
    with fake.account.lock:
        fake.account.trading["BTC"] = D(0)  # 10000 USDT held, 4260 free of margin
    with pytest.raises(errors.InsufficientFunds, match="58350"):
        await client.transfer("USDT", 4260.01, "trading", "funding", {"clientId": client_id(9)})
    assert fake.account.funding["USDT"] == D("25000") and fake.account.transfers == []
    await client.transfer("USDT", 4260, "trading", "funding", {"clientId": client_id(10)})
    assert fake.account.trading["USDT"] == D("5740")


@pytest.mark.parametrize(
    ("body", "outcome"),
    [
        ("<html><body>502 Bad Gateway</body></html>", []),
        ("", []),
        ('{"code":"0","msg":"","data":"garbage"}', []),
        ('{"code":"0"}', []),
        ("[1,2]", errors.ExchangeError),
    ],
)
async def test_a_garbage_history_mostly_reads_as_no_transfers(
    fake: OkxFake, client: ccxt_async.okx, body: str, outcome: Any
) -> None:
    """What ccxt makes of a garbage answer with HTTP 200: mostly an empty list, which the bot
    must not take for "the transfer did not happen" (it has to check the envelope itself)."""
    await client.transfer("USDT", 1, "funding", "trading", {"clientId": client_id(11)})
    fake.faults.add("GET", BILLS, RAW, body=body)
    if isinstance(outcome, list):
        assert await client.fetch_transfers("USDT") == outcome
    else:
        with pytest.raises(outcome):
            await client.fetch_transfers("USDT")
    assert len(await client.fetch_transfers("USDT")) == 1


async def test_a_garbage_state_passes_through_ccxt_unparsed(
    fake: OkxFake, client: ccxt_async.okx
) -> None:
    row = {"transId": None, "amt": "abc", "state": 7}
    fake.faults.add("GET", STATE, RAW, body=json.dumps({"code": "0", "msg": "", "data": [row]}))
    parsed = await client.fetch_transfer("1")
    assert parsed["id"] is None and parsed["amount"] is None and parsed["status"] == "7"


# signing --------------------------------------------------------------------------------------


async def test_the_documented_signature_is_accepted_and_others_refused(fake: OkxFake) -> None:
    """Signed here from the Authentication page's rule, not by ccxt: base64 HMAC-SHA256 of
    timestamp + METHOD + requestPath (with its query)."""
    path = f"{API}/account/balance?ccy=USDT"

    async def get(
        *, key: str = API_KEY, secret: str = SECRET, phrase: str = PASSPHRASE, skew: int = 0
    ) -> tuple[int, Any]:
        moment = datetime.fromtimestamp((fake.now() + skew) / 1000, UTC)
        stamp = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
        digest = hmac.new(secret.encode(), (stamp + "GET" + path).encode(), hashlib.sha256)
        headers = {
            "OK-ACCESS-KEY": key,
            "OK-ACCESS-SIGN": base64.b64encode(digest.digest()).decode(),
            "OK-ACCESS-TIMESTAMP": stamp,
            "OK-ACCESS-PASSPHRASE": phrase,
        }
        async with (
            aiohttp.ClientSession() as session,
            session.get(fake.base_url + path, headers=headers) as r,
        ):
            return r.status, (await r.json())["code"]

    assert await get() == (200, "0")
    assert await get(secret="other") == (401, "50113")
    assert await get(key="unknown") == (401, "50111")
    assert await get(phrase="wrong") == (401, "50105")
    assert await get(skew=-31_000) == (401, "50102")
    assert await get(skew=31_000) == (401, "50102")
    assert await get(key="") == (401, "50103")


async def test_ccxt_sees_bad_keys_and_stale_clocks_as_okx_reports_them(
    fake: OkxFake, make_client: Callable[..., ccxt_async.okx], client: ccxt_async.okx
) -> None:
    wrong = make_client(fake, secret="not-the-secret")
    wrong.markets, wrong.currencies = client.markets, client.currencies
    with pytest.raises(errors.AuthenticationError, match="50113"):
        await wrong.fetch_positions()
    fake.clock_offset_ms = 40_000  # our clock is 40 s behind the venue's
    with pytest.raises(errors.InvalidNonce, match="50102"):
        await client.fetch_positions()


# ccxt's own validators ------------------------------------------------------------------------

SERVED = [
    "loadMarkets",
    "fetchCurrencies",
    "fetchBalance",
    "fetchPositions",
    "fetchFundingRate",
    "fetchFundingRates",
    "fetchTransfers",
    "fetchLedger",
    "fetchTime",
]


async def test_ccxts_validators_pass_over_what_the_fake_serves(
    fake: OkxFake, make_client: Callable[..., ccxt_async.okx]
) -> None:
    # dated futures loaded too: stock okx claims has["future"] and loadMarkets looks for one
    client = make_client(fake, options={"fetchMarkets": {"types": ["spot", "future", "swap"]}})
    await client.transfer("USDT", 5, "funding", "trading", {"clientId": client_id(12)})
    skipped = {
        "optionsNotLoadedByDefault": "the bot loads spot and swap instruments only",
        "status": "ccxt parses fetch_transfers from bills, which carry no state",
        "account": "ccxt's okx parse_ledger_entry leaves `account` None",
    }
    report = await run_claimed(client, skipped, Target(PERP, "USDT"), methods=SERVED)
    assert report.failures == {}
    assert report.passed == SERVED
    assert fake.unserved == []
