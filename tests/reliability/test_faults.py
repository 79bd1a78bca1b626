"""Fault tests: each fault on the paper exchange, then what its history and the ledger hold.

The rule under test: a transfer is applied at most once, and the ledger ends up matching the
exchange exactly, whatever is lost on the way.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import Config
from bot.cycle.rebalance import rebalance
from bot.ledger import Ledger
from bot.model import TransferStatus
from bot.paper import PaperExchange
from tests.amounts import sent
from tests.reliability.conftest import (
    FakeTime,
    assert_ledger_matches_exchange,
    history,
    later,
    make_config,
    rows,
)

TOP_UP = [("MAIN_UMFUTURE", sent("3000", 1))]  # the first intent, less its tag


async def run(config: Config, ledger: Ledger, fake_time: FakeTime, **kw):  # type: ignore[no-untyped-def]
    return await rebalance(config, ledger, dry_run=False, timing=fake_time.timing(), **kw)


@pytest.mark.parametrize("kind", ["timeout_after", "http_500_after", "reset_after"])
async def test_lost_answer_after_apply_is_reconciled_not_resent(
    paper: PaperExchange, config: Config, ledger: Ledger, fake_time: FakeTime, kind: str
) -> None:
    paper.faults.add(kind, hang=1.0)
    first = await run(config, ledger, fake_time)
    assert first.failed
    (unknown,) = rows(ledger)
    assert unknown.status is TransferStatus.UNKNOWN and unknown.attempts == 1
    assert history(paper) == TOP_UP  # the exchange applied it

    second = await run(config, ledger, fake_time)
    assert [r.status for r in second.reconciled.resolved] == [TransferStatus.CONFIRMED]
    assert second.transfers == []  # the hedge is in band now: nothing new is sent
    assert history(paper) == TOP_UP  # never sent twice
    assert_ledger_matches_exchange(ledger, paper)


@pytest.mark.parametrize("kind", ["timeout_before", "http_500_before"])
async def test_lost_answer_before_apply_fails_after_the_settle_window_then_resends(
    paper: PaperExchange, tmp_path: Path, venue_env: None, fake_time: FakeTime, kind: str
) -> None:
    config = make_config(paper.base_url, tmp_path, settle_window=120)
    ledger = Ledger.open(config.ledger_url)
    paper.faults.add(kind, hang=1.0)
    await run(config, ledger, fake_time)
    assert [r.status for r in rows(ledger)] == [TransferStatus.UNKNOWN]
    assert history(paper) == []

    # Inside the settle window the transfer may still appear: reconcile, do not send.
    blocked = await run(config, ledger, fake_time)
    assert blocked.reconciled.still_open and blocked.blocked and blocked.failed
    assert history(paper) == []

    # After it, absence is proof: the intent failed, and a new one is sent.
    resent = await run(config, ledger, fake_time, clock=later(5))
    assert [r.status for r in resent.reconciled.resolved] == [TransferStatus.FAILED]
    assert [r.status for r in resent.transfers] == [TransferStatus.CONFIRMED]
    assert history(paper) == [("MAIN_UMFUTURE", sent("3000", 2))]  # the second intent
    assert_ledger_matches_exchange(ledger, paper)
    ledger.close()


async def test_429_is_retried_after_retry_after_then_succeeds(
    paper: PaperExchange, config: Config, ledger: Ledger, fake_time: FakeTime
) -> None:
    paper.faults.add("http_429")
    result = await run(config, ledger, fake_time)
    (row,) = result.transfers
    assert row.status is TransferStatus.CONFIRMED and row.attempts == 2
    # the retry waited the venue's Retry-After (1 s); on a loaded machine a read may also have
    # been retried before it (a client timeout), so the 429's wait need not be the first
    assert any(pause >= 1.0 for pause in fake_time.sleeps), fake_time.sleeps
    assert history(paper) == TOP_UP
    assert_ledger_matches_exchange(ledger, paper)


async def test_reads_are_retried_on_429_and_5xx(
    paper: PaperExchange, config: Config, ledger: Ledger, fake_time: FakeTime
) -> None:
    paper.faults.add("http_429", method="GET", path="/fapi/v3/account")
    paper.faults.add("http_500_before", method="GET", path="/api/v3/account")
    result = await run(config, ledger, fake_time)
    assert [r.status for r in result.transfers] == [TransferStatus.CONFIRMED]
    assert len(fake_time.sleeps) >= 2


@pytest.mark.parametrize(("status", "code"), [(503, -1008), (503, -1016), (200, -1001)])
async def test_reads_are_retried_on_busy_and_status_unknown_codes(
    paper: PaperExchange,
    config: Config,
    ledger: Ledger,
    fake_time: FakeTime,
    status: int,
    code: int,
) -> None:
    """Server busy (-1008), "no longer available" (-1016, which ccxt calls a bad request) and
    internal errors are transient on a read: retried, never the end of the venue's cycle."""
    paper.faults.add("error", method="GET", path="/fapi/v3/account", status=status, code=code)
    result = await run(config, ledger, fake_time)
    assert not result.venue_errors, result.venue_errors
    assert [r.status for r in result.transfers] == [TransferStatus.CONFIRMED]
    assert paper.faults.fired["error"] == 1 and fake_time.sleeps


