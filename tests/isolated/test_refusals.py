"""What the venue refuses or the bot must not do with isolated margin: a reduce refused because
the mark moved (below what may leave) shrinks or stops with one line; a dry run sends no
margin change; a hedge pinned to the other margin mode is refused."""

from __future__ import annotations

import asyncio
from decimal import Decimal as D

import pytest

from bot.config import load_config, parse_config
from bot.errors import ConfigError
from bot.ledger import Ledger
from bot.ledger.margin_queries import moves
from bot.model import TransferStatus
from bot.transfers.margin_legs import half_done_moves
from bot.venues.clients import DryRunRefused
from bot.venues.session import open_venues
from tests.integration.conftest import ETH_HEDGE, live_venue
from tests.isolated.helpers import ETH_ISOLATED, isolated_wallet, make_isolated, margin_history

MARGIN_PATH = "/fapi/v1/positionMargin"


def _ledger(tmp_path) -> Ledger:  # type: ignore[no-untyped-def]
    return Ledger.open(f"sqlite:///{tmp_path}/data/ledger.sqlite")


def test_a_refused_reduce_reads_again_and_shrinks(
    paper, venue_env, write_config, bot, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    hedge = {**ETH_ISOLATED, "target_margin_ratio": "0.15", "band": ["0.1", "0.2"]}
    config = write_config({"binance": live_venue(paper.base_url)}, {"eth": hedge})
    # 16000 isolated on 15000 of notional: excess 16000 - 0.15 x 15000 = 13750 is planned
    make_isolated(paper, "ETHUSDT", isolated_wallet="16000", cross_left="0")
    # ...but the mark jumps to 3300 as the reduce arrives: only 16000 - 1500 - 1650 = 12850
    # may leave now, so Binance answers -4051 "Isolated balance insufficient."
    paper.faults.add("move_price_before", path=MARGIN_PATH, symbol="ETHUSDT", price="3300")
    run = bot("rebalance", config=config)
    assert run.exit_code == 0, run.stdout + run.stderr
    # read again: 0.99 x 12850 may leave, but only 14500 - 0.15 x 16500 = 12025 is above target
    assert margin_history(paper) == [("ETHUSDT", 2, D("12025"))]
    assert isolated_wallet(paper, "ETHUSDT") == D("16000") - D("12025")
    assert paper.state.transfers[-1].type == "UMFUTURE_MAIN"
    ledger = _ledger(tmp_path)
    try:
        (move,) = moves(ledger)
        statuses = [leg.status for leg in move.margin_legs]
        assert statuses == [TransferStatus.FAILED, TransferStatus.CONFIRMED]
        assert "-4051" in (move.margin_legs[0].error or "")
        assert half_done_moves(ledger) == []
    finally:
        ledger.close()


def test_a_refused_reduce_with_nothing_left_to_take_stops_with_one_line(
    paper, venue_env, write_config, bot, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    config = write_config({"binance": live_venue(paper.base_url)}, {"eth": ETH_ISOLATED})
    make_isolated(paper, "ETHUSDT", isolated_wallet="16000", cross_left="0")
    # the mark jumps to 5000: uPnL -10000, the hedge is no longer above its target at all
    paper.faults.add("move_price_before", path=MARGIN_PATH, symbol="ETHUSDT", price="5000")
    run = bot("rebalance", config=config)
    assert run.exit_code == 0, run.stdout + run.stderr
    assert margin_history(paper) == []
    assert paper.state.transfers == ()  # nothing left the position, so nothing moves to spot
    stopped = [line for line in run.stdout.splitlines() if "stopped" in line]
    assert len(stopped) == 1, run.stdout
    assert "reduce ETH/USDT:USDT's isolated margin: 0 USDT may come out now" in stopped[0]
    assert "Traceback" not in run.stdout + run.stderr


def test_dry_run_sends_no_margin_change(paper, venue_env, write_config, bot, tmp_path) -> None:  # type: ignore[no-untyped-def]
    config = write_config({"binance": live_venue(paper.base_url)}, {"eth": ETH_ISOLATED})
    make_isolated(paper, "ETHUSDT", isolated_wallet="3000", cross_left="500")
    top_up = bot("rebalance", "--dry-run", config=config)
    assert top_up.exit_code == 0, top_up.stdout + top_up.stderr
    make_isolated(paper, "ETHUSDT", isolated_wallet="16000", cross_left="0")
    back = bot("rebalance", "--dry-run", config=config)
    assert back.exit_code == 0, back.stdout + back.stderr

    assert paper.state.transfers == () and margin_history(paper) == []
    sent = [(m, p) for m, p, _ in paper.exchange.requests if p.endswith("positionMargin")]
    assert sent == []  # refused in the client's transport: nothing reached the exchange
    ledger = _ledger(tmp_path)
    try:
        recorded = moves(ledger, dry_run=True)
        assert [m.move.direction for m in recorded] == ["top_up", "return"]
        for move in recorded:
            assert [leg.status for leg in move.margin_legs] == [TransferStatus.DRY_RUN]
        top_up, back_move = recorded
        assert top_up.transfer is not None and top_up.transfer.status is TransferStatus.DRY_RUN
        # the reduce was not made, so a fresh read finds nothing to move back: skipped
        assert back_move.transfer is not None
        assert back_move.transfer.status is TransferStatus.SKIPPED
        assert half_done_moves(ledger) == []
    finally:
        ledger.close()


def test_a_hedge_pinned_to_cross_on_an_isolated_position_is_refused(
    paper, venue_env, write_config, bot
) -> None:  # type: ignore[no-untyped-def]
    config = write_config(
        {"binance": live_venue(paper.base_url)}, {"eth": {**ETH_HEDGE, "margin_mode": "cross"}}
    )
    make_isolated(paper, "ETHUSDT", isolated_wallet="3000", cross_left="500")
    run = bot("rebalance", config=config)
    assert run.exit_code == 1, run.stdout + run.stderr  # a config to fix: needs attention
    assert paper.state.transfers == () and margin_history(paper) == []
    (line,) = [line for line in run.stdout.splitlines() if "margin_mode" in line]
    assert "ETH/USDT:USDT is in isolated margin on binance" in line
    assert "hedges.eth.margin_mode is cross: refused" in line


def test_a_dry_run_client_refuses_add_and_reduce_in_its_transport(
    paper, venue_env, write_config
) -> None:  # type: ignore[no-untyped-def]
    make_isolated(paper, "ETHUSDT", isolated_wallet="3000", cross_left="500")
    config = load_config(
        write_config({"binance": live_venue(paper.base_url)}, {"eth": ETH_ISOLATED})
    )

    async def both() -> None:
        async with open_venues(config, dry_run=True) as venues:
            venue = venues["binance"]
            position = await venue.read_position("ETH/USDT:USDT")  # reads still pass
            assert position is not None and position.isolated_wallet == D("3000")
            with pytest.raises(DryRunRefused):
                await venue.add_margin("ETH/USDT:USDT", D("100"))
            with pytest.raises(DryRunRefused):
                await venue.reduce_margin("ETH/USDT:USDT", D("100"))

    asyncio.run(both())
    assert margin_history(paper) == []
    assert not [p for _, p, _ in paper.exchange.requests if p.endswith("positionMargin")]


def test_a_misspelt_margin_mode_is_one_line_naming_the_field(tmp_path) -> None:  # type: ignore[no-untyped-def]
    raw = {
        "venues": {"binance": {"exchange": "binance", "paper": True}},
        "hedges": {"eth": {**ETH_ISOLATED, "margin_mode": "isolatd"}},
    }
    with pytest.raises(ConfigError) as raised:
        parse_config(raw, base_dir=tmp_path)
    message = str(raised.value)
    assert "hedges.eth.margin_mode" in message and "\n" not in message.strip()
