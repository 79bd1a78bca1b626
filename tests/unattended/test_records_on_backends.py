"""The 0005 records on both backends: one firing row per condition, final rows never change,
a standing manual instruction updated in place."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from bot.ledger import Ledger
from tests.ledger.conftest import ledger_url  # noqa: F401  (fixture: SQLite and PostgreSQL)


@pytest.fixture
def ledger(ledger_url: str):  # type: ignore[no-untyped-def]  # noqa: F811
    opened = Ledger.open(ledger_url)
    yield opened
    opened.close()


def test_alert_rows_fire_once_and_resolve_final(ledger: Ledger) -> None:
    ledger.fire_alert("margin:eth", "low", sent=True)
    ledger.fire_alert("margin:eth", "lower", sent=False)  # seen again: the same row
    [firing] = ledger.firing_alerts().values()
    assert (firing.message, firing.sent_count) == ("lower", 1)
    ledger.resolve_alert("margin:eth", sent=True)
    assert ledger.firing_alerts() == {}
    with pytest.raises(IntegrityError, match="never updated"), ledger.engine.begin() as conn:
        conn.execute(text("UPDATE alerts SET state = 'firing'"))
    with pytest.raises(IntegrityError), ledger.engine.begin() as conn:  # one firing row per key
        for _ in range(2):
            conn.execute(
                text(
                    "INSERT INTO alerts (key, state, message, first_seen, last_seen, sent_count)"
                    " VALUES ('k', 'firing', 'm', '2026-12-03', '2026-12-03', 0)"
                )
            )


def test_job_rows_are_final_with_their_outcome(ledger: Ledger) -> None:
    job = ledger.start_job("guard", scheduled_at=None, late=False)
    ledger.finish_job(job, "ok")
    with pytest.raises(IntegrityError, match="never updated"):
        ledger.finish_job(job, "error", error="rewritten")
    with pytest.raises(IntegrityError, match="never deleted"), ledger.engine.begin() as conn:
        conn.execute(text("DELETE FROM job_runs"))


def test_a_manual_instruction_stands_once(ledger: Ledger) -> None:
    key = ("coinw", "USDT", "spot", "linear")
    first, created = ledger.stand_manual_instruction(
        key, D("100.5"), hedges="eth", transfer_id=None
    )
    again, created_again = ledger.stand_manual_instruction(
        key, D("120.25"), hedges="eth", transfer_id=None
    )
    assert (created, created_again, first.id == again.id) == (True, False, True)
    assert [m.amount for m in ledger.open_manual_instructions()] == [D("120.25")]
    assert ledger.clear_manual_instructions("coinw", []) == [key]
    assert ledger.open_manual_instructions() == []
