"""The policy on a unified account: the account's own figure kept in its band, topped up from
the reserve wallet and swept back to it, in the direction each venue's figure runs."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from decimal import Decimal as D

import pytest
from prometheus_client import generate_latest

from bot.config import HedgeConfig
from bot.metrics import Metrics
from bot.model import (
    AccountMargin,
    CollateralRate,
    MarketKind,
    PerpMarket,
    PlannedTransfer,
    Position,
    Rule,
    State,
    VenueState,
    Wallet,
)
from bot.policy import plan_transfers
from bot.policy.margin import hedge_margins
from tests.policy.test_policy import short, wallet

NOW = datetime(2026, 12, 7, tzinfo=UTC)


def perp(account: str) -> PerpMarket:
    return PerpMarket(
        symbol="BTC/USDT:USDT",
        kind=MarketKind.LINEAR,
        base="BTC",
        quote="USDT",
        settle="USDT",
        contract_size=D(1),
        futures_account=account,
    )


def bybit_hedge(**overrides: object) -> HedgeConfig:
    values: dict[str, object] = {
        "venue": "bybit",
        "spot": "BTC/USDT",
        "perp": "BTC/USDT:USDT",
        "target": {"accountMMRate": "0.1"},
        "band": ["0.05", "0.15"],
        "reserve_wallet": "funding",
    }
    return HedgeConfig.model_validate({**values, **overrides})


def okx_hedge(**overrides: object) -> HedgeConfig:
    values: dict[str, object] = {
        "venue": "okx",
        "spot": "BTC/USDT",
        "perp": "BTC/USDT:USDT",
        "target": {"mgnRatio": "8"},
        "band": ["5", "12"],
        "reserve_wallet": "funding",
    }
    return HedgeConfig.model_validate({**values, **overrides})


def mm_rate(maintenance: str, equity: str) -> AccountMargin:
    """Bybit's figure: maintenance margin / margin balance (4 places, as Bybit sends it)."""
    return AccountMargin(
        figure="accountMMRate",
        value=(D(maintenance) / D(equity)).quantize(D("0.0001")),
        liquidation_at=D(1),
        higher_is_safer=False,
        equity=D(equity),
        requirement=D(maintenance),
    )


def mgn_ratio(equity: str, ratio: str) -> AccountMargin:
    return AccountMargin(
        figure="mgnRatio",
        value=D(ratio),
        liquidation_at=D(1),
        higher_is_safer=True,
        equity=D(equity),
        requirement=D(equity) / D(ratio),
    )


def state(
    venue: str,
    account: str,
    margin: AccountMargin | None,
    wallets: list[Wallet],
    positions: list[Position],
) -> State:
    market = perp(account)
    return State(
        read_at=NOW,
        venues={
            venue: VenueState(
                venue=venue,
                read_at=NOW,
                wallets={(w.account, w.asset): w for w in wallets},
                positions={p.symbol: p for p in positions},
                markets={market.symbol: market},
                transfer_steps={"USDT": D("0.0001")},
                shared_collateral=True,
                account_margin=margin,
            )
        },
    )


BTC_SHORT = short("BTC/USDT:USDT", "50000", contracts="0.5", mark="100000")
BTC_HELD = wallet("unified", "BTC", "0.5")


def only_transfer(plan_state: State, hedges: dict[str, HedgeConfig]) -> PlannedTransfer:
    plan = plan_transfers(plan_state, hedges)
    assert len(plan.transfers) == 1, [n.message for n in plan.notes]
    return plan.transfers[0]


def test_bybit_above_the_band_is_topped_up_from_fund_to_the_target() -> None:
    # accountMMRate 500 / 2500 = 0.2, above 0.15: the equity for 0.1 is 500 / 0.1 = 5000
    moved = only_transfer(
        state(
            "bybit",
            "unified",
            mm_rate("500", "2500"),
            [
                wallet("unified", "USDT", "2500", transferable="1000"),
                BTC_HELD,
                wallet("funding", "USDT", "10000"),
            ],
            [BTC_SHORT],
        ),
        {"btc": bybit_hedge()},
    )
    assert (moved.rule, moved.from_account, moved.to_account, moved.amount) == (
        Rule.TOP_UP,
        "funding",
        "unified",
        D("2500"),
    )
    assert "accountMMRate 0.2000" in moved.reason and "USDT counted at 1 USD" in moved.reason


