"""Identifiable amounts: the tag of an intent is its id in the last four digits."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from bot.transfers.amount_tag import MAX_TAG, tag_for, tag_to_subtract, tags_on

STEP = D("0.00000001")


@pytest.mark.parametrize(
    ("intent_id", "tag"),
    [(1, "0.00000001"), (1234, "0.00001234"), (9999, "0.00009999"), (10000, "0.00000001")],
)
def test_the_tag_is_the_intent_id_in_the_last_four_digits(intent_id: int, tag: str) -> None:
    assert tag_for(intent_id, STEP) == D(tag)


def test_consecutive_intents_never_share_a_tag_and_none_is_untagged() -> None:
    tags = [tag_for(i, STEP) for i in range(1, 10_000)]
    assert len(set(tags)) == len(tags) and min(tags) > 0 and max(tags) <= MAX_TAG


def test_a_tagged_amount_stays_on_the_venue_step() -> None:
    amount = D("2970.00000000") - tag_to_subtract(D("2970"), 1234, STEP)
    assert amount == D("2969.99998766") and amount % STEP == 0


def test_an_amount_too_small_for_its_tag_is_sent_untagged() -> None:
    assert tag_to_subtract(D("0.00000050"), 1234, STEP) == 0


@pytest.mark.parametrize(
    ("setting", "client_ids", "step", "asset", "on"),
    [
        ("auto", False, STEP, "USDT", True),  # Binance: no client id, 8 decimals
        ("auto", True, STEP, "USDT", False),  # a client id identifies the transfer
        ("auto", False, D("0.01"), "USDT", False),  # too coarse: a tag could take 99.99
        ("auto", False, D("0.000001"), "USDC", True),  # Hyperliquid: a cent at most
        ("auto", False, D("0.000001"), "ETH", False),  # 0.009999 ETH is no small change
        ("on", True, D("0.01"), "USDT", True),
        ("off", False, STEP, "USDT", False),
    ],
)
def test_where_tags_are_on(setting: str, client_ids: bool, step: D, asset: str, on: bool) -> None:
    found = tags_on(setting, has_client_ids=client_ids, step=step, asset=asset)  # type: ignore[arg-type]
    assert found is on
