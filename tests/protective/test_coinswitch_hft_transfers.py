"""The exactly-once matrix of one transfer on CoinSwitch PRO HFT (CoinSwitch wallet <-> HFT
account, Transfer Funds), against its loopback fake through the stock ccxt client the bot
builds: the bot's own executor sends one planned move, `bot reconcile` and `bot ledger verify
--against-venue` settle and audit it.

The HFT API lists no past transfers: the proof is our `client_txn_id`. A lost answer is
settled by sending the same transfer with the same id (never a new one): "duplicate" proves the
first applied; a success means it had not. After every case the ledger's confirmed rows equal
the fake's applied transfers one to one (client id and amount; the venue's id where its answer
carried one), never two for one intent."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from bot.config import load_config
from bot.model import PlannedTransfer, Rule
from bot.transfers.executor import ExecutionResult
from bot.transfers.reconcile import ReconcileReport
from tests.fakes.coinswitch_hft_config import KEY_ENV, SECRET_ENV, VENUE, write_hft_config
from tests.fakes.coinswitch_hft_server import (
    DUPLICATE,
    INSUFFICIENT,
    TRANSFER_PATH,
    CoinSwitchHftServer,
    envelope,
)
from tests.fakes.coinswitch_server import new_key_pair
from tests.fakes.faults import FAIL_AFTER, FAIL_BEFORE, RATE_LIMITED, RAW, TIMEOUT_AFTER
from tests.fakes.in_thread import FakeThread
from tests.integration.conftest import Invocation
from tests.protective.executing import execute_one, reconcile_live

Bot = Callable[..., Invocation]
AMOUNT = D("1234.5")
RULES = {"safety": "0.99", "min_amount": "10", "max_amount": None, "settle_window_seconds": 0}


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    key, secret = new_key_pair()
    monkeypatch.setenv(KEY_ENV, key)
    monkeypatch.setenv(SECRET_ENV, secret)
    with FakeThread(CoinSwitchHftServer(api_keys=[key], time_scale=0.01)) as running:
        with running.book.lock:  # room for a sweep of AMOUNT out of the HFT account
            running.book.coins["USDT"]["walletBalance"] = D("5000")
        yield running


@pytest.fixture
def config(fake: Any, tmp_path: Path) -> Path:
    """The venue alone, no hedge: the executor is handed its plan line directly."""
    return write_hft_config(tmp_path, fake.fake, hedges={}, transfers=RULES)


def send(config: Path, amount: D = AMOUNT, *, up: bool = True) -> ExecutionResult:
    """One planned move wallet -> HFT account (`up`) or back, through the bot's executor."""
    loaded = load_config(config)
    source, target = ("spot", "hft") if up else ("hft", "spot")
    item = PlannedTransfer(
        venue=VENUE, hedges=("matrix",), asset="USDT", from_account=source, to_account=target,
        amount=amount, rule=Rule.TOP_UP if up else Rule.RETURN_EXCESS, reason="the matrix",
        figures={},
    )  # fmt: skip

    return execute_one(loaded, item)


def rows(bot: Bot, config: Path) -> list[dict[str, Any]]:
    listed = bot("ledger", "list", "--json", config=config)
    assert listed.exit_code == 0, listed.stdout + listed.stderr
    return listed.json()


def statuses(result: ExecutionResult) -> list[str]:
    return [r.status.value for r in result.transfers]


def client_ids_sent(fake: Any) -> list[str]:
    return [body["client_txn_id"] for body in fake.transfer_bodies]


def reconcile(config: Path) -> ReconcileReport:
    """The reconciliation a cycle runs before it sends (`bot rebalance`, `bot run`), on live
    clients: it may re-send an open row with its own client id (`bot reconcile` only reads)."""
    report = reconcile_live(load_config(config))
    assert report.errors == [], report.errors
    return report