def test_bybit_below_the_band_sweeps_the_excess_back_to_fund() -> None:
    # 200 / 5000 = 0.04, below 0.05: 5000 - 200 / 0.1 = 3000 may go back
    moved = only_transfer(
        state(
            "bybit",
            "unified",
            mm_rate("200", "5000"),
            [wallet("unified", "USDT", "5000", transferable="4000"), BTC_HELD],
            [BTC_SHORT],
        ),
        {"btc": bybit_hedge()},
    )
    assert (moved.rule, moved.from_account, moved.to_account, moved.amount) == (
        Rule.RETURN_EXCESS,
        "unified",
        "funding",
        D("3000"),
    )


def test_a_sweep_never_asks_for_more_than_may_leave_the_account() -> None:
    moved = only_transfer(
        state(
            "bybit",
            "unified",
            mm_rate("200", "5000"),
            [wallet("unified", "USDT", "5000", transferable="1200.5"), BTC_HELD],
            [BTC_SHORT],
        ),
        {"btc": bybit_hedge()},
    )
    assert moved.amount == D("1200.5")
    assert "toward the target 0.1 (of 3000 above it: what may leave the account now)" in (
        moved.reason
    )


def test_okx_runs_the_other_way_higher_is_safer() -> None:
    # mgnRatio 4 < 5: the requirement is 4000 / 4 = 1000, the equity for 8 is 8000
    low = state(
        "okx",
        "trading",
        mgn_ratio("4000", "4"),
        [
            wallet("trading", "USDT", "4000"),
            wallet("trading", "BTC", "0.5"),
            wallet("funding", "USDT", "9000"),
        ],
        [BTC_SHORT],
    )
    moved = only_transfer(low, {"btc": okx_hedge()})
    assert (moved.rule, moved.from_account, moved.to_account, moved.amount) == (
        Rule.TOP_UP,
        "funding",
        "trading",
        D("4000"),
    )
    high = state(
        "okx",
        "trading",
        mgn_ratio("13000", "13"),
        [wallet("trading", "USDT", "13000"), wallet("trading", "BTC", "0.5")],
        [BTC_SHORT],
    )
    moved = only_transfer(high, {"btc": okx_hedge()})
    assert (moved.rule, moved.from_account, moved.to_account, moved.amount) == (
        Rule.RETURN_EXCESS,
        "trading",
        "funding",
        D("5000"),
    )


@pytest.mark.parametrize("equity", ["3400", "5000", "9000"])
def test_inside_the_band_nothing_moves(equity: str) -> None:
    # 500 / 3400 = 0.147 and 500 / 9000 = 0.056: inside [0.05, 0.15]
    plan = plan_transfers(
        state(
            "bybit",
            "unified",
            mm_rate("500", equity),
            [wallet("unified", "USDT", equity), BTC_HELD, wallet("funding", "USDT", "10000")],
            [BTC_SHORT],
        ),
        {"btc": bybit_hedge()},
    )
    assert plan.transfers == ()
    assert "inside the band, nothing to move" in plan.notes[0].message


def test_a_top_up_takes_what_the_reserve_has_above_its_floor() -> None:
    moved = only_transfer(
        state(
            "bybit",
            "unified",
            mm_rate("500", "2500"),
            [wallet("unified", "USDT", "2500"), BTC_HELD, wallet("funding", "USDT", "1800")],
            [BTC_SHORT],
        ),
        {"btc": bybit_hedge(spot_reserve="300")},
    )
    assert moved.amount == D("1500")
    assert "of 2500 needed" in moved.reason


def test_an_empty_reserve_is_said_and_nothing_is_planned() -> None:
    plan = plan_transfers(
        state(
            "bybit",
            "unified",
            mm_rate("500", "2500"),
            [wallet("unified", "USDT", "2500"), BTC_HELD, wallet("funding", "USDT", "100")],
            [BTC_SHORT],
        ),
        {"btc": bybit_hedge(spot_reserve="100")},
    )
    assert plan.transfers == ()
    assert "the reserve (funding) has no USDT above its floor 100" in plan.notes[0].message


