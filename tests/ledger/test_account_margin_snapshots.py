"""A read of a unified account keeps the account's own figure (migration 0012), so `bot status`
and `bot report` judge the recorded read as the plan judged it live, and the row is journaled."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

from bot.audit.verify import verify_ledger
from bot.ledger import Ledger
from bot.ledger.snapshots import latest_read
from bot.model import (
    AccountMargin,
    MarketKind,
    PerpMarket,
    State,
    VenueState,
    Wallet,
)
from bot.policy.margin import hedge_margins
from tests.policy.test_account_policy import BTC_SHORT, bybit_hedge

READ_AT = datetime(2026, 12, 7, 12, tzinfo=UTC)
FIGURE = AccountMargin(
    figure="accountMMRate",
    value=D("0.2"),
    liquidation_at=D(1),
    higher_is_safer=False,
    equity=D("2500.12345678"),
    requirement=D("500.0000000001"),
)


def unified_read() -> VenueState:
    market = PerpMarket(
        symbol="BTC/USDT:USDT",
        kind=MarketKind.LINEAR,
        base="BTC",
        quote="USDT",
        settle="USDT",
        contract_size=D(1),
        futures_account="unified",
    )
    wallets = [
        Wallet(
            account=account,
            asset="USDT",
            free=D(amount),
            used=D(0),
            balance=D(amount),
            transferable=D(amount),
        )
        for account, amount in (("unified", "2500.12345678"), ("funding", "9000"))
    ]
    return VenueState(
        venue="bybit",
        read_at=READ_AT,
        wallets={(w.account, w.asset): w for w in wallets},
        positions={BTC_SHORT.symbol: BTC_SHORT},
        markets={market.symbol: market},
        shared_collateral=True,
        account_margin=FIGURE,
    )


def test_the_recorded_read_is_judged_by_the_accounts_figure(ledger: Ledger) -> None:
    run = ledger.start_run("rebalance", dry_run=False, config_digest="x")
    ledger.record_snapshot(run, State(read_at=READ_AT, venues={"bybit": unified_read()}))
    read = latest_read(ledger, "bybit", ["BTC/USDT:USDT"])
    assert read is not None
    assert read.account_margin == FIGURE and read.shared_collateral
    assert read.markets["BTC/USDT:USDT"].futures_account == "unified"
    hedges = {"btc": bybit_hedge()}
    live = hedge_margins(State(read_at=READ_AT, venues={"bybit": unified_read()}), hedges)
    recorded = hedge_margins(State(read_at=READ_AT, venues={"bybit": read}), hedges)
    assert recorded == live
    assert recorded["btc"].under(D("0.25"))  # 0.2 is beyond the band's edge 0.15
    assert verify_ledger(ledger).ok
