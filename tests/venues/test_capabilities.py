"""Which venues may carry a hedge, from their capabilities alone (pure), and what a unified
margin venue plans (nothing, with the reason)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal as D

import ccxt.async_support as ccxt
import pytest

from bot.model import MarketKind, PerpMarket, State, VenueState
from bot.policy import plan_transfers
from bot.venues.base import Capabilities, hedge_refusal
from bot.venues.generic import CcxtVenue as Venue
from bot.venues.registry import venue_class
from bot.venues.unified import UnifiedMarginVenue
from tests.policy.test_policy import hedge

FULL = Capabilities(
    exchange_id="x",
    balances=True,
    positions=True,
    funding=True,
    transfer=True,
    transfer_history=True,
    client_ids=None,
    websocket_balance=False,
    shared_collateral=False,
    swap_markets=10,
    accounts=("spot", "swap"),
)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({}, None),
        ({"transfer": False, "transfer_history": False}, None),  # manual moves are fine
        ({"balances": False}, "cannot read balances"),
        ({"positions": False}, "cannot read positions"),
        ({"swap_markets": 0}, "no perpetual swap markets"),
        ({"transfer_history": False}, "could never be settled"),
        ({"transfer_history": False, "shared_collateral": True}, None),  # never transfers
    ],
)
def test_hedge_refusal(change: dict, reason: str | None) -> None:
    refusal = hedge_refusal(replace(FULL, **change))
    assert (refusal is None) if reason is None else (reason in (refusal or ""))


def test_real_ccxt_classes_report_their_capabilities() -> None:
    for exchange_id in ("binance", "bybit", "okx", "kucoin"):
        client = getattr(ccxt, exchange_id)()
        venue = venue_class(exchange_id)(exchange_id, client, {})
        caps = venue.capabilities()
        assert caps.balances and caps.positions and caps.transfer
        assert caps.transfer_history, exchange_id  # each can settle a lost answer
    # ccxt's gate transfers but cannot list transfers: a lost answer could never be settled
    gate = Venue("gate", ccxt.gate(), {}).capabilities()
    assert "could never be settled" in (hedge_refusal(replace(gate, swap_markets=1)) or "")
    bybit = venue_class("bybit")("bybit", ccxt.bybit(), {})
    assert isinstance(bybit, UnifiedMarginVenue) and bybit.capabilities().shared_collateral
    assert bybit.capabilities().client_ids == "transferId (deduped)"
    assert isinstance(venue_class("someccxtid"), type) and venue_class("someccxtid") is Venue


def test_a_unified_hedge_not_in_the_accounts_terms_plans_nothing_and_says_why() -> None:
    market = PerpMarket(
        symbol="ETH/USDT:USDT",
        kind=MarketKind.LINEAR,
        base="ETH",
        quote="USDT",
        settle="USDT",
        contract_size=D(1),
        futures_account="unified",
    )
    now = datetime.now(UTC)
    venue = VenueState(
        venue="bybit", read_at=now, markets={market.symbol: market}, shared_collateral=True
    )
    plan = plan_transfers(
        State(read_at=now, venues={"bybit": venue}), {"eth": hedge(venue="bybit")}
    )
    assert plan.transfers == ()
    assert "judged in its own figure: set reserve_wallet" in plan.notes[0].message
