"""The funding streak's history comes from the ledger's funding snapshots: the last rate read
before each funding time is that period's settled rate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path

from bot.funding.history import settled_rates
from bot.ledger.store import Ledger
from bot.model import Flag, Funding, State, VenueState
from bot.policy import plan_transfers
from tests.policy.test_policy import ETH_PERP, hedge, short, wallet

NOW = datetime(2026, 11, 21, 12, tzinfo=UTC)
PERIOD = timedelta(hours=8)


def snapshot(ledger: Ledger, read_at: datetime, rate: str, next_at: datetime) -> None:
    run_id = ledger.start_run("rebalance", dry_run=True, config_digest="x")
    funding = Funding(
        symbol=ETH_PERP.symbol, rate=D(rate), mark_price=None, next_funding_at=next_at
    )
    venue = VenueState(venue="paper", read_at=read_at, funding={ETH_PERP.symbol: funding})
    ledger.record_snapshot(run_id, State(read_at=read_at, venues={"paper": venue}))
    ledger.finish_run(run_id, "ok", None)


def test_the_last_read_of_each_past_period_is_its_settled_rate(tmp_path: Path) -> None:
    ledger = Ledger.open(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    first, second, current = NOW - 2 * PERIOD + timedelta(hours=4), NOW - PERIOD, NOW + PERIOD
    snapshot(ledger, first - timedelta(hours=5), "0.0001", first)  # overwritten by the later read
    snapshot(ledger, first - timedelta(hours=1), "-0.0002", first)
    snapshot(ledger, second - timedelta(hours=1), "-0.0003", second)
    snapshot(ledger, NOW, "-0.0001", current)  # the current period is not settled yet
    history = settled_rates(ledger, [("paper", ETH_PERP.symbol)], NOW)
    assert history == {("paper", ETH_PERP.symbol): [D("-0.0002"), D("-0.0003")]}
    assert settled_rates(ledger, [("other", ETH_PERP.symbol)], NOW) == {}

    venue = VenueState(
        venue="paper",
        read_at=NOW,
        wallets={
            ("spot", "ETH"): wallet("spot", "ETH", "5"),
            ("linear", "USDT"): wallet("linear", "USDT", "7500"),
        },
        positions={ETH_PERP.symbol: short(ETH_PERP.symbol, "15000", contracts="5")},
        funding={
            ETH_PERP.symbol: Funding(symbol=ETH_PERP.symbol, rate=D("-0.0001"), mark_price=None)
        },
        markets={ETH_PERP.symbol: ETH_PERP},
    )
    plan = plan_transfers(
        State(read_at=NOW, venues={"paper": venue}), {"eth": hedge()}, funding_history=history
    )
    (alert,) = plan.alerts
    assert alert.flag is Flag.FUNDING_AGAINST and "3 periods in a row" in alert.message
    ledger.close()
