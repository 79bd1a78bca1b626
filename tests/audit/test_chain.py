"""Tamper evidence: the keyed chain detects an edit, a delete, an insert, a recomputed unkeyed
chain, a wrong key and (with an anchor) a truncation; on every backend."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import bindparam, text

from bot.audit.chain import Anchor
from bot.audit.verify import verify_ledger
from bot.errors import LedgerError
from bot.ledger import Ledger, db
from bot.ledger.alerts import DeliveryRecord
from bot.model import TransferStatus
from tests.audit.tampering import (
    KEY,
    drop_triggers,
    populate,
    recompute_chain,
    recompute_whole_chain,
    rewrite_row,
    triggers,
    truncate_newest,
)
from tests.ledger.items import TOP_UP

APPEND_ONLY_TRIGGERS = {
    ("transfers_final_immutable", "transfers"),
    ("transfers_no_delete", "transfers"),
    ("transfer_attempts_no_delete", "transfer_attempts"),
    ("journal_no_delete", "journal"),
    ("journal_no_update", "journal"),
    ("corrections_no_update", "corrections"),
    ("corrections_no_delete", "corrections"),
    ("funding_payments_no_update", "funding_payments"),
    ("funding_payments_no_delete", "funding_payments"),
    ("balance_snapshots_no_update", "balance_snapshots"),
    ("balance_snapshots_no_delete", "balance_snapshots"),
    ("position_snapshots_no_update", "position_snapshots"),
    ("position_snapshots_no_delete", "position_snapshots"),
    ("funding_snapshots_no_update", "funding_snapshots"),
    ("funding_snapshots_no_delete", "funding_snapshots"),
    ("venue_halts_final_immutable", "venue_halts"),
    ("venue_halts_no_delete", "venue_halts"),
    ("pauses_final_immutable", "pauses"),
    ("pauses_no_delete", "pauses"),
    ("nothing_to_move_final_immutable", "nothing_to_move"),
    ("nothing_to_move_no_delete", "nothing_to_move"),
    ("alert_deliveries_no_update", "alert_deliveries"),
    ("alert_deliveries_no_delete", "alert_deliveries"),
}


@pytest.fixture
def keyed(ledger_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    opened = Ledger.open(ledger_url, key=KEY, anchor_file=tmp_path / "anchor.jsonl")
    yield opened
    opened.close()


def test_the_guards_exist_after_upgrade_head(ledger: Ledger) -> None:
    assert db.current_revision(ledger.engine) == db.head_revision()
    assert triggers(ledger.engine) >= APPEND_ONLY_TRIGGERS


def test_a_keyed_ledger_verifies_with_its_key_only(keyed: Ledger, ledger_url: str) -> None:
    populate(keyed)
    report = verify_ledger(keyed)
    assert report.ok, report.problems
    assert report.keyed_entries == report.entries and report.unkeyed_entries == 0
    # the run, the snapshot rows, the transfer, its attempt, the funding payment: all chained
    assert report.rows == 1 + 3 + 1 + 1 + 1
    wrong = Ledger.open_read_only(ledger_url, key=b"another key")
    try:
        problems = verify_ledger(wrong).problems
    finally:
        wrong.close()
    assert any("does not match under this key" in p for p in problems)
    assert any("keyed with key id" in p for p in problems)


def test_an_edit_with_a_recomputed_unkeyed_chain_is_detected(keyed: Ledger) -> None:
    """The attack that fooled the first release: change the amount, rewrite the journal body,
    recompute the chain (here labelled as unkeyed entries)."""
    transfer_id = populate(keyed)
    drop_triggers(keyed.engine)
    rewrite_row(keyed.engine, "transfers", transfer_id, amount="9999")
    recompute_chain(keyed.engine, "transfer", "transfers", transfer_id, chain="sha256")
    report = verify_ledger(keyed)
    assert not report.ok
    assert "is unkeyed after the keyed chain started" in report.problems[0]


def test_an_edit_relabelled_as_keyed_fails_the_key(keyed: Ledger) -> None:
    transfer_id = populate(keyed)
    drop_triggers(keyed.engine)
    rewrite_row(keyed.engine, "transfers", transfer_id, amount="9999")
    recompute_chain(keyed.engine, "transfer", "transfers", transfer_id, chain="hmac-sha256")
    (first, *_) = verify_ledger(keyed).problems
    assert "does not match under this key" in first


@pytest.mark.parametrize("label", ["sha256", None])
def test_a_whole_chain_recomputed_without_the_key_is_detected(
    keyed: Ledger, label: str | None
) -> None:
    transfer_id = populate(keyed)
    drop_triggers(keyed.engine)
    rewrite_row(keyed.engine, "transfers", transfer_id, amount="9999")
    recompute_chain(keyed.engine, "transfer", "transfers", transfer_id, chain=label)
    recompute_whole_chain(keyed.engine, chain=label)
    report = verify_ledger(keyed)
    assert not report.ok
    assert any("no entry is keyed, though the key is set" in p for p in report.problems)


def test_an_edited_run_error_is_detected(keyed: Ledger) -> None:
    populate(keyed)
    drop_triggers(keyed.engine)
    rewrite_row(keyed.engine, "runs", 1, error="nothing happened")
    assert verify_ledger(keyed).problems == ("run 1: differs from its journal entry",)


def test_an_edited_snapshot_is_refused_then_detected(keyed: Ledger) -> None:
    populate(keyed)
    with pytest.raises(Exception, match="never updated"):
        rewrite_row(keyed.engine, "balance_snapshots", 1, free="1")
    drop_triggers(keyed.engine)
    rewrite_row(keyed.engine, "balance_snapshots", 1, free="1")
    assert verify_ledger(keyed).problems == ("balance 1: differs from its journal entry",)


def test_a_deleted_row_and_an_inserted_row_are_detected(keyed: Ledger) -> None:
    populate(keyed)
    drop_triggers(keyed.engine)
    with keyed.engine.begin() as conn:
        conn.execute(text("DELETE FROM funding_payments"))
        conn.execute(
            text(
                "INSERT INTO runs (command, dry_run, started_at, status, config_digest) "
                "VALUES ('rebalance', false, '2026-12-01 09:00:00', 'ok', 'x')"
            )
        )
    problems = verify_ledger(keyed).problems
    assert "funding_payment 1: in the journal but missing from its table" in problems
    assert "run 2: not in the journal" in problems


def test_truncating_the_newest_entries_is_detected_by_the_anchor(
    keyed: Ledger, ledger_url: str, tmp_path: Path
) -> None:
    populate(keyed)
    run = keyed.start_run("rebalance", dry_run=False, config_digest="x")
    keyed.finish_run(run, "ok")
    anchor_file = tmp_path / "anchor.jsonl"
    heads = [json.loads(line) for line in anchor_file.read_text().splitlines()]
    assert [h["seq"] for h in heads] == [keyed.chain_head().seq - 2, keyed.chain_head().seq]
    drop_triggers(keyed.engine)
    truncate_newest(keyed.engine, 2)  # the second run, gone without a trace in the database
    assert verify_ledger(keyed).ok
    newest = heads[-1]
    report = verify_ledger(keyed, Anchor(newest["seq"], newest["hash"], "the anchor file"))
    assert report.problems == (
        f"journal: the chain ends at entry {newest['seq'] - 2} but the anchor file recorded "
        f"entry {newest['seq']}: the newest entries were removed",
    )


def test_a_writer_without_the_key_cannot_extend_a_keyed_chain(
    keyed: Ledger, ledger_url: str
) -> None:
    populate(keyed)
    for key in (None, b"another key"):
        with pytest.raises(LedgerError, match="chain is keyed"):
            Ledger.open(ledger_url, key=key).close()
    assert verify_ledger(keyed).ok


def test_an_unkeyed_ledger_says_so_and_takes_a_key_later(ledger_url: str) -> None:
    unkeyed = Ledger.open(ledger_url)
    populate(unkeyed)
    report = verify_ledger(unkeyed)
    assert report.ok and report.keyed_entries == 0
    assert report.mode.startswith("unkeyed (SHA-256): it detects accidental edits")
    unkeyed.close()
    keyed = Ledger.open(ledger_url, key=KEY)  # starts the keyed chain on top
    populate(keyed)
    report = verify_ledger(keyed)
    assert report.ok, report.problems
    assert report.unkeyed_entries and report.keyed_entries
    keyed.close()


def test_the_sql_views_answer_on_every_backend(ledger: Ledger) -> None:
    populate(ledger)
    with ledger.engine.connect() as conn:
        daily = conn.execute(text("SELECT direction, status, transfers FROM transfers_daily"))
        assert daily.all() == [("to_futures", "confirmed", 1)]
        flows = conn.execute(text("SELECT venue, asset, confirmed FROM flows_by_asset")).all()
        assert flows == [("paper", "USDT", 1)]
        income = conn.execute(text("SELECT hedge, payments, income FROM funding_income")).one()
        assert (income.hedge, income.payments) == ("eth", 1)
        assert Decimal(str(income.income)) == Decimal("1.5")  # SQLite's view sums in floats


def test_alerts_job_runs_and_manual_instructions_are_in_the_chain(keyed: Ledger) -> None:
    populate(keyed)
    job = keyed.start_job("rebalance", scheduled_at=None, late=False)
    keyed.finish_job(job, "ok")
    keyed.fire_alert("margin:eth", "eth margin ratio 0.2", sent=True)
    keyed.resolve_alert("margin:eth", sent=True)
    keyed.stand_manual_instruction(
        ("coinw", "USDT", "spot", "linear"), Decimal("100"), hedges="eth", transfer_id=None
    )
    assert verify_ledger(keyed).ok
    drop_triggers(keyed.engine)
    rewrite_row(keyed.engine, "alerts", 1, message="all is well")
    rewrite_row(keyed.engine, "job_runs", job, error="edited")
    assert set(verify_ledger(keyed).problems) == {
        f"job_run {job}: differs from its journal entry",
        "alert 1: differs from its journal entry",
    }


def test_alert_delivery_attempts_are_append_only_and_in_the_chain(keyed: Ledger) -> None:
    """0010: a transition claimed, its attempt per channel recorded, the claim released."""
    lease = timedelta(minutes=1)
    record, transition = keyed.stand_alert(
        "margin:eth",
        "eth margin ratio 0.2",
        severity="failure",
        token="me",
        lease=lease,
        decide=lambda row, last_sent: "alert",
    )
    assert transition == "alert" and record.claim == "me"
    keyed.finish_delivery(
        record.id,
        token="me",
        kind="alert",
        severity="failure",
        deliveries=[DeliveryRecord(channel="json", outcome="failed", detail="HTTP 500")],
    )
    [row] = keyed.firing_alerts().values()
    assert (row.claim, row.attempts, row.sent_count) == (None, 1, 0)
    assert verify_ledger(keyed).ok
    with pytest.raises(Exception, match="never updated"):
        rewrite_row(keyed.engine, "alert_deliveries", 1, outcome="delivered")
    drop_triggers(keyed.engine)
    rewrite_row(keyed.engine, "alert_deliveries", 1, outcome="delivered")
    assert verify_ledger(keyed).problems == ("alert_delivery 1: differs from its journal entry",)


def _margin_move(ledger: Ledger) -> tuple[int, int]:
    """An isolated hedge's move with its margin leg, sent and confirmed: (move id, leg id)."""
    run = ledger.start_run("rebalance", dry_run=False, config_digest="x")
    move = ledger.record_margin_move(
        run,
        TOP_UP,
        symbol="ETH/USDT:USDT",
        futures_account="linear",
        direction="top_up",
        dry_run=False,
    )
    leg = ledger.record_margin_intent(
        move.id, add=True, amount=Decimal("100"), inputs={"safety": "0.99"}, dry_run=False
    )
    ledger.record_margin_attempt(
        leg.id,
        amount=Decimal("100"),
        outcome="ok",
        started_at=move.created_at,
        status=TransferStatus.CONFIRMED,
    )
    return move.id, leg.id


