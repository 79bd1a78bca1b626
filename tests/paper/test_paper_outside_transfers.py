"""Transfers the user makes by hand, outside the bot: they move balances like any universal
transfer and appear in the history with their own tranId at the time given, in Binance's order."""

from __future__ import annotations

from decimal import Decimal

import aiohttp
import pytest

from bot.paper import PaperExchange
from bot.paper.wire import BinanceError

D = Decimal
UP = {"fromAccount": "spot", "toAccount": "linear"}


async def test_an_outside_transfer_moves_funds_and_is_listed_with_its_own_id(
    hooked_exchange: PaperExchange, client_factory
) -> None:
    client = client_factory(hooked_exchange.base_url)
    await client.transfer("USDT", 100, "spot", "linear")
    (ours,) = hooked_exchange.state.transfers
    before = hooked_exchange.state.usdm["USDT"].wallet_balance
    now = hooked_exchange.server_time()

    past = hooked_exchange.record_outside_transfer(
        "USDT", D("12.5"), "MAIN_UMFUTURE", at_ms=now - 60_000
    )
    current = hooked_exchange.record_outside_transfer("USDT", D("7"), "MAIN_UMFUTURE")

    assert len({ours.tran_id, past, current}) == 3  # every transfer gets a new id
    assert past > ours.tran_id and current > past
    assert hooked_exchange.state.usdm["USDT"].wallet_balance == before + D("19.5")
    # the stored history stays in time order, whatever order the transfers were recorded in
    assert [t.tran_id for t in hooked_exchange.state.transfers] == [past, ours.tran_id, current]
    (recorded_past,) = [t for t in hooked_exchange.state.transfers if t.tran_id == past]
    assert recorded_past.timestamp == now - 60_000

    raw = await client.sapi_get_asset_transfer({"type": "MAIN_UMFUTURE"})
    assert int(raw["total"]) == 3
    assert [int(row["tranId"]) for row in raw["rows"]] == [current, ours.tran_id, past]
    listed = await client.fetch_transfers("USDT", None, None, UP)
    assert {int(t["id"]) for t in listed} == {ours.tran_id, past, current}


async def test_the_default_time_is_the_papers_now_with_its_clock_offset(
    hooked_exchange: PaperExchange,
) -> None:
    hooked_exchange.faults.clock_offset_ms = -300_000
    expected = hooked_exchange.server_time()
    tran_id = hooked_exchange.record_outside_transfer("USDT", D("1"), "MAIN_UMFUTURE")
    (record,) = hooked_exchange.state.transfers
    assert record.tran_id == tran_id
    assert expected <= record.timestamp <= hooked_exchange.server_time()


async def test_an_outside_transfer_is_refused_like_a_real_one(
    hooked_exchange: PaperExchange,
) -> None:
    with pytest.raises(BinanceError) as refused:
        hooked_exchange.record_outside_transfer("USDT", D("1e9"), "MAIN_UMFUTURE")
    assert refused.value.code == -5013
    assert hooked_exchange.state.transfers == ()


async def test_the_admin_route_records_one_from_another_process(
    hooked_exchange: PaperExchange,
) -> None:
    url = hooked_exchange.base_url + "/_paper/transfer"
    at = hooked_exchange.server_time() - 1_000
    async with aiohttp.ClientSession() as session:
        body = {"asset": "USDT", "amount": "25.01", "type": "MAIN_UMFUTURE", "at_ms": at}
        async with session.post(url, json=body) as response:
            assert response.status == 200
            tran_id = (await response.json())["tranId"]
        (record,) = hooked_exchange.state.transfers
        assert (record.tran_id, record.timestamp, record.amount) == (tran_id, at, D("25.01"))
        for bad in (
            {"asset": "USDT", "amount": "1e9", "type": "MAIN_UMFUTURE"},  # -5013
            {"asset": "USDT", "amount": "x", "type": "MAIN_UMFUTURE"},
            {"asset": "USDT", "amount": "1", "type": "NOPE"},
            {"asset": "USDT", "amount": "1", "type": "MAIN_UMFUTURE", "at_ms": "soon"},
            {"asset": "USDT", "amount": "1", "type": "MAIN_UMFUTURE", "extra": 1},
        ):
            async with session.post(url, json=bad) as response:
                assert response.status == 400, bad
    assert len(hooked_exchange.state.transfers) == 1
