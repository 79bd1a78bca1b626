"""A halted venue against the real paper exchange: the other venue goes on, and a changed key
clears the halt (the fingerprint of the venue's config and key, computed from the live config
and environment each time the venues are built)."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path

import pytest

from bot.audit.verify import verify_ledger
from bot.config import parse_config
from bot.cycle.rebalance import rebalance
from bot.ledger import Ledger
from bot.model import TransferStatus
from bot.paper import PAPER_SECRET, PaperExchange, StateStore
from bot.paper.model import SpotBalance
from bot.venues.halts import CHANGED
from tests.integration.conftest import ETH_HEDGE, KEY_ENV, live_venue
from tests.reliability.conftest import FakeTime, make_config, rows

REFUSED = "Invalid API-key, IP, or permissions for action."


async def test_the_other_venue_goes_on_while_one_is_halted(
    paper: PaperExchange, tmp_path: Path, venue_env: None, fake_time: FakeTime
) -> None:
    async with PaperExchange(StateStore(tmp_path / "other.json"), test_hooks=True) as other:
        config = parse_config(
            {
                "ledger": {"url": "sqlite:///ledger.sqlite"},
                "transfers": {"safety": "0.99", "min_amount": "10", "settle_window_seconds": 0},
                "venues": {
                    "binance": live_venue(paper.base_url, ccxt={"enableRateLimit": False}),
                    "other": live_venue(other.base_url, ccxt={"enableRateLimit": False}),
                },
                "hedges": {"eth": ETH_HEDGE, "eth2": {**ETH_HEDGE, "venue": "other"}},
            },
            base_dir=tmp_path,
        )
        ledger = Ledger.open(config.ledger_url)
        paper.faults.add("error", status=401, code=-2015, msg=REFUSED, times=None)
        first = await rebalance(config, ledger, dry_run=False, timing=fake_time.timing())
        assert first.margin is not None and set(first.margin.execution.halted) == {"binance"}
        assert {(t.venue, t.status) for t in first.transfers} == {
            ("binance", TransferStatus.FAILED),
            ("other", TransferStatus.CONFIRMED),
        }
        other.set_mark_price("ETHUSDT", Decimal("3700"))  # again below
        second = await rebalance(config, ledger, dry_run=False, timing=fake_time.timing())
        assert second.margin is not None and set(second.margin.execution.halted) == {"binance"}
        assert [(t.venue, t.status) for t in second.transfers] == [
            ("other", TransferStatus.CONFIRMED)
        ]
        assert paper.faults.fired["error"] == 1 and paper.state.transfers == ()
        assert len(other.state.transfers) == 2
        assert len(ledger.open_halts()) == 1
        ledger.close()


async def test_a_changed_key_clears_the_halt_and_the_next_cycle_sends(
    paper: PaperExchange,
    tmp_path: Path,
    venue_env: None,
    fake_time: FakeTime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = make_config(paper.base_url, tmp_path)
    ledger = Ledger.open(config.ledger_url, key=b"journal key")
    paper.faults.add("error", status=401, code=-2015, msg=REFUSED, times=None)
    for _ in range(3):
        result = await rebalance(config, ledger, dry_run=False, timing=fake_time.timing())
        assert result.margin is not None and "binance" in result.margin.execution.halted
    assert paper.faults.fired["error"] == 1
    assert [r.status for r in rows(ledger)] == [TransferStatus.FAILED]
    (halt,) = ledger.open_halts()
    assert "rotated" not in halt.fingerprint and len(halt.fingerprint) == 64

    # the person makes a new key with the transfer permission: same config, same port
    port = int(paper.base_url.rsplit(":", 1)[1])
    await paper.stop()
    rotated = PaperExchange(
        StateStore(tmp_path / "paper.json"), api_key="rotated-key", secret=PAPER_SECRET
    )
    await rotated.start(port=port)
    try:
        monkeypatch.setenv(KEY_ENV, "rotated-key")
        result = await rebalance(config, ledger, dry_run=False, timing=fake_time.timing())
        assert result.margin is not None and result.margin.execution.halted == {}
        assert [r.status for r in rows(ledger)] == [
            TransferStatus.FAILED,
            TransferStatus.CONFIRMED,
        ]
        assert ledger.open_halts() == []
        ended = ledger.halt_of("binance")
        assert ended is None
        with ledger.engine.connect() as conn:
            state, by, why = conn.exec_driver_sql(
                "SELECT state, ended_by, end_reason FROM venue_halts"
            ).one()
        assert (state, by, why) == ("cleared", "bot", CHANGED)
        assert verify_ledger(ledger).ok
    finally:
        await rotated.stop()
        ledger.close()


async def test_an_empty_source_in_rebalances_stands_once_and_clears_when_no_longer_planned(
    paper: PaperExchange, tmp_path: Path, venue_env: None, fake_time: FakeTime
) -> None:
    from tests.reliability.conftest import edit_state

    def spot_usdt(amount: str):  # type: ignore[no-untyped-def]
        return lambda state: dataclasses.replace(
            state, spot={**state.spot, "USDT": SpotBalance(free=Decimal(amount))}
        )

    config = make_config(paper.base_url, tmp_path)
    ledger = Ledger.open(config.ledger_url)
    edit_state(paper, spot_usdt("5"))  # the top-up is sized 5: under min_amount 10
    for seen in range(1, 4):
        result = await rebalance(config, ledger, dry_run=False, timing=fake_time.timing())
        assert result.transfers == [] and not result.failed
        assert result.margin is not None
        (standing,) = result.margin.execution.not_moved
        assert standing.count == seen
    assert rows(ledger) == [] and len(ledger.open_nothing_to_move()) == 1

    paper.set_mark_price("ETHUSDT", Decimal("2500"))  # in band now
    result = await rebalance(config, ledger, dry_run=False, timing=fake_time.timing())
    assert result.plan.transfers == () or all(
        t.rule.value != "top_up" for t in result.plan.transfers
    )
    assert ledger.open_nothing_to_move() == []  # the rebalance no longer plans it: cleared
    assert verify_ledger(ledger).ok
    ledger.close()
