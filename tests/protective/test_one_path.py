"""One protective path, as one table: for every hedge kind (USD-M and COIN-M, cross and
isolated), with an unhedged isolated position beside the hedge where the venue allows one in
the same wallet, every consumer of the margin figure reports the same ratio (the plan, `bot
balances --json`, `bot status --json`, the metrics, the danger alert), and the guard's top-up
and `bot rebalance`'s move the same legs and the same amounts, leaving the account the same.

Driven against the paper exchange through a plain binance venue (`urls`), the real CLI, and
the guard in-process on a ledger of its own."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.alerts.conditions import Facts, margin_danger
from bot.config import load_config
from bot.cycle import inspect
from bot.guard import guard
from bot.ledger import Ledger
from bot.ledger.margin_queries import moves
from bot.ledger.queries import TransferFilter, list_transfers
from bot.metrics import Metrics
from bot.model import TransferStatus
from bot.paper import PaperExchangeThread, PaperState
from bot.paper.model import ISOLATED, MarketKind, Position
from bot.policy.margin import hedge_margins
from tests.integration.conftest import ETH_HEDGE, edit_state, live_venue
from tests.isolated.helpers import BTC_INVERSE_ISOLATED

NOW_MS = 1796611407024


@dataclass(frozen=True)
class Case:
    name: str
    hedge: dict[str, Any]
    change: Callable[[PaperState], PaperState]
    ratio: D  # what the venue's own figures make of it
    legs: int  # 1: a wallet transfer; 2: and a margin add


def _wallet(state: PaperState, kind: str, asset: str, balance: str) -> PaperState:
    wallets = dict(state.usdm if kind == "linear" else state.coinm)
    wallets[asset] = dataclasses.replace(wallets[asset], wallet_balance=D(balance))
    return dataclasses.replace(state, **{"usdm" if kind == "linear" else "coinm": wallets})


def _isolate(state: PaperState, symbol: str, wallet: str) -> PaperState:
    positions = tuple(
        dataclasses.replace(p, margin_type=ISOLATED, isolated_wallet=D(wallet))
        if p.symbol == symbol
        else p
        for p in state.positions
    )
    return dataclasses.replace(state, positions=positions)


def _with_unhedged_isolated_btcusdt(state: PaperState) -> PaperState:
    """A BTCUSDT short nobody hedges, isolated with 10000 USDT of its own in the USD-M wallet."""
    extra = Position(
        kind=MarketKind.LINEAR,
        symbol="BTCUSDT",
        amount=D("-0.1"),
        entry_price=D("60000"),
        leverage=10,
        update_time=NOW_MS,
        commission_rate=D("0.0005"),
        margin_type=ISOLATED,
        isolated_wallet=D("10000"),
    )
    return dataclasses.replace(state, positions=(*state.positions, extra))


def usdm_cross(state: PaperState) -> PaperState:
    # cross 3000 for a 15000 short (0.20) + the unhedged isolated wallet's 10000
    return _wallet(_with_unhedged_isolated_btcusdt(state), "linear", "USDT", "13000")


def usdm_isolated(state: PaperState) -> PaperState:
    # ETH isolated with 3000 (0.20), 5000 idle in the cross wallet, + the unhedged 10000
    state = _isolate(_with_unhedged_isolated_btcusdt(state), "ETHUSDT", "3000")
    return _wallet(state, "linear", "USDT", "18000")


def coinm_cross(state: PaperState) -> PaperState:
    # 0.1 BTC for a 0.5 BTC short (300 contracts of 100 USD at 60000): 0.20
    return _wallet(state, "inverse", "BTC", "0.1")


def coinm_isolated(state: PaperState) -> PaperState:
    # isolated with 0.1 BTC (0.20), 0.2 BTC idle in the cross wallet
    return _wallet(_isolate(state, "BTCUSD_PERP", "0.1"), "inverse", "BTC", "0.3")


BTC_INVERSE_CROSS = {**BTC_INVERSE_ISOLATED, "margin_mode": "cross"}
ETH_CROSS = {**ETH_HEDGE, "margin_mode": "cross"}
ETH_ISOLATED = {**ETH_HEDGE, "margin_mode": "isolated"}

CASES = [
    Case("usdm-cross", ETH_CROSS, usdm_cross, D("0.2"), 1),
    Case("usdm-isolated", ETH_ISOLATED, usdm_isolated, D("0.2"), 2),
    Case("coinm-cross", BTC_INVERSE_CROSS, coinm_cross, D("0.2"), 1),
    Case("coinm-isolated", BTC_INVERSE_ISOLATED, coinm_isolated, D("0.2"), 2),
]


def _config(tmp_path: Path, paper: PaperExchangeThread, case: Case, ledger: str) -> Path:
    path = tmp_path / f"{ledger}.yaml"
    config = {
        "ledger": {"url": f"sqlite:///data/{ledger}.sqlite"},
        # untagged amounts, so the guard's and the rebalance's are comparable to the digit
        "transfers": {"safety": "0.99", "min_amount": "0.0001", "amount_tag": "off"},
        "alerts": {"danger_margin_ratio": "0.25"},
        "venues": {"binance": live_venue(paper.base_url)},
        "hedges": {"h": case.hedge},
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def _moved(ledger: Ledger) -> list[tuple[str, str, str, D]]:
    """What a run moved, in order: wallet transfers and margin legs, confirmed."""
    legs: list[tuple[str, str, str, D]] = [
        (t.from_account, t.to_account, t.asset, t.amount)  # type: ignore[misc]
        for t in list_transfers(ledger, TransferFilter())
        if t.status is TransferStatus.CONFIRMED
    ]
    for move in moves(ledger):
        for leg in move.margin_legs:
            if leg.status is TransferStatus.CONFIRMED:
                legs.append(("add" if leg.add else "reduce", leg.symbol, leg.asset, leg.amount))
    return legs


def _account(paper: PaperExchangeThread) -> tuple[Any, ...]:
    state = paper.store.state
    return (
        tuple(sorted((a, b.free) for a, b in state.spot.items())),
        tuple(sorted((a, b.wallet_balance) for a, b in state.usdm.items())),
        tuple(sorted((a, b.wallet_balance) for a, b in state.coinm.items())),
        tuple(sorted((p.symbol, p.isolated_wallet) for p in state.positions)),
    )


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_every_consumer_reads_one_figure_and_the_guard_moves_what_rebalance_moves(
    case: Case, paper: PaperExchangeThread, venue_env: None, bot, tmp_path: Path
) -> None:
    edit_state(paper, case.change)
    start = paper.store.state
    first = _config(tmp_path, paper, case, "guard")

    # the plan: one top-up of the hedge, at the venue's own ratio
    plan = bot("plan", "--json", config=first)
    assert plan.exit_code == 0, plan.stdout + plan.stderr
    (line,) = plan.json()["transfers"]
    assert D(line["figures"]["margin_ratio"]) == case.ratio
    assert (line["rule"], line["from_account"]) == ("top_up", "spot")
    planned = D(line["amount"])

    # bot balances --json
    balances = bot("balances", "--json", config=first)
    assert D(balances.json()["margins"]["h"]["margin_ratio"]) == case.ratio

    # the metrics and the danger alert, from the same read
    config = load_config(first)
    state, _, errors = asyncio.run(inspect(config))
    assert not errors
    margins = hedge_margins(state, config.hedges)
    metrics = Metrics()
    metrics.observe_state(state, margins)
    gauge = metrics.registry.get_sample_value("bot_hedge_margin_ratio", {"hedge": "h"})
    assert gauge == pytest.approx(float(case.ratio))
    alert = margin_danger(Facts(kind="guard", now=state.read_at, margins=margins), config)
    assert f"margin ratio {case.ratio:.4f}" in alert.firing["margin:h"]

    # bot status --json judges the recorded read (a dry run records it, moves nothing)
    assert bot("rebalance", "--dry-run", config=first).exit_code == 0
    status = bot("status", "--json", config=first)
    assert D(status.json()["margins"]["h"]["margin_ratio"]) == case.ratio

    # the guard's top-up, in-process, on this ledger
    ledger = Ledger.open(config.ledger_url, key=config.ledger_key)
    try:
        result = asyncio.run(guard(config, ledger))
        assert result.cycle is not None and not result.cycle.failed, result.cycle
        by_guard = _moved(ledger)
    finally:
        ledger.engine.dispose()
    after_guard = _account(paper)
    assert len(by_guard) == case.legs
    assert by_guard[0][3] == planned  # the whole need, in one transfer
    if case.legs == 2:
        assert by_guard[1][0] == "add" and by_guard[1][3] == planned

    # the same account, a ledger of its own: bot rebalance moves the same legs
    edit_state(paper, lambda _: start)
    second = _config(tmp_path, paper, case, "rebalance")
    rebalanced = bot("rebalance", config=second)
    assert rebalanced.exit_code == 0, rebalanced.stdout + rebalanced.stderr
    other = Ledger.open(load_config(second).ledger_url, key=config.ledger_key)
    try:
        assert _moved(other) == by_guard
    finally:
        other.engine.dispose()
    assert _account(paper) == after_guard

    # after the move every consumer reads the new figure: status judges the read after it
    status = bot("status", "--json", config=second)
    lifted = D(status.json()["margins"]["h"]["margin_ratio"])
    after = bot("balances", "--json", config=second)
    assert lifted == D(after.json()["margins"]["h"]["margin_ratio"]) == D("0.5")
