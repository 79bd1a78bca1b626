"""The plan's sizing preview: the executor's own size_transfer on the state's figures."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from bot.config import TransfersConfig
from bot.model import Plan, PlannedTransfer, Rule, State, VenueState
from bot.transfers.sizing import preview_sizing
from tests.policy.test_policy import NOW, wallet


def line(amount: str, from_account: str = "spot", hedge: str = "eth") -> PlannedTransfer:
    return PlannedTransfer(
        venue="paper",
        hedges=(hedge,),
        asset="USDT",
        from_account=from_account,
        to_account="linear" if from_account == "spot" else "spot",
        amount=D(amount),
        rule=Rule.TOP_UP,
        reason="r",
        figures={},
    )


def state(spot_transferable: str = "20000", *, can_transfer: bool = True) -> State:
    venue = VenueState(
        venue="paper",
        read_at=NOW,
        wallets={
            ("spot", "USDT"): wallet("spot", "USDT", "20000", transferable=spot_transferable),
            ("linear", "USDT"): wallet("linear", "USDT", "5000", transferable="2000"),
        },
        transfer_steps={"USDT": D("0.00000001")},
        can_transfer=can_transfer,
    )
    return State(read_at=NOW, venues={"paper": venue})


@pytest.mark.parametrize(
    ("planned", "transferable", "max_amount", "text"),
    [
        ("3000", "20000", None, "would send 3000 USDT (as planned)"),
        ("3000", "20000", "1000", "would send 1000 USDT (planned 3000; capped by max_amount 1000)"),
        (
            "3000",
            "2000",
            None,
            "would send 1980 USDT (planned 3000; capped by safety 0.99 x transferable 2000 = 1980)",
        ),
        ("3000", "3000", None, "would send 3000 USDT (as planned)"),  # covered: whole
        ("3000", "3010", "1000", "would send 1000 USDT (planned 3000; capped by max_amount 1000)"),
        (
            "3000",
            "2999",
            None,
            "would send 2969.01 USDT (planned 3000; capped by safety 0.99 x transferable 2999 = "
            "2969.01)",
        ),
        (
            "3000",
            "2000",
            "1990",
            "would send 1980 USDT (planned 3000; capped by safety 0.99 x transferable 2000 = 1980)",
        ),
        ("3000", "4", None, "would skip (sized 3.96 USDT is under min_amount 10)"),
        ("3000", "0", None, "would skip (nothing transferable (0 USDT))"),
    ],
)
def test_each_line_says_what_the_executor_would_send(
    planned: str, transferable: str, max_amount: str | None, text: str
) -> None:
    rules = TransfersConfig(max_amount=D(max_amount) if max_amount else None)
    (item,) = preview_sizing(Plan(transfers=(line(planned),)), state(transferable), rules).transfers
    assert item.sizing is not None and item.sizing.line("USDT") == text


def test_lines_from_one_wallet_share_what_it_can_give() -> None:
    plan = Plan(transfers=(line("1500", hedge="a"), line("1500", hedge="b")))
    first, second = preview_sizing(plan, state("2000"), TransfersConfig()).transfers
    assert first.sizing is not None and first.sizing.amount == D(1500)
    assert second.sizing is not None and second.sizing.transferable == D(500)
    assert second.sizing.amount == D(495)


def test_a_venue_without_transfers_is_left_to_the_manual_line() -> None:
    (item,) = preview_sizing(
        Plan(transfers=(line("3000"),)), state(can_transfer=False), TransfersConfig()
    ).transfers
    assert item.sizing is None
