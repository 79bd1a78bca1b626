"""Every ledger test runs on each backend: a SQLite file, and a fresh database on the
PostgreSQL server named by BOT_TEST_POSTGRES_URL (CI starts one; without it, locally, the
PostgreSQL cases are skipped — in CI they are required). The database is a copy of one
migrated per test process (tests/postgres_template.py).

`paper` and `config` give a whole cycle on either backend against an in-loop paper exchange."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import URL, make_url

from bot.config import Config, parse_config
from bot.ledger import Ledger
from bot.paper import PAPER_API_KEY, PAPER_SECRET, PaperExchange, StateStore
from tests import ledger_template, postgres_template
from tests.integration.conftest import ETH_HEDGE, KEY_ENV, SECRET_ENV, live_venue
from tests.postgres_template import POSTGRES_ENV


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/ledger.sqlite"
        return
    server = os.environ.get(POSTGRES_ENV)
    if not server:
        if os.environ.get("CI"):
            pytest.fail(f"{POSTGRES_ENV} is not set: CI must test the ledger on PostgreSQL")
        pytest.skip(f"set {POSTGRES_ENV} to run the ledger tests on PostgreSQL")
    with postgres_template.fresh_database(server, ledger_template.the_test(request)) as url:
        yield url


@pytest.fixture
def ledger(ledger_url: str) -> Iterator[Ledger]:
    """A migrated ledger on the backend of this run, closed afterwards."""
    opened = Ledger.open(ledger_url)
    yield opened
    opened.close()


@pytest.fixture
async def paper(tmp_path: Path) -> AsyncIterator[PaperExchange]:
    async with PaperExchange(StateStore(tmp_path / "paper.json")) as running:
        yield running


@pytest.fixture
def config(
    paper: PaperExchange, ledger_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Config:
    monkeypatch.setenv(KEY_ENV, PAPER_API_KEY)
    monkeypatch.setenv(SECRET_ENV, PAPER_SECRET)
    url = make_url(ledger_url)
    if url.password:  # config never holds a password: libpq reads PGPASSWORD
        monkeypatch.setenv("PGPASSWORD", str(url.password))
        url = URL.create(url.drivername, url.username, None, url.host, url.port, url.database)
    raw = {
        "ledger": {"url": url.render_as_string(hide_password=False)},
        "transfers": {"settle_window_seconds": 0},
        "venues": {"binance": live_venue(paper.base_url, ccxt={"enableRateLimit": False})},
        "hedges": {"eth": ETH_HEDGE},
    }
    return parse_config(raw, base_dir=tmp_path)
