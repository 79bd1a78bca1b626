"""Liquidation maths: Binance's cross one-way formulas in equity terms, checked against the
paper exchange's own implementation (written in Binance's wallet-balance terms)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.model import LeverageTier, MarketKind
from bot.paper import accounting
from bot.paper.model import MarketKind as PaperKind
from bot.paper.model import brackets_from_tiers
from bot.policy.liquidation import (
    ShortLeg,
    distance,
    equity_for_distance,
    equity_for_distance_from,
    liquidation_price,
    tier_for,
)

LINEAR_TIERS = [
    ("0", "50000", "0.005", 125),
    ("50000", "600000", "0.01", 50),
    ("600000", "3000000", "0.025", 20),
]
INVERSE_TIERS = [("0", "5", "0.005", 125), ("5", "10", "0.01", 50), ("10", "20", "0.025", 20)]


def ours(tiers: list[tuple[str, str, str, int]]) -> tuple[LeverageTier, ...]:
    return LeverageTier.ladder((D(floor), D(rate)) for floor, _, rate, _ in tiers)


def test_ladder_derives_binance_maintenance_amounts_like_the_paper_exchange() -> None:
    paper = brackets_from_tiers(LINEAR_TIERS)
    assert [t.cum for t in ours(LINEAR_TIERS)] == [b.cum for b in paper] == [0, 250, 9250]


@pytest.mark.parametrize(
    ("notional", "rate"),
    [("0", "0.005"), ("49999.99", "0.005"), ("50000", "0.01"), ("9000000", "0.025")],
)
def test_tier_for_picks_the_tier_holding_the_notional(notional: str, rate: str) -> None:
    tier = tier_for(ours(LINEAR_TIERS), D(notional))
    assert tier is not None and tier.maint_margin_rate == D(rate)


def leg(kind: MarketKind, size: D, mark: D, tiers: tuple[LeverageTier, ...]) -> ShortLeg:
    return ShortLeg(kind=kind, size=size, mark=mark, tiers=tiers)


def test_the_quick_start_short_matches_the_paper_figure() -> None:
    """5 ETH short at 3000, 4500 USDT: LP = (4500 + 15000) / (5 x 1.005) = 3880.597..."""
    short = leg(MarketKind.LINEAR, D(5), D(3000), ours(LINEAR_TIERS))
    price = liquidation_price(short, equity=D(4500))
    assert price is not None and abs(price - D("3880.59701492")) < D("0.00000001")
    assert distance(price, D(3000)) == pytest.approx(D("0.29353233"), abs=D("0.0000001"))


def test_an_inverse_short_covered_by_its_coin_cannot_be_liquidated() -> None:
    short = leg(MarketKind.INVERSE, D(30000), D(60000), ours(INVERSE_TIERS))  # 0.5 BTC
    assert liquidation_price(short, equity=D("0.5")) is None
    price = liquidation_price(short, equity=D("0.3"))
    assert price == D("149250")  # 30000 x 0.995 / (0.5 - 0.3)


prices = st.decimals(min_value=D(100), max_value=D(100000), places=2)
sizes = st.decimals(min_value=D("0.01"), max_value=D(50), places=3)
fractions = st.decimals(min_value=D("0.02"), max_value=D(2), places=4)


@settings(max_examples=200, deadline=None)
@given(size=sizes, entry=prices, mark=prices, margin=fractions, extra=fractions)
def test_more_collateral_never_lowers_the_distance(
    size: D, entry: D, mark: D, margin: D, extra: D
) -> None:
    for kind, tiers in ((MarketKind.LINEAR, LINEAR_TIERS), (MarketKind.INVERSE, INVERSE_TIERS)):
        contracts = size * 1000 if kind is MarketKind.INVERSE else size  # USD for inverse
        short = leg(kind, contracts, mark, ours(tiers))
        equity = margin * short.notional
        before = distance(liquidation_price(short, equity=equity), mark)
        after = distance(liquidation_price(short, equity=equity + extra * short.notional), mark)
        if before is None:  # unreachable stays unreachable
            assert after is None
        elif after is not None:
            assert after >= before


@settings(max_examples=300, deadline=None)
@given(size=sizes, entry=prices, mark=prices, balance=fractions)
def test_computed_linear_price_matches_the_paper_exchange_within_a_tick(
    size: D, entry: D, mark: D, balance: D
) -> None:
    tiers = brackets_from_tiers(LINEAR_TIERS)
    wallet_balance = balance * size * entry
    upnl = accounting.unrealized_pnl(PaperKind.LINEAR, -size, entry, mark)
    paper = accounting.liquidation_price_in_tier(
        PaperKind.LINEAR,
        -size,
        entry,
        tiers,
        start=accounting.bracket_for(tiers, size * mark),
        wallet_balance=wallet_balance,
    )
    short = leg(MarketKind.LINEAR, size, mark, ours(LINEAR_TIERS))
    computed = liquidation_price(short, equity=wallet_balance + upnl)
    assert computed is not None and abs(computed - paper) <= D("0.01")


@settings(max_examples=300, deadline=None)
@given(contracts=st.integers(1, 5000), entry=prices, mark=prices, balance=fractions)
def test_computed_inverse_price_matches_the_paper_exchange_within_a_tick(
    contracts: int, entry: D, mark: D, balance: D
) -> None:
    size = D(contracts) * 100  # BTCUSD_PERP: 100 USD a contract
    tiers = brackets_from_tiers(INVERSE_TIERS)
    wallet_balance = balance * size / entry
    upnl = accounting.unrealized_pnl(PaperKind.INVERSE, D(-contracts), entry, mark, D(100))
    paper = accounting.liquidation_price_in_tier(
        PaperKind.INVERSE,
        D(-contracts),
        entry,
        tiers,
        start=accounting.bracket_for(tiers, size / mark),
        wallet_balance=wallet_balance,
        contract_size=D(100),
    )
    short = leg(MarketKind.INVERSE, size, mark, ours(INVERSE_TIERS))
    computed = liquidation_price(short, equity=wallet_balance + upnl)
    if computed is None:
        assert paper == 0  # the paper exchange reports 0: no liquidation price
    else:
        assert abs(computed - paper) <= D("0.1")


@settings(max_examples=200, deadline=None)
@given(size=sizes, mark=prices, target=fractions)
def test_equity_for_a_distance_gives_that_distance(size: D, mark: D, target: D) -> None:
    for kind, tiers, contracts in (
        (MarketKind.LINEAR, LINEAR_TIERS, size),
        (MarketKind.INVERSE, INVERSE_TIERS, size * 1000),
    ):
        short = leg(kind, contracts, mark, ours(tiers))
        equity = equity_for_distance(short, target)
        price = liquidation_price(short, equity=equity)
        assert price is not None
        assert abs(distance(price, mark) - target) < D("0.000001")  # type: ignore[operator]


def test_anchored_on_the_venue_figure_gives_the_same_equity() -> None:
    short = leg(MarketKind.LINEAR, D(5), D(3000), ours(LINEAR_TIERS))
    venue_price = liquidation_price(short, equity=D(4500))
    assert venue_price is not None
    anchored = equity_for_distance_from(short, D("0.35"), equity=D(4500), liquidation=venue_price)
    assert abs(anchored - equity_for_distance(short, D("0.35"))) < D("0.0000001")
    # 3000 x 1.35 = 4050 -> equity 4050 x 5 x 1.005 - 15000 = 5351.25
    assert abs(anchored - D("5351.25")) < D("0.0000001")


def test_the_tier_at_the_liquidation_price_decides() -> None:
    """Binance: recompute with the tier that holds the notional at the liquidation price.
    45 ETH at 1000 is 45000 (tier 1, 0.5 %); at the liquidation price it is past 50000."""
    short = leg(MarketKind.LINEAR, D(45), D(1000), ours(LINEAR_TIERS))
    price = liquidation_price(short, equity=D(10000))
    assert price is not None and short.notional_at(price) >= D(50000)
    # tier 2: (10000 + 250 + 45000) / (45 x 1.01) = 1215.622...
    assert abs(price - D(55250) / (D(45) * D("1.01"))) < D("0.0000001")
    assert abs(distance(price, D(1000)) - equity_to_check(short, price)) < D("0.0000001")  # type: ignore[operator]
    paper = accounting.liquidation_price_in_tier(
        PaperKind.LINEAR,
        D(-45),
        D(1000),
        brackets_from_tiers(LINEAR_TIERS),
        start=accounting.bracket_for(brackets_from_tiers(LINEAR_TIERS), D(45000)),
        wallet_balance=D(10000),
    )
    assert abs(paper - price) < D("0.0000001")


def equity_to_check(short: ShortLeg, price: D) -> D:
    """The distance implied by `equity_for_distance` at that price: the inverse holds."""
    target = price / short.mark - 1
    assert abs(equity_for_distance(short, target) - D(10000)) < D("0.000001")
    return target
