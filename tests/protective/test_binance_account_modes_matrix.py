"""The exactly-once matrix on Binance's account modes (issue 27's proof): Portfolio Margin, USD-M
multi-assets mode, and multi-assets mode topping up in the spot leg's own coin, each against the
independent Binance fake through the bot's CLI. Every case ends with the ledger's confirmed rows
equal, one to one, to the transfers the fake applied."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from bot.venues.binance.venue import HISTORY_PAGE
from tests.fakes.binance.accounts import Account, multi_assets_account
from tests.fakes.binance.config import write_binance_config
from tests.fakes.binance.faults import (
    ERROR_CODE,
    FAIL_AFTER,
    FAIL_BEFORE,
    TIMEOUT_AFTER,
)
from tests.fakes.binance.portfolio import portfolio_account
from tests.fakes.binance_server import BinanceFakeThread
from tests.integration.conftest import Invocation

Bot = Callable[..., Invocation]
TRANSFER = ("POST", "/sapi/v1/asset/transfer")
HISTORY = ("GET", "/sapi/v1/asset/transfer")


@dataclass(frozen=True)
class Mode:
    """One account mode: its fake account, its hedge's terms, and what its top-up sends."""

    name: str
    account: Callable[[], Account]
    figure: str
    options: dict[str, bool]
    top_up_type: str
    asset: str  # what the top-up moves
    collateral: tuple[str, ...] = ()

    def hedges(self) -> dict[str, dict[str, Any]]:
        hedge: dict[str, Any] = {
            "spot": "ETH/USDT",
            "perp": "ETH/USDT:USDT",
            "target": {self.figure: "3"},
            "band": ["2", "5"],
            "reserve_wallet": "spot",
            "spot_reserve": "0",
            "spot_leg_wallets": ["spot"],
        }
        if self.collateral:
            hedge["collateral"] = list(self.collateral)
        return {"eth": hedge}


PM, MULTI = {"portfolio_margin": True}, {"multi_assets": True}
MODES = [
    Mode("pm", portfolio_account, "uniMMR", PM, "MAIN_PORTFOLIO_MARGIN", "USDT"),
    Mode("multi", multi_assets_account, "multiAssetsMMR", MULTI, "MAIN_UMFUTURE", "USDT"),
    Mode(
        "multi_coin", multi_assets_account, "multiAssetsMMR", MULTI, "MAIN_UMFUTURE", "ETH",
        ("USDT", "ETH"),
    ),
]  # fmt: skip


@pytest.fixture(params=MODES, ids=lambda mode: mode.name)
def mode(request: pytest.FixtureRequest) -> Mode:
    return request.param


@pytest.fixture
def fake(mode: Mode) -> Iterator[BinanceFakeThread]:
    with BinanceFakeThread(mode.account()) as running:
        if mode.asset != "USDT":
            running.account.set_spot("USDT", "0")  # the settle asset has run out: the coin moves
        running.account.set_mark("ETHUSDT", "3020")  # 2500 / 1510: beyond the band's 2
        yield running


def config_for(mode: Mode, fake: BinanceFakeThread, folder: Path, **rules: Any) -> Path:
    transfers = {
        "safety": "0.99",
        "min_amount": {"USDT": "10", "ETH": "0.001"},
        "max_amount": None,
        **rules,
    }
    return write_binance_config(
        folder,
        fake.base_url,
        hedges=mode.hedges(),
        timeout_ms=1000,
        transfers=transfers,
        **mode.options,
    )


def ledger_rows(bot: Bot, config: Path) -> list[dict[str, Any]]:
    listed = bot("ledger", "list", "--json", config=config)
    assert listed.exit_code == 0, listed.stdout + listed.stderr
    return listed.json()


def assert_one_to_one(fake: BinanceFakeThread, bot: Bot, config: Path) -> None:
    confirmed = sorted(
        (r["exchange_id"], D(r["amount"]), r["asset"])
        for r in ledger_rows(bot, config)
        if r["status"] == "confirmed"
    )
    with fake.account.lock:
        applied = sorted((str(t.tran_id), t.amount, t.asset) for t in fake.account.transfers)
    assert confirmed == applied


@pytest.mark.parametrize("kind", [FAIL_AFTER, TIMEOUT_AFTER])
def test_an_applied_transfer_whose_answer_is_lost_is_reconciled_never_sent_twice(
    mode: Mode, fake: BinanceFakeThread, binance_env: None, tmp_path: Path, bot: Bot, kind: str
) -> None:
    config = config_for(mode, fake, tmp_path)
    fake.faults.add(*TRANSFER, kind)
    assert bot("rebalance", config=config).exit_code == 1
    (row,) = ledger_rows(bot, config)
    assert (row["status"], row["asset"]) == ("unknown", mode.asset)
    (applied,) = fake.account.transfers
    assert applied.type == mode.top_up_type
    settled = bot("reconcile", config=config)
    assert settled.exit_code == 0, settled.stdout + settled.stderr
    assert bot("rebalance", config=config).exit_code == 0
    assert fake.count(*TRANSFER) == 1
    assert_one_to_one(fake, bot, config)


