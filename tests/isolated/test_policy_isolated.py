"""The isolated-margin policy as tables: an isolated position's own equity (its wallet plus its
unrealized PnL) against its notional decides, never the futures wallet. Pure, no I/O."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

from bot.config import HedgeConfig
from bot.model import (
    CROSS,
    ISOLATED,
    PlannedTransfer,
    Position,
    Rule,
    State,
    VenueState,
    Wallet,
)
from bot.policy import plan_transfers
from tests.markets import BTC_PERP, ETH_PERP

NOW = datetime(2026, 12, 3, tzinfo=UTC)


def hedge(perp: str = "ETH/USDT:USDT", **overrides: object) -> HedgeConfig:
    values: dict[str, object] = {
        "venue": "acc",
        "spot": "ETH/USDT",
        "perp": perp,
        "target_margin_ratio": "0.5",
        "band": ["0.4", "0.6"],
        "spot_reserve": "0",
    }
    values.update(overrides)
    return HedgeConfig.model_validate(values)


def position(
    perp: str = "ETH/USDT:USDT",
    *,
    notional: str = "5580",
    upnl: str = "-120",
    isolated_wallet: str | None = "1850",
    mode: str | None = ISOLATED,
    initial_margin: str = "558",
) -> Position:
    return Position(
        symbol=perp,
        side="short",
        contracts=D(2),
        contract_size=D(1),
        notional=D(notional),
        entry_price=D(2730),
        mark_price=D(2790),
        unrealized_pnl=D(upnl),
        initial_margin=D(initial_margin),
        liquidation_price=D("3600"),
        margin_mode=mode,
        isolated_wallet=D(isolated_wallet) if isolated_wallet is not None else None,
    )


def wallet(account: str, balance: str, *, free: str | None = None, asset: str = "USDT") -> Wallet:
    return Wallet(
        account=account,
        asset=asset,
        free=D(free if free is not None else balance),
        used=D(0),
        balance=D(balance),
        transferable=D(free if free is not None else balance),
    )


def state(
    *positions: Position, spot: str = "5000", futures: str = "9000", spot_legs: bool = True
) -> State:
    """The venue as read; each short's spot leg is held in full unless `spot_legs` is False
    (a naked short, whose returns the policy holds back)."""
    legs = {}
    for p in positions if spot_legs else ():
        base = p.symbol.split("/", 1)[0]
        legs[("spot", base)] = wallet("spot", str(p.contracts * p.contract_size), asset=base)
    venue = VenueState(
        venue="acc",
        read_at=NOW,
        wallets={
            ("spot", "USDT"): wallet("spot", spot),
            ("linear", "USDT"): wallet("linear", futures),
            **legs,
        },
        positions={p.symbol: p for p in positions},
        markets={"ETH/USDT:USDT": ETH_PERP, "BTC/USDT:USDT": BTC_PERP},
    )
    return State(read_at=NOW, venues={"acc": venue})


def test_the_issue_example_reads_its_own_wallet_and_says_both_legs() -> None:
    # futures wallet 9000 would read 1.6 on cross; the isolated position is 0.31 on its own
    plan = plan_transfers(state(position()), {"eth": hedge(margin_mode="isolated")})
    (item,) = plan.transfers
    assert (item.from_account, item.to_account, item.rule) == ("spot", "linear", Rule.TOP_UP)
    assert item.amount == D("1060")  # 0.5 x 5580 - (1850 - 120)
    assert item.isolated_perp == "ETH/USDT:USDT"
    assert item.reason.startswith(
        "isolated: margin ratio 0.31 (isolated wallet 1850 + uPnL -120 / notional 5580): "
        "move 1060 USDT spot -> linear, then add 1060 to ETH/USDT:USDT's margin"
    )
    assert item.figures["equity"] == D("1730")
    assert item.figures["liquidation_price"] == D("3600")


@pytest.mark.parametrize(
    ("wallet_", "upnl", "spot", "expected"),
    [
        # (isolated wallet, uPnL, spot free) -> (rule, from, to, amount) or a note's words
        ("1850", "-120", "5000", (Rule.TOP_UP, "spot", "linear", D("1060"))),
        ("1850", "-120", "400", (Rule.TOP_UP, "spot", "linear", D("400"))),  # spot covers part
        ("1850", "-120", "0", "spot has no USDT above the reserve"),
        ("2790", "0", "5000", "is inside band [0.4, 0.6]: nothing to move"),
        ("2790", "+300", "5000", "is inside band"),  # 3090 / 5580 = 0.55
        # 4000 / 5580 = 0.72 above: excess 4000 - 2790 = 1210, removable 4000 - 558 = 3442
        ("4000", "0", "5000", (Rule.RETURN_EXCESS, "linear", "spot", D("1210"))),
        # profit counts in the equity but never leaves: removable 3000 - 558 = 2442 < excess
        ("3000", "+1500", "5000", (Rule.RETURN_EXCESS, "linear", "spot", D("1710"))),
        # a loss counts: 1500 / 5580 = 0.27 is below the band however full the wallet looks
        ("3500", "-2000", "5000", (Rule.TOP_UP, "spot", "linear", D("1290"))),
    ],
)
def test_isolated_rules(wallet_: str, upnl: str, spot: str, expected: object) -> None:
    plan = plan_transfers(
        state(position(isolated_wallet=wallet_, upnl=upnl), spot=spot),
        {"eth": hedge(margin_mode="isolated")},
    )
    if isinstance(expected, str):
        assert not plan.transfers, plan
        (note,) = plan.notes
        assert expected in note.message
        return
    rule, source, target, amount = expected  # type: ignore[misc]
    (item,) = plan.transfers
    assert (item.rule, item.from_account, item.to_account, item.amount) == (
        rule,
        source,
        target,
        amount,
    )


def test_a_return_is_capped_by_what_the_venue_lets_leave() -> None:
    # with a 5000 loss: equity 4000 / 5580 = 0.72, excess 4000 - 2790 = 1210 (the loss counts),
    # under the 9000 - 5000 - 558 = 3442 that may leave
    plan = plan_transfers(
        state(position(isolated_wallet="9000", upnl="-5000")),
        {"eth": hedge(margin_mode="isolated")},
    )
    (item,) = plan.transfers
    assert item.amount == D("1210")
    high = state(position(isolated_wallet="9000", upnl="0", initial_margin="8000"))
    (capped,) = plan_transfers(high, {"eth": hedge(margin_mode="isolated")}).transfers
    assert capped.amount == D("1000")  # 9000 - 8000 may leave, of an excess of 6210
    assert "the venue lets only 1000 of 6210 leave" in capped.reason


def test_an_unpinned_hedge_follows_the_venue_and_a_pinned_mismatch_is_refused() -> None:
    unpinned = plan_transfers(state(position()), {"eth": hedge()})
    assert [t.isolated_perp for t in unpinned.transfers] == ["ETH/USDT:USDT"]

    refused = plan_transfers(state(position()), {"eth": hedge(margin_mode="cross")})
    assert not refused.transfers
    (note,) = refused.notes
    assert note.message == (
        "ETH/USDT:USDT is in isolated margin on acc, but hedges.eth.margin_mode is cross: "
        "refused, nothing planned; set margin_mode: isolated or switch the position to cross "
        "on the venue"
    )

    cross = position(mode=CROSS, isolated_wallet=None)
    pinned_isolated = plan_transfers(state(cross), {"eth": hedge(margin_mode="isolated")})
    assert not pinned_isolated.transfers
    assert "is in cross margin on acc, but hedges.eth.margin_mode is isolated" in (
        pinned_isolated.notes[0].message
    )


def test_an_isolated_position_without_its_wallet_plans_nothing() -> None:
    plan = plan_transfers(state(position(isolated_wallet=None)), {"eth": hedge()})
    assert not plan.transfers
    assert "reports no isolated wallet for it" in plan.notes[0].message


def test_cross_and_isolated_hedges_share_one_spot_budget_nearest_liquidation_first() -> None:
    # the isolated ETH at 0.31 is served before the cross BTC pool at 0.35 (2450 / 7000)
    btc = Position(
        symbol="BTC/USDT:USDT",
        side="short",
        contracts=D("0.1"),
        contract_size=D(1),
        notional=D("7000"),
        entry_price=D(70000),
        mark_price=D(70000),
        unrealized_pnl=D(0),
        margin_mode=CROSS,
    )
    hedges = {
        "eth": hedge(margin_mode="isolated"),
        "btc": hedge("BTC/USDT:USDT", spot="BTC/USDT"),
    }
    # the futures wallet's 4300 holds the isolated ETH's own 1850: the cross pool has 2450
    plan = plan_transfers(state(position(), btc, spot="1500", futures="4300"), hedges)
    first, second = plan.transfers
    assert second.figures["futures_balance"] == D("2450")
    assert second.figures["unrealized_pnl"] == D("120")  # less the isolated short's -120
    assert (first.isolated_perp, first.amount) == ("ETH/USDT:USDT", D("1060"))
    assert (second.isolated_perp, second.amount) == (None, D("440"))  # what spot has left


def test_the_plan_is_the_same_for_equal_states() -> None:
    one = plan_transfers(state(position()), {"eth": hedge()})
    two = plan_transfers(state(position()), {"eth": hedge()})
    assert one == two
    assert isinstance(one.transfers[0], PlannedTransfer)


def test_a_naked_isolated_short_keeps_its_margin_and_says_so() -> None:
    # the return of the capped test above, but spot holds no ETH: the short is the larger leg
    rich = position(isolated_wallet="9000", upnl="-5000")
    plan = plan_transfers(state(rich, spot_legs=False), {"eth": hedge(margin_mode="isolated")})
    assert plan.transfers == ()
    (note,) = plan.notes
    assert note.message.startswith("isolated: margin ratio 0.72 (isolated wallet 9000 + uPnL")
    assert "is above band [0.4, 0.6], but 1210 USDT is not returned: naked short" in note.message
    (alert,) = plan.alerts
    assert alert.hedge == "eth" and alert.figures["naked_short"] == "true"
    # a top-up is never held: the short needs its margin whatever the spot leg holds
    poor = plan_transfers(
        state(position(), spot_legs=False), {"eth": hedge(margin_mode="isolated")}
    )
    (top_up,) = poor.transfers
    assert top_up.rule is Rule.TOP_UP
