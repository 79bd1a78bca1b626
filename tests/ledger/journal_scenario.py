"""Every kind of ledger write, in one deterministic scenario: what the journal's golden test
replays. A clock that steps one second per reading catches a write that reads it more or less
often, or in another order; the fixed key makes every hash reproducible.

Run as a script (`python -m tests.ledger.journal_scenario OUT.json`) to record the golden file
from the code as it is."""

from __future__ import annotations

import itertools
import json
import sys
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.ledger import Ledger
from bot.ledger.tables import JournalEntry
from bot.model import (
    Funding,
    PauseScope,
    PlannedTransfer,
    Position,
    Rule,
    State,
    TransferStatus,
    VenueState,
    Wallet,
)

KEY = b"k" * 32
START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
#: the module whose `new_client_id` makes transfers' client ids
CLIENT_IDS = "bot.ledger.transfers"
GOLDEN = Path(__file__).parent.parent / "fixtures" / "ledger" / "journal_golden.json"


def stepping_clock() -> Any:
    ticks = itertools.count()
    return lambda: START + timedelta(seconds=next(ticks))


def client_ids() -> Iterator[str]:
    return (f"{n:032x}" for n in itertools.count(1))


def _state(at: datetime) -> State:
    venues = {}
    for name, asset in (("paper", "USDT"), ("other", "BTC")):
        venues[name] = VenueState(
            venue=name,
            read_at=at,
            wallets={
                ("spot", asset): Wallet(
                    account="spot",
                    asset=asset,
                    free=D("10.5"),
                    used=D(0),
                    balance=D("10.5"),
                    transferable=D("10.5"),
                ),
                ("linear", asset): Wallet(
                    account="linear",
                    asset=asset,
                    free=D(4),
                    used=D(1),
                    balance=D(5),
                    transferable=D(3),
                    cross_balance=D(5),
                    cross_unrealized_pnl=D("-0.25"),
                ),
            },
            positions={
                "ETH/USDT:USDT": Position(
                    symbol="ETH/USDT:USDT",
                    side="short",
                    contracts=D(2),
                    contract_size=D(1),
                    notional=D(6000),
                    entry_price=D(3000),
                    mark_price=D(3001),
                    unrealized_pnl=D(-2),
                    margin_mode="cross",
                )
            },
            funding={
                "ETH/USDT:USDT": Funding(
                    symbol="ETH/USDT:USDT", rate=D("0.0001"), mark_price=D(3001)
                )
            },
        )
    return State(read_at=at, venues=venues)


def _item(venue: str = "paper", amount: D = D(3000)) -> PlannedTransfer:
    return PlannedTransfer(
        venue=venue,
        hedges=("eth",),
        asset="USDT",
        from_account="spot",
        to_account="linear",
        amount=amount,
        rule=Rule.TOP_UP,
        reason="below band",
        figures={"equity": D(4500)},
    )


