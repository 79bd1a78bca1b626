"""Alert conditions are pure: what a job saw in, the keys checked and firing out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path

from bot.alerts.conditions import (
    Facts,
    OpenTransfer,
    evaluate,
    margin_danger,
    spot_cannot_cover,
    transfer_failed,
    transfers_open,
    venue_unreachable,
)
from bot.config import parse_config
from bot.errors import ErrorKind, VenueError
from bot.ledger.store import TransferRecord
from bot.model import Plan, PlannedTransfer, Rule, TransferStatus
from bot.policy.margin import HedgeMargin, endangered
from bot.runtime.stopping import StopRequest
from tests.records import transfer_record

NOW = datetime(2026, 12, 3, 12, tzinfo=UTC)
CONFIG = parse_config(
    {
        "venues": {"p": {"exchange": "binance", "paper": True}},
        "hedges": {
            "eth": {
                "venue": "p",
                "spot": "ETH/USDT",
                "perp": "ETH/USDT:USDT",
                "target_margin_ratio": "0.5",
                "band": ["0.4", "0.6"],
            }
        },
        "alerts": {"danger_margin_ratio": "0.25", "unknown_after": "10m"},
    },
    base_dir=Path("."),
)


def margin(equity: str, notional: str = "15000") -> HedgeMargin:
    return HedgeMargin(
        hedge="eth",
        venue="p",
        asset="USDT",
        pool="cross linear USDT",
        isolated=False,
        equity=D(equity),
        notional=D(notional),
        lower=D("0.4"),
        upper=D("0.6"),
        mark_price=D("3700"),
        liquidation_price=D("4100"),
    )


def test_margin_under_danger_fires_with_liquidation_price_and_distance() -> None:
    found = margin_danger(Facts(kind="guard", now=NOW, margins={"eth": margin("3000")}), CONFIG)
    assert found.checked == {"margin:eth"}
    message = found.firing["margin:eth"]
    assert "margin ratio 0.2000" in message and "danger line 0.25" in message
    assert "liquidation price 4100" in message and "10.81% from mark 3700" in message
    assert endangered({"eth": margin("3000")}, D("0.25"))


def test_margin_above_danger_is_checked_and_quiet() -> None:
    found = margin_danger(Facts(kind="guard", now=NOW, margins={"eth": margin("7500")}), CONFIG)
    assert found.checked == {"margin:eth"} and not found.firing


def test_a_job_that_read_nothing_checks_no_margin() -> None:
    assert margin_danger(Facts(kind="reconcile", now=NOW), CONFIG).checked == frozenset()


def test_venue_unreachable_fires_per_venue_and_checks_every_venue_tried() -> None:
    error = VenueError(ErrorKind.TRANSIENT, "p", "connection refused")
    found = venue_unreachable(
        Facts(kind="snapshot", now=NOW, venues_tried=["p", "q"], venue_errors={"p": error}),
        CONFIG,
    )
    assert found.checked == {"venue:p", "venue:q"} and list(found.firing) == ["venue:p"]


def open_row(status: TransferStatus, age: timedelta, error: str | None = None) -> OpenTransfer:
    return OpenTransfer(
        id=7,
        venue="p",
        asset="USDT",
        amount=D("100"),
        status=status,
        updated_at=NOW - age,
        error=error,
    )


def test_unknown_alerts_only_after_unknown_after() -> None:
    young = Facts(
        kind="reconcile",
        now=NOW,
        open_transfers=[open_row(TransferStatus.UNKNOWN, timedelta(minutes=9))],
    )
    old = Facts(
        kind="reconcile",
        now=NOW,
        open_transfers=[open_row(TransferStatus.UNKNOWN, timedelta(minutes=10))],
    )
    assert not transfers_open(young, CONFIG).firing
    assert "has been unknown since" in transfers_open(old, CONFIG).firing["transfer:7"]


def test_ambiguous_alerts_at_once_with_the_assign_command() -> None:
    text = "transfer 7: ambiguous: p transfers 1, 2 each match it; bot reconcile --assign 7 TRAN_ID"
    facts = Facts(
        kind="reconcile",
        now=NOW,
        open_transfers=[open_row(TransferStatus.UNKNOWN, timedelta(0), text)],
    )
    assert "bot reconcile --assign 7" in transfers_open(facts, CONFIG).firing["transfer:7"]


def test_spot_that_cannot_cover_the_top_up_alerts() -> None:
    partial = PlannedTransfer(
        venue="p",
        hedges=("eth",),
        asset="USDT",
        from_account="spot",
        to_account="linear",
        amount=D("100"),
        rule=Rule.TOP_UP,
        reason="",
        figures={"needed": D("1500")},
    )
    low = {"eth": margin("5000")}  # 0.333: under the band, over the danger line
    none = spot_cannot_cover(Facts(kind="rebalance", now=NOW, margins=low, plan=Plan()), CONFIG)
    some = spot_cannot_cover(
        Facts(kind="rebalance", now=NOW, margins=low, plan=Plan(transfers=(partial,))), CONFIG
    )
    assert "spot has no USDT" in none.firing["spot-short:eth"]
    assert "spot can cover only 100 of the 1500 USDT" in some.firing["spot-short:eth"]
    full = PlannedTransfer(**{**partial.__dict__, "amount": D("1500")})
    covered = Facts(kind="rebalance", now=NOW, margins=low, plan=Plan(transfers=(full,)))
    assert not spot_cannot_cover(covered, CONFIG).firing


def test_a_crashed_job_fires_and_its_next_success_clears() -> None:
    crashed = evaluate(Facts(kind="snapshot", now=NOW, error="boom"), CONFIG)
    fine = evaluate(Facts(kind="snapshot", now=NOW), CONFIG)
    assert crashed.firing["job:snapshot"].startswith("job snapshot crashed: boom;")
    assert crashed.severity_of("job:snapshot") == "failure"
    assert "job:snapshot" in fine.checked and not fine.firing
    assert fine.cleared["job:snapshot"] == "job snapshot ran without crashing"


def test_an_unbalanced_hedge_in_the_plan_alerts_and_clears_when_the_plan_is_clean() -> None:
    from bot.alerts.conditions import plan_flags
    from bot.model import Flag, PlanAlert

    flagged = Plan(
        transfers=(),
        alerts=(
            PlanAlert(
                flag=Flag.UNBALANCED,
                venue="p",
                hedge="eth",
                message="spot holds 2 ETH against a 5 ETH short",
            ),
        ),
    )
    fired = plan_flags(Facts(kind="rebalance", now=NOW, venues_tried=["p"], plan=flagged), CONFIG)
    assert fired.firing == {
        "plan:unbalanced:eth": "p [eth]: spot holds 2 ETH against a 5 ETH short"
    }
    clean = plan_flags(Facts(kind="rebalance", now=NOW, venues_tried=["p"], plan=Plan()), CONFIG)
    assert clean.firing == {} and "plan:unbalanced:eth" in clean.checked  # -> resolved
    unread = plan_flags(
        Facts(
            kind="rebalance",
            now=NOW,
            venues_tried=["p"],
            venue_errors={"p": VenueError(ErrorKind.TRANSIENT, "p", "down")},
            plan=Plan(),
        ),
        CONFIG,
    )
    assert unread.checked == frozenset()  # a venue not read clears nothing


def failed_row(transfer_id: int, error: str) -> TransferRecord:
    return transfer_record(
        id=transfer_id,
        venue="p",
        planned_amount=D("100"),
        amount=None,
        status=TransferStatus.FAILED,
        error=error,
        attempts=0,
    )


def test_a_failed_transfer_alerts_but_one_a_stop_left_unsent_does_not() -> None:
    stop = StopRequest()
    stop.request("SIGTERM")
    refused = failed_row(1, "binance -2015 Invalid API-key, IP, or permissions for action")
    unsent = failed_row(2, stop.not_attempted())
    found = transfer_failed(Facts(kind="rebalance", now=NOW, transfers=[refused, unsent]), CONFIG)
    [key] = found.firing
    assert key.startswith("transfer-failed:p:eth:to_futures:binance-#-invalid-api-key")
    message = found.firing[key]
    assert "Invalid API-key" in message and "hedge eth" in message and "on p" in message
    assert found.severity_of(key) == "failure" and found.counts[key] == 1


def test_failures_of_one_kind_are_one_key_counted_and_other_numbers_do_not_split_it() -> None:
    """Keys are conditions, not rows: ten refusals that differ only in their figures are one
    alert with a count; another kind of error is another key."""
    same = [failed_row(i, f"p: insufficient balance: {100 + i}.5 USDT asked") for i in range(10)]
    other = failed_row(11, "p: transfer forbidden by the venue")
    found = transfer_failed(Facts(kind="guard", now=NOW, transfers=[*same, other]), CONFIG)
    assert len(found.firing) == 2
    insufficient = next(k for k in found.firing if "insufficient" in k)
    assert found.counts[insufficient] == 10
    assert "latest transfer 9" in found.firing[insufficient]
    # the guard checked what it tried to move: this hedge and direction, on this venue
    assert found.checked == {"transfer-failed:p:eth:to_futures:"}
    # a rebalance that moves nothing for the hedge clears its failures: it plans every hedge
    quiet = transfer_failed(Facts(kind="rebalance", now=NOW, venues_tried=["p"]), CONFIG)
    assert quiet.checked == {"transfer-failed:p:eth:"} and not quiet.firing


def test_severity_is_on_each_finding() -> None:
    danger = evaluate(Facts(kind="guard", now=NOW, margins={"eth": margin("3000")}), CONFIG)
    assert danger.severity_of("margin:eth") == "failure"
    unreachable = venue_unreachable(
        Facts(kind="snapshot", now=NOW, venues_tried=["p"], venue_errors={"p": OSError("x")}),
        CONFIG,
    )
    assert unreachable.severity_of("venue:p") == "warning"


def test_a_cleared_margin_says_its_figures_now_not_the_danger_line() -> None:
    """RESOLVED must not repeat the old numbers: the condition gives the figures at
    resolution for each checked hedge not in danger."""
    fine = margin_danger(Facts(kind="guard", now=NOW, margins={"eth": margin("7500")}), CONFIG)
    assert not fine.firing
    text = fine.cleared["margin:eth"]
    assert "margin ratio 0.5000" in text and "under the danger line" not in text
    assert "at or above the danger line 0.25" in text


def test_a_danger_says_what_the_guard_did() -> None:
    top_up = transfer_record(status=TransferStatus.CONFIRMED, venue="p")
    found = margin_danger(
        Facts(kind="guard", now=NOW, margins={"eth": margin("3000")}, transfers=[top_up]),
        CONFIG,
    )
    assert "top-up 3000 USDT confirmed (transfer 1)" in found.firing["margin:eth"]
    alone = margin_danger(Facts(kind="guard", now=NOW, margins={"eth": margin("3000")}), CONFIG)
    assert "needs a top-up of USDT from spot" in alone.firing["margin:eth"]


def test_a_halted_venue_is_one_alert_keyed_by_venue_and_resolves_when_gone() -> None:
    from bot.alerts.conditions import venue_halted
    from bot.ledger.standing import HaltRecord

    halt = HaltRecord(
        id=1, venue="p", halted_at=NOW, kind="fatal", code="-2015", error="-2015 refused",
        hint="enable Universal Transfer", fingerprint="f" * 64, salt="0" * 32, transfer_id=7,
        margin_leg_id=None, state="halted", ended_at=None, ended_by=None, end_reason=None,
    )  # fmt: skip
    found = venue_halted(Facts(kind="guard", now=NOW, halts=[halt]), CONFIG)
    assert found.checked == frozenset({"halt:"}) and list(found.firing) == ["halt:p"]
    assert "enable Universal Transfer; then: bot venue resume p" in found.firing["halt:p"]
    assert venue_halted(Facts(kind="guard", now=NOW, halts=[]), CONFIG).firing == {}
    assert venue_halted(Facts(kind="guard", now=NOW), CONFIG).checked == frozenset()


def test_nothing_to_move_is_one_alert_per_condition() -> None:
    from bot.alerts.conditions import nothing_to_move
    from bot.ledger.standing import NothingToMoveRecord

    standing = NothingToMoveRecord(
        id=1, venue="p", asset="USDT", from_account="spot", to_account="linear", hedges="eth",
        rule="top_up", reason="nothing transferable (0 USDT)", planned_amount=D("3000"),
        first_seen=NOW, last_seen=NOW, count=83,
    )  # fmt: skip
    found = nothing_to_move(Facts(kind="guard", now=NOW, nothing_to_move=[standing]), CONFIG)
    assert list(found.firing) == ["unmoved:p:USDT:spot:linear"]
    assert "nothing transferable (0 USDT)" in found.firing["unmoved:p:USDT:spot:linear"]
    assert nothing_to_move(Facts(kind="guard", now=NOW), CONFIG).checked == frozenset()


def test_every_flag_the_policy_raises_resolves_when_its_condition_clears() -> None:
    """Each `Flag`, raised by the real policy on a real state, then that state mended: every
    `plan:` alert it fired is checked and not firing on the mended plan, so it resolves. A new
    flag fails here until it has its case."""
    from bot.alerts.conditions import plan_flags
    from bot.model import Flag
    from tests.policy.test_targets import ETH_SPOT, eth_short, plan
    from tests.policy.test_targets import hedge as hedge_config
    from tests.policy.test_targets import wallet as state_wallet

    usdt = [state_wallet("spot", "USDT", "20000"), state_wallet("linear", "USDT", "7500")]
    paying = {"ETH/USDT:USDT": "-0.0001"}
    history = {("paper", "ETH/USDT:USDT"): [D("-0.0002"), D("-0.0003")]}
    hedges = {"eth": hedge_config()}
    # flag -> (the plan that raises it, the plan once its condition cleared)
    cases = {
        Flag.UNBALANCED: (
            plan([*usdt, state_wallet("spot", "ETH", "2")], [eth_short()], hedges),
            plan([*usdt, ETH_SPOT], [eth_short()], hedges),
        ),
        Flag.NAKED_SHORT: (
            plan(usdt, [eth_short()], hedges),
            plan([*usdt, ETH_SPOT], [eth_short()], hedges),
        ),
        Flag.FUNDING_AGAINST: (
            plan([*usdt, ETH_SPOT], [eth_short()], hedges, rates=paying, history=history),
            plan([*usdt, ETH_SPOT], [eth_short()], hedges, rates={"ETH/USDT:USDT": "0.0001"}),
        ),
    }
    assert set(cases) == set(Flag), "a new Flag needs its case here"
    config = parse_config(
        {
            "venues": {"paper": {"exchange": "binance", "paper": True}},
            "hedges": {"eth": {**hedges["eth"].model_dump(mode="json"), "venue": "paper"}},
        },
        base_dir=Path("."),
    )
    for flag, (raised, cleared) in cases.items():
        lines = [*raised.transfers, *raised.notes]
        assert any(flag in line.flags for line in lines) or any(
            alert.flag is flag for alert in raised.alerts
        ), f"{flag}: the case does not raise it"
        fired = plan_flags(
            Facts(kind="rebalance", now=NOW, venues_tried=["paper"], plan=raised), config
        )
        assert fired.firing, f"{flag}: raised but no alert fired"
        clean = plan_flags(
            Facts(kind="rebalance", now=NOW, venues_tried=["paper"], plan=cleared), config
        )
        for key in fired.firing:
            assert key not in clean.firing, f"{flag}: {key} still fires once mended"
            assert any(key.startswith(prefix) for prefix in clean.checked), (
                f"{flag}: {key} is never checked, so its alert would never resolve"
            )
