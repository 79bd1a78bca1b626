"""The paper's funding rate history (/fapi/v1/fundingRate, /dapi/v1/fundingRate): the funding
times it booked, in Binance's shape and with Binance's parameters."""

from __future__ import annotations

import ccxt
import pytest

from bot.paper import PaperExchange
from bot.paper.routes_income import book_funding

HOUR_MS = 3_600_000


async def test_each_booked_funding_time_is_one_row_per_perpetual(
    client: ccxt.Exchange, exchange: PaperExchange
) -> None:
    start = exchange.server_time()
    for n in range(3):
        book_funding(exchange.store, start + n * 8 * HOUR_MS)
    rows = await client.fapiPublicGetFundingRate({"symbol": "ETHUSDT"})
    assert rows == [
        {
            "symbol": "ETHUSDT",
            "fundingRate": "0.00010000",
            "fundingTime": start + n * 8 * HOUR_MS,
            "markPrice": "3000.00000000",
        }
        for n in range(3)
    ]
    # every perpetual settles, held or not; no dated future pays funding
    every = await client.fapiPublicGetFundingRate()
    assert {row["symbol"] for row in every} == {"ETHUSDT", "BTCUSDT"}
    # without startTime the most recent `limit`; with it, the first `limit` from it
    latest = await client.fapiPublicGetFundingRate({"symbol": "ETHUSDT", "limit": 1})
    assert [row["fundingTime"] for row in latest] == [start + 16 * HOUR_MS]
    first = await client.fapiPublicGetFundingRate(
        {"symbol": "ETHUSDT", "startTime": start + 1, "limit": 1}
    )
    assert [row["fundingTime"] for row in first] == [start + 8 * HOUR_MS]
    history = await client.fetch_funding_rate_history("BTC/USD:BTC")
    assert [entry["timestamp"] for entry in history] == [start + n * 8 * HOUR_MS for n in range(3)]


async def test_coinm_wants_a_symbol(client: ccxt.Exchange, exchange: PaperExchange) -> None:
    with pytest.raises(ccxt.BadRequest, match="-1102"):
        await client.dapiPublicGetFundingRate()