def play(ledger: Ledger) -> None:
    """Each write method of the ledger at least once, the multi-row ones with several rows."""
    from bot.ledger.alerts import DeliveryRecord

    run = ledger.start_run("rebalance", dry_run=False, config_digest="digest")
    ledger.record_snapshot(run, _state(START))
    _funding(ledger)
    tagged = ledger.record_intent(
        run, _item(), amount=D(3000), inputs={"fresh": D(1)}, tag=lambda i: D(i) / 100
    )
    ledger.record_sizing(tagged.id, amount=D(2999), inputs={"fresh": D(2)}, tag=lambda i: D(i))
    ledger.record_attempt(
        tagged.id,
        amount=D(2998),
        outcome="confirmed",
        started_at=START,
        exchange_id="T1",
        status=TransferStatus.CONFIRMED,
        venue_clock_offset_ms=12,
        inputs={"fresh": D(3)},
    )
    skipped = ledger.record_intent(run, _item(amount=D(5)), amount=None, inputs={})
    ledger.record_sizing(skipped.id, amount=D(4), inputs={}, skipped="under min_amount")
    lost = ledger.record_intent(run, _item(), amount=D(7), inputs={})
    ledger.record_attempt(lost.id, amount=D(7), outcome="timeout", started_at=START)
    ledger.record_attempt(
        lost.id,
        amount=D(7),
        outcome="confirmed",
        started_at=START,
        exchange_id="T1",  # held by the first: left unknown
        status=TransferStatus.CONFIRMED,
    )
    ledger.assign(lost.id, "T2", operator="ann", reason="seen in the history", note="n")
    open_one = ledger.record_intent(run, _item(), amount=D(8), inputs={})
    ledger.record_outcome(open_one.id, TransferStatus.UNKNOWN, error="lost")
    ledger.record_outcome(open_one.id, TransferStatus.FAILED, error="refused")

    move = ledger.record_margin_move(
        run,
        _item(),
        symbol="ETH/USDT:USDT",
        futures_account="linear",
        direction="top_up",
        dry_run=False,
    )
    leg = ledger.record_margin_intent(
        move.id, add=True, amount=D(9), inputs={"a": 1}, dry_run=False
    )
    ledger.record_margin_attempt(
        leg.id, amount=D(9), outcome="timeout", started_at=START, status=None, error="t/o"
    )
    ledger.record_margin_attempt(
        leg.id,
        amount=D(9),
        outcome="unknown",
        started_at=START,
        status=TransferStatus.UNKNOWN,
        error="lost",
    )
    ledger.record_margin_outcome(
        leg.id, TransferStatus.CONFIRMED, settled_by="history", venue_at=START
    )

    job = ledger.start_job("rebalance", scheduled_at=START, late=False)
    ledger.finish_job(job, "ok", run_id=run)
    ledger.record_job_not_run("guard", "missed", scheduled_at=START, error="late")
    ledger.fire_alert("a:1", "first", sent=False)
    ledger.fire_alert("a:1", "again", sent=True)
    lease = timedelta(minutes=5)
    stood, _ = ledger.stand_alert(
        "b:1", "low", severity="failure", token="t1", lease=lease, decide=lambda r, s: "alert"
    )
    ledger.finish_delivery(
        stood.id,
        token="t1",
        kind="alert",
        severity="failure",
        deliveries=[
            DeliveryRecord(channel="c1", outcome="delivered"),
            DeliveryRecord(channel="c2", outcome="failed", detail="500"),
        ],
    )
    ledger.stand_alert(  # nothing new: no write
        "b:1", "low", severity="failure", token="t2", lease=lease, decide=lambda r, s: None
    )
    ledger.stand_alert(
        "b:1",
        "lower",
        severity="failure",
        count=2,
        token="t3",
        lease=lease,
        decide=lambda r, s: None,
    )
    resolved, claimed = ledger.claim_resolution("b:1", token="t4", lease=lease)
    assert resolved is not None and claimed
    ledger.finish_delivery(
        resolved.id,
        token="t4",
        kind="resolved",
        severity="failure",
        deliveries=[DeliveryRecord(channel="c1", outcome="delivered")],
        resolve=True,
    )
    ledger.stand_alert(
        "c:1", "quiet", severity="warning", token="t5", lease=lease, decide=lambda r, s: None
    )
    ledger.claim_resolution("c:1", token="t6", lease=lease)  # never delivered: resolves silently
    ledger.resolve_alert("a:1", sent=True)
    ledger.record_notice(
        "notice:x",
        "hello",
        sent=True,
        severity="info",
        deliveries=[DeliveryRecord(channel="c1", outcome="delivered")],
    )
    for amount in (D(1), D(2)):
        ledger.stand_manual_instruction(
            ("paper", "USDT", "spot", "linear"), amount, hedges="eth", transfer_id=lost.id
        )
    ledger.stand_manual_instruction(
        ("paper", "BTC", "spot", "inverse"), D(3), hedges="btc", transfer_id=None
    )
    ledger.clear_manual_instructions("paper", keep=[])
    ledger.record_halt(
        "paper",
        kind="fatal",
        code="-2015",
        error="bad key",
        hint="check the key",
        fingerprint="f",
        salt="s",
        transfer_id=lost.id,
    )
    ledger.record_halt(
        "paper", kind="fatal", code=None, error="again", hint=None, fingerprint="f", salt="s"
    )
    ledger.end_halt("paper", state="resumed", by="ann", reason="new key")
    ledger.pause(PauseScope.HEDGE, "eth", by="ann", reason="by hand", until=None)
    ledger.resume(PauseScope.HEDGE, "eth", by="ann", reason="done")
    for _ in range(2):
        ledger.stand_nothing_to_move(
            ("paper", "USDT", "spot", "linear"),
            hedges="eth",
            rule="top_up",
            reason="dust",
            planned=D("0.5"),
        )
    ledger.stand_nothing_to_move(
        ("paper", "BTC", "spot", "inverse"),
        hedges="btc",
        rule="top_up",
        reason="dust",
        planned=D(1),
    )
    ledger.clear_nothing_to_move("paper", keep=[("paper", "BTC", "spot", "inverse")])
    ledger.finish_run(run, "ok")


def _funding(ledger: Ledger) -> None:
    from bot.ledger.store import FundingPaymentRecord

    payments = [
        FundingPaymentRecord(
            venue=venue,
            hedge="eth",
            symbol="ETH/USDT:USDT",
            asset="USDT",
            amount=D(amount),
            at=START,
            exchange_id=exchange_id,
        )
        for venue, amount, exchange_id in (("paper", "0.5", "f1"), ("other", "-0.25", "f1"))
    ]
    ledger.record_funding_payments(payments)
    ledger.record_funding_payments(payments[:1])  # seen: nothing new


def journal(ledger: Ledger) -> list[dict[str, Any]]:
    """Every entry as stored, oldest first."""
    with ledger.engine.connect() as connection:
        rows = connection.execute(select(JournalEntry).order_by(JournalEntry.seq)).all()
    return [
        {
            "seq": r.seq,
            "at": r.at.isoformat(),
            "entity": r.entity,
            "entity_id": r.entity_id,
            "body": r.body,
            "prev_hash": r.prev_hash,
            "hash": r.hash,
            "chain": r.chain,
        }
        for r in rows
    ]


def record(url: str) -> list[dict[str, Any]]:
    ledger = Ledger.open(url, stepping_clock(), key=KEY)
    try:
        play(ledger)
        return journal(ledger)
    finally:
        ledger.close()


def deterministic(set_attribute: Any) -> None:
    """Client ids, the process id and the host name made constant (`set_attribute`: the
    test's `monkeypatch.setattr`, or `setattr`)."""
    import importlib
    import os
    import socket

    ids = client_ids()
    set_attribute(importlib.import_module(CLIENT_IDS), "new_client_id", lambda: next(ids))
    set_attribute(os, "getpid", lambda: 4242)
    set_attribute(socket, "gethostname", lambda: "host")


if __name__ == "__main__":
    deterministic(setattr)
    with tempfile.TemporaryDirectory() as folder:
        entries = record(f"sqlite:///{folder}/ledger.sqlite")
    Path(sys.argv[1]).write_text(json.dumps(entries, indent=1) + "\n", encoding="utf-8")
