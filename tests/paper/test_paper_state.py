"""State persistence: exact JSON round trip, atomic rewrite, refusal of unknown schemas, and
transfer ids that a fresh account (state file deleted) never reuses."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import ccxt.async_support as ccxt_async
import pytest

from bot.paper import PaperExchange
from bot.paper.model import MAX_SAFE_INTEGER, default_state, first_tran_id, now_ms
from bot.paper.state import PaperStateUnreadable, StateStore, state_from_json, state_to_json
from bot.paper.transfers import apply_transfer

NOW = 1_700_000_000_000
YEAR_2200_MS = 7_258_118_400_000
YEAR_2300_MS = 10_413_792_000_000


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


def test_commission_rate_round_trips_and_defaults_for_older_files():
    encoded = state_to_json(default_state(now=NOW))
    assert encoded["positions"][0]["commission_rate"] == "0.0005"
    for position in encoded["positions"]:
        del position["commission_rate"]  # a file written before positions knew their fees
    assert state_from_json(encoded) == default_state(now=NOW)


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


def test_funding_and_margin_wallets_round_trip():
    state, _ = apply_transfer(
        default_state(now=NOW), asset="USDT", amount="12.5", transfer_type="MAIN_FUNDING", now=NOW
    )
    state, _ = apply_transfer(
        state, asset="ETH", amount="0.25", transfer_type="MAIN_MARGIN", now=NOW
    )
    encoded = json.loads(json.dumps(state_to_json(state)))
    assert encoded["schema"] == 2
    assert encoded["funding_wallet"] == {"USDT": {"free": "12.5", "locked": "0"}}
    assert encoded["margin_wallet"] == {"ETH": {"free": "0.25", "locked": "0"}}
    assert state_from_json(encoded) == state


def test_a_schema_1_file_loads_with_empty_funding_and_margin_wallets(tmp_path: Path):
    """Files written before the funding and cross-margin wallets existed: everything else as
    saved, both new wallets empty; the next commit rewrites the file as schema 2."""
    path = tmp_path / "state.json"
    saved = default_state(now=NOW)
    data = state_to_json(saved)
    data["schema"] = 1
    del data["funding_wallet"], data["margin_wallet"]
    path.write_text(json.dumps(data))
    store = StateStore(path)
    assert store.state == saved
    assert store.state.funding_wallet == {} and store.state.margin_wallet == {}
    moved, _ = apply_transfer(
        store.state, asset="USDT", amount="1", transfer_type="MAIN_FUNDING", now=NOW
    )
    store.commit(moved)
    assert json.loads(path.read_text())["schema"] == 2
    assert StateStore.load(path) == moved


def test_unknown_schema_is_refused(tmp_path: Path):
    path = tmp_path / "state.json"
    data = state_to_json(default_state(now=NOW))
    data["schema"] = 99
    path.write_text(json.dumps(data))
    with pytest.raises(PaperStateUnreadable, match=r"schema 99 is not supported.*bot paper reset"):
        StateStore(path)


async def test_a_fresh_account_after_a_reset_never_reuses_a_transfer_id(
    state_path: Path, client_factory: Callable[..., ccxt_async.binance]
):
    """The ledger keeps the first account's id; the account made after deleting the state file
    (one millisecond later on the injected clock) must answer a different, larger one."""
    async with PaperExchange(StateStore(state_path, clock=lambda: NOW)) as first:
        client = client_factory(first.base_url)
        before_reset = (await client.transfer("USDT", 10, "spot", "linear"))["id"]
    state_path.unlink()
    async with PaperExchange(StateStore(state_path, clock=lambda: NOW + 1)) as second:
        client = client_factory(second.base_url)
        after_reset = (await client.transfer("USDT", 10, "spot", "linear"))["id"]
    assert before_reset != after_reset
    assert int(after_reset) > int(before_reset)
    assert (int(before_reset), int(after_reset)) == (first_tran_id(NOW), first_tran_id(NOW + 1))
    assert json.loads(state_path.read_text())["next_tran_id"] == first_tran_id(NOW + 1) + 1


def test_accounts_created_a_millisecond_apart_have_disjoint_ids():
    older = default_state(now=NOW)
    ids: list[int] = []
    for _ in range(1000):  # the most an account may make per millisecond it lives
        older, record = apply_transfer(
            older, asset="USDT", amount="0.01", transfer_type="MAIN_UMFUTURE", now=NOW
        )
        ids.append(record.tran_id)
    newer = default_state(now=NOW + 1)
    _, record = apply_transfer(
        newer, asset="USDT", amount="0.01", transfer_type="MAIN_UMFUTURE", now=NOW + 1
    )
    assert len(set(ids)) == 1000 and max(ids) < record.tran_id


def test_the_default_clock_dates_a_new_store(tmp_path: Path):
    earliest = now_ms()
    store = StateStore(tmp_path / "state.json")
    latest = now_ms()
    assert first_tran_id(earliest) <= store.state.next_tran_id <= first_tran_id(latest)
    assert StateStore.load(tmp_path / "state.json").next_tran_id == store.state.next_tran_id


def test_an_old_state_file_keeps_its_next_tran_id(tmp_path: Path):
    """Files written before ids were dated carry next_tran_id 100000001 onwards: keep it."""
    path = tmp_path / "state.json"
    data = state_to_json(default_state(now=NOW))
    data["next_tran_id"] = 100000005
    path.write_text(json.dumps(data))
    store = StateStore(path, clock=lambda: NOW + 60_000)
    assert store.state.next_tran_id == 100000005
    _, record = apply_transfer(
        store.state, asset="USDT", amount="1", transfer_type="MAIN_UMFUTURE", now=NOW
    )
    assert record.tran_id == 100000005


def test_transfer_ids_stay_exact_as_doubles():
    assert first_tran_id(YEAR_2200_MS) + 10**9 <= MAX_SAFE_INTEGER
    assert float(first_tran_id(YEAR_2200_MS) + 1) == first_tran_id(YEAR_2200_MS) + 1
    with pytest.raises(ValueError, match="2\\*\\*53"):
        first_tran_id(YEAR_2300_MS)
    with pytest.raises(ValueError):
        first_tran_id(-1)
