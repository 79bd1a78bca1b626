"""CoinSwitch PRO's HFT surface (`surface: hft`) through the bot, against its loopback fake
driven by the stock `coinswitch` ccxt client the bot builds: `bot plan`, `bot rebalance` (a
top-up IN and a sweep OUT through Transfer Funds), the guard, `bot venues`, `bot ledger verify
--against-venue`, the settlement-currency lock, and the Futures mode still manual. The
exactly-once matrix of one transfer is in test_coinswitch_hft_transfers.py."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from bot.alerts.alerter import Alerter
from bot.alerts.channels import Channels
from bot.config import load_config
from bot.jobs.context import JobContext
from bot.ledger import Ledger
from bot.scheduler.runner import run_job
from tests.fakes.coinswitch_hft_config import KEY_ENV, SECRET_ENV, write_hft_config
from tests.fakes.coinswitch_hft_server import (
    TRANSFER_PATH,
    CoinSwitchHftServer,
    HftBook,
    short_eth,
)
from tests.fakes.coinswitch_server import new_key_pair
from tests.fakes.in_thread import FakeThread
from tests.integration.conftest import Invocation

Bot = Callable[..., Invocation]
NOTIONAL = D("5273.2845")
EQUITY = D("774.1205")  # the HFT account's 800 USDT less the short's unrealized 25.8795
TOP_UP = D("0.5") * NOTIONAL - EQUITY  # to the target ratio 0.5: 1862.52175


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    key, secret = new_key_pair()
    monkeypatch.setenv(KEY_ENV, key)
    monkeypatch.setenv(SECRET_ENV, secret)
    with FakeThread(CoinSwitchHftServer(api_keys=[key], time_scale=0.01)) as running:
        yield running


def ok(result: Invocation) -> Invocation:
    assert result.exit_code == 0, result.stdout + result.stderr
    return result


def ledger_rows(bot: Bot, config: Path) -> list[dict[str, Any]]:
    return ok(bot("ledger", "list", "--json", config=config)).json()


def hft_usdt(fake: Any) -> D:
    with fake.book.lock:
        return fake.book.hft_balance("USDT")


def wallet_usdt(fake: Any) -> D:
    with fake.book.lock:
        return fake.book.wallet["USDT"]


def set_hft_usdt(fake: Any, amount: str) -> None:
    with fake.book.lock:
        fake.book.coins["USDT"]["walletBalance"] = D(amount)


# plan and rebalance ---------------------------------------------------------------------------


def test_plan_shows_a_top_up_into_the_hft_account_and_sends_nothing(
    fake: Any, tmp_path: Path, bot: Bot
) -> None:
    config = write_hft_config(tmp_path, fake.fake)
    (line,) = ok(bot("plan", "--json", config=config)).json()["transfers"]
    assert (line["from_account"], line["to_account"], line["asset"]) == ("spot", "hft", "USDT")
    assert D(line["amount"]) == TOP_UP and line["sizing"]["would_send"] is True
    assert line["figures"]["futures_balance"] == "800"
    assert line["figures"]["unrealized_pnl"] == "-25.8795"
    assert fake.book.transfers == [] and fake.transfer_bodies == []


def test_rebalance_tops_up_through_transfer_funds_in(fake: Any, tmp_path: Path, bot: Bot):
    config = write_hft_config(tmp_path, fake.fake)
    ok(bot("rebalance", config=config))
    (sent,) = fake.book.transfers
    assert (sent.direction, sent.amount, sent.quote_asset) == ("IN", TOP_UP, "USDT")
    (body,) = fake.transfer_bodies
    assert body["client_txn_id"] == sent.client_txn_id  # ours, sent as the idempotency key
    (row,) = ledger_rows(bot, config)
    assert row["status"] == "confirmed" and row["exchange_id"] == sent.txn_id
    assert row["client_id"] == sent.client_txn_id.replace("-", "")
    assert hft_usdt(fake) == D("800") + TOP_UP
    assert wallet_usdt(fake) == D("20000") - TOP_UP


def test_rebalance_sweeps_the_excess_back_out(fake: Any, tmp_path: Path, bot: Bot) -> None:
    set_hft_usdt(fake, "5000")  # equity 4974.1205: ratio 0.94, above the band's 0.6
    config = write_hft_config(tmp_path, fake.fake)
    ok(bot("rebalance", config=config))
    (sent,) = fake.book.transfers
    excess = D("4974.1205") - D("0.5") * NOTIONAL  # back to the target: 2337.47825
    assert (sent.direction, sent.amount) == ("OUT", excess)
    (row,) = ledger_rows(bot, config)
    assert (row["from_account"], row["to_account"]) == ("hft", "spot")
    assert row["status"] == "confirmed" and row["exchange_id"] == sent.txn_id
    assert wallet_usdt(fake) == D("20000") + excess


def test_a_second_rebalance_inside_the_band_sends_nothing(fake: Any, tmp_path: Path, bot: Bot):
    config = write_hft_config(tmp_path, fake.fake)
    ok(bot("rebalance", config=config))
    ok(bot("rebalance", config=config))
    assert len(fake.book.transfers) == 1


def test_the_ledger_verified_against_the_venue_says_nothing_can_be_listed(
    fake: Any, tmp_path: Path, bot: Bot
) -> None:
    config = write_hft_config(tmp_path, fake.fake)
    ok(bot("rebalance", config=config))
    audit = ok(
        bot("ledger", "verify", "--against-venue", "coinswitch", "--since", "1d", config=config)
    )
    assert "lists no past transfers" in audit.stdout
    assert "1 confirmed rows rest on their client ids" in audit.stdout
    assert "missing in ledger 0, missing at venue 0" in audit.stdout
    assert fake.transfer_bodies and len(fake.book.transfers) == 1  # the audit sent nothing


async def test_the_guard_tops_up_the_hft_account_when_its_ratio_is_in_danger(
    fake: Any, tmp_path: Path
) -> None:
    set_hft_usdt(fake, "2700")  # equity 2674.1205 / 5273.2845 = 0.507: inside the band
    loaded = load_config(write_hft_config(tmp_path, fake.fake))
    ledger = Ledger.open(loaded.ledger_url)
    try:
        alerter = Alerter(ledger, Channels(()), loaded.alerts)
        lines: list[str] = []
        ctx = JobContext(config=loaded, ledger=ledger, alerter=alerter, say=lines.append)
        await run_job("guard", ctx, None)
        assert fake.book.transfers == []  # inside the band: it only looks
        set_hft_usdt(fake, "1200")  # equity 1174.1205: 0.22, under the danger ratio 0.25
        await run_job("guard", ctx, None)
        assert len(fake.book.transfers) == 1, lines
        (sent,) = fake.book.transfers
        assert (sent.direction, sent.amount) == ("IN", D("0.5") * NOTIONAL - D("1174.1205"))
    finally:
        ledger.close()


# what `bot venues` says of each mode --------------------------------------------------------


def venues_row(bot: Bot, config: Path) -> dict[str, Any]:
    row: dict[str, Any] = ok(bot("venues", "--json", config=config)).json()["venues"]["coinswitch"]
    return row


def test_bot_venues_says_the_hft_mode_transfers_by_client_id(fake: Any, tmp_path: Path, bot: Bot):
    row = venues_row(bot, write_hft_config(tmp_path, fake.fake))
    text = json.dumps(row)
    assert "HFT: Transfer Funds automated, settlement locked to USDT" in text
    assert "client_txn_id (deduped)" in text


def test_bot_venues_says_the_futures_mode_is_manual(fake: Any, tmp_path: Path, bot: Bot):
    row = venues_row(bot, write_hft_config(tmp_path, fake.fake, surface="futures"))
    assert "Futures v2: no transfer API, moves are manual instructions" in json.dumps(row)


# the Futures mode keeps the manual instruction ----------------------------------------------


def test_the_futures_mode_records_the_move_as_manual_and_sends_nothing(
    fake: Any, tmp_path: Path, bot: Bot
) -> None:
    # the Futures v2 wallet: 60960 USDT against the v2 fake's ETH short: a sweep by hand
    config = write_hft_config(tmp_path, fake.fake, surface="futures")
    ok(bot("rebalance", config=config))
    (row,) = ledger_rows(bot, config)
    assert row["status"] == "manual" and row["to_account"] == "spot"
    assert fake.transfer_bodies == [] and fake.count(200, TRANSFER_PATH) == 0


def test_surface_hft_is_refused_in_one_line_on_another_exchange(tmp_path: Path, bot: Bot):
    path = tmp_path / "config.yaml"
    path.write_text(
        "venues:\n  b:\n    exchange: binance\n    paper: true\n    surface: hft\nhedges: {}\n"
    )
    result = bot("venues", config=path)
    assert result.exit_code != 0
    (line,) = [x for x in result.stderr.splitlines() if "surface" in x]
    assert line.endswith("binance has no hft API (it has: futures): drop surface"), line


# the settlement-currency lock ---------------------------------------------------------------


def inr_account() -> HftBook:
    """An HFT account whose first transfer was INR: it holds INR and can take nothing else."""
    book = HftBook(
        coins={
            "INR": {
                "walletBalance": D("50000"),
                "unrealisedPnl": D("0"),
                "totalPositionIM": D("0"),
                "totalOrderIM": D("0"),
            }
        },
        wallet={"USDT": D("20000"), "INR": D("5000"), "ETH": D("1.5")},
        preset_lock="INR",
    )
    return book


def test_a_usdt_hedge_on_an_account_locked_to_inr_is_refused_in_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, bot: Bot
) -> None:
    key, secret = new_key_pair()
    monkeypatch.setenv(KEY_ENV, key)
    monkeypatch.setenv(SECRET_ENV, secret)
    server = CoinSwitchHftServer(api_keys=[key], time_scale=0.01, book=inr_account())
    with FakeThread(server) as fake:
        config = write_hft_config(tmp_path, fake.fake)
        for command in ("plan", "rebalance"):
            result = bot(command, config=config)
            assert result.exit_code != 0
            (line,) = [x for x in result.stderr.splitlines() if "locked" in x]
            assert "ETH/USDT:USDT settles in USDT" in line and "locked to INR" in line
        assert fake.transfer_bodies == []


def test_the_first_transfer_of_a_new_account_locks_it_to_the_hedges_currency(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, bot: Bot
) -> None:
    key, secret = new_key_pair()
    monkeypatch.setenv(KEY_ENV, key)
    monkeypatch.setenv(SECRET_ENV, secret)
    book = HftBook(wallet={"USDT": D("20000"), "INR": D("5000"), "ETH": D("1.5")})
    book.positions = [short_eth()]  # opened elsewhere: the account has no collateral yet
    with FakeThread(CoinSwitchHftServer(api_keys=[key], time_scale=0.01, book=book)) as fake:
        config = write_hft_config(tmp_path, fake.fake)
        row = venues_row(bot, config)
        assert "not funded yet (its first transfer locks it)" in json.dumps(row)
        ok(bot("rebalance", config=config))
        (sent,) = fake.book.transfers
        assert (sent.direction, sent.quote_asset) == ("IN", "USDT")
        assert sent.amount == D("0.5") * NOTIONAL  # no USDT row yet: its equity is 0
        assert fake.book.settlement == "USDT"
        assert "settlement locked to USDT" in json.dumps(venues_row(bot, config))


async def test_switching_to_the_hft_surface_retires_the_standing_manual_instruction(
    fake: Any, tmp_path: Path
) -> None:
    futures_mode = load_config(write_hft_config(tmp_path, fake.fake, surface="futures"))
    ledger = Ledger.open(futures_mode.ledger_url)
    try:
        alerter = Alerter(ledger, Channels(()), futures_mode.alerts)
        ctx = JobContext(config=futures_mode, ledger=ledger, alerter=alerter, say=lambda _: None)
        await run_job("rebalance", ctx, None)
        (standing,) = ledger.open_manual_instructions()  # move it by hand: no transfer API
        assert standing.venue == "coinswitch" and fake.transfer_bodies == []
        hft_mode = load_config(write_hft_config(tmp_path, fake.fake))
        ctx = JobContext(config=hft_mode, ledger=ledger, alerter=alerter, say=lambda _: None)
        await run_job("rebalance", ctx, None)
        assert ledger.open_manual_instructions() == []  # retired: the bot moves it now
        (sent,) = fake.book.transfers
        assert (sent.direction, sent.amount) == ("IN", TOP_UP)
    finally:
        ledger.close()