def test_a_transfer_never_applied_is_failed_then_sent_again(
    mode: Mode, fake: BinanceFakeThread, binance_env: None, tmp_path: Path, bot: Bot
) -> None:
    config = config_for(mode, fake, tmp_path, settle_window_seconds=0)
    fake.faults.add(*TRANSFER, FAIL_BEFORE)
    assert bot("rebalance", config=config).exit_code == 1
    assert fake.account.transfers == []
    assert bot("reconcile", config=config).exit_code == 0
    assert [r["status"] for r in ledger_rows(bot, config)] == ["failed"]
    assert bot("rebalance", config=config).exit_code == 0
    assert fake.count(*TRANSFER) == 2 and len(fake.account.transfers) == 1
    assert_one_to_one(fake, bot, config)


def test_the_rate_limit_is_retried_as_the_same_intent(
    mode: Mode, fake: BinanceFakeThread, binance_env: None, tmp_path: Path, bot: Bot
) -> None:
    config = config_for(mode, fake, tmp_path)
    fake.faults.add(*TRANSFER, ERROR_CODE, code=-1003, status=429)
    done = bot("rebalance", config=config)
    assert done.exit_code == 0, done.stdout + done.stderr
    assert fake.count(*TRANSFER) == 2 and len(fake.account.transfers) == 1
    assert [r["status"] for r in ledger_rows(bot, config)] == ["confirmed"]
    assert_one_to_one(fake, bot, config)


def test_insufficient_balance_fails_the_intent_and_a_smaller_new_one_is_sent(
    mode: Mode, fake: BinanceFakeThread, binance_env: None, tmp_path: Path, bot: Bot
) -> None:
    config = config_for(mode, fake, tmp_path)
    fake.faults.add(*TRANSFER, ERROR_CODE, code=-5013, status=400)
    done = bot("rebalance", config=config)
    assert done.exit_code == 1  # a transfer failed in the run, and the run says so
    rows = ledger_rows(bot, config)
    assert sorted(r["status"] for r in rows) == ["confirmed", "failed"], rows
    (failed,) = [r for r in rows if r["status"] == "failed"]
    (confirmed,) = [r for r in rows if r["status"] == "confirmed"]
    assert D(confirmed["amount"]) <= D(failed["amount"])
    assert len(fake.account.transfers) == 1
    assert_one_to_one(fake, bot, config)


def test_a_garbage_history_is_never_taken_for_no_transfer(
    mode: Mode, fake: BinanceFakeThread, binance_env: None, tmp_path: Path, bot: Bot
) -> None:
    config = config_for(mode, fake, tmp_path, settle_window_seconds=0)
    fake.faults.add(*TRANSFER, FAIL_AFTER)
    assert bot("rebalance", config=config).exit_code == 1
    garbage = (
        '{"total":1,"rows":[{"asset":"' + mode.asset + '","amount":"x","type":"'
        + mode.top_up_type + '"}]}'
    )  # fmt: skip
    fake.faults.add(*HISTORY, ERROR_CODE, code=0, status=200, body=garbage, times=None)
    assert bot("reconcile", config=config).exit_code != 0
    assert bot("rebalance", config=config).exit_code != 0
    assert [r["status"] for r in ledger_rows(bot, config)] == ["unknown"]
    assert fake.count(*TRANSFER) == 1
    fake.faults.clear()
    assert bot("reconcile", config=config).exit_code == 0
    assert_one_to_one(fake, bot, config)


def test_a_paged_history_is_read_to_the_intent(
    mode: Mode, fake: BinanceFakeThread, binance_env: None, tmp_path: Path, bot: Bot
) -> None:
    config = config_for(mode, fake, tmp_path)
    fake.faults.add(*TRANSFER, FAIL_AFTER)
    assert bot("rebalance", config=config).exit_code == 1
    (ours,) = fake.account.transfers
    with fake.account.lock:  # a page and more of later moves by hand, of round amounts
        for offset in range(1, HISTORY_PAGE + 3):
            fake.account.record(mode.top_up_type, mode.asset, D(offset), ours.timestamp + offset)
    settled = bot("reconcile", config=config)
    assert settled.exit_code == 0, settled.stdout + settled.stderr
    (row,) = ledger_rows(bot, config)
    assert (row["status"], row["exchange_id"]) == ("confirmed", str(ours.tran_id))
    pages = [params.get("current", "1") for m, p, params in fake.requests if (m, p) == HISTORY]
    assert "2" in pages, pages
