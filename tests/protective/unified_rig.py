"""What the unified-venue tests share: the Bybit and OKX fakes each running in a background
thread, the bot's config for each (`tests/fakes/<venue>/config.py`), and what a test reads of
the fake's own books (its transfers, its reserve and its pool), the same for both venues.

`Side` is one venue as the tests see it: its fake, its config, the accounts the bot moves
between (the reserve, `funding`; the pool, Bybit's `unified` or OKX's `trading`), and the
fault answers that look like "nothing happened" on it (its own rate limit)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.bybit import config as bybit_config
from tests.fakes.bybit_server import API_KEY as BYBIT_KEY
from tests.fakes.bybit_server import SECRET as BYBIT_SECRET
from tests.fakes.bybit_server import BybitFake
from tests.fakes.in_thread import FakeThread
from tests.fakes.okx import config as okx_config
from tests.fakes.okx_server import API_KEY as OKX_KEY
from tests.fakes.okx_server import PASSPHRASE as OKX_PASSPHRASE
from tests.fakes.okx_server import SECRET as OKX_SECRET
from tests.fakes.okx_server import OkxFake
from tests.integration.conftest import Invocation

VENUES = ("bybit", "okx")
Bot = Callable[..., Invocation]


@dataclass(frozen=True)
class Sent:
    """One transfer on the fake's books, in the terms the ledger records it."""

    exchange_id: str
    client_id: str
    amount: Decimal
    source: str  # the venue's own account name (FUND, 6...)
    target: str
    status: str


@dataclass(frozen=True)
class Side:
    name: str
    fake: FakeThread[Any]
    write: Callable[..., Path]
    reserve: str  # ccxt account names, as the bot's config and ledger say them
    pool: str
    transfer_path: str
    history_paths: tuple[str, ...]  # what reconciliation reads
    #: an answer that says "rate limited, nothing done" on this venue: (status, body)
    rate_limit: tuple[int, str]
    #: a definite "insufficient balance" refusal on this venue: (status, body)
    insufficient: tuple[int, str]
    #: garbage answers to the history read that ccxt reads as "no transfers"
    garbage: tuple[str, ...]

    @property
    def account(self) -> Any:
        return self.fake.account

    def sent(self) -> list[Sent]:
        """Every transfer the fake recorded, oldest first."""
        with self.account.lock:
            if self.name == "bybit":
                return [
                    Sent(
                        t.transfer_id,
                        t.transfer_id.replace("-", ""),
                        t.amount,
                        t.from_type,
                        t.to_type,
                        t.status.lower(),
                    )
                    for t in self.account.transfers
                ]
            return [
                Sent(t.trans_id, t.client_id, t.amt, t.from_acct, t.to_acct, t.state)
                for t in self.account.transfers
            ]

    def reserve_usdt(self) -> Decimal:
        with self.account.lock:
            wallet = self.account.fund if self.name == "bybit" else self.account.funding
            return Decimal(wallet.get("USDT", 0))

    def pool_usdt(self) -> Decimal:
        with self.account.lock:
            wallet = self.account.unified if self.name == "bybit" else self.account.trading
            return Decimal(wallet.get("USDT", 0))

    def set_next_status(self, status: str) -> None:
        """The next transfer is recorded with this status (pending, failed), then success."""
        with self.account.lock:
            if self.name == "bybit":
                self.account.next_statuses.append(status.upper())
            else:
                self.account.next_states.append(status.lower())

    def settle(self, exchange_id: str) -> None:
        """A pending transfer completes."""
        with self.account.lock:
            if self.name == "bybit":
                self.account.settle(exchange_id, "SUCCESS")
            else:
                self.account.settle(exchange_id, "success", self.fake.now())


def bybit_side(fake: FakeThread[BybitFake]) -> Side:
    body = {"retCode": 10006, "retMsg": "Too many visits!", "result": {}, "retExtInfo": {}}
    short = {"retCode": 131212, "retMsg": "Insufficient balance", "result": {}}
    return Side(
        name="bybit",
        fake=fake,
        write=bybit_config.write_bybit_config,
        reserve="funding",
        pool="unified",
        transfer_path="/v5/asset/transfer/inter-transfer",
        history_paths=("/v5/asset/transfer/query-inter-transfer-list",),
        rate_limit=(200, json.dumps({**body, "time": 1})),
        insufficient=(200, json.dumps({**short, "retExtInfo": {}, "time": 1})),
        garbage=(
            "<html><body>502 Bad Gateway</body></html>",
            "",
            '{"retCode":0,"retMsg":"OK","result":{"list":"garbage"},"time":1}',
            '{"retCode":0}',
        ),
    )


def okx_side(fake: FakeThread[OkxFake]) -> Side:
    return Side(
        name="okx",
        fake=fake,
        write=okx_config.write_okx_config,
        reserve="funding",
        pool="trading",
        transfer_path="/api/v5/asset/transfer",
        history_paths=("/api/v5/asset/bills", "/api/v5/asset/transfer-state"),
        rate_limit=(429, json.dumps({"msg": "Too Many Requests", "code": "50011"})),
        insufficient=(
            200,
            json.dumps({"code": "58350", "msg": "Insufficient balance.", "data": []}),
        ),
        garbage=(
            "<html><body>502 Bad Gateway</body></html>",
            "",
            '{"code":"0","msg":"","data":"garbage"}',
            '{"code":"0"}',
        ),
    )


def set_env(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """The fake's keys in the environment variables its config names."""
    if name == "bybit":
        monkeypatch.setenv(bybit_config.KEY_ENV, BYBIT_KEY)
        monkeypatch.setenv(bybit_config.SECRET_ENV, BYBIT_SECRET)
    else:
        monkeypatch.setenv(okx_config.KEY_ENV, OKX_KEY)
        monkeypatch.setenv(okx_config.SECRET_ENV, OKX_SECRET)
        monkeypatch.setenv(okx_config.PASSWORD_ENV, OKX_PASSPHRASE)


def running(name: str) -> Iterator[Side]:
    """The venue's fake, running in its own thread for the test's span."""
    fake: FakeThread[Any] = FakeThread(BybitFake() if name == "bybit" else OkxFake())
    with fake:
        yield bybit_side(fake) if name == "bybit" else okx_side(fake)


def rows(bot: Bot, config: Path) -> list[dict[str, Any]]:
    listed = bot("ledger", "list", "--json", config=config)
    assert listed.exit_code == 0, listed.stdout + listed.stderr
    return listed.json()


def statuses(bot: Bot, config: Path) -> list[str]:
    return [row["status"] for row in rows(bot, config)]


def assert_one_to_one(side: Side, bot: Bot, config: Path) -> None:
    """The ledger's confirmed rows are the fake's completed transfers, one to one."""
    confirmed = sorted(
        (r["exchange_id"], Decimal(r["amount"]), r["client_id"])
        for r in rows(bot, config)
        if r["status"] == "confirmed"
    )
    moved = sorted(
        (s.exchange_id, s.amount, s.client_id) for s in side.sent() if s.status == "success"
    )
    assert confirmed == moved
    audit = bot("ledger", "verify", "--against-venue", side.name, "--since", "1d", config=config)
    assert audit.exit_code == 0, audit.stdout + audit.stderr
    assert f"matched {len(moved)}, missing in ledger 0, missing at venue 0" in audit.stdout
