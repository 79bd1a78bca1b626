"""The composed policy with the trader's targets: liquidation distance, funding buffer, hedge
integrity and priority. State in, plan out; no I/O."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

import pytest

from bot.config import HedgeConfig
from bot.model import (
    Flag,
    Funding,
    LeverageTier,
    Plan,
    Position,
    Rule,
    State,
    VenueState,
    Wallet,
)
from bot.policy import plan_transfers
from tests.policy.test_policy import BTC_INVERSE, ETH_PERP, NOW, hedge, short, wallet

TIERS = LeverageTier.ladder([(D(0), D("0.005")), (D(50000), D("0.01"))])
COIN_TIERS = LeverageTier.ladder([(D(0), D("0.005")), (D(5), D("0.01"))])


def eth_short(liquidation: str | None = None, mark: str = "3000") -> Position:
    notional = str(D(5) * D(mark))
    return short("ETH/USDT:USDT", notional, contracts="5", mark=mark, liquidation=liquidation)


def plan(
    wallets: list[Wallet],
    positions: list[Position],
    hedges: dict[str, HedgeConfig],
    *,
    rates: dict[str, str] | None = None,
    tiers: bool = True,
    history: dict[tuple[str, str], list[D]] | None = None,
    intervals: dict[str, timedelta | None] | None = None,
) -> Plan:
    venue = VenueState(
        venue="paper",
        read_at=NOW,
        wallets={(w.account, w.asset): w for w in wallets},
        positions={p.symbol: p for p in positions},
        markets={ETH_PERP.symbol: ETH_PERP, BTC_INVERSE.symbol: BTC_INVERSE},
        funding={
            symbol: Funding(
                symbol=symbol,
                rate=D(rate),
                mark_price=None,
                interval=(intervals or {}).get(symbol),
            )
            for symbol, rate in (rates or {}).items()
        },
        transfer_steps={"USDT": D("0.00001"), "BTC": D("0.00000001")},
        leverage_tiers={ETH_PERP.symbol: TIERS, BTC_INVERSE.symbol: COIN_TIERS} if tiers else {},
    )
    return plan_transfers(
        State(read_at=NOW, venues={"paper": venue}), hedges, funding_history=history
    )


def liq_hedge(**overrides: object) -> HedgeConfig:
    values: dict[str, object] = {
        "target_margin_ratio": None,
        "target": {"liquidation_distance": "0.35"},
        "band": ["0.30", "0.50"],
        **overrides,
    }
    return hedge(**values)


ETH_SPOT = wallet("spot", "ETH", "5")


def test_liquidation_distance_below_band_tops_up_to_the_target_with_the_numbers() -> None:
    # LP = (4500 + 15000) / (5 x 1.005) = 3880.597 = 29.4 % above 3000: below [30 %, 50 %]
    got = plan(
        [wallet("spot", "USDT", "20000"), ETH_SPOT, wallet("linear", "USDT", "4500")],
        [eth_short()],
        {"eth": liq_hedge()},
    )
    (item,) = got.transfers
    # 35 % above mark: 4050 x 5 x 1.005 - 15000 = 5351.25 of equity
    assert (item.rule, item.amount) == (Rule.TOP_UP, D("851.25"))
    assert "liquidation at 3880.60 = 29.4% above mark 3000 (computed" in item.reason
    assert "below band [30.0%, 50.0%]" in item.reason
    assert item.figures["liquidation_distance"] == D("0.2935")


def test_the_venue_figure_is_used_where_the_venue_reports_one() -> None:
    # the venue says 4200 (it knows positions the bot does not hedge): 40 % above, inside
    got = plan(
        [wallet("spot", "USDT", "20000"), ETH_SPOT, wallet("linear", "USDT", "4500")],
        [eth_short(liquidation="4200")],
        {"eth": liq_hedge()},
    )
    assert got.transfers == ()
    (note,) = got.notes
    assert "liquidation at 4200.00 = 40.0% above mark 3000 (the venue's figure" in note.message
    assert "inside band" in note.message


def test_above_the_band_returns_down_to_the_target_distance() -> None:
    # equity 9000: LP = 24000 / 5.025 = 4776.1 = 59.2 % above: return 9000 - 5351.25
    got = plan(
        [wallet("spot", "USDT", "0"), ETH_SPOT, wallet("linear", "USDT", "9000")],
        [eth_short()],
        {"eth": liq_hedge()},
    )
    (item,) = got.transfers
    assert (item.rule, item.from_account, item.amount) == (
        Rule.RETURN_EXCESS,
        "linear",
        D("3648.75"),
    )


def test_an_inverse_short_works_in_the_coin() -> None:
    # 300 contracts x 100 USD at 60000 = 0.5 BTC; equity 0.3: LP 149250, far above the band
    btc = liq_hedge(perp="BTC/USD:BTC", spot="BTC/USDT")
    got = plan(
        [wallet("spot", "BTC", "0.5"), wallet("inverse", "BTC", "0.3")],
        [short("BTC/USD:BTC", "0.5", contracts="300", contract_size="100", mark="60000")],
        {"btc": btc},
    )
    (item,) = got.transfers
    # 35 % above: 0.5 - 29850 / 81000 = 0.13148148 BTC of equity to keep
    assert (item.rule, item.asset, item.amount) == (Rule.RETURN_EXCESS, "BTC", D("0.16851851"))
    assert "liquidation at 149250.00 = 148.8% above mark 60000" in item.reason


def test_without_brackets_the_maintenance_margin_gives_the_rate_and_the_plan_says_so() -> None:
    position = short(
        "ETH/USDT:USDT", "15000", contracts="5", mark="3000", maintenance="75"
    )  # 75 / 15000 = 0.5 %
    got = plan(
        [wallet("spot", "USDT", "20000"), ETH_SPOT, wallet("linear", "USDT", "4500")],
        [position],
        {"eth": liq_hedge()},
        tiers=False,
    )
    (item,) = got.transfers
    assert item.amount == D("851.25")
    assert "the venue's maintenance margin (no brackets read)" in item.reason


def test_a_liquidation_target_without_a_mark_price_plans_nothing_and_says_why() -> None:
    got = plan(
        [wallet("spot", "USDT", "20000"), ETH_SPOT, wallet("linear", "USDT", "4500")],
        [short("ETH/USDT:USDT", "15000", contracts="5")],
        {"eth": liq_hedge()},
    )
    assert got.transfers == ()
    assert "cannot be computed" in got.notes[0].message


def test_a_paying_short_keeps_the_next_payments_in_the_target() -> None:
    # ratio 0.4 is on the band's edge; funding -0.1 % x 15000 x 3 periods = 45 more
    got = plan(
        [wallet("spot", "USDT", "20000"), ETH_SPOT, wallet("linear", "USDT", "6000")],
        [eth_short()],
        {"eth": hedge(funding_buffer={"periods": 3})},
        rates={"ETH/USDT:USDT": "-0.001"},
    )
    (item,) = got.transfers
    assert (item.rule, item.amount) == (Rule.TOP_UP, D("1545"))  # 7500 + 45 - 6000
    assert "(with the funding buffer)" in item.reason
    assert item.figures["funding_buffer"] == D(45)
    assert "3 periods x 0.001 x notional 15000" in str(item.figures["funding_buffer_note"])
    assert Flag.FUNDING_AGAINST in item.flags


@pytest.mark.parametrize(
    ("interval", "periods", "said"),
    [
        (timedelta(hours=8), 3, "(24h at every 8h)"),
        (timedelta(hours=4), 6, "(24h at every 4h)"),
        (timedelta(hours=1), 24, "(24h at every 1h)"),
        (None, 24, "(24h, the funding interval unknown: 1h assumed)"),
    ],
)
def test_a_buffer_in_hours_counts_the_payments_at_the_symbols_interval(
    interval: timedelta | None, periods: int, said: str
) -> None:
    # each payment: 0.1 % x 15000 = 15 USDT; 24 hours of them at the symbol's interval
    got = plan(
        [wallet("spot", "USDT", "20000"), ETH_SPOT, wallet("linear", "USDT", "6000")],
        [eth_short()],
        {"eth": hedge(funding_buffer={"hours": 24})},
        rates={"ETH/USDT:USDT": "-0.001"},
        intervals={"ETH/USDT:USDT": interval},
    )
    (item,) = got.transfers
    assert item.figures["funding_buffer"] == D(15) * periods
    assert item.amount == D(7500) + D(15) * periods - D(6000)
    assert f"{periods} periods x 0.001 x notional 15000 {said}" in str(
        item.figures["funding_buffer_note"]
    )


def test_a_paid_short_needs_no_buffer() -> None:
    got = plan(
        [wallet("spot", "USDT", "20000"), ETH_SPOT, wallet("linear", "USDT", "6000")],
        [eth_short()],
        {"eth": hedge(funding_buffer={"periods": 3})},
        rates={"ETH/USDT:USDT": "0.001"},
    )
    assert got.transfers == () and "inside band" in got.notes[0].message


def test_funding_against_the_short_n_periods_in_a_row_raises_an_alert_with_what_was_paid() -> None:
    wallets = [wallet("spot", "USDT", "20000"), ETH_SPOT, wallet("linear", "USDT", "7500")]
    rates = {"ETH/USDT:USDT": "-0.0001"}
    quiet = plan(wallets, [eth_short()], {"eth": hedge()}, rates=rates)
    assert quiet.alerts == ()  # one period (no history given) is under the default 3
    history = {("paper", "ETH/USDT:USDT"): [D("-0.0002"), D("-0.0003")]}
    loud = plan(wallets, [eth_short()], {"eth": hedge()}, rates=rates, history=history)
    (alert,) = loud.alerts
    assert alert.flag is Flag.FUNDING_AGAINST and alert.hedge == "eth"
    assert "3 periods in a row" in alert.message and "paid so far about 7.5 USDT" in alert.message


def test_spot_sold_by_hand_flags_the_hedge_and_holds_back_returns() -> None:
    got = plan(
        [wallet("spot", "USDT", "0"), wallet("linear", "USDT", "10500")],  # no ETH left
        [eth_short()],
        {"eth": hedge()},
    )
    assert got.transfers == ()  # ratio 0.7 would return 3000, but the short is naked
    (note,) = got.notes
    assert note.flags == (Flag.UNBALANCED, Flag.NAKED_SHORT)
    assert "is not returned" in note.message and "spot 0 ETH vs short 5 ETH" in note.message
    (alert,) = got.alerts
    assert alert.flag is Flag.UNBALANCED and alert.figures["short_base"] == D(5)


def test_an_unbalanced_hedge_still_gets_top_ups() -> None:
    got = plan(
        [
            wallet("spot", "USDT", "20000"),
            wallet("spot", "ETH", "2"),
            wallet("linear", "USDT", "4500"),
        ],
        [eth_short()],
        {"eth": hedge()},
    )
    (item,) = got.transfers
    assert item.rule is Rule.TOP_UP and item.flags == (Flag.UNBALANCED,)


def test_the_spot_leg_counts_the_wallets_the_hedge_names() -> None:
    wallets = [
        wallet("spot", "USDT", "0"),
        wallet("spot", "ETH", "1"),
        wallet("funding", "ETH", "4"),
        wallet("linear", "USDT", "10500"),
    ]
    got = plan(wallets, [eth_short()], {"eth": hedge(spot_leg_wallets=["funding"])})
    assert got.alerts == ()
    assert [t.rule for t in got.transfers] == [Rule.RETURN_EXCESS]


def test_priority_tells_who_was_served_first_from_a_shared_budget() -> None:
    from bot.model import MarketKind, PerpMarket

    other = PerpMarket(
        symbol="BTC/USDT:USDT",
        kind=MarketKind.LINEAR,
        base="BTC",
        quote="USDT",
        settle="USDT",
        contract_size=D(1),
        futures_account="isolated",  # a second USDT-margined wallet drawing on spot USDT
    )
    venue = VenueState(
        venue="paper",
        read_at=NOW,
        wallets={
            (w.account, w.asset): w
            for w in [
                wallet("spot", "USDT", "1000"),
                ETH_SPOT,
                wallet("spot", "BTC", "1"),
                wallet("linear", "USDT", "3000"),
                wallet("isolated", "USDT", "1000"),
            ]
        },
        positions={
            "ETH/USDT:USDT": eth_short(),
            "BTC/USDT:USDT": short("BTC/USDT:USDT", "10000", contracts="1"),
        },
        markets={ETH_PERP.symbol: ETH_PERP, other.symbol: other},
        transfer_steps={"USDT": D("0.00001")},
    )
    hedges = {"eth": hedge(), "btc": hedge(perp="BTC/USDT:USDT", spot="BTC/USDT")}
    got = plan_transfers(State(read_at=NOW, venues={"paper": venue}), hedges)
    (first,) = got.transfers  # btc: ratio 0.1 is nearer than eth's 0.2; it takes all 1000
    assert first.hedges == ("btc",) and first.amount == D(1000)
    assert first.priority and "served first from spot USDT, before eth" in first.priority
    starved = next(n for n in got.notes if n.hedges == ("eth",))
    assert "btc (margin ratio 0.1000) nearer to liquidation, served first" in starved.message
    assert "gets 0 of 4500" in starved.message


def test_top_ups_on_one_venue_go_nearest_to_liquidation_first() -> None:
    got = plan(
        [
            wallet("spot", "USDT", "20000"),
            wallet("spot", "BTC", "1"),
            ETH_SPOT,
            wallet("linear", "USDT", "4500"),  # 29.4 % from liquidation
            wallet("inverse", "BTC", "0.05"),  # LP = 29850 / 0.45 = 66333: 10.6 %
        ],
        [
            eth_short(),
            short("BTC/USD:BTC", "0.5", contracts="300", contract_size="100", mark="60000"),
        ],
        {
            "eth": liq_hedge(),
            "btc": liq_hedge(perp="BTC/USD:BTC", spot="BTC/USDT", spot_leg_wallets=["inverse"]),
        },
    )
    assert [t.hedges for t in got.transfers] == [("btc",), ("eth",)]
    assert got.transfers[0].priority and "top-up 1st of 2 on paper" in got.transfers[0].priority
    assert (
        got.transfers[1].priority
        and "first: btc (liquidation distance 10.6%), then eth" in got.transfers[1].priority
    )


def test_a_flat_hedge_with_a_liquidation_target_asks_nothing_of_its_pool() -> None:
    from tests.policy.test_policy import BTC_PERP

    venue = VenueState(
        venue="paper",
        read_at=NOW,
        wallets={
            (w.account, w.asset): w
            for w in [wallet("spot", "USDT", "20000"), ETH_SPOT, wallet("linear", "USDT", "4500")]
        },
        positions={"ETH/USDT:USDT": eth_short()},  # BTC/USDT:USDT is flat
        markets={ETH_PERP.symbol: ETH_PERP, BTC_PERP.symbol: BTC_PERP},
        transfer_steps={"USDT": D("0.00001")},
    )
    hedges = {"eth": hedge(), "btc": liq_hedge(perp="BTC/USDT:USDT", spot="BTC/USDT")}
    (item,) = plan_transfers(State(read_at=NOW, venues={"paper": venue}), hedges).transfers
    assert (item.rule, item.amount) == (Rule.TOP_UP, D(3000))  # eth's ratio decides alone


def test_the_checks_run_in_their_listed_order_integrity_then_funding() -> None:
    """`compose.LEG_CHECKS` is the order of a line's flags and of the plan's alerts."""
    from bot.policy import funding, integrity
    from bot.policy.compose import LEG_CHECKS

    assert (integrity.leg_check, funding.leg_check) == LEG_CHECKS
    history = {("paper", "ETH/USDT:USDT"): [D("-0.0002"), D("-0.0003")]}
    got = plan(
        [
            wallet("spot", "USDT", "20000"),
            wallet("spot", "ETH", "2"),
            wallet("linear", "USDT", "7500"),
        ],
        [eth_short()],
        {"eth": hedge()},
        rates={"ETH/USDT:USDT": "-0.0001"},
        history=history,
    )
    (note,) = got.notes
    assert note.flags == (Flag.UNBALANCED, Flag.FUNDING_AGAINST)
    assert [alert.flag for alert in got.alerts] == [Flag.UNBALANCED, Flag.FUNDING_AGAINST]
