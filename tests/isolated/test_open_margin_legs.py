"""A margin leg whose outcome is unknown reaches the exit code and `bot status`: the paper
exchange applies a reduce and answers HTTP 500, so the leg is `unknown`. `bot rebalance` exits
1, `bot status` exits 1 naming the leg, `bot reconcile` settles it against the venue's margin
history, and the next rebalance finishes the move: status is clean. End to end, through the
CLI and the real ccxt client."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from bot.ledger import Ledger
from bot.ledger.margin_queries import moves
from bot.model import TransferStatus
from bot.paper import PaperExchangeThread
from tests.integration.conftest import Invocation, live_venue
from tests.isolated.helpers import ETH_ISOLATED, make_isolated, margin_history

MARGIN_PATH = "/fapi/v1/positionMargin"
TRANSFERS = {"safety": "0.99", "min_amount": "10", "settle_window_seconds": 0}


def test_an_unknown_reduce_fails_the_run_and_status_until_reconciled(
    paper: PaperExchangeThread,
    venue_env: None,
    write_config: Callable[..., Path],
    bot: Callable[..., Invocation],
    tmp_path: Path,
) -> None:
    config = write_config(
        {"binance": live_venue(paper.base_url)}, {"eth": ETH_ISOLATED}, transfers=TRANSFERS
    )
    # 16000 isolated on 15000 of notional: far above the band, so a reduce, then a transfer
    make_isolated(paper, "ETHUSDT", isolated_wallet="16000", cross_left="0")
    paper.faults.add("http_500_after", path=MARGIN_PATH)  # applied and persisted, then 500

    run = bot("rebalance", config=config)
    assert run.exit_code == 1, run.stdout + run.stderr
    assert "Traceback" not in run.stdout + run.stderr
    (reduced,) = margin_history(paper)  # the venue applied it once; nothing moved to spot
    assert reduced[:2] == ("ETHUSDT", 2) and paper.state.transfers == ()

    status = bot("status", config=config)
    assert status.exit_code == 1, status.stdout + status.stderr
    assert "margin leg 1: unknown reduce" in status.stdout, status.stdout
    assert "open transfers: none" in status.stdout  # it is a margin leg, not a transfer
    listed = json.loads(bot("status", "--json", config=config).stdout)
    (leg,) = listed["open_margin_legs"]
    assert (leg["id"], leg["venue"], leg["symbol"], leg["change"], leg["status"]) == (
        1,
        "binance",
        "ETH/USDT:USDT",
        "reduce",
        "unknown",
    )
    assert leg["amount"] == str(reduced[2]) and leg["since"]
    assert any("margin leg 1 (binance ETH/USDT:USDT reduce" in a for a in listed["attention"])

    settled = bot("reconcile", config=config)
    assert settled.exit_code == 0, settled.stdout + settled.stderr
    assert "margin leg 1 (reduce" in settled.stdout and "is confirmed" in settled.stdout
    after = bot("status", "--json", config=config)
    assert json.loads(after.stdout)["open_margin_legs"] == []
    # settled, the move is half done (out of the position, not yet on spot): said so, and the
    # next rebalance finishes it
    assert json.loads(after.stdout)["half_done"], after.stdout

    finished = bot("rebalance", config=config)
    assert finished.exit_code == 0, finished.stdout + finished.stderr
    clean = bot("status", config=config)
    assert clean.exit_code == 0, clean.stdout
    assert "open margin legs: none" in clean.stdout
    assert len(margin_history(paper)) == 1  # the reduce was never sent twice
    (back,) = paper.state.transfers
    assert back.type == "UMFUTURE_MAIN" and back.amount <= reduced[2]
    ledger = Ledger.open(f"sqlite:///{tmp_path}/data/ledger.sqlite")
    try:
        (move,) = moves(ledger)
        assert [leg.status for leg in move.margin_legs] == [TransferStatus.CONFIRMED]
        assert move.margin_legs[0].settled_by == "history"
    finally:
        ledger.close()
