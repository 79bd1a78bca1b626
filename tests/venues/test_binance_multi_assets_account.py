"""Binance USD-M multi-assets mode, decoded strictly: the mode's answer (`GET
/fapi/v1/multiAssetsMargin`) and the pool's `multiAssetsMMR` from the V3 account's USD totals
(the shape the fake serves, from Binance's documented example)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from bot.venues.binance import multi_assets
from bot.venues.decode import Decoder, Untrusted
from tests.fakes.binance.accounts import multi_assets_account

NOW = 1_700_000_000_000


def totals(**changes: Any) -> multi_assets.MultiAssetsAccount:
    found = multi_assets_account().usdm_account(NOW)
    found.update(changes)
    raw = {k: v for k, v in found.items() if v is not None}
    return multi_assets.decode_account_totals(Decoder("binance", multi_assets.ACCOUNT_PATH), raw)


def test_the_figure_is_margin_balance_over_maintenance_higher_is_safer() -> None:
    read = totals()
    assert read.margin is not None
    assert (read.margin.figure, read.margin.value) == ("multiAssetsMMR", Decimal(3))
    assert (read.margin.liquidation_at, read.margin.higher_is_safer) == (Decimal(1), True)
    assert (read.margin.equity, read.margin.requirement) == (Decimal(4500), Decimal(1500))
    assert read.margin.equity_at(Decimal(4)) == Decimal(6000)


def test_the_figure_is_rounded_down_never_safer_than_it_is() -> None:
    read = totals(totalMarginBalance="2000.00000000", totalMaintMargin="1500.00000000")
    assert read.margin is not None and read.margin.value == Decimal("1.3333")


def test_an_account_holding_nothing_has_no_figure_to_judge() -> None:
    assert totals(totalMaintMargin="0.00000000").margin is None


@pytest.mark.parametrize(
    "changes",
    [
        {"totalMarginBalance": None},
        {"totalMaintMargin": "-1"},
        {"totalInitialMargin": "NaN"},
    ],
)
def test_a_missing_or_absurd_total_refuses_the_read(changes: dict[str, Any]) -> None:
    with pytest.raises(Untrusted):
        totals(**changes)


@pytest.mark.parametrize(
    ("raw", "multi"), [({"multiAssetsMargin": True}, True), ({"multiAssetsMargin": False}, False)]
)
def test_the_mode_is_read_from_its_boolean(raw: dict[str, Any], multi: bool) -> None:
    assert multi_assets.decode_mode(Decoder("binance", multi_assets.MODE_PATH), raw) is multi


@pytest.mark.parametrize("raw", [{"multiAssetsMargin": "true"}, {"multiAssetsMargin": 1}, {}, []])
def test_an_undocumented_mode_is_untrusted(raw: Any) -> None:
    with pytest.raises(Untrusted):
        multi_assets.decode_mode(Decoder("binance", multi_assets.MODE_PATH), raw)
