"""The exactly-once matrix of a transfer on Bybit (FUND <-> UNIFIED) and OKX (funding 6 <->
trading 18), each against its loopback fake through the stock ccxt client the bot builds: the
bot's own executor sends one planned top-up (the policy's part is tested through `bot plan` /
`bot rebalance` in test_unified_venues.py), and `bot reconcile` / `bot ledger verify
--against-venue` settle and audit it. After every case the ledger's confirmed transfers equal
the fake's transfers one to one (same id, same amount, same client id), never two for one
intent, and an unknown outcome is settled before anything is sent again."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal as D
from pathlib import Path

import pytest

from bot.config import load_config
from bot.model import PlannedTransfer, Rule
from bot.transfers.executor import ExecutionResult
from tests.fakes.faults import FAIL_AFTER, FAIL_BEFORE, RATE_LIMITED, RAW, TIMEOUT_AFTER
from tests.integration.conftest import Invocation
from tests.protective.executing import execute_one
from tests.protective.unified_rig import (
    VENUES,
    Side,
    assert_one_to_one,
    rows,
    running,
    set_env,
    statuses,
)

Bot = Callable[..., Invocation]
AMOUNT = D("1234.5")
RULES = {
    "safety": "0.99",
    "min_amount": "10",
    "max_amount": None,
    "settle_window_seconds": 0,  # absent from the history once: failed
}


@pytest.fixture(params=VENUES)
def side(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Side]:
    set_env(monkeypatch, request.param)
    yield from running(request.param)


@pytest.fixture
def config(side: Side, tmp_path: Path) -> Path:
    """The venue alone, no hedge: the executor is handed its plan line directly."""
    return side.write(tmp_path, side.fake.base_url, hedges={}, timeout_ms=1000, transfers=RULES)


def send(side: Side, config: Path, amount: D = AMOUNT, *, up: bool = True) -> ExecutionResult:
    """One planned move reserve -> pool (`up`) or back, through the bot's executor."""
    loaded = load_config(config)
    source, target = (side.reserve, side.pool) if up else (side.pool, side.reserve)
    item = PlannedTransfer(
        venue=side.name, hedges=("matrix",), asset="USDT", from_account=source,
        to_account=target, amount=amount, rule=Rule.TOP_UP if up else Rule.RETURN_EXCESS,
        reason="the matrix", figures={},
    )  # fmt: skip

    return execute_one(loaded, item)


def reconcile(bot: Bot, config: Path) -> Invocation:
    return bot("reconcile", config=config)


# the matrix ---------------------------------------------------------------------------------


def test_a_clean_top_up_moves_exactly_its_amount(side: Side, config: Path, bot: Bot) -> None:
    reserve, pool = side.reserve_usdt(), side.pool_usdt()
    result = send(side, config)
    assert [r.status.value for r in result.transfers] == ["confirmed"]
    (sent,) = side.sent()
    assert sent.amount == AMOUNT and sent.status == "success"
    assert (side.reserve_usdt(), side.pool_usdt()) == (reserve - AMOUNT, pool + AMOUNT)
    assert_one_to_one(side, bot, config)


def test_a_5xx_before_applying_is_unknown_then_failed_then_sent_again(
    side: Side, config: Path, bot: Bot
) -> None:
    side.fake.faults.add("POST", side.transfer_path, FAIL_BEFORE)
    assert [r.status.value for r in send(side, config).transfers] == ["unknown"]
    assert side.sent() == []
    blocked = send(side, config)  # nothing is sent while the outcome is unknown
    assert blocked.transfers == [] and len(blocked.blocked) == 1
    assert side.fake.count("POST", side.transfer_path) == 1
    assert reconcile(bot, config).exit_code == 0
    assert statuses(bot, config) == ["failed"]
    assert [r.status.value for r in send(side, config).transfers] == ["confirmed"]
    assert len(side.sent()) == 1
    assert_one_to_one(side, bot, config)


