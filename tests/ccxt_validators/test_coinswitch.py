"""`coinswitch` passes ccxt's own validators over every method it claims, against the loopback
fake; it claims nothing unchecked, and `fetch_positions()` without symbols finds every open
position through the wallet's per-symbol margin list."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.venues.coinswitch.exchange import RATE_LIMIT_MS, coinswitch
from tests.ccxt_validators.suite import Target, claimed_methods, run_claimed, unchecked_claims
from tests.fakes.coinswitch_server import (
    FUTURES_PREFIX,
    CoinSwitchServer,
    FakeState,
    new_key_pair,
)
from tests.fakes.loopback import on_loopback

TIME_SCALE = 0.01  # the fake's "20 per 60 s" becomes "20 per 0.6 s"; rateLimit scales alike
API_KEY, SECRET = new_key_pair()
PERP = "ETH/USDT:USDT"

#: properties the validators check that CoinSwitch does not carry, each with why (none)
SKIPPED: dict[str, str] = {}


def margin_row(symbol: str, margin: str) -> dict[str, str]:
    """A Get Wallet Balance `asset` row: the margin one symbol holds."""
    return {
        "symbol": symbol,
        "base_asset": "USDT",
        "exchange": "EXCHANGE_2",
        "blocked_balance": margin,
        "position_margin": margin,
        "open_order_margin": "0",
    }


def validated_state() -> FakeState:
    """The fake's state with the ETH short alone, listed in the wallet as holding its margin.

    The docs' DOGE example is left out: it states maint_margin 37.64 on an isolated position of
    34.05 margin, where ccxt's check (the collateral left at the liquidation price, 17.35) finds
    a different figure; the class reports the venue's figures as sent, not a corrected one.
    """
    state = FakeState()
    state.positions = [p for p in state.positions if p["symbol"] == "ETHUSDT"]
    state.wallet_balance["asset"] = [margin_row("ETHUSDT", "1054.6569")]
    return state


async def started(server: CoinSwitchServer) -> coinswitch:
    exchange = coinswitch(
        {
            "apiKey": API_KEY,
            "secret": SECRET,
            "rateLimit": RATE_LIMIT_MS * TIME_SCALE,
            "timeout": 5000,
        }
    )
    exchange.urls["api"] = server.api_urls()
    on_loopback(exchange)
    return exchange


@pytest.fixture
async def server() -> AsyncIterator[CoinSwitchServer]:
    async with CoinSwitchServer(
        api_keys=[API_KEY], state=validated_state(), time_scale=TIME_SCALE
    ) as running:
        yield running


@pytest.fixture
async def client(server: CoinSwitchServer) -> AsyncIterator[coinswitch]:
    exchange = await started(server)
    try:
        yield exchange
    finally:
        await exchange.close()


async def test_every_claimed_method_passes_ccxts_validators(client: coinswitch) -> None:
    report = await run_claimed(client, SKIPPED, Target(PERP, "USDT"))
    assert report.failures == {}
    assert set(report.passed) == set(claimed_methods(client))
    assert {"fetchPositions", "fetchFundingRates", "fetchMarkets", "features"} <= set(report.passed)


def test_it_claims_only_what_is_checked() -> None:
    exchange = coinswitch()
    assert unchecked_claims(exchange) == []
    claimed_ws = [k for k, v in exchange.has.items() if k.endswith("Ws") and v not in (None, False)]
    assert claimed_ws == []
    assert exchange.has["editOrder"] is False


def test_every_skip_has_its_reason() -> None:
    assert all(isinstance(why, str) and why for why in SKIPPED.values())


async def test_positions_without_symbols_are_every_open_one(
    server: CoinSwitchServer, client: coinswitch
) -> None:
    """Both positions listed in the wallet are read, one Get Positions request each; a
    perpetual the wallet does not list (BTC) is not asked for."""
    server.state = FakeState()
    server.state.wallet_balance["asset"] = [
        margin_row("ETHUSDT", "1054.6569"),
        margin_row("DOGEUSDT", "34.052117186199"),
    ]
    positions = await client.fetch_positions()
    assert sorted(p["symbol"] for p in positions) == ["DOGE/USDT:USDT", PERP]
    asked = [path for _, path, _ in server.received if path.startswith(FUTURES_PREFIX + "/pos")]
    assert sorted(p.rsplit("symbol=", 1)[1] for p in asked) == ["DOGEUSDT", "ETHUSDT"]


async def test_an_empty_wallet_list_is_no_positions_without_a_positions_request(
    server: CoinSwitchServer, client: coinswitch
) -> None:
    server.state.wallet_balance["asset"] = []
    assert await client.fetch_positions() == []
    assert not [p for _, p, _ in server.received if p.startswith(FUTURES_PREFIX + "/pos")]


async def test_positions_carry_the_derived_margin_figures(client: coinswitch) -> None:
    (short,) = await client.fetch_positions([PERP])
    # collateral = 1054.6569 - 25.8795; maintenance 26.3664225 / notional 5273.2845
    assert short["collateral"] == 1028.7774
    assert short["maintenanceMarginPercentage"] == 0.005
    assert short["marginRatio"] == pytest.approx(26.3664225 / 1028.7774)
    assert short["initialMarginPercentage"] == 0.2


async def test_currency_ids_agree_between_spot_and_perpetual(client: coinswitch) -> None:
    markets = await client.load_markets()
    spot, perp = markets["ETH/USDT"], markets[PERP]
    assert spot["baseId"] == perp["baseId"] == client.currency("ETH")["id"] == "ETH"
    assert perp["quoteId"] == client.currency("USDT")["id"] == "USDT"
    assert perp["info"]["base_asset"] == "eth"  # the venue's own spelling stays in info
    assert spot["taker"] == spot["maker"] == 0.0009 and perp["taker"] == 0.0005
