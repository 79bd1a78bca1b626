"""The wallet side of the paper exchange against Binance's documented rules, over real HTTP with
the real ccxt client: sapi weight kept apart from /api weight (and refused past its limit), the
transfer history's parameter rules, every universal-transfer type between the modelled wallets,
and the documented shapes of the history and the funding wallet."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import ccxt.async_support as ccxt_async
import pytest

from bot.paper import PaperExchange, StateStore
from bot.paper.model import SpotBalance, Wallet, default_state, now_ms
from bot.paper.transfers import TRANSFER_TYPES

DOCS = Path(__file__).resolve().parents[1] / "fixtures" / "binance-docs"
DAY_MS = 86_400_000
MINUTE_MS = 60_000


class MinuteClock:
    """Real time shifted so that the paper stands one second into a minute when the test starts:
    every request of a test lands in that minute, whatever the wall clock says. `next_minute`
    moves the paper to the next one. Clients made by `client` sign with the same shift."""

    def __init__(self) -> None:
        real = now_ms()
        self.offset = real - ((real // MINUTE_MS) * MINUTE_MS + 1000)

    def __call__(self) -> int:
        return now_ms() - self.offset

    def next_minute(self) -> None:
        self.offset -= MINUTE_MS


def _funded_state() -> Any:
    state = default_state()
    return replace(
        state,
        funding_wallet={"USDT": SpotBalance(free=D("1000")), "BTC": SpotBalance(free=D("0.5"))},
        margin_wallet={"USDT": SpotBalance(free=D("1000")), "BTC": SpotBalance(free=D("0.5"))},
    )


@pytest.fixture
def clock() -> MinuteClock:
    return MinuteClock()


@pytest.fixture
async def paper(state_path: Path, clock: MinuteClock) -> AsyncIterator[PaperExchange]:
    store = StateStore(state_path, initial=_funded_state())
    async with PaperExchange(store, clock=clock) as running:
        yield running


@pytest.fixture
async def client(
    paper: PaperExchange,
    clock: MinuteClock,
    client_factory: Callable[..., ccxt_async.binance],
) -> ccxt_async.binance:
    made = client_factory(paper.base_url)
    made.options["timeDifference"] = clock.offset
    return made


def _headers(client: ccxt_async.binance) -> dict[str, str]:
    return {key.upper(): value for key, value in client.last_response_headers.items()}


async def _transfer(client: ccxt_async.binance, asset: str, amount: str, kind: str) -> Any:
    return await client.sapiPostAssetTransfer({"asset": asset, "amount": amount, "type": kind})


# --- weight: /api and sapi apart, each in its own header -------------------------------------


async def test_a_transfer_counts_uid_weight_in_its_own_header_not_in_the_api_weight(client):
    await client.privateGetAccount()
    assert _headers(client)["X-MBX-USED-WEIGHT-1M"] == "20"
    await _transfer(client, "USDT", "1", "MAIN_UMFUTURE")
    after_transfer = _headers(client)
    assert after_transfer["X-SAPI-USED-UID-WEIGHT-1M"] == "900"
    assert "X-MBX-USED-WEIGHT-1M" not in after_transfer
    assert "X-SAPI-USED-IP-WEIGHT-1M" not in after_transfer
    await client.privateGetAccount()
    spot = _headers(client)
    assert spot["X-MBX-USED-WEIGHT-1M"] == "40"  # /api weight only: 20 + 20, not 940
    assert "X-SAPI-USED-UID-WEIGHT-1M" not in spot


async def test_the_history_counts_ip_weight_apart_from_the_transfer(client):
    await _transfer(client, "USDT", "1", "MAIN_UMFUTURE")
    await client.sapiGetAssetTransfer({"type": "MAIN_UMFUTURE"})
    history = _headers(client)
    assert history["X-SAPI-USED-IP-WEIGHT-1M"] == "1"
    assert "X-SAPI-USED-UID-WEIGHT-1M" not in history
    assert "X-MBX-USED-WEIGHT-1M" not in history
    with pytest.raises(ccxt_async.BadRequest):
        await client.sapiGetAssetTransfer({"type": "MAIN_UMFUTURE", "size": "500"})
    assert _headers(client)["X-SAPI-USED-IP-WEIGHT-1M"] == "2"  # a refused request counts too


async def test_past_180000_uid_weight_a_transfer_is_refused_429_and_nothing_moves(
    client, paper, clock
):
    for _ in range(200):  # 200 x 900 = 180000: exactly the limit
        await _transfer(client, "USDT", "0.01", "MAIN_FUNDING")
    before = paper.state
    with pytest.raises(ccxt_async.DDoSProtection, match="-1003"):
        await _transfer(client, "USDT", "0.01", "MAIN_FUNDING")
    refused = _headers(client)
    assert refused["X-SAPI-USED-UID-WEIGHT-1M"] == "180900"
    assert 1 <= int(refused["RETRY-AFTER"]) <= 60
    assert paper.state == before
    # the other buckets are independent: reads still answer
    await client.privateGetAccount()
    await client.sapiGetAssetTransfer({"type": "MAIN_FUNDING"})
    # a new minute, a new budget
    clock.next_minute()
    client.options["timeDifference"] = clock.offset
    await _transfer(client, "USDT", "0.01", "MAIN_FUNDING")
    assert _headers(client)["X-SAPI-USED-UID-WEIGHT-1M"] == "900"


async def test_past_6000_api_weight_a_spot_read_is_refused_429(client):
    for _ in range(300):  # 300 x 20 = 6000
        await client.privateGetAccount()
    with pytest.raises(ccxt_async.DDoSProtection, match="-1003"):
        await client.privateGetAccount()
    assert "RETRY-AFTER" in _headers(client)
    await _transfer(client, "USDT", "1", "MAIN_UMFUTURE")  # sapi is not /api


# --- the history's documented rules -----------------------------------------------------------


async def _history(client: ccxt_async.binance, **params: Any) -> Any:
    return await client.sapiGetAssetTransfer({"type": "MAIN_FUNDING", **params})


@pytest.mark.parametrize(
    ("params", "code", "message"),
    [
        ({"size": "500"}, -1130, "Data sent for parameter 'size' is not valid."),
        ({"size": "101"}, -1130, "Data sent for parameter 'size' is not valid."),
        ({"size": "0"}, -1130, "Data sent for parameter 'size' is not valid."),
        ({"current": "0"}, -1130, "Data sent for parameter 'current' is not valid."),
        ({"startTime": "2000", "endTime": "1000"}, -1128, "Combination of optional parameters"),
        ({"type": "NOPE"}, -1102, "Mandatory parameter 'type' was not sent"),
        ({"type": ""}, -1102, "Mandatory parameter 'type' was not sent"),
    ],
)
async def test_history_refuses_what_binance_documents_as_out_of_range(
    client, params, code, message
):
    with pytest.raises(ccxt_async.BadRequest) as refused:
        await _history(client, **params)
    assert json.loads(str(refused.value).split(" ", 1)[1])["code"] == code
    assert message in str(refused.value)


async def test_history_size_defaults_to_10_and_takes_100(client):
    for _ in range(12):
        await _transfer(client, "USDT", "1", "MAIN_FUNDING")
    default = await _history(client)
    assert default["total"] == 12 and len(default["rows"]) == 10
    assert len((await _history(client, current="2"))["rows"]) == 2
    assert len((await _history(client, size="100"))["rows"]) == 12


async def test_history_without_times_lists_the_last_7_days(client, paper):
    now = paper.server_time()
    paper.record_outside_transfer("USDT", D("1"), "MAIN_FUNDING", at_ms=now - 8 * DAY_MS)
    paper.record_outside_transfer("USDT", D("2"), "MAIN_FUNDING", at_ms=now - 6 * DAY_MS)
    answer = await _history(client)
    assert [row["amount"] for row in answer["rows"]] == ["2"]
    since = await _history(client, startTime=str(now - 9 * DAY_MS))
    assert [row["amount"] for row in since["rows"]] == ["2", "1"]


async def test_history_lists_only_the_last_6_months(client, paper):
    now = paper.server_time()
    paper.record_outside_transfer("USDT", D("1"), "MAIN_FUNDING", at_ms=now - 200 * DAY_MS)
    paper.record_outside_transfer("USDT", D("2"), "MAIN_FUNDING", at_ms=now - 100 * DAY_MS)
    answer = await _history(client, startTime=str(now - 365 * DAY_MS), endTime=str(now))
    assert answer["total"] == 1 and [row["amount"] for row in answer["rows"]] == ["2"]


async def test_the_bots_own_query_start_time_size_100_current_pages_to_total(client, paper):
    """bot/venues/binance/venue.py fetch_transfer_history: type, startTime, size=100, current; no
    endTime. Only startTime means startTime to now: every page, all of `total`."""
    start = paper.server_time()
    for _ in range(150):
        paper.record_outside_transfer("USDT", D("1"), "MAIN_UMFUTURE")
    seen: list[int] = []
    for current in (1, 2):
        page = await client.sapiGetAssetTransfer(
            {"type": "MAIN_UMFUTURE", "startTime": start, "size": 100, "current": current}
        )
        assert page["total"] == 150
        seen += [row["tranId"] for row in page["rows"]]
    assert len(set(seen)) == 150


# --- every transfer type between the modelled wallets ----------------------------------------


def _balance(state: Any, wallet: Wallet, asset: str) -> D:
    if wallet in (Wallet.USDM, Wallet.COINM):
        futures = state.futures_balances(wallet).get(asset)
        return futures.wallet_balance if futures is not None else D(0)
    plain = state.plain_balances(wallet).get(asset)
    return plain.free if plain is not None else D(0)


@pytest.mark.parametrize("kind", sorted(TRANSFER_TYPES))
async def test_every_type_moves_the_right_balances(client, paper, kind):
    source, target = TRANSFER_TYPES[kind]
    asset, amount = ("BTC", D("0.01")) if Wallet.COINM in (source, target) else ("USDT", D("7"))
    before = paper.state
    answer = await _transfer(client, asset, str(amount), kind)
    after = paper.state
    assert _balance(after, source, asset) == _balance(before, source, asset) - amount
    assert _balance(after, target, asset) == _balance(before, target, asset) + amount
    untouched = set(Wallet) - {source, target}
    assert all(_balance(after, w, asset) == _balance(before, w, asset) for w in untouched)
    history = await client.sapiGetAssetTransfer({"type": kind})
    assert [(row["tranId"], row["amount"]) for row in history["rows"]] == [
        (answer["tranId"], str(amount).rstrip("0").rstrip("."))
    ]


def test_the_documented_types_asked_for_are_all_modelled():
    asked = {
        "MAIN_FUNDING",
        "FUNDING_MAIN",
        "MAIN_MARGIN",
        "MARGIN_MAIN",
        "UMFUTURE_FUNDING",
        "FUNDING_UMFUTURE",
        "CMFUTURE_FUNDING",
        "FUNDING_CMFUTURE",
        "MARGIN_UMFUTURE",
        "UMFUTURE_MARGIN",
        "MARGIN_CMFUTURE",
        "CMFUTURE_MARGIN",
        "FUNDING_MARGIN",
        "MARGIN_FUNDING",
        "MAIN_UMFUTURE",
        "UMFUTURE_MAIN",
        "MAIN_CMFUTURE",
        "CMFUTURE_MAIN",
    }
    assert set(TRANSFER_TYPES) == asked


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        ("NOPE", -1102),  # not in the documented ENUM: read as malformed
        ("UMFUTURE_CMFUTURE", -1102),  # not documented either
        ("main_funding", -1102),  # the ENUM is case-sensitive
        ("MAIN_OPTION", -1020),  # documented, but the paper has no options wallet
        ("MARGIN_ISOLATEDMARGIN", -1020),
    ],
)
async def test_a_type_the_paper_cannot_carry_is_refused_and_nothing_moves(
    client, paper, kind, code
):
    before = paper.state
    with pytest.raises(ccxt_async.BadRequest, match=str(code)):
        await _transfer(client, "USDT", "1", kind)
    assert paper.state == before


async def test_moving_more_than_the_funding_wallet_holds_is_insufficient(client, paper):
    # ccxt maps -5013 to InsufficientFunds only against binance.com hosts
    with pytest.raises(ccxt_async.ExchangeError, match="-5013"):
        await _transfer(client, "USDT", "1000.00000001", "FUNDING_MAIN")


# --- documented shapes -------------------------------------------------------------------------


def _doc_example(name: str) -> Any:
    with (DOCS / name).open(encoding="utf-8") as handle:
        return json.load(handle)["example"]


def _shape(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    return type(value).__name__


async def test_an_empty_history_has_total_and_rows_like_the_documented_example(client):
    documented = _doc_example("query_user_universal_transfer_history.json")
    empty = await _history(client)
    assert empty == {"total": 0, "rows": []}
    assert set(empty) == set(documented)


async def test_a_history_row_has_the_documented_keys_and_types(client):
    documented = _doc_example("query_user_universal_transfer_history.json")["rows"][0]
    await _transfer(client, "USDT", "1", "MAIN_FUNDING")
    row = (await _history(client))["rows"][0]
    assert _shape(row) == _shape(documented)


async def test_the_funding_wallet_answers_its_balances_in_the_documented_shape(client, paper):
    documented = _doc_example("funding_wallet.json")
    answer = await client.sapiPostAssetGetFundingAsset()
    assert [_shape(entry) for entry in answer] == [_shape(documented[0])] * 2
    assert answer == [
        {
            "asset": "BTC",
            "free": "0.5",
            "locked": "0",
            "freeze": "0",
            "withdrawing": "0",
            "btcValuation": "0",
        },
        {
            "asset": "USDT",
            "free": "1000",
            "locked": "0",
            "freeze": "0",
            "withdrawing": "0",
            "btcValuation": "0",
        },
    ]
    await _transfer(client, "USDT", "1000", "FUNDING_MAIN")
    valued = await client.sapiPostAssetGetFundingAsset({"needBtcValuation": "true"})
    assert [(e["asset"], e["free"], e["btcValuation"]) for e in valued] == [
        ("BTC", "0.5", "0.5")  # an emptied asset is left out
    ]
    await _transfer(client, "USDT", "30", "MAIN_FUNDING")
    one = await client.sapiPostAssetGetFundingAsset({"asset": "USDT", "needBtcValuation": "true"})
    assert [(e["asset"], e["free"], e["btcValuation"]) for e in one] == [
        ("USDT", "30", "0.0005")  # 30 USDT at 60000 USDT a BTC
    ]
