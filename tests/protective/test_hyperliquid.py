"""The bot on Hyperliquid, against the loopback fake (tests/fakes/hyperliquid_server.py) driven
by stock ccxt: plan, rebalance (top-up from spot, sweep back), the guard, `bot ledger verify
--against-venue`, the exactly-once matrix of a transfer that takes no client id (its ledger
equal one to one to the fake's applied transfers after every case), the refusals (an agent
wallet's key, a unified account), and the private key kept out of every output."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Iterator
from decimal import Decimal as D
from pathlib import Path

import pytest
import yaml

from bot.alerts.alerter import Alerter
from bot.alerts.channels import Channels
from bot.config import load_config
from bot.jobs.context import JobContext
from bot.ledger import Ledger
from bot.scheduler.runner import run_job
from bot.venues.hyperliquid.venue import HyperliquidVenue
from tests.fakes.faults import FAIL_AFTER, FAIL_BEFORE, RATE_LIMITED, RAW, TIMEOUT_AFTER
from tests.fakes.hyperliquid.account import Account
from tests.fakes.hyperliquid.config import (
    PRIVATE_KEY_ENV,
    WALLET_ENV,
    write_hyperliquid_config,
)
from tests.fakes.hyperliquid_server import (
    AGENT_KEY,
    INSUFFICIENT,
    NONCE_DUPLICATE,
    PRIVATE_KEY,
    WALLET,
    HyperliquidFake,
)
from tests.fakes.in_thread import FakeThread
from tests.integration.conftest import Invocation

Bot = Callable[..., Invocation]
EXCHANGE = ("POST", "/exchange")
LEDGER = ("POST", "/info/userNonFundingLedgerUpdates")


@pytest.fixture
def hl() -> Iterator[FakeThread[HyperliquidFake]]:
    with FakeThread(HyperliquidFake()) as running:
        yield running


@pytest.fixture
def hl_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PRIVATE_KEY_ENV, PRIVATE_KEY)
    monkeypatch.setenv(WALLET_ENV, WALLET)


@pytest.fixture
def hl_config(hl: FakeThread[HyperliquidFake], hl_env: None, tmp_path: Path) -> Path:
    return write_hyperliquid_config(tmp_path, hl.base_url, timeout_ms=1000)


def ledger_rows(bot: Bot, config: Path) -> list[dict]:
    listed = bot("ledger", "list", "--json", config=config)
    assert listed.exit_code == 0, listed.stdout + listed.stderr
    return listed.json()


def only_transfers_sent(fake: FakeThread[HyperliquidFake]) -> None:
    """The bot never signs any other action: no approveBuilderFee, no setReferrer."""
    assert {a.get("type") for a in fake.actions} <= {"usdClassTransfer"}, fake.actions


def ledger_matches_venue(bot: Bot, config: Path, fake: FakeThread[HyperliquidFake]) -> None:
    """Every confirmed row is one applied transfer (by hash and amount), and every applied
    transfer is one confirmed row."""
    rows = [r for r in ledger_rows(bot, config) if r["status"] == "confirmed"]
    applied = fake.account.applied_transfers()
    assert sorted((r["exchange_id"], D(r["amount"])) for r in rows) == sorted(
        (u.hash, D(str(u.delta["usdc"]))) for u in applied
    )
    only_transfers_sent(fake)


def test_plan_reads_both_wallets_and_the_short(
    hl: FakeThread[HyperliquidFake], hl_config: Path, bot: Bot
) -> None:
    result = bot("plan", config=hl_config)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "Plan: nothing to move." in result.stdout, result.stdout
    assert hl.count("POST", "/info/clearinghouseState") == 1  # wallet and short: one answer
    balances = bot("balances", "--json", config=hl_config)
    assert balances.exit_code == 0, balances.stdout + balances.stderr
    read = balances.json()["venues"]["hyperliquid"]
    wallets = {(w["account"], w["asset"]): w for w in read["wallets"]}
    assert D(wallets[("swap", "USDC")]["transferable"]) == D("2500")  # 4000 - 15000 / 10
    assert D(wallets[("spot", "USDC")]["free"]) == D("20000")
    (short,) = read["positions"]
    assert short["side"] == "short" and D(short["contracts"]) == D("5")
    with hl.account.lock:
        liquidation = hl.account.liquidation_price(hl.account.positions["ETH"])
    assert liquidation is not None
    assert abs(D(short["liquidation_price"]) - liquidation) < D("0.1")
    assert hl.unserved == []
    only_transfers_sent(hl)
    assert hl.actions == []


def test_rebalance_tops_up_the_perp_then_sweeps_the_excess_back(
    hl: FakeThread[HyperliquidFake], hl_config: Path, bot: Bot
) -> None:
    hl.account.set_mark("ETH", "3400")  # uPnL -2000: 2000 / 17000 = 0.1176, below 0.2
    result = bot("rebalance", config=hl_config)
    assert result.exit_code == 0, result.stdout + result.stderr
    (up,) = hl.account.applied_transfers()
    assert up.delta["toPerp"] is True
    assert D("3099") < D(str(up.delta["usdc"])) <= D("3100")  # 0.3 x 17000 - 2000
    hl.account.set_mark("ETH", "2400")  # uPnL +3000 on 7100: 10100 / 12000 = 0.84
    swept = bot("rebalance", config=hl_config)
    assert swept.exit_code == 0, swept.stdout + swept.stderr
    up, down = hl.account.applied_transfers()
    assert down.delta["toPerp"] is False
    assert "Plan: nothing to move." in bot("plan", config=hl_config).stdout
    verified = bot(
        "ledger", "verify", "--against-venue", "hyperliquid", "--since", "1d", config=hl_config
    )
    assert verified.exit_code == 0, verified.stdout + verified.stderr
    ledger_matches_venue(bot, hl_config, hl)


async def test_the_guard_tops_up_when_the_short_nears_liquidation(
    hl: FakeThread[HyperliquidFake], hl_env: None, tmp_path: Path
) -> None:
    loaded = load_config(write_hyperliquid_config(tmp_path, hl.base_url))
    ledger = Ledger.open(loaded.ledger_url)
    try:
        alerter = Alerter(ledger, Channels(()), loaded.alerts)
        lines: list[str] = []
        ctx = JobContext(config=loaded, ledger=ledger, alerter=alerter, say=lines.append)
        await run_job("guard", ctx, None)
        assert hl.account.applied_transfers() == []  # inside the band: it only looks
        hl.account.set_mark("ETH", "3600")  # 1000 / 18000 = 0.056: near liquidation
        await run_job("guard", ctx, None)
        (sent,) = hl.account.applied_transfers()
        assert sent.delta["toPerp"] is True
        assert D("4399") < D(str(sent.delta["usdc"])) <= D("4400")  # 0.3 x 18000 - 1000
        only_transfers_sent(hl)
    finally:
        ledger.close()


# the exactly-once matrix ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", [FAIL_AFTER, TIMEOUT_AFTER])
def test_an_applied_transfer_whose_answer_is_lost_is_reconciled_never_sent_twice(
    hl: FakeThread[HyperliquidFake], hl_config: Path, bot: Bot, kind: str
) -> None:
    hl.account.set_mark("ETH", "3400")
    hl.faults.add(*EXCHANGE, kind)
    assert bot("rebalance", config=hl_config).exit_code == 1
    (row,) = ledger_rows(bot, hl_config)
    assert row["status"] == "unknown"
    (applied,) = hl.account.applied_transfers()
    settled = bot("reconcile", config=hl_config)
    assert settled.exit_code == 0, settled.stdout + settled.stderr
    (row,) = ledger_rows(bot, hl_config)
    assert row["status"] == "confirmed" and row["exchange_id"] == applied.hash
    assert bot("rebalance", config=hl_config).exit_code == 0
    assert hl.count(*EXCHANGE) == 1
    ledger_matches_venue(bot, hl_config, hl)


@pytest.mark.parametrize("kind", [FAIL_BEFORE, RATE_LIMITED])
def test_a_transfer_never_applied_is_settled_failed_then_sent_again(
    hl: FakeThread[HyperliquidFake], hl_env: None, tmp_path: Path, bot: Bot, kind: str
) -> None:
    rules = {"safety": "0.99", "min_amount": "10", "max_amount": None, "settle_window_seconds": 0}
    retry = {"attempts": 1, "initial_backoff_seconds": 0, "max_backoff_seconds": 0}
    config = write_hyperliquid_config(tmp_path, hl.base_url, transfers=rules, retry=retry)
    hl.account.set_mark("ETH", "3400")
    hl.faults.add(*EXCHANGE, kind)
    assert bot("rebalance", config=config).exit_code == 1
    assert hl.account.applied_transfers() == []
    assert bot("reconcile", config=config).exit_code == 0
    (row,) = ledger_rows(bot, config)
    assert row["status"] == "failed"
    assert bot("rebalance", config=config).exit_code == 0
    assert len(hl.account.applied_transfers()) == 1
    ledger_matches_venue(bot, config, hl)
    nonces = [a["nonce"] for a in hl.actions]
    assert len(nonces) == len(set(nonces)) == 2  # the second send signed a fresh nonce
    assert hl.count(*EXCHANGE) == 2


def test_an_insufficient_balance_shrinks_the_transfer(
    hl: FakeThread[HyperliquidFake], hl_config: Path, bot: Bot
) -> None:
    hl.account.set_mark("ETH", "3400")

    def spent_meanwhile(account: Account) -> None:  # spot USDC used between read and send
        account.spot["USDC"] = D("2000")

    hl.fake.on_refusal = spent_meanwhile
    hl.refuse(INSUFFICIENT)
    result = bot("rebalance", config=hl_config)
    assert result.exit_code == 1  # the refused row stays failed: nothing moved
    assert [r["status"] for r in ledger_rows(bot, hl_config)] == ["failed", "confirmed"]
    (applied,) = hl.account.applied_transfers()
    assert hl.count(*EXCHANGE) == 2
    amounts = [D(a["amount"]) for a in hl.actions]
    assert amounts[1] < amounts[0] and D(str(applied.delta["usdc"])) == amounts[1]
    ledger_matches_venue(bot, hl_config, hl)


def test_a_garbage_history_leaves_the_transfer_unknown(
    hl: FakeThread[HyperliquidFake], hl_config: Path, bot: Bot
) -> None:
    hl.account.set_mark("ETH", "3400")
    hl.faults.add(*EXCHANGE, FAIL_AFTER)
    assert bot("rebalance", config=hl_config).exit_code == 1
    hl.faults.add(*LEDGER, RAW, body='[{"time": "soon", "hash": null}]', times=None)
    settled = bot("reconcile", config=hl_config)
    assert "cannot read history" in settled.stdout + settled.stderr
    (row,) = ledger_rows(bot, hl_config)
    assert row["status"] == "unknown"  # an unreadable history is never proof of absence
    hl.faults.clear()
    assert bot("reconcile", config=hl_config).exit_code == 0
    ledger_matches_venue(bot, hl_config, hl)
    assert hl.count(*EXCHANGE) == 1


def test_a_paged_history_is_read_to_its_end(
    hl: FakeThread[HyperliquidFake],
    hl_config: Path,
    bot: Bot,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hl.fake.page_size = 2
    monkeypatch.setattr(HyperliquidVenue, "ledger_page", 2)
    hl.account.set_mark("ETH", "3400")
    hl.faults.add(*EXCHANGE, FAIL_AFTER)
    assert bot("rebalance", config=hl_config).exit_code == 1
    (applied,) = hl.account.applied_transfers()
    with hl.account.lock:  # transfers by hand since: other amounts, both directions
        for index in range(5):
            at = applied.time + 1 + index
            hl.account.class_transfer(D(10 + index), index % 2 == 0, at, f"0xhand{index}")
    before = hl.count(*LEDGER)
    settled = bot("reconcile", config=hl_config)
    assert settled.exit_code == 0, settled.stdout + settled.stderr
    assert hl.count(*LEDGER) - before >= 2  # more than one page was read
    (row,) = ledger_rows(bot, hl_config)
    assert row["status"] == "confirmed"
    assert row["exchange_id"] == applied.hash


def test_a_replayed_nonce_is_refused_and_the_bot_never_replays(
    hl: FakeThread[HyperliquidFake], hl_config: Path, bot: Bot
) -> None:
    hl.account.set_mark("ETH", "3400")
    assert bot("rebalance", config=hl_config).exit_code == 0
    (first,) = hl.actions
    # the same signed request again, as a replay would send it: refused, nothing applied
    (body,) = hl.exchange_bodies
    request = urllib.request.Request(
        hl.base_url + "/exchange",
        data=json.dumps(body, default=str).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as answer:
        refused = json.loads(answer.read())
    assert refused == {"status": "err", "response": NONCE_DUPLICATE.format(nonce=first["nonce"])}
    assert len(hl.account.applied_transfers()) == 1
    hl.account.set_mark("ETH", "2400")
    assert bot("rebalance", config=hl_config).exit_code == 0
    nonces = [a["nonce"] for a in hl.actions]
    assert len(set(nonces)) == len(nonces) - 1  # only the test's own replay repeats one
    assert sorted(nonces) == nonces


# refusals -------------------------------------------------------------------------------------


def test_an_agent_wallet_key_is_refused_at_connect_in_one_line(
    hl: FakeThread[HyperliquidFake], hl_config: Path, bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PRIVATE_KEY_ENV, AGENT_KEY)
    result = bot("rebalance", config=hl_config)
    assert result.exit_code != 0
    out = result.stdout + result.stderr
    assert "API agent wallet" in out and "private_key_env" in out, out
    assert "Traceback" not in out
    assert hl.count(*EXCHANGE) == 0


def test_a_unified_account_is_refused_at_connect_in_one_line(
    hl: FakeThread[HyperliquidFake], hl_config: Path, bot: Bot
) -> None:
    hl.account.abstraction = "unifiedAccount"
    result = bot("plan", config=hl_config)
    assert result.exit_code != 0
    out = result.stdout + result.stderr
    assert "unifiedAccount mode" in out, out
    assert hl.count(*EXCHANGE) == 0


def test_the_private_key_never_shows(
    hl: FakeThread[HyperliquidFake], hl_config: Path, bot: Bot, tmp_path: Path
) -> None:
    hl.account.set_mark("ETH", "3400")
    hl.faults.add(*EXCHANGE, FAIL_AFTER)
    outputs = [
        bot("--log-level", "debug", "rebalance", config=hl_config),
        bot("reconcile", config=hl_config),
        bot("ledger", "list", "--json", config=hl_config),
        bot("config", "check", config=hl_config),
    ]
    key = PRIVATE_KEY.removeprefix("0x")
    for result in outputs:
        assert key not in result.stdout + result.stderr
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert key.encode() not in path.read_bytes(), path


def test_the_keys_come_from_the_environment_only(
    hl: FakeThread[HyperliquidFake], hl_config: Path, bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(PRIVATE_KEY_ENV)
    unset = bot("plan", config=hl_config)
    assert unset.exit_code == 2
    assert f"private_key_env: environment variable {PRIVATE_KEY_ENV} is not set" in unset.stderr
    config = yaml.safe_load(hl_config.read_text())
    section = config["venues"]["hyperliquid"]
    alone = hl_config.parent / "alone.yaml"
    alone.write_text(yaml.safe_dump({**config, "venues": {"hyperliquid": {
        k: v for k, v in section.items() if k != "wallet_address_env"
    }}}))  # fmt: skip
    refused = bot("config", "check", config=alone)
    assert refused.exit_code == 2
    assert "private_key_env and wallet_address_env go together" in refused.stdout + refused.stderr
    in_file = hl_config.parent / "in_file.yaml"
    section["ccxt"]["privateKey"] = "0x11"
    in_file.write_text(yaml.safe_dump(config))
    assert bot("config", "check", config=in_file).exit_code == 2
    assert hl.count(*EXCHANGE) == 0


def test_a_dry_run_sends_no_action(
    hl: FakeThread[HyperliquidFake], hl_config: Path, bot: Bot
) -> None:
    hl.account.set_mark("ETH", "3400")
    result = bot("rebalance", "--dry-run", config=hl_config)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert hl.count(*EXCHANGE) == 0 and hl.account.applied_transfers() == []
    (row,) = ledger_rows(bot, hl_config)
    assert row["status"] == "dry_run"


def test_a_tagged_amount_is_sent_in_usdc_micro_units_and_reconciled(
    hl: FakeThread[HyperliquidFake], hl_env: None, tmp_path: Path, bot: Bot
) -> None:
    # USDC moves in 6 decimals: a 4-digit tag takes up to 0.009999 USDC, more than the 0.0001
    # `auto` allows, so a Hyperliquid venue is tagged only with `amount_tag: on`
    rules = {"safety": "0.99", "min_amount": "10", "max_amount": None, "amount_tag": "on"}
    config = write_hyperliquid_config(tmp_path, hl.base_url, timeout_ms=1000, transfers=rules)
    hl.account.set_mark("ETH", "3400")
    hl.faults.add(*EXCHANGE, FAIL_AFTER)
    assert bot("rebalance", config=config).exit_code == 1
    (applied,) = hl.account.applied_transfers()
    assert D(str(applied.delta["usdc"])) == D("3100") - D("0.000001")  # intent 1's tag
    assert bot("reconcile", config=config).exit_code == 0
    (row,) = ledger_rows(bot, config)
    assert row["status"] == "confirmed" and row["exchange_id"] == applied.hash
    assert D(row["amount_tag"]) == D("0.000001")


def test_a_look_alike_by_hand_leaves_the_transfer_unknown_for_a_person(
    hl: FakeThread[HyperliquidFake], hl_config: Path, bot: Bot
) -> None:
    hl.account.set_mark("ETH", "3400")
    hl.faults.add(*EXCHANGE, FAIL_AFTER)
    assert bot("rebalance", config=hl_config).exit_code == 1
    (applied,) = hl.account.applied_transfers()
    with hl.account.lock:  # the same amount, the same way, moved by hand a moment later
        hl.account.class_transfer(D(str(applied.delta["usdc"])), True, applied.time + 1, "0xhand")
    settled = bot("reconcile", config=hl_config)
    assert "ambiguous" in settled.stdout + settled.stderr
    (row,) = ledger_rows(bot, hl_config)
    assert row["status"] == "unknown"
    assert bot("rebalance", config=hl_config).exit_code != 0  # blocked until a person settles it
    assert hl.count(*EXCHANGE) == 1


async def test_hourly_funding_payments_are_read_and_recorded_once(
    hl: FakeThread[HyperliquidFake], hl_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import UTC, datetime, timedelta

    from bot.funding.income import collect_funding
    from bot.venues.session import open_venues
    from tests.fakes.hyperliquid.account import FundingEntry

    hour = 3600 * 1000
    now = int(datetime.now(UTC).timestamp() * 1000) // hour * hour
    with hl.account.lock:  # the short of 5 ETH paid three hours, and a BTC payment not hedged
        hl.account.funding += [
            FundingEntry(now - 3 * hour, "ETH", D("0.1875"), D("-5"), D("0.0000125")),
            FundingEntry(now - 2 * hour, "ETH", D("0.125"), D("-5"), D("0.0000083")),
            FundingEntry(now - hour, "ETH", D("-0.05"), D("-5"), D("-0.0000033")),
            FundingEntry(now - hour, "BTC", D("1"), D("-1"), D("0.00001")),
        ]
    hl.fake.page_size = 3  # over two pages, the second starting at the first's last hour
    monkeypatch.setattr(HyperliquidVenue, "ledger_page", 3)
    config = load_config(hl_config)
    ledger = Ledger.open(config.ledger_url)
    try:
        async with open_venues(config, dry_run=True) as venues:
            first = await collect_funding(config, ledger, venues)
            again = await collect_funding(config, ledger, venues)
    finally:
        ledger.close()
    assert first.errors == {}, first.errors
    start = datetime.fromtimestamp(now / 1000, UTC)
    recorded = sorted((p.at, p.amount) for p in first.recorded["hyperliquid"])
    assert recorded == [
        (start - timedelta(hours=3), D("0.1875")),
        (start - timedelta(hours=2), D("0.125")),
        (start - timedelta(hours=1), D("-0.05")),
    ]
    assert {p.symbol for p in first.recorded["hyperliquid"]} == {"ETH/USDC:USDC"}
    assert again.count == 0
    assert hl.count("POST", "/info/userFunding") >= 2