@pytest.mark.parametrize("kind", [FAIL_AFTER, TIMEOUT_AFTER])
def test_an_applied_transfer_whose_answer_is_lost_is_reconciled_never_sent_twice(
    side: Side, config: Path, bot: Bot, kind: str
) -> None:
    side.fake.faults.add("POST", side.transfer_path, kind)
    assert [r.status.value for r in send(side, config).transfers] == ["unknown"]
    (applied,) = side.sent()
    assert send(side, config).transfers == []  # blocked: settled first
    settled = reconcile(bot, config)
    assert settled.exit_code == 0, settled.stdout + settled.stderr
    (row,) = rows(bot, config)
    assert (row["status"], row["exchange_id"]) == ("confirmed", applied.exchange_id)
    assert side.fake.count("POST", side.transfer_path) == 1
    assert_one_to_one(side, bot, config)


def test_the_rate_limit_is_retried_as_the_same_intent(side: Side, config: Path, bot: Bot) -> None:
    side.fake.faults.add("POST", side.transfer_path, RATE_LIMITED)
    assert [r.status.value for r in send(side, config).transfers] == ["confirmed"]
    assert side.fake.count("POST", side.transfer_path) == 2 and len(side.sent()) == 1
    assert_one_to_one(side, bot, config)


def test_a_repeated_client_id_proves_the_first_send_applied(
    side: Side, config: Path, bot: Bot
) -> None:
    """The venue applies the transfer but answers with its rate limit: the bot sends the same
    intent again (same client id), the venue refuses the repeat, and that refusal sends the bot
    to the venue's record of the first send, which confirms the row."""
    status, body = side.rate_limit
    side.fake.faults.add("POST", side.transfer_path, FAIL_AFTER, status=status, body=body)
    assert [r.status.value for r in send(side, config).transfers] == ["confirmed"]
    assert side.fake.count("POST", side.transfer_path) == 2
    (applied,) = side.sent()
    (row,) = rows(bot, config)
    assert row["exchange_id"] == applied.exchange_id and row["client_id"] == applied.client_id
    assert_one_to_one(side, bot, config)


def test_insufficient_balance_fails_the_intent_and_a_smaller_new_one_is_sent(
    side: Side, config: Path, bot: Bot
) -> None:
    status, body = side.insufficient
    side.fake.faults.add("POST", side.transfer_path, RAW, status=status, body=body)
    result = send(side, config)
    assert [r.status.value for r in result.transfers] == ["failed", "confirmed"]
    refused, sent = result.transfers
    assert sent.replaces_id == refused.id and sent.client_id != refused.client_id
    assert len(side.sent()) == 1
    assert_one_to_one(side, bot, config)


def test_a_garbage_history_is_never_taken_for_no_transfer(
    side: Side, config: Path, bot: Bot
) -> None:
    side.fake.faults.add("POST", side.transfer_path, FAIL_AFTER)
    assert [r.status.value for r in send(side, config).transfers] == ["unknown"]
    for body in side.garbage:
        # every read that could settle it: the history, and on OKX the transfer's own state
        for path in side.history_paths:
            side.fake.faults.add("GET", path, RAW, body=body, times=None)
        settled = reconcile(bot, config)
        assert settled.exit_code != 0, (body, settled.stdout)
        assert statuses(bot, config) == ["unknown"], body  # never failed on no evidence
        side.fake.faults.clear()
    assert reconcile(bot, config).exit_code == 0
    assert statuses(bot, config) == ["confirmed"]
    assert len(side.sent()) == 1
    assert_one_to_one(side, bot, config)


