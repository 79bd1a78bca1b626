"""End to end on the paper exchange, over HTTP through the real ccxt client: an isolated
USD-M and an isolated COIN-M hedge are topped up and returned in two legs."""

from __future__ import annotations

from decimal import Decimal as D

from bot.audit.verify import verify_ledger
from bot.ledger import Ledger
from bot.ledger.margin_queries import moves
from bot.model import TransferStatus
from bot.transfers.margin_legs import half_done_moves
from tests.integration.conftest import live_venue
from tests.isolated.helpers import (
    BTC_INVERSE_ISOLATED,
    ETH_ISOLATED,
    isolated_wallet,
    make_isolated,
    margin_history,
)


def _ledger(tmp_path) -> Ledger:  # type: ignore[no-untyped-def]
    return Ledger.open(f"sqlite:///{tmp_path}/data/ledger.sqlite")


def test_usdm_isolated_top_up_then_return(paper, venue_env, write_config, bot, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # ratio (3000 + 0) / 15000 = 0.2, below [0.4, 0.6]: 0.5 x 15000 - 3000 = 4500 to add
    make_isolated(paper, "ETHUSDT", isolated_wallet="3000", cross_left="500")
    config = write_config({"binance": live_venue(paper.base_url)}, {"eth": ETH_ISOLATED})

    plan = bot("plan", config=config)
    assert plan.exit_code == 0, plan.stdout + plan.stderr
    assert "isolated: margin ratio 0.20 (isolated wallet 3000 + uPnL 0 / notional 15000)" in (
        plan.stdout
    )
    assert "then add 4500 to ETH/USDT:USDT's margin" in plan.stdout

    run = bot("rebalance", config=config)
    assert run.exit_code == 0, run.stdout + run.stderr
    (transfer,) = paper.state.transfers
    assert transfer.type == "MAIN_UMFUTURE"
    # leg 2 adds exactly what leg 1 moved (the amount less its tag)
    assert margin_history(paper) == [("ETHUSDT", 1, transfer.amount)]
    assert isolated_wallet(paper, "ETHUSDT") == D("3000") + transfer.amount
    assert "margin: binance move 1: add" in run.stdout

    # the cross wallet's maxWithdrawAmount does not move with the isolated position's PnL
    before = _max_withdraw(paper)
    paper.call(lambda: paper.store.commit(paper.store.state.with_mark_price("ETH", D("3300"))))
    assert _max_withdraw(paper) == before

    # now far above the band: isolated wallet 16000, ratio ~0.97 -> reduce, then move back
    make_isolated(paper, "ETHUSDT", isolated_wallet="16000", cross_left="0")
    paper.call(lambda: paper.store.commit(paper.store.state.with_mark_price("ETH", D("3000"))))
    back = bot("rebalance", config=config)
    assert back.exit_code == 0, back.stdout + back.stderr
    reduce = margin_history(paper)[-1]
    assert reduce == ("ETHUSDT", 2, D("8500"))  # 16000 - 0.5 x 15000
    returned = paper.state.transfers[-1]
    assert returned.type == "UMFUTURE_MAIN"
    assert returned.amount <= D("8500")
    assert isolated_wallet(paper, "ETHUSDT") == D("7500")

    ledger = _ledger(tmp_path)
    try:
        recorded = moves(ledger)
        assert [m.move.direction for m in recorded] == ["top_up", "return"]
        assert all(m.transfer and m.transfer.status is TransferStatus.CONFIRMED for m in recorded)
        assert all(
            m.margin_leg and m.margin_leg.status is TransferStatus.CONFIRMED for m in recorded
        )
        assert half_done_moves(ledger) == []
        assert verify_ledger(ledger).ok
    finally:
        ledger.close()


def test_coinm_isolated_top_up_then_return(paper, venue_env, write_config, bot, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # BTCUSD_PERP: -300 contracts x 100 USD at 60000 = 0.5 BTC of notional; 0.1 BTC isolated
    make_isolated(paper, "BTCUSD_PERP", isolated_wallet="0.1", cross_left="0.05")
    config = write_config(
        {"binance": live_venue(paper.base_url)},
        {"btc": BTC_INVERSE_ISOLATED},
        transfers={"safety": "0.99", "min_amount": "0.001", "max_amount": None},
    )
    run = bot("rebalance", config=config)
    assert run.exit_code == 0, run.stdout + run.stderr
    (transfer,) = paper.state.transfers
    assert (transfer.type, transfer.asset) == ("MAIN_CMFUTURE", "BTC")
    assert margin_history(paper) == [("BTCUSD_PERP", 1, transfer.amount)]
    assert isolated_wallet(paper, "BTCUSD_PERP") == D("0.1") + transfer.amount
    assert D("0.1499") < transfer.amount <= D("0.15")

    make_isolated(paper, "BTCUSD_PERP", isolated_wallet="0.45", cross_left="0")
    back = bot("rebalance", config=config)
    assert back.exit_code == 0, back.stdout + back.stderr
    assert margin_history(paper)[-1] == ("BTCUSD_PERP", 2, D("0.2"))  # 0.45 - 0.5 x 0.5
    assert paper.state.transfers[-1].type == "CMFUTURE_MAIN"
    assert isolated_wallet(paper, "BTCUSD_PERP") == D("0.25")


def _max_withdraw(paper) -> D:  # type: ignore[no-untyped-def]
    from bot.paper.accounting import account_figures
    from bot.paper.model import MarketKind

    return account_figures(paper.state, MarketKind.LINEAR).wallets["USDT"].max_withdraw_amount