def assert_one_to_one(fake: Any, bot: Bot, config: Path) -> None:
    """The ledger's confirmed rows are the fake's applied transfers, one to one."""
    confirmed = [r for r in rows(bot, config) if r["status"] == "confirmed"]
    with fake.book.lock:
        applied = list(fake.book.transfers)
    assert sorted((r["client_id"], D(r["amount"])) for r in confirmed) == sorted(
        (t.client_txn_id.replace("-", ""), t.amount) for t in applied
    )
    by_client = {t.client_txn_id.replace("-", ""): t.txn_id for t in applied}
    for row in confirmed:  # the venue's id wherever its answer carried one
        assert row["exchange_id"] in (None, by_client[row["client_id"]])
    audit = bot("ledger", "verify", "--against-venue", VENUE, "--since", "1d", config=config)
    assert audit.exit_code == 0, audit.stdout + audit.stderr
    assert f"{len(applied)} confirmed rows rest on their client ids" in audit.stdout


# the matrix ---------------------------------------------------------------------------------


def test_a_clean_top_up_moves_exactly_its_amount(fake: Any, config: Path, bot: Bot) -> None:
    assert statuses(send(config)) == ["confirmed"]
    (applied,) = fake.book.transfers
    assert (applied.direction, applied.amount) == ("IN", AMOUNT)
    (row,) = rows(bot, config)
    assert row["exchange_id"] == applied.txn_id
    assert_one_to_one(fake, bot, config)


def test_a_clean_sweep_moves_exactly_its_amount_out(fake: Any, config: Path, bot: Bot) -> None:
    assert statuses(send(config, up=False)) == ["confirmed"]
    (applied,) = fake.book.transfers
    assert (applied.direction, applied.amount) == ("OUT", AMOUNT)
    assert_one_to_one(fake, bot, config)


def test_a_5xx_before_applying_is_settled_by_resending_the_same_id(
    fake: Any, config: Path, bot: Bot
) -> None:
    fake.faults.add("POST", TRANSFER_PATH, FAIL_BEFORE)
    assert statuses(send(config)) == ["unknown"]
    assert fake.book.transfers == []
    blocked = send(config)  # nothing new is sent while the outcome is unknown
    assert blocked.transfers == [] and len(blocked.blocked) == 1
    assert len(fake.transfer_bodies) == 1
    reconcile(config)  # the re-send, same client id: applied now
    (row,) = rows(bot, config)
    (applied,) = fake.book.transfers
    assert row["status"] == "confirmed" and row["exchange_id"] == applied.txn_id
    first, again = client_ids_sent(fake)
    assert first == again == applied.client_txn_id
    assert_one_to_one(fake, bot, config)


@pytest.mark.parametrize("kind", [FAIL_AFTER, TIMEOUT_AFTER])
def test_an_applied_transfer_whose_answer_is_lost_is_never_applied_twice(
    fake: Any, config: Path, bot: Bot, kind: str
) -> None:
    fake.faults.add("POST", TRANSFER_PATH, kind)
    assert statuses(send(config)) == ["unknown"]
    (applied,) = fake.book.transfers
    assert send(config).transfers == []  # blocked: settled first
    reconcile(config)  # the re-send is refused as a duplicate: the first stands
    (row,) = rows(bot, config)
    assert row["status"] == "confirmed"
    assert fake.book.transfers == [applied]
    assert client_ids_sent(fake) == [applied.client_txn_id] * 2
    assert fake.count(400, TRANSFER_PATH) == 1  # the duplicate's refusal
    assert_one_to_one(fake, bot, config)


def test_the_rate_limit_is_retried_as_the_same_intent(fake: Any, config: Path, bot: Bot) -> None:
    fake.faults.add("POST", TRANSFER_PATH, RATE_LIMITED)
    assert statuses(send(config)) == ["confirmed"]
    (applied,) = fake.book.transfers
    assert client_ids_sent(fake) == [applied.client_txn_id] * 2
    assert_one_to_one(fake, bot, config)