def test_a_sweep_is_held_back_while_the_spot_leg_is_short_of_the_short() -> None:
    # the spot leg holds 0.1 BTC against a 0.5 BTC short: unbalanced, no return
    plan = plan_transfers(
        state(
            "bybit",
            "unified",
            mm_rate("200", "5000"),
            [wallet("unified", "USDT", "5000"), wallet("unified", "BTC", "0.1")],
            [BTC_SHORT],
        ),
        {"btc": bybit_hedge()},
    )
    assert plan.transfers == ()
    assert "is not swept to the reserve" in plan.notes[0].message


def test_the_spot_leg_in_the_unified_account_counts_as_held() -> None:
    plan = plan_transfers(
        state(
            "bybit",
            "unified",
            mm_rate("500", "5000"),
            [wallet("unified", "USDT", "5000"), BTC_HELD],
            [BTC_SHORT],
        ),
        {"btc": bybit_hedge()},
    )
    assert plan.notes[0].flags == ()


def test_flat_returns_what_may_leave_the_account() -> None:
    moved = only_transfer(
        state(
            "bybit",
            "unified",
            mm_rate("0", "3000"),
            [wallet("unified", "USDT", "3000", transferable="2999.99")],
            [],
        ),
        {"btc": bybit_hedge()},
    )
    assert (moved.rule, moved.amount, moved.to_account) == (
        Rule.RETURN_FLAT,
        D("2999.99"),
        "funding",
    )


def test_no_account_figure_plans_nothing() -> None:
    plan = plan_transfers(
        state("okx", "trading", None, [wallet("trading", "USDT", "4000")], [BTC_SHORT]),
        {"btc": okx_hedge()},
    )
    assert plan.transfers == ()
    assert "reported no mgnRatio" in plan.notes[0].message


def test_hedges_sharing_the_account_must_share_its_terms() -> None:
    plan = plan_transfers(
        state(
            "bybit",
            "unified",
            mm_rate("500", "2500"),
            [wallet("unified", "USDT", "2500"), BTC_HELD, wallet("funding", "USDT", "9000")],
            [BTC_SHORT],
        ),
        {"a": bybit_hedge(), "b": bybit_hedge(band=["0.05", "0.2"])},
    )
    assert plan.transfers == ()
    assert "give different reserve_wallet, target or band" in plan.notes[0].message


def test_the_metrics_carry_the_accounts_figure_in_its_name() -> None:
    read = state(
        "bybit",
        "unified",
        mm_rate("500", "2500"),
        [wallet("unified", "USDT", "2500"), BTC_HELD],
        [BTC_SHORT],
    )
    margins = hedge_margins(read, {"btc": bybit_hedge()})
    assert margins["btc"].ratio is None and margins["btc"].under(D("0.25"))
    metrics = Metrics()
    metrics.observe_state(read, margins)
    text = generate_latest(metrics.registry).decode()
    assert 'bot_hedge_account_margin{figure="accountMMRate",hedge="btc"} 0.2' in text
    assert 'bot_hedge_margin_ratio{hedge="btc"}' not in text


# the spot leg's own coin as collateral (Binance USD-M multi-assets mode) ---------------------

BTC_RATE = CollateralRate(asset="BTC", index=D("100000"), haircut=D("0.05"), rate=D("95000"))


def multi_hedge(**overrides: object) -> HedgeConfig:
    values: dict[str, object] = {
        "venue": "binance",
        "spot": "BTC/USDT",
        "perp": "BTC/USDT:USDT",
        "target": {"multiAssetsMMR": "3"},
        "band": ["2", "5"],
        "reserve_wallet": "spot",
        "spot_leg_wallets": ["spot"],
        "collateral": ["USDT", "BTC"],
    }
    return HedgeConfig.model_validate({**values, **overrides})


def multi_ratio(equity: str, maintenance: str) -> AccountMargin:
    return AccountMargin(
        figure="multiAssetsMMR",
        value=(D(equity) / D(maintenance)).quantize(D("0.0001")),
        liquidation_at=D(1),
        higher_is_safer=True,
        equity=D(equity),
        requirement=D(maintenance),
    )


