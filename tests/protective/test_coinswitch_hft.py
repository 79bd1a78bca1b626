"""CoinSwitch PRO's HFT surface (`surface: hft`) through the bot, against its loopback fake
driven by the stock `coinswitch` ccxt client the bot builds: `bot plan`, `bot rebalance` (a
top-up IN and a sweep OUT through Transfer Funds), the guard, `bot venues`, `bot ledger verify
--against-venue`, the settlement-currency lock, and the Futures mode still manual."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.coinswitch_hft_config import KEY_ENV, SECRET_ENV, write_hft_config
from tests.fakes.coinswitch_hft_server import CoinSwitchHftServer
from tests.fakes.coinswitch_server import new_key_pair
from tests.fakes.in_thread import FakeThread
from tests.integration.conftest import Invocation

Bot = Callable[..., Invocation]
NOTIONAL = D("5273.2845")
EQUITY = D("774.1205")  # 800 less the unrealized 25.8795


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeThread[Any]]:
    key, secret = new_key_pair()
    monkeypatch.setenv(KEY_ENV, key)
    monkeypatch.setenv(SECRET_ENV, secret)
    with FakeThread(CoinSwitchHftServer(api_keys=[key], time_scale=0.01)) as running:
        yield running


def ok(result: Invocation) -> Invocation:
    assert result.exit_code == 0, result.stdout + result.stderr
    return result


def test_plan_tops_up_the_hft_account_from_the_wallet(fake: Any, tmp_path: Path, bot: Bot):
    config = write_hft_config(tmp_path, fake.fake)
    planned = ok(bot("plan", "--json", config=config)).json()
    print(planned)
    assert fake.book.transfers == []


def test_rebalance_sends_the_top_up_in(fake: Any, tmp_path: Path, bot: Bot):
    config = write_hft_config(tmp_path, fake.fake)
    result = ok(bot("rebalance", config=config))
    print(result.stdout)
    (sent,) = fake.book.transfers
    assert sent.direction == "IN"
    assert sent.amount == D("0.5") * NOTIONAL - EQUITY