def test_a_paged_history_is_read_to_the_intent(side: Side, config: Path, bot: Bot) -> None:
    """Other transfers fill more than two pages of the history after ours: reconciliation
    pages back to it."""
    side.fake.faults.add("POST", side.transfer_path, FAIL_AFTER)
    assert [r.status.value for r in send(side, config).transfers] == ["unknown"]
    others = 230  # Bybit lists 50 a page, OKX 100
    with side.account.lock:
        start = side.fake.now()
        for n in range(others):  # a millisecond apart, as a venue's records would be
            if side.name == "bybit":
                transfer_id = f"00000000-0000-4000-8000-{n:012d}"
                side.account.transfer(transfer_id, "USDT", D(1), "FUND", "UNIFIED", start + n)
            else:
                side.account.transfer("USDT", D(1), "6", "18", "", start + n)
    settled = reconcile(bot, config)
    assert settled.exit_code == 0, settled.stdout + settled.stderr
    (row,) = rows(bot, config)
    assert row["status"] == "confirmed" and row["exchange_id"] == side.sent()[0].exchange_id
    assert len(side.sent()) == others + 1


def test_a_pending_transfer_is_unknown_until_the_venue_completes_it(
    side: Side, config: Path, bot: Bot
) -> None:
    side.set_next_status("pending")
    assert [r.status.value for r in send(side, config).transfers] == ["unknown"]
    (pending,) = side.sent()
    assert pending.status == "pending"
    assert reconcile(bot, config).exit_code != 0  # still open: it is not done yet
    assert statuses(bot, config) == ["unknown"]
    side.settle(pending.exchange_id)
    assert reconcile(bot, config).exit_code == 0
    assert statuses(bot, config) == ["confirmed"]
    assert_one_to_one(side, bot, config)


def test_a_pending_sweep_stays_unknown_past_the_settle_window_until_it_completes(
    side: Side, config: Path, bot: Bot
) -> None:
    # OKX books the funding account's bill of a sweep only when it completes: the transfer's
    # own state, looked up by our id, keeps it open instead of failing it as absent
    side.set_next_status("pending")
    assert [r.status.value for r in send(side, config, D("500"), up=False).transfers] == ["unknown"]
    (pending,) = side.sent()
    assert reconcile(bot, config).exit_code != 0  # the window is 0 s: absent would be failed
    assert statuses(bot, config) == ["unknown"]
    assert send(side, config, D("500"), up=False).transfers == []  # nothing sent meanwhile
    side.settle(pending.exchange_id)
    assert reconcile(bot, config).exit_code == 0
    assert statuses(bot, config) == ["confirmed"]
    assert len(side.sent()) == 1
    assert_one_to_one(side, bot, config)


def test_a_failed_transfer_is_failed_and_moves_nothing(side: Side, config: Path, bot: Bot) -> None:
    reserve = side.reserve_usdt()
    side.set_next_status("failed")
    assert [r.status.value for r in send(side, config).transfers] == ["failed"]
    assert side.reserve_usdt() == reserve and side.sent()[0].status == "failed"
    assert_one_to_one(side, bot, config)


def test_a_sweep_back_to_the_reserve_is_reconciled_the_same_way(
    side: Side, config: Path, bot: Bot
) -> None:
    side.fake.faults.add("POST", side.transfer_path, FAIL_AFTER)
    assert [r.status.value for r in send(side, config, D("500"), up=False).transfers] == ["unknown"]
    assert reconcile(bot, config).exit_code == 0
    (row,) = rows(bot, config)
    assert (row["status"], row["from_account"], row["to_account"]) == (
        "confirmed",
        side.pool,
        side.reserve,
    )
    assert_one_to_one(side, bot, config)


def test_a_sweep_is_sized_on_what_the_venue_says_may_leave(
    side: Side, config: Path, bot: Bot
) -> None:
    """The fresh read before a sweep is the venue's own transferable figure (Bybit's
    `transferBalance`, OKX's `maxWd`), which counts the spot leg's coin as collateral; ccxt's
    `free` of the pool would be its USDT less the positions' initial margin."""
    with side.account.lock:
        if side.name == "bybit":
            may_leave = side.account.unified_transferable("USDT")
        else:
            may_leave = side.account.max_withdrawal("USDT")
    assert may_leave == D("10000")  # all of it: the 0.5 BTC covers the initial margin
    send(side, config, may_leave + 1000, up=False)
    (sent,) = side.sent()
    assert sent.amount == may_leave * D("0.99")
    assert_one_to_one(side, bot, config)
