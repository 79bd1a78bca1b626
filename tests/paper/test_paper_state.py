"""State persistence: exact JSON round trip, atomic rewrite, refusal of unknown schemas."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from bot.paper.model import default_state
from bot.paper.state import StateStore, state_from_json, state_to_json
from bot.paper.transfers import apply_transfer

NOW = 1_700_000_000_000


def test_json_round_trip_is_exact():
    state = default_state(now=NOW).with_mark_price("ETHUSDT", Decimal("3123.456789012345"))
    state, _ = apply_transfer(
        state, asset="USDT", amount="0.00000001", transfer_type="MAIN_UMFUTURE", now=NOW
    )
    encoded = json.loads(json.dumps(state_to_json(state)))
    assert state_from_json(encoded) == state


def test_money_is_stored_as_strings():
    encoded = state_to_json(default_state(now=NOW))
    assert encoded["usdm"]["USDT"]["wallet_balance"] == "4500"
    assert encoded["positions"][0]["amount"] == "-5"
    assert encoded["mark_prices"]["BTCUSD_PERP"] == "60000"


def test_missing_file_is_created_with_the_default_state(tmp_path: Path):
    path = tmp_path / "nested" / "state.json"
    store = StateStore(path)
    assert path.exists()
    assert StateStore.load(path) == store.state
    assert store.state.spot["USDT"].free == Decimal("20000")


def test_commit_persists_before_publishing_and_leaves_no_temp_files(tmp_path: Path):
    path = tmp_path / "state.json"
    store = StateStore(path)
    moved, _ = apply_transfer(
        store.state, asset="USDT", amount="10", transfer_type="MAIN_UMFUTURE", now=NOW
    )
    store.commit(moved)
    assert StateStore.load(path) == moved
    assert StateStore(path).state == moved  # a new process sees exactly what was applied
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


def test_failed_write_keeps_the_live_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    store = StateStore(tmp_path / "state.json")
    before = store.state
    moved, _ = apply_transfer(
        before, asset="USDT", amount="10", transfer_type="MAIN_UMFUTURE", now=NOW
    )

    def failing_replace(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("bot.paper.state.os.replace", failing_replace)
    with pytest.raises(OSError):
        store.commit(moved)
    assert store.state == before
    assert StateStore.load(tmp_path / "state.json") == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


def test_in_memory_store_writes_nothing(tmp_path: Path):
    store = StateStore(None, initial=default_state(now=NOW))
    store.commit(store.state.with_mark_price("BTC", Decimal("1")))
    assert store.state.mark_prices["BTCUSDT"] == Decimal("1")
    assert list(tmp_path.iterdir()) == []


def test_unknown_schema_is_refused(tmp_path: Path):
    path = tmp_path / "state.json"
    data = state_to_json(default_state(now=NOW))
    data["schema"] = 99
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="schema"):
        StateStore(path)
