"""Account modes, read at connect time and never assumed (issue 27): the bot's Bybit and OKX
venues, built as the bot builds them, against the loopback fakes of Bybit v5 and OKX v5.

A Bybit classic account keeps spot and derivatives apart, and an OKX account in Spot mode
cannot hold the short: read as one shared pool, either would say "nothing to move" while the
short's margin sits elsewhere, so their hedges are refused in one line naming the fix. A mode
the venue does not document is a read the bot cannot trust."""

from __future__ import annotations

from typing import Any

import pytest

from bot.errors import VenueUnusable
from bot.venues.bybit import account_mode as bybit_mode
from bot.venues.decode import Decoder, Untrusted
from bot.venues.generic import CcxtVenue
from bot.venues.okx import account_mode as okx_mode
from tests.fakes.bybit_server import BybitFake
from tests.fakes.okx_server import OkxFake
from tests.venues.unified_venues import bybit_venue, okx_venue

# Bybit ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [3, 4, 5, 6])
async def test_a_bybit_unified_account_carries_a_usdt_hedge(status: int, opened: list[CcxtVenue]):
    async with BybitFake() as fake:
        fake.account.unified_margin_status = status
        venue = bybit_venue(fake, opened)
        await venue.connect()
        assert venue.shared_collateral
        assert fake.count("GET", "/v5/account/info") >= 1
        mode = venue.capabilities().account_mode
        assert mode == f"{bybit_mode.NAMES[status]} (unifiedMarginStatus {status})"


async def test_a_bybit_classic_account_is_refused_in_one_line(opened: list[CcxtVenue]):
    async with BybitFake() as fake:
        fake.account.unified_margin_status = 1
        venue = bybit_venue(fake, opened)
        with pytest.raises(VenueUnusable) as refused:
            await venue.connect()
    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith("venues.bybit: the Bybit account is a classic account")
    assert "upgrade the account to UTA 2.0" in message and "(hedges: btc)" in message


async def test_a_bybit_venue_without_hedges_does_not_ask(opened: list[CcxtVenue]):
    async with BybitFake() as fake:
        fake.account.unified_margin_status = 1
        venue = bybit_venue(fake, opened, hedged=False)
        await venue.connect()
        assert fake.count("GET", "/v5/account/info") == 0


@pytest.mark.parametrize("status", [2, 0, 7])
async def test_an_undocumented_bybit_mode_is_untrusted(status: int, opened: list[CcxtVenue]):
    async with BybitFake() as fake:
        fake.account.unified_margin_status = status
        venue = bybit_venue(fake, opened)
        with pytest.raises(Untrusted, match="unifiedMarginStatus is"):
            await venue.connect()


def test_inverse_hedges_need_uta_2() -> None:
    assert bybit_mode.refusal(5, ["BTC/USD:BTC"]) is None
    assert bybit_mode.refusal(3, []) is None
    refused = bybit_mode.refusal(3, ["BTC/USD:BTC"])
    assert refused is not None and "separate inverse derivatives account" in refused
    assert "BTC/USD:BTC" in refused


# OKX ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("level", ["2", "3", "4"])
async def test_an_okx_margin_account_carries_the_hedge(level: str, opened: list[CcxtVenue]):
    async with OkxFake() as fake:
        fake.account.acct_lv = level
        venue = okx_venue(fake, opened)
        await venue.connect()
        assert venue.shared_collateral
        assert venue.capabilities().account_mode == f"{okx_mode.NAMES[level]} (acctLv {level})"


async def test_an_okx_account_in_spot_mode_is_refused_in_one_line(opened: list[CcxtVenue]):
    async with OkxFake() as fake:
        fake.account.acct_lv = "1"
        venue = okx_venue(fake, opened)
        with pytest.raises(VenueUnusable) as refused:
            await venue.connect()
    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith("venues.okx: the OKX account is in Spot mode (acctLv 1)")
    assert "Multi-currency margin mode" in message


@pytest.mark.parametrize("answer", [{"data": []}, {"data": [{"acctLv": "9"}]}, {"data": [{}]}])
def test_an_okx_config_the_bot_cannot_read_is_untrusted(answer: dict[str, Any]) -> None:
    with pytest.raises(Untrusted):
        okx_mode.account_level(Decoder("okx", okx_mode.ENDPOINT), answer)