def test_an_isolated_move_and_its_margin_leg_are_in_the_chain(keyed: Ledger) -> None:
    move, leg = _margin_move(keyed)
    assert verify_ledger(keyed).ok
    drop_triggers(keyed.engine)
    rewrite_row(keyed.engine, "margin_legs", leg, amount="1000")
    rewrite_row(keyed.engine, "margin_moves", move, direction="return")
    rewrite_row(keyed.engine, "margin_leg_attempts", 1, outcome="refused")
    assert set(verify_ledger(keyed).problems) == {
        f"margin_leg {leg}: differs from its journal entry",
        f"margin_move {move}: differs from its journal entry",
        "margin_attempt 1: differs from its journal entry",
    }


def test_a_ledger_from_before_margin_journaling_covers_its_new_margin_rows(
    ledger_url: str,
) -> None:
    """As an older release left it: a margin move never journaled, a chain start that names no
    margin table. The next writer names them, from the next row on."""
    old = Ledger.open(ledger_url)
    move, _ = _margin_move(old)
    drop_triggers(old.engine)
    with old.engine.begin() as conn:
        unjournaled = ("margin_move", "margin_leg", "margin_attempt")
        conn.execute(
            text("DELETE FROM journal WHERE entity IN :names").bindparams(
                bindparam("names", expanding=True)
            ),
            {"names": list(unjournaled)},
        )
        (start,) = conn.execute(text("SELECT seq, body FROM journal WHERE entity = 'chain'")).all()
        body = json.loads(start.body)
        body["before"] = {k: v for k, v in body["before"].items() if k not in unjournaled}
        conn.execute(
            text("UPDATE journal SET body = :body WHERE seq = :seq"),
            {"body": json.dumps(body, sort_keys=True, separators=(",", ":")), "seq": start.seq},
        )
        conn.execute(text("UPDATE journal_head SET seq = (SELECT max(seq) FROM journal)"))
    recompute_whole_chain(old.engine, "sha256")
    old.close()

    upgraded = Ledger.open(ledger_url)  # this release: the start names the margin tables
    report = verify_ledger(upgraded)
    assert report.ok, report.problems
    assert report.uncovered_rows == 3  # the move, its leg, its attempt: before journaling
    _margin_move(upgraded)
    assert verify_ledger(upgraded).ok
    rewrite_row(upgraded.engine, "margin_moves", move + 1, reason="edited")
    assert list(verify_ledger(upgraded).problems) == [
        f"margin_move {move + 1}: differs from its journal entry"
    ]
    upgraded.close()
