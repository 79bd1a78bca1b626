"""The chain is byte for byte what it was for the same writes: every entry's content, order,
time and hash (`journal_scenario.GOLDEN`, recorded before journaling became one hook)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.ledger import journal_scenario


def test_the_same_writes_give_the_same_chain(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal_scenario.deterministic(monkeypatch.setattr)

    entries = journal_scenario.record(f"sqlite:///{tmp_path}/ledger.sqlite")

    golden = json.loads(journal_scenario.GOLDEN.read_text(encoding="utf-8"))
    assert [(e["seq"], e["entity"], e["entity_id"]) for e in entries] == [
        (e["seq"], e["entity"], e["entity_id"]) for e in golden
    ]
    assert entries == golden
