"""One protective path, as one table: for every hedge kind (USD-M and COIN-M, cross and
isolated), with an unhedged isolated position beside the hedge, every consumer of the margin
figure reports the venue's own ratio (the plan, `bot balances --json`, `bot status --json`,
the metrics, the danger alert), and the guard's top-up and `bot rebalance`'s move the same legs
and the same amounts, leaving the account the same.

Run twice: on the paper exchange through a plain binance venue (`urls`), and on the
independent Binance fake (`tests/fakes/binance_server.py`), whose account holds every kind
side by side; the real CLI, and the guard in-process on a ledger of its own."""

from __future__ import annotations

import asyncio
import copy
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
from bot.cycle.rebalance import inspect
from bot.guard.check import guard
from bot.ledger import Ledger
from bot.ledger.margin_queries import moves
from bot.ledger.queries import TransferFilter, list_transfers
from bot.metrics import Metrics
from bot.model import TransferStatus
from bot.paper import PaperExchangeThread, PaperState
from bot.paper.model import ISOLATED, MarketKind, Position
from bot.policy.margin import RATIO_PLACES, hedge_margins
from tests.fakes.binance.config import HEDGES as FAKE_HEDGES
from tests.fakes.binance.config import venue_config as fake_venue
from tests.fakes.binance.markets import PERPS
from tests.fakes.binance_server import BinanceFakeThread
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