def test_a_repeated_client_id_proves_the_first_send_applied(
    fake: Any, config: Path, bot: Bot
) -> None:
    """The venue applies the transfer but answers with its rate limit: the bot sends the same
    intent again (same client_txn_id), the venue refuses the repeat as a duplicate, and that
    refusal confirms the row without a second transfer."""
    limited = envelope({}, 1, code=429, message="Too many requests, please try again later")
    fake.faults.add("POST", TRANSFER_PATH, FAIL_AFTER, status=429, body=limited)
    assert statuses(send(config)) == ["confirmed"]
    (applied,) = fake.book.transfers
    assert client_ids_sent(fake) == [applied.client_txn_id] * 2
    (row,) = rows(bot, config)
    assert row["client_id"] == applied.client_txn_id.replace("-", "")
    assert_one_to_one(fake, bot, config)


def test_insufficient_balance_fails_the_intent_and_a_smaller_new_one_is_sent(
    fake: Any, config: Path, bot: Bot
) -> None:
    short = envelope({}, 1, code=400, message=INSUFFICIENT)
    fake.faults.add("POST", TRANSFER_PATH, RAW, status=400, body=short)
    result = send(config)
    assert statuses(result) == ["failed", "confirmed"]
    refused, sent = result.transfers
    assert sent.replaces_id == refused.id and sent.client_id != refused.client_id
    (applied,) = fake.book.transfers
    assert applied.amount == sent.amount
    assert_one_to_one(fake, bot, config)


def test_a_garbage_answer_after_the_send_is_unknown_then_settled_by_its_id(
    fake: Any, config: Path, bot: Bot
) -> None:
    """A 2xx that is not a well-formed success echoing our id is no proof either way."""
    fake.faults.add("POST", TRANSFER_PATH, RAW, body=json.dumps({"retCode": 0, "result": {}}))
    assert statuses(send(config)) == ["unknown"]
    assert fake.book.transfers == []  # the garbage came instead of applying it
    reconcile(config)
    (applied,) = fake.book.transfers
    (row,) = rows(bot, config)
    assert row["status"] == "confirmed" and row["exchange_id"] == applied.txn_id
    assert_one_to_one(fake, bot, config)


def test_a_resend_refused_for_another_reason_stays_unknown_for_an_operator(
    fake: Any, config: Path, bot: Bot
) -> None:
    fake.faults.add("POST", TRANSFER_PATH, FAIL_BEFORE)
    assert statuses(send(config)) == ["unknown"]
    short = envelope({}, 1, code=400, message=INSUFFICIENT)
    fake.faults.add("POST", TRANSFER_PATH, RAW, status=400, body=short)
    report = reconcile_live(load_config(config))
    (error,) = report.errors
    assert "does not tell whether the first send applied" in error
    (row,) = rows(bot, config)
    assert row["status"] == "unknown"
    assert fake.book.transfers == []
    assert send(config).transfers == []  # still blocked: an operator settles it


def test_bot_reconcile_only_reads_and_says_the_cycle_resends(
    fake: Any, config: Path, bot: Bot
) -> None:
    fake.faults.add("POST", TRANSFER_PATH, FAIL_AFTER)
    assert statuses(send(config)) == ["unknown"]
    settled = bot("reconcile", config=config)
    assert settled.exit_code == 1  # still open
    assert "settled by re-sending client id" in settled.stdout + settled.stderr
    assert len(fake.transfer_bodies) == 1  # nothing was re-sent
    assert DUPLICATE not in settled.stdout


def test_a_transfer_in_the_other_settlement_currency_is_never_sent(fake: Any, config: Path) -> None:
    loaded = load_config(config)
    item = PlannedTransfer(
        venue=VENUE, hedges=("matrix",), asset="INR", from_account="spot", to_account="hft",
        amount=D("1000"), rule=Rule.TOP_UP, reason="the matrix", figures={},
    )  # fmt: skip

    result = execute_one(loaded, item)
    assert statuses(result) == ["failed"]
    assert "locked to USDT" in (result.transfers[0].error or "")
    assert fake.transfer_bodies == []
