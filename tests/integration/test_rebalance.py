"""`bot rebalance` end to end: config -> real ccxt over HTTP -> state -> policy -> sized
transfer -> ledger, against a paper exchange reached only through the venue's `urls`."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal as D
from pathlib import Path

from bot.paper import PaperExchangeThread
from tests.amounts import sent
from tests.integration.conftest import (
    ETH_HEDGE,
    Invocation,
    live_venue,
    set_spot,
    set_usdm_short,
)

Bot = Callable[..., Invocation]


def history(paper: PaperExchangeThread) -> list[tuple[str, str, D]]:
    return [(t.type, t.asset, t.amount) for t in paper.state.transfers]


def test_rebalance_moves_the_planned_amount_once_and_records_it(
    paper: PaperExchangeThread, config_file: Path, bot: Bot
) -> None:
    first = bot("rebalance", config=config_file)
    assert first.exit_code == 0, first.stdout + first.stderr
    assert "below band [0.4, 0.6]" in first.stdout and "confirmed" in first.stdout
    # equity 4500 / notional 15000 = 0.30 -> target 0.5 needs 3000 USDT spot -> USD-M
    assert history(paper) == [("MAIN_UMFUTURE", "USDT", sent("3000", 1))]
    assert paper.state.usdm["USDT"].wallet_balance == D("4500") + sent("3000", 1)

    (row,) = bot("ledger", "list", "--json", config=config_file).json()
    assert row["status"] == "confirmed"
    assert row["exchange_id"] == str(paper.state.transfers[0].tran_id)
    assert (row["planned_amount"], row["amount"], row["attempts"]) == ("3000", "2999.99999999", 1)
    assert row["amount_tag"] == "0.00000001"  # intent 1: no client id on Binance
    assert (row["from_account"], row["to_account"], row["asset"]) == ("spot", "linear", "USDT")
    assert row["created_at"].endswith("Z") and "margin ratio 0.3000" in row["reason"]

    second = bot("rebalance", config=config_file)
    assert second.exit_code == 0
    assert "inside band" in second.stdout
    assert len(paper.state.transfers) == 1  # an immediate second run moves nothing
    assert bot("ledger", "verify", config=config_file).exit_code == 0


def test_dry_run_records_dry_run_rows_and_moves_nothing(
    paper: PaperExchangeThread, config_file: Path, bot: Bot
) -> None:
    before = paper.state
    result = bot("rebalance", "--dry-run", config=config_file)
    assert result.exit_code == 0, result.stderr
    assert "dry run" in result.stdout
    assert paper.state.transfers == () and paper.state.spot == before.spot
    (row,) = bot("ledger", "list", "--json", "--status", "dry_run", config=config_file).json()
    assert (
        row["amount"] == "2999.99999999" and row["dry_run"] is True and row["exchange_id"] is None
    )


def test_a_top_up_the_fresh_read_covers_is_sent_whole_in_one_transfer(
    paper: PaperExchangeThread, config_file: Path, bot: Bot
) -> None:
    set_spot(paper, "USDT", "2000.99999999")  # less than the 3000 the hedge needs
    assert bot("rebalance", config=config_file).exit_code == 0
    # policy: top up with what spot has; executor: the fresh read covers that plan, so all of
    # it goes now (not 99% now and 1% on the next tick); 99% only when the read falls short
    assert history(paper) == [("MAIN_UMFUTURE", "USDT", sent("2000.99999999", 1))]


def test_after_closing_part_of_the_short_the_freed_usdt_returns_to_spot(
    paper: PaperExchangeThread, config_file: Path, bot: Bot
) -> None:
    set_usdm_short(paper, "-2.5", wallet="7500")  # notional 7500: ratio 1.0, above the band
    result = bot("rebalance", config=config_file)
    assert result.exit_code == 0, result.stdout
    assert "above band" in result.stdout
    assert history(paper) == [("UMFUTURE_MAIN", "USDT", sent("3750", 1))]  # back to ratio 0.5


def test_a_rally_tops_up_the_short_from_spot(
    paper: PaperExchangeThread, config_file: Path, bot: Bot
) -> None:
    set_usdm_short(paper, "-5", wallet="7500")
    paper.set_mark_price("ETHUSDT", D("3600"))  # short loses 3000: equity 4500 / 18000 = 0.25
    assert bot("rebalance", config=config_file).exit_code == 0
    assert history(paper) == [("MAIN_UMFUTURE", "USDT", sent("4500", 1))]


def test_an_inverse_hedge_works_in_the_coin(
    paper: PaperExchangeThread, venue_env: None, write_config: Callable[..., Path], bot: Bot
) -> None:
    btc = {
        **ETH_HEDGE,
        "spot": "BTC/USDT",
        "perp": "BTC/USD:BTC",
        "target_margin_ratio": "0.4",
        "band": ["0.3", "0.5"],
    }
    config = write_config(
        {"binance": live_venue(paper.base_url)},
        {"btc": btc},
        transfers={"safety": "0.99", "min_amount": {"BTC": "0.001"}},
    )
    # COIN-M: 0.3 BTC against 300 contracts x 100 USD / 60000 = 0.5 BTC: ratio 0.6 > 0.5
    result = bot("rebalance", config=config)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert history(paper) == [("CMFUTURE_MAIN", "BTC", sent("0.1", 1))]


def test_a_refused_key_fails_the_transfer_halts_the_venue_and_exits_2(
    paper: PaperExchangeThread, config_file: Path, bot: Bot
) -> None:
    paper.faults.add(
        "error", status=401, code=-2015, msg="Invalid API-key, IP, or permissions for action."
    )
    result = bot("rebalance", config=config_file)
    assert result.exit_code == 2  # a person must fix the key: the venue is halted
    assert "binance halted since" in result.stderr and "Universal Transfer" in result.stderr
    assert "bot venue resume binance" in result.stderr
    assert paper.state.transfers == ()
    (row,) = bot("ledger", "list", "--json", config=config_file).json()
    assert row["status"] == "failed"
    assert "-2015" in row["error"] and "Universal Transfer" in row["error"]


def test_below_min_amount_stands_as_nothing_to_move_not_a_transfer_row(
    paper: PaperExchangeThread, config_file: Path, bot: Bot
) -> None:
    set_spot(paper, "USDT", "5")
    for seen in (1, 2):
        result = bot("rebalance", config=config_file)
        assert result.exit_code == 0, result.stderr
        assert f"under min_amount 10 (seen {seen} times)" in result.stdout
    assert paper.state.transfers == ()
    assert bot("ledger", "list", "--json", config=config_file).json() == []
    status = bot("status", "--json", config=config_file).json()
    (standing,) = status["nothing_to_move"]
    assert (standing["count"], standing["from"], standing["asset"]) == (2, "spot", "USDT")
    assert not any("nothing to move" in line for line in status["attention"])  # not a failure


def test_a_transfer_sized_down_by_the_fresh_read_keeps_the_ledger_verifiable(
    paper: PaperExchangeThread, write_config: Callable[..., Path], venue_env: None, bot: Bot
) -> None:
    # spot holds only 1000 of the 3000 planned: the fresh read sizes the intent down, on its
    # pending row, and the running totals behind `ledger summary` must follow that amount
    set_spot(paper, "USDT", "1000")
    config = write_config({"binance": live_venue(paper.base_url)}, {"eth": ETH_HEDGE})
    assert bot("rebalance", config=config).exit_code == 0
    (row,) = bot("ledger", "list", "--json", config=config).json()
    assert row["status"] == "confirmed" and D(row["amount"]) < D("1000")
    verified = bot("ledger", "verify", config=config)
    assert verified.exit_code == 0, verified.stdout + verified.stderr