def _config(tmp_path: Path, venue: dict[str, Any], hedge: dict[str, Any], ledger: str) -> Path:
    path = tmp_path / f"{ledger}.yaml"
    config = {
        "ledger": {"url": f"sqlite:///data/{ledger}.sqlite"},
        # untagged amounts, so the guard's and the rebalance's are comparable to the digit
        "transfers": {"safety": "0.99", "min_amount": "0.0001", "amount_tag": "off"},
        "alerts": {"danger_margin_ratio": "0.25"},
        "venues": {"binance": venue},
        "hedges": {"h": {**hedge, "venue": "binance"}},
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


@dataclass(frozen=True)
class Venue:
    """How the table reaches one venue: its config, how to put it back as it was before the
    first move, and what of its account the moves change."""

    config: dict[str, Any]
    restore: Callable[[], None]
    account: Callable[[], Any]


def _one_path(
    bot, tmp_path: Path, venue: Venue, hedge: dict[str, Any], ratio: D, legs: int
) -> None:  # type: ignore[no-untyped-def]
    """Every consumer reads `ratio` for the hedge; the guard's top-up and bot rebalance's move
    the same `legs` legs and amounts, and leave the account the same."""
    first = _config(tmp_path, venue.config, hedge, "guard")

    # the plan: one top-up of the hedge, at the venue's own ratio
    plan = bot("plan", "--json", config=first)
    assert plan.exit_code == 0, plan.stdout + plan.stderr
    (line,) = plan.json()["transfers"]
    assert D(line["figures"]["margin_ratio"]) == ratio
    assert (line["rule"], line["from_account"]) == ("top_up", "spot")
    planned = D(line["amount"])

    # bot balances --json
    balances = bot("balances", "--json", config=first)
    assert D(balances.json()["margins"]["h"]["margin_ratio"]) == ratio

    # the metrics and the danger alert, from the same read
    config = load_config(first)
    state, _, errors = asyncio.run(inspect(config))
    assert not errors
    margins = hedge_margins(state, config.hedges)
    metrics = Metrics()
    metrics.observe_state(state, margins)
    gauge = metrics.registry.get_sample_value("bot_hedge_margin_ratio", {"hedge": "h"})
    assert gauge == pytest.approx(float(ratio), abs=1e-6)
    alert = margin_danger(Facts(kind="guard", now=state.read_at, margins=margins), config)
    assert f"margin ratio {ratio:.4f}" in alert.firing["margin:h"]

    # bot status --json judges the recorded read (a dry run records it, moves nothing)
    assert bot("rebalance", "--dry-run", config=first).exit_code == 0
    status = bot("status", "--json", config=first)
    assert D(status.json()["margins"]["h"]["margin_ratio"]) == ratio

    # the guard's top-up, in-process, on this ledger
    ledger = Ledger.open(config.ledger_url, key=config.ledger_key)
    try:
        result = asyncio.run(guard(config, ledger))
        assert result.cycle is not None and not result.cycle.failed, result.cycle
        by_guard = _moved(ledger)
    finally:
        ledger.engine.dispose()
    after_guard = venue.account()
    assert len(by_guard) == legs
    assert by_guard[0][3] == planned  # the whole need, in one transfer
    if legs == 2:
        assert by_guard[1][0] == "add" and by_guard[1][3] == planned

    # the same account, a ledger of its own: bot rebalance moves the same legs
    venue.restore()
    second = _config(tmp_path, venue.config, hedge, "rebalance")
    rebalanced = bot("rebalance", config=second)
    assert rebalanced.exit_code == 0, rebalanced.stdout + rebalanced.stderr
    other = Ledger.open(load_config(second).ledger_url, key=config.ledger_key)
    try:
        assert _moved(other) == by_guard
    finally:
        other.engine.dispose()
    assert venue.account() == after_guard

    # after the move every consumer reads the new figure: status judges the read after it
    status = bot("status", "--json", config=second)
    lifted = D(status.json()["margins"]["h"]["margin_ratio"])
    after = bot("balances", "--json", config=second)
    assert lifted == D(after.json()["margins"]["h"]["margin_ratio"])
    assert lifted >= hedge_target(hedge) - D("0.001")  # back at target (to the step)


def hedge_target(hedge: dict[str, Any]) -> D:
    return D(str(hedge["target_margin_ratio"]))


def _paper_account(paper: PaperExchangeThread) -> tuple[Any, ...]:
    state = paper.store.state
    return (
        tuple(sorted((a, b.free) for a, b in state.spot.items())),
        tuple(sorted((a, b.wallet_balance) for a, b in state.usdm.items())),
        tuple(sorted((a, b.wallet_balance) for a, b in state.coinm.items())),
        tuple(sorted((p.symbol, p.isolated_wallet) for p in state.positions)),
    )


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_one_path_on_paper(
    case: Case, paper: PaperExchangeThread, venue_env: None, bot, tmp_path: Path
) -> None:
    edit_state(paper, case.change)
    start = paper.store.state
    venue = Venue(
        live_venue(paper.base_url),
        restore=lambda: edit_state(paper, lambda _: start),
        account=lambda: _paper_account(paper),
    )
    _one_path(bot, tmp_path, venue, case.hedge, case.ratio, case.legs)


# the independent fake: every kind side by side in one account (an unhedged isolated BTCUSDT
# among them), each hedge taken under the danger line by its own mark
FAKE_RALLIES = {
    "eth_usdm_cross": ("ETHUSDT", "3700", 1),
    "sol_usdm_isolated": ("SOLUSDT", "185", 2),
    "btc_coinm_cross": ("BTCUSD_PERP", "95000", 1),
    "ada_coinm_isolated": ("ADAUSD_PERP", "0.8", 2),
}


def _fake_ratio(fake: BinanceFakeThread, symbol: str) -> D:
    """The venue's own figure for the hedge's pool, from the fake's accounting: isolated
    wallet + its PnL, or the cross wallet + cross PnL, over the pool's notional."""
    account = fake.account
    with account.lock:
        position = account.positions[symbol]
        figures = account.figures(position)
        if position.isolated:
            equity, notional = position.isolated_wallet + figures.upnl, abs(figures.notional)
        else:
            market = PERPS[symbol]
            pool = account.asset_figures(market.family, market.margin_asset)
            equity = pool.cross_wallet + pool.cross_upnl
            notional = sum(
                (
                    abs(account.figures(p).notional)
                    for p in account.open_positions(market.family, market.margin_asset)
                    if not p.isolated
                ),
                D(0),
            )
    return (equity / notional).quantize(RATIO_PLACES)


def _fake_account(fake: BinanceFakeThread) -> tuple[Any, ...]:
    account = fake.account
    with account.lock:
        return (
            tuple(sorted(account.spot.items())),
            tuple(sorted((f, tuple(sorted(w.items()))) for f, w in account.cross.items())),
            tuple(sorted((s, p.isolated_wallet) for s, p in account.positions.items())),
        )


@pytest.mark.parametrize("name", sorted(FAKE_RALLIES))
def test_one_path_on_the_fake(
    name: str, binance: BinanceFakeThread, binance_env: None, bot, tmp_path: Path
) -> None:
    symbol, mark, legs = FAKE_RALLIES[name]
    binance.account.set_mark(symbol, mark)
    ratio = _fake_ratio(binance, symbol)
    assert ratio < D("0.25")  # under the danger line, by the venue's own figures
    with binance.account.lock:
        start = copy.deepcopy(
            (binance.account.spot, binance.account.cross, binance.account.positions)
        )

    def restore() -> None:
        with binance.account.lock:
            spot, cross, positions = copy.deepcopy(start)
            binance.account.spot, binance.account.cross = spot, cross
            binance.account.positions = positions

    venue = Venue(
        fake_venue(binance.base_url), restore=restore, account=lambda: _fake_account(binance)
    )
    _one_path(bot, tmp_path, venue, FAKE_HEDGES[name], ratio, legs)
