"""What lies between a cycle's read and its sends, and after them, at the exchange and in the
ledger: the ledger's part of the sends is read before the venues (only the intents' one commit
follows the read), and a venue that moved money is read again as soon as its own moves are done,
not after every other venue's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from bot.config import Config, parse_config
from bot.cycle.rebalance import rebalance
from bot.ledger import Ledger
from bot.ledger.tables import TransferAttempt
from bot.model import TransferStatus
from bot.paper import PAPER_API_KEY, PAPER_SECRET, PaperExchange, StateStore
from bot.venues.session import OpenVenues
from tests.integration.conftest import ETH_HEDGE, KEY_ENV, SECRET_ENV, live_venue

TRANSFER = "/sapi/v1/asset/transfer"
STATE_READS = {
    "/api/v3/account",
    "/fapi/v3/account",
    "/fapi/v3/positionRisk",
    "/fapi/v1/premiumIndex",
}


@pytest.fixture
async def papers(tmp_path: Path) -> AsyncIterator[dict[str, PaperExchange]]:
    async with (
        PaperExchange(StateStore(tmp_path / "a.json"), test_hooks=True) as a,
        PaperExchange(StateStore(tmp_path / "b.json"), test_hooks=True) as b,
    ):
        yield {"a": a, "b": b}


def config_of(
    papers: dict[str, PaperExchange], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Config:
    monkeypatch.setenv(KEY_ENV, PAPER_API_KEY)
    monkeypatch.setenv(SECRET_ENV, PAPER_SECRET)
    raw: dict[str, Any] = {
        "ledger": {"url": "sqlite:///ledger.sqlite"},
        "venues": {name: live_venue(p.base_url, websocket=False) for name, p in papers.items()},
        "hedges": {f"eth_{name}": {**ETH_HEDGE, "venue": name} for name in papers},
    }
    return parse_config(raw, base_dir=tmp_path)


async def test_only_the_intents_commit_lies_between_the_read_and_the_send(
    papers: dict[str, PaperExchange], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paper = papers["a"]
    config = config_of({"a": paper}, tmp_path, monkeypatch)
    ledger = Ledger.open(config.ledger_url)
    statements: list[tuple[int, str]] = []  # (requests the exchange had seen, SQL)

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append((len(paper.requests), " ".join(statement.split())))

    def committed(_conn: Any) -> None:
        statements.append((len(paper.requests), "COMMIT"))

    async with OpenVenues(config, dry_run=False) as pool:
        paper.requests.clear()
        event.listen(ledger.engine, "before_cursor_execute", seen)
        event.listen(ledger.engine, "commit", committed)
        try:
            result = await rebalance(config, ledger, dry_run=False, venues=pool)
        finally:
            event.remove(ledger.engine, "before_cursor_execute", seen)
            event.remove(ledger.engine, "commit", committed)
    assert [t.status for t in result.transfers] == [TransferStatus.CONFIRMED]
    paths = [path for _, path, _ in paper.requests]
    send = paths.index(TRANSFER)
    assert set(paths[:send]) == STATE_READS, paths  # the read, then the send
    between = [sql for count, sql in statements if count == send]
    # one transaction: the intent's rows and its journal entries, committed; no query of the
    # open transfers, halts, standing conditions or isolated moves (read before the venues)
    assert between[0] == "BEGIN IMMEDIATE" and between[-1] == "COMMIT", between
    assert between.count("COMMIT") == 1, between
    assert not [sql for sql in between if sql.startswith("SELECT")], between
    before_read = [sql for count, sql in statements if count == 0]
    for table in ("venue_halts", "margin_moves", "nothing_to_move"):
        assert any(table in sql for sql in before_read), (table, before_read)


async def test_a_venue_is_read_again_as_soon_as_its_own_moves_are_done(
    papers: dict[str, PaperExchange], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = config_of(papers, tmp_path, monkeypatch)
    ledger = Ledger.open(config.ledger_url)
    async with OpenVenues(config, dry_run=False) as pool:
        # b's first two sends are refused 429 with Retry-After 1: its transfer goes two
        # seconds later, a margin no loaded machine closes
        papers["b"].faults.add("http_429", times=2)
        result = await rebalance(config, ledger, dry_run=False, venues=pool)
    assert not result.failed, result
    by_venue = {t.venue: t for t in result.transfers}
    assert {v: t.status for v, t in by_venue.items()} == {
        "a": TransferStatus.CONFIRMED,
        "b": TransferStatus.CONFIRMED,
    }
    with Session(ledger.engine) as session:
        b_sent = session.scalars(
            select(TransferAttempt.started_at)
            .where(TransferAttempt.transfer_id == by_venue["b"].id)
            .order_by(TransferAttempt.number)
        ).all()
    assert len(b_sent) == 3  # two 429s, then the transfer
    assert result.after is not None and set(result.after.venues) == {"a", "b"}
    # a was read again while b waited out its Retry-After, not after b's transfer
    assert result.after.venues["a"].read_at < b_sent[-1]
    paths = [path for _, path, _ in papers["a"].requests]
    assert set(paths[paths.index(TRANSFER) + 1 :]) == STATE_READS
