"""`bot plan` tells the whole truth: what it says each line would send is what a dry-run
rebalance sizes on the same paper state; the trader's targets and the integrity guard work
over real ccxt on USD-M and COIN-M paper hedges."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from decimal import Decimal as D
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.paper import PaperExchangeThread, PaperState
from tests.integration.conftest import (
    ETH_HEDGE,
    Invocation,
    edit_state,
    live_venue,
    set_spot,
    set_usdm_short,
)

Bot = Callable[..., Invocation]

BTC_HEDGE = {
    **ETH_HEDGE,
    "spot": "BTC/USDT",
    "perp": "BTC/USD:BTC",
    "spot_leg_wallets": ["inverse"],
}


def set_wallets(paper: PaperExchangeThread, usdt: str, btc: str, spot_usdt: str) -> None:
    from bot.paper.model import SpotBalance

    def change(state: PaperState) -> PaperState:
        usdm = {"USDT": dataclasses.replace(state.usdm["USDT"], wallet_balance=D(usdt))}
        coinm = {"BTC": dataclasses.replace(state.coinm["BTC"], wallet_balance=D(btc))}
        spot = {**state.spot, "USDT": SpotBalance(free=D(spot_usdt))}
        return dataclasses.replace(state, usdm=usdm, coinm=coinm, spot=spot)

    edit_state(paper, change)


def sized_lines_of_plan(payload: dict[str, Any]) -> list[tuple[str, ...]]:
    return [
        (
            t["venue"],
            t["asset"],
            t["from_account"],
            t["to_account"],
            t["amount"],
            t["sizing"]["sized"],
            "dry_run" if t["sizing"]["would_send"] else "skipped",
        )
        for t in payload["transfers"]
    ]


def sized_lines_of_run(payload: dict[str, Any]) -> list[tuple[str, ...]]:
    lines = []
    for row in payload["transfers"]:
        tag = D(row["amount_tag"] or "0")
        sized = D(row["amount"]) + tag  # the executor sends the sized amount less its tag
        lines.append(
            (
                row["venue"],
                row["asset"],
                row["from_account"],
                row["to_account"],
                row["planned_amount"],
                format(sized.normalize(), "f") if sized else "0",
                row["status"],
            )
        )
    return lines


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    derandomize=True,
)
@given(
    usdt=st.sampled_from(["2000", "4500", "9000", "12000"]),
    btc=st.sampled_from(["0.05", "0.1", "0.3", "0.6"]),
    spot_usdt=st.sampled_from(["4", "300", "20000"]),
    max_usdt=st.sampled_from([None, "1000"]),
    liquidation=st.booleans(),
)
def test_the_plan_equals_what_a_dry_run_rebalance_sizes(
    paper: PaperExchangeThread,
    venue_env: None,
    write_config: Callable[..., Path],
    bot: Bot,
    usdt: str,
    btc: str,
    spot_usdt: str,
    max_usdt: str | None,
    liquidation: bool,
) -> None:
    set_wallets(paper, usdt, btc, spot_usdt)
    target: dict[str, Any] = (
        {"target_margin_ratio": None, "target": {"liquidation_distance": "0.35"}}
        if liquidation
        else {"target_margin_ratio": "0.5"}
    )
    band = ["0.25", "0.5"] if liquidation else ["0.4", "0.6"]
    config = write_config(
        {"binance": live_venue(paper.base_url, websocket=False)},  # REST only: faster, same sizing
        {
            "eth": {**ETH_HEDGE, **target, "band": band},
            "btc": {**BTC_HEDGE, **target, "band": band},
        },
        transfers={
            "safety": "0.99",
            "min_amount": {"USDT": "10", "BTC": "0.001"},
            "max_amount": {"USDT": max_usdt, "BTC": "1"} if max_usdt else None,
        },
    )
    planned = bot("plan", "--json", config=config)
    assert planned.exit_code == 0, planned.stdout + planned.stderr
    ran = bot("rebalance", "--dry-run", "--json", config=config)
    assert ran.exit_code == 0, ran.stdout + ran.stderr
    assert sized_lines_of_plan(planned.json()) == sized_lines_of_run(ran.json())
    assert paper.state.transfers == ()


def test_plan_lines_say_capped_and_skipped_and_that_rebalance_reads_again(
    paper: PaperExchangeThread, venue_env: None, write_config: Callable[..., Path], bot: Bot
) -> None:
    config = write_config(
        {"binance": live_venue(paper.base_url)},
        {"eth": ETH_HEDGE},
        transfers={"safety": "0.99", "min_amount": "10", "max_amount": "1000"},
    )
    result = bot("plan", config=config)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "would send 1000 USDT (planned 3000; capped by max_amount 1000)" in result.stdout
    assert "reads each source wallet again right before it sends" in result.stdout
    set_spot(paper, "USDT", "4")
    skipped = bot("plan", config=config)
    # the plan takes the 4 spot has; covered by the read, it is sized whole, and skipped
    assert "would skip (sized 4 USDT is under min_amount 10)" in skipped.stdout


def test_liquidation_targets_on_usdm_and_coinm_use_the_venue_brackets_and_figures(
    paper: PaperExchangeThread, venue_env: None, write_config: Callable[..., Path], bot: Bot
) -> None:
    target = {"target_margin_ratio": None, "target": {"liquidation_distance": "0.35"}}
    config = write_config(
        {"binance": live_venue(paper.base_url)},
        {
            "eth": {**ETH_HEDGE, **target, "band": ["0.30", "0.50"]},
            "btc": {**BTC_HEDGE, **target, "band": ["0.30", "0.50"]},
        },
        transfers={"safety": "0.99", "min_amount": {"USDT": "10", "BTC": "0.001"}},
    )
    payload = bot("plan", "--json", config=config).json()
    by_hedge = {tuple(t["hedges"]): t for t in payload["transfers"]}
    eth = by_hedge[("eth",)]
    # the paper exchange's positionRisk: 3880.60 = 29.4 % above 3000, below [30 %, 50 %]
    assert "liquidation at 3880.60 = 29.4% above mark 3000 (the venue's figure" in eth["reason"]
    assert "from the venue's leverage brackets" in eth["reason"]
    assert eth["rule"] == "top_up" and abs(D(eth["amount"]) - D("851.25")) < D("0.0001")
    btc = by_hedge[("btc",)]
    assert btc["rule"] == "return_excess" and btc["asset"] == "BTC"
    assert "liquidation at 149250.00 = 148.8% above mark 60000" in btc["reason"]


def test_spot_sold_by_hand_flags_the_hedge_no_return_but_top_ups_still_happen(
    paper: PaperExchangeThread, config_file: Path, bot: Bot
) -> None:
    set_usdm_short(paper, "-5", wallet="10500")  # ratio 0.7: above the band, would return 3000
    set_spot(paper, "ETH", "0")  # the trader sold the spot leg by hand
    plan = bot("plan", "--json", config=config_file).json()
    assert plan["transfers"] == []
    (note,) = plan["notes"]
    assert note["flags"] == ["unbalanced", "naked_short"]
    assert "is not returned" in note["message"] and "spot 0 ETH vs short 5 ETH" in note["message"]
    (alert,) = plan["alerts"]
    assert alert["flag"] == "unbalanced" and alert["figures"]["short_base"] == "5"

    result = bot("rebalance", config=config_file)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "unbalanced" in result.stdout
    assert paper.state.transfers == ()  # nothing went back to spot

    paper.set_mark_price("ETHUSDT", D("4000"))  # the naked short loses 5000: equity 5500/20000
    assert bot("rebalance", config=config_file).exit_code == 0
    (moved,) = paper.state.transfers
    assert moved.type == "MAIN_UMFUTURE"  # the top-up still happens


def test_a_coinm_hedge_whose_spot_coin_was_sold_returns_nothing(
    paper: PaperExchangeThread, venue_env: None, write_config: Callable[..., Path], bot: Bot
) -> None:
    btc = {**ETH_HEDGE, "spot": "BTC/USDT", "perp": "BTC/USD:BTC"}
    btc.update(target_margin_ratio="0.4", band=["0.3", "0.5"])
    config = write_config(
        {"binance": live_venue(paper.base_url, websocket=False)},
        {"btc": btc},
        transfers={"safety": "0.99", "min_amount": {"BTC": "0.001"}},
    )
    set_spot(paper, "BTC", "0.5")  # 0.5 BTC against the 0.5 BTC short: balanced
    balanced = bot("plan", "--json", config=config).json()
    assert [t["rule"] for t in balanced["transfers"]] == ["return_excess"]  # ratio 0.6 > 0.5
    assert balanced["alerts"] == []
    set_spot(paper, "BTC", "0.1")  # sold 0.4 BTC by hand
    plan = bot("plan", "--json", config=config).json()
    assert plan["transfers"] == []
    (note,) = plan["notes"]
    assert note["flags"] == ["unbalanced"] and "spot 0.1 BTC vs short 0.5 BTC" in note["message"]


def test_the_spot_leg_counts_the_funding_wallet_the_hedge_names(
    paper: PaperExchangeThread, venue_env: None, write_config: Callable[..., Path], bot: Bot
) -> None:
    from bot.paper.model import SpotBalance

    def move_eth_to_funding(state: PaperState) -> PaperState:
        spot = {**state.spot, "ETH": SpotBalance(free=D("2"))}
        funding = {"ETH": SpotBalance(free=D("2"), locked=D("1"))}
        return dataclasses.replace(state, spot=spot, funding_wallet=funding)

    edit_state(paper, move_eth_to_funding)
    set_usdm_short(paper, "-5", wallet="10500")  # above the band: would return 3000
    plain = write_config({"binance": live_venue(paper.base_url)}, {"eth": ETH_HEDGE})
    held = bot("plan", "--json", config=plain).json()
    assert held["transfers"] == [] and held["notes"][0]["flags"] == ["unbalanced"]
    counted = write_config(
        {"binance": live_venue(paper.base_url)},
        {"eth": {**ETH_HEDGE, "spot_leg_wallets": ["funding"]}},  # free + locked: 2 + 3 = 5
    )
    plan = bot("plan", "--json", config=counted).json()
    assert plan["alerts"] == []
    assert [t["rule"] for t in plan["transfers"]] == ["return_excess"]
