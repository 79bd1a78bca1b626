"""`coinw` passes ccxt's own validators over every method it claims, against the loopback fake;
it claims nothing unchecked, and its funding rate says which settlement it is."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.venues.coinw.exchange import RATE_LIMIT_MS, coinw
from tests.ccxt_validators.suite import Target, claimed_methods, run_claimed, unchecked_claims
from tests.fakes.coinw_server import API_KEY, SECRET, CoinWFakeServer
from tests.fakes.loopback import on_loopback

SCALE = 0.1  # the fake's windows and the client's rateLimit shrink together
PERP = "ETH/USDT:USDT"

#: properties the validators check that CoinW does not carry, each with why
SKIPPED: dict[str, str] = {
    "fundingRate": (
        "CoinW's REST API gives only the last settled rate (previousFundingRate); no documented "
        "endpoint gives the current one"
    ),
}

#: the unified position fields a CoinW row cannot fill (None, which ccxt's validator allows)
NOT_CARRIED: dict[str, str] = {
    "maintenanceMargin": "a position row carries no maintenance margin",
    "maintenanceMarginPercentage": "neither the row nor the instrument carries its rate",
    "marginRatio": "maintenance margin / collateral, and the maintenance margin is unknown",
}


@pytest.fixture
async def client() -> AsyncIterator[coinw]:
    async with CoinWFakeServer(time_scale=SCALE) as fake:
        exchange = coinw(
            {
                "apiKey": API_KEY,
                "secret": SECRET,
                "urls": {"api": {"rest": fake.base_url}},
                "rateLimit": RATE_LIMIT_MS * SCALE,
                "timeout": 5000,
            }
        )
        on_loopback(exchange)
        try:
            yield exchange
        finally:
            await exchange.close()


async def test_every_claimed_method_passes_ccxts_validators(client: coinw) -> None:
    report = await run_claimed(client, SKIPPED, Target(PERP, "USDT"))
    assert report.failures == {}
    assert set(report.passed) == set(claimed_methods(client))
    assert {"fetchPositions", "fetchFundingRate", "fetchMarkets", "features"} <= set(report.passed)


def test_it_claims_only_what_is_checked() -> None:
    exchange = coinw()
    assert unchecked_claims(exchange) == []
    claimed_ws = [k for k, v in exchange.has.items() if k.endswith("Ws") and v not in (None, False)]
    assert claimed_ws == []
    assert exchange.has["fetchTicker"] is False and exchange.has["editOrder"] is False


def test_every_skip_has_its_reason() -> None:
    for reasons in (SKIPPED, NOT_CARRIED):
        assert all(isinstance(why, str) and why for why in reasons.values())


async def test_the_rate_is_the_last_settled_one_not_the_current(client: coinw) -> None:
    """The venue's value lands in previousFundingRate; fundingRate (the current rate in ccxt's
    meaning) is left empty rather than filled with a settled one."""
    rate = await client.fetch_funding_rate(PERP)
    assert rate["previousFundingRate"] == 0.00010937 and rate["info"] == {"value": "0.00010937"}
    assert rate["fundingRate"] is None and rate["nextFundingRate"] is None
    assert rate["previousFundingTimestamp"] is None  # the answer carries no time


async def test_positions_without_symbols_are_every_open_one(client: coinw) -> None:
    every = await client.fetch_positions()
    assert [p["symbol"] for p in every] == [PERP]
    (position,) = every
    # 450.075 margin - 149.625 unrealized loss; -149.625 / 450.075 in percent
    assert position["collateral"] == 300.45 and position["positionMargin"] == 450.075
    assert position["percentage"] == pytest.approx(-33.2444592568)
    assert all(position[key] is None for key in NOT_CARRIED)


async def test_currency_ids_agree_between_spot_and_perpetual(client: coinw) -> None:
    markets = await client.load_markets()
    spot, perp = markets["ETH/USDT"], markets[PERP]
    assert spot["baseId"] == perp["baseId"] == client.currency("ETH")["id"] == "ETH"
    assert perp["info"]["base"] == "eth"  # the venue's own spelling stays in info
    assert spot["taker"] == spot["maker"] == 0.001 and perp["taker"] == 0.0006