async def test_insufficient_because_pnl_moved_shrinks_with_a_new_intent(
    paper: PaperExchange, tmp_path: Path, venue_env: None, fake_time: FakeTime
) -> None:
    """Returning excess: between the fresh read and the transfer the price rallies, the short
    loses, maxWithdrawAmount falls under the sized amount and Binance answers -5013."""
    config = make_config(paper.base_url, tmp_path)
    ledger = Ledger.open(config.ledger_url)
    from tests.reliability.conftest import set_usdm_wallet

    set_usdm_wallet(paper, "13500")  # ratio 0.9: return 6000; transferable 12000
    paper.faults.add("move_price_before", symbol="ETHUSDT", price="4700")  # uPnL -8500
    result = await run(config, ledger, fake_time)
    first, second = rows(ledger)
    assert first.status is TransferStatus.FAILED and "-5013" in (first.error or "")
    assert second.status is TransferStatus.CONFIRMED and second.replaces_id == first.id
    assert second.client_id != first.client_id
    assert second.amount is not None and first.amount is not None
    assert second.amount < first.amount
    # 99% of what was transferable after the move: 13500 - 8500 - 2350 initial margin
    assert second.amount == sent("2623.5", 2)
    assert history(paper) == [("UMFUTURE_MAIN", sent("2623.5", 2))]
    assert result.failed is False or result.transfers[-1].status is TransferStatus.CONFIRMED
    assert_ledger_matches_exchange(ledger, paper)
    ledger.close()


async def test_shrinking_stops_cleanly_under_min_amount(
    paper: PaperExchange, tmp_path: Path, venue_env: None, fake_time: FakeTime
) -> None:
    config = make_config(paper.base_url, tmp_path)
    ledger = Ledger.open(config.ledger_url)
    from tests.reliability.conftest import set_usdm_wallet

    set_usdm_wallet(paper, "13500")
    paper.faults.add("move_price_before", symbol="ETHUSDT", price="5200")  # nothing left to move
    await run(config, ledger, fake_time)
    first, second = rows(ledger)
    assert first.status is TransferStatus.FAILED
    assert second.status is TransferStatus.SKIPPED and second.replaces_id == first.id
    assert history(paper) == []
    ledger.close()


async def test_clock_error_resyncs_once_then_succeeds(
    paper: PaperExchange, config: Config, ledger: Ledger, fake_time: FakeTime
) -> None:
    paper.faults.add(
        "error",
        status=400,
        code=-1021,
        msg="Timestamp for this request is outside of the recvWindow.",
    )
    (row,) = (await run(config, ledger, fake_time)).transfers
    assert row.status is TransferStatus.CONFIRMED and row.attempts == 2
    assert history(paper) == TOP_UP


async def test_auth_error_moves_nothing_and_says_what_to_fix(
    paper: PaperExchange, config: Config, ledger: Ledger, fake_time: FakeTime
) -> None:
    paper.faults.add(
        "error",
        status=401,
        code=-2015,
        msg="Invalid API-key, IP, or permissions for action.",
        times=None,
    )
    result = await run(config, ledger, fake_time)
    (row,) = result.transfers
    assert row.status is TransferStatus.FAILED and row.attempts == 1  # never retried
    assert "enable Universal Transfer" in (row.error or "")
    assert history(paper) == [] and fake_time.sleeps == []


async def test_a_revoked_key_seen_as_ddos_protection_is_not_retried_forever(
    paper: PaperExchange, config: Config, ledger: Ledger, fake_time: FakeTime
) -> None:
    """After one signed call succeeded, ccxt's binance turns -2015 into DDoSProtection (a
    NetworkError). The code decides: fatal, one attempt."""
    paper.faults.add(
        "error",
        status=401,
        code=-2015,
        msg="Invalid API-key, IP, or permissions for action.",
    )
    (row,) = (await run(config, ledger, fake_time)).transfers
    assert row.status is TransferStatus.FAILED and row.attempts == 1
