"""A hedge on a unified account is judged in the account's own figure and draws on a reserve
wallet: at connect time, a hedge in other terms is refused in one line that names the fix, and
a unified account's terms are refused on a venue whose wallets are apart (issue 27)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.config import HedgeConfig
from bot.errors import VenueUnusable
from bot.venues.generic import CcxtVenue
from tests.fakes.bybit_server import BybitFake
from tests.fakes.okx_server import OkxFake
from tests.venues.unified_venues import bybit_venue, hedge, okx_venue


async def refusal(venue: CcxtVenue) -> str:
    with pytest.raises(VenueUnusable) as refused:
        await venue.connect()
    line = str(refused.value)
    assert "\n" not in line
    return line


async def test_bybit_without_a_reserve_is_told_to_draw_on_fund(opened: list[CcxtVenue]) -> None:
    async with BybitFake() as fake:
        venue = bybit_venue(fake, opened, hedges={"btc": hedge("bybit", reserve_wallet=None)})
        line = await refusal(venue)
    assert line == (
        "hedges.btc: bybit's account is a Unified Trading Account 2.0 Pro (unifiedMarginStatus "
        "6); its hedges draw collateral from the FUND wallet: set reserve_wallet: funding"
    )


async def test_a_margin_ratio_target_on_bybit_is_told_the_accounts_figure(
    opened: list[CcxtVenue],
) -> None:
    classic = HedgeConfig.model_validate(
        {
            "venue": "bybit",
            "spot": "BTC/USDT",
            "perp": "BTC/USDT:USDT",
            "target_margin_ratio": "0.5",
            "band": ["0.3", "0.8"],
        }
    )
    async with BybitFake() as fake:
        line = await refusal(bybit_venue(fake, opened, hedges={"btc": classic}))
    assert line.startswith("hedges.btc.target: bybit's account is a Unified Trading Account")
    assert line.endswith(
        "judged by its accountMMRate: set target: {accountMMRate: ...} and band in its terms"
    )


async def test_okx_refuses_the_other_venues_figure(opened: list[CcxtVenue]) -> None:
    wrong = hedge("okx", target={"accountMMRate": "0.1"}, band=["0.05", "0.15"])
    async with OkxFake() as fake:
        line = await refusal(okx_venue(fake, opened, hedges={"btc": wrong}))
    assert line.startswith("hedges.btc.target: okx's account is ")
    assert "judged by its mgnRatio, not accountMMRate: set target: {mgnRatio: ...}" in line


async def test_a_reserve_that_is_the_account_itself_is_refused(opened: list[CcxtVenue]) -> None:
    async with OkxFake() as fake:
        venue = okx_venue(fake, opened, hedges={"btc": hedge("okx", reserve_wallet="trading")})
        line = await refusal(venue)
    assert line == (
        "hedges.btc.reserve_wallet: 'trading' is not a wallet okx can move collateral from; "
        "set reserve_wallet: funding"
    )


async def test_account_terms_connect_where_they_fit(opened: list[CcxtVenue]) -> None:
    async with BybitFake() as bybit, OkxFake() as okx:
        for venue in (bybit_venue(bybit, opened), okx_venue(okx, opened)):
            await venue.connect()
            state = await venue.read_state()
            # the reserve wallet is read with the account
            assert state.wallet("funding", "USDT").free >= Decimal(0)
            assert ("funding", "USDT") in state.wallets