def multi_state(
    margin: AccountMargin, wallets: list[Wallet], *, rates: bool = True, short_btc: str = "0.5"
) -> State:
    found = state("binance", "linear", margin, wallets, [BTC_SHORT] if short_btc else [])
    venue = dataclasses.replace(
        found.venues["binance"],
        collateral_rates={"BTC": BTC_RATE} if rates else {},
        transfer_steps={"USDT": D("0.00000001"), "BTC": D("0.00000001")},
    )
    return State(read_at=NOW, venues={"binance": venue})


def test_the_coin_follows_the_settle_asset_in_the_order_listed() -> None:
    # 2000 / 1000 = 2 is the band's edge; at 1.5 the target 3 needs 1500 USD more
    wallets = [wallet("spot", "USDT", "500"), wallet("spot", "BTC", "0.5")]
    plan = plan_transfers(multi_state(multi_ratio("1500", "1000"), wallets), {"b": multi_hedge()})
    usdt, btc = plan.transfers
    assert (usdt.asset, usdt.amount, usdt.rule) == ("USDT", D("500"), Rule.TOP_UP)
    # the other 1000 USD at 95000 a coin
    assert (btc.asset, btc.from_account, btc.to_account) == ("BTC", "spot", "linear")
    assert btc.amount == D("0.01052631")
    assert "counted at 95000 USD each" in btc.reason and "5% haircut" in btc.reason
    assert "brings it to the target 3" in btc.reason, btc.reason
    assert btc.figures["BTC_collateral_rate"] == D("95000")


def test_a_coin_listed_first_is_used_first() -> None:
    wallets = [wallet("spot", "USDT", "5000"), wallet("spot", "BTC", "0.5")]
    hedges = {"b": multi_hedge(collateral=["BTC", "USDT"])}
    plan = plan_transfers(multi_state(multi_ratio("1500", "1000"), wallets), hedges)
    (btc,) = plan.transfers
    assert btc.asset == "BTC" and btc.amount == D("0.01578947")  # 1500 / 95000


def test_without_the_venues_rate_the_coin_is_not_moved_and_the_plan_says_why() -> None:
    wallets = [wallet("spot", "USDT", "0"), wallet("spot", "BTC", "0.5")]
    state_ = multi_state(multi_ratio("1500", "1000"), wallets, rates=False)
    plan = plan_transfers(state_, {"b": multi_hedge()})
    assert plan.transfers == ()
    assert "binance gave no collateral rate for BTC" in plan.notes[0].message


def test_a_sweep_returns_the_coin_in_the_account_before_the_settle_asset() -> None:
    wallets = [
        wallet("linear", "USDT", "10000"),
        wallet("linear", "BTC", "0.02"),
        wallet("spot", "BTC", "0.48"),
    ]
    plan = plan_transfers(multi_state(multi_ratio("6000", "1000"), wallets), {"b": multi_hedge()})
    btc, usdt = plan.transfers
    assert (btc.asset, btc.amount, btc.rule) == ("BTC", D("0.02"), Rule.RETURN_EXCESS)
    assert (btc.from_account, btc.to_account) == ("linear", "spot")
    assert (usdt.asset, usdt.amount) == ("USDT", D("1100"))  # 6000 - 3000 - 0.02 x 95000


def test_a_flat_account_returns_its_coin_and_its_settle_asset() -> None:
    wallets = [wallet("linear", "USDT", "700"), wallet("linear", "BTC", "0.02")]
    plan = plan_transfers(
        multi_state(multi_ratio("2600", "1"), wallets, short_btc=""), {"b": multi_hedge()}
    )
    assert [(t.asset, t.amount, t.rule) for t in plan.transfers] == [
        ("BTC", D("0.02"), Rule.RETURN_FLAT),
        ("USDT", D("700"), Rule.RETURN_FLAT),
    ]


@pytest.mark.parametrize(
    ("collateral", "expected"),
    [
        (["USDT", "ETH"], "collateral: ETH is neither"),
        (["USDT", "USDT"], "names an asset twice"),
    ],
)
def test_collateral_lists_only_the_settle_asset_and_the_spot_legs_coin(
    collateral: list[str], expected: str
) -> None:
    with pytest.raises(ValueError, match=expected):
        multi_hedge(collateral=collateral)
