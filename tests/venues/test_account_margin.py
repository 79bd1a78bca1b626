"""A unified account's own margin figure (issue 27): Bybit's `accountMMRate` and OKX's
`mgnRatio`, read from the balance answer the bot already fetches (no extra request), through
the bot's own client builder (exact JSON, its ccxt options) against the Bybit and OKX fakes,
and said in the plan's note and in `bot balances` in the venue's words."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import ccxt.async_support as ccxt_async
import pytest

from bot.model import State
from bot.money import plain
from bot.policy.compose import plan_transfers
from bot.present.output import state_json
from bot.venues.bybit.venue import BybitVenue
from bot.venues.decode import Untrusted
from bot.venues.generic import CcxtVenue
from tests.fakes.bybit_server import BybitFake
from tests.fakes.okx_server import OkxFake
from tests.venues.unified_venues import bybit_venue, okx_venue


def note_of(venue: CcxtVenue, state: Any) -> str:
    """What the plan says of the venue's one account: its note, or its transfer's reason."""
    plan = plan_transfers(State(read_at=state.read_at, venues={venue.name: state}), venue.hedges)
    (said,) = [n.message for n in plan.notes] + [t.reason for t in plan.transfers]
    return said


async def test_bybit_reports_its_account_mm_rate_in_the_plan(opened: list[CcxtVenue]) -> None:
    async with BybitFake() as fake:
        venue = bybit_venue(fake, opened)
        await venue.connect()
        state = await venue.read_state()
        expected = fake.account.wallet_balance(None)["list"][0]["accountMMRate"]
    margin = state.account_margin
    assert margin is not None
    assert (margin.figure, margin.value) == ("accountMMRate", Decimal(expected))
    assert (margin.liquidation_at, margin.higher_is_safer) == (Decimal(1), False)
    assert f"accountMMRate {expected} (liquidation at 1, lower is safer)" in note_of(venue, state)
    row = fake.account.wallet_balance(None)["list"][0]
    assert (margin.equity, margin.requirement) == (
        Decimal(row["totalMarginBalance"]),
        Decimal(row["totalMaintenanceMargin"]),
    )
    shown = state_json(State(read_at=state.read_at, venues={"bybit": state}))
    assert shown["venues"]["bybit"]["account_margin"] == {
        "figure": "accountMMRate",
        "value": expected,
        "liquidation_at": "1",
        "higher_is_safer": False,
        "equity": plain(Decimal(row["totalMarginBalance"])),
        "requirement": plain(Decimal(row["totalMaintenanceMargin"])),
    }


async def test_okx_reports_its_margin_ratio_in_the_plan(opened: list[CcxtVenue]) -> None:
    async with OkxFake() as fake:
        venue = okx_venue(fake, opened)
        await venue.connect()
        state = await venue.read_state()
        expected = fake.account.balance(None, fake.now())["mgnRatio"]
    margin = state.account_margin
    assert margin is not None and margin.value == Decimal(expected) and margin.higher_is_safer
    assert f"mgnRatio {expected} (liquidation at 1, higher is safer)" in note_of(venue, state)


async def test_okx_single_currency_margin_is_judged_by_the_settle_currencys_own_ratio(
    opened: list[CcxtVenue],
) -> None:
    async with OkxFake() as fake:
        fake.account.acct_lv = "2"
        venue = okx_venue(fake, opened)
        await venue.connect()
        state = await venue.read_state()
        answer = fake.account.balance(None, fake.now())
    assert answer["mgnRatio"] == ""  # no account-level ratio in this mode
    (usdt,) = [row for row in answer["details"] if row["ccy"] == "USDT"]
    margin = state.account_margin
    assert margin is not None and margin.value == Decimal(usdt["mgnRatio"])
    assert margin.equity == Decimal(usdt["eq"])
    note = note_of(venue, state)
    assert f"mgnRatio {usdt['mgnRatio']}" in note, note
    assert "single-currency margin the spot coin is not collateral" in note, note


@pytest.mark.parametrize("sent", ["-0.5", "abc", None])
def test_a_figure_the_bot_cannot_read_is_untrusted(sent: Any) -> None:
    venue = BybitVenue("bybit", ccxt_async.bybit(), {})  # never connected: no session
    answer = {"retCode": 0, "result": {"list": [{"accountMMRate": sent}]}}
    with pytest.raises(Untrusted, match="accountMMRate"):
        venue.account_margin(answer)
