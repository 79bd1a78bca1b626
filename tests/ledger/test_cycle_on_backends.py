"""A whole rebalance cycle with the ledger on each backend, then a crash and a restart."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal as D
from pathlib import Path

import pytest
from sqlalchemy.engine import URL, make_url

from bot import failpoints
from bot.config import Config, parse_config
from bot.cycle import rebalance
from bot.ledger import Ledger
from bot.model import TransferStatus
from bot.paper import PAPER_API_KEY, PAPER_SECRET, PaperExchange, StateStore
from tests.integration.conftest import ETH_HEDGE, KEY_ENV, SECRET_ENV, live_venue


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


async def test_rebalance_crash_and_restart(paper: PaperExchange, config: Config) -> None:
    ledger = Ledger.open(config.ledger_url)
    failpoints.arm(failpoints.AFTER_RESPONSE)  # the venue applied it; the outcome is not saved
    with pytest.raises(failpoints.SimulatedCrash):
        await rebalance(config, ledger, dry_run=False)
    restarted = await rebalance(config, ledger, dry_run=False)
    assert [r.status for r in restarted.reconciled.resolved] == [TransferStatus.CONFIRMED]
    assert restarted.transfers == []  # found, not sent again
    assert [(t.type, t.amount) for t in paper.state.transfers] == [("MAIN_UMFUTURE", D("3000"))]
    assert ledger.verify().ok
    ledger.close()
