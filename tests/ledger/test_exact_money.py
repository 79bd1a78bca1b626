"""Money keeps every digit on both backends: many decimals (an inverse notional, CoinW's
'438.799142390000018') and large values round-trip exactly, and migration 0002 takes a ledger
created at revision 0001 (NUMERIC(38, 18) on PostgreSQL) to head with its rows and guards."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal as D

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.audit.verify import verify_ledger
from bot.ledger import Ledger, db
from bot.ledger.queries import TransferFilter, list_transfers
from bot.ledger.tables import (
    BalanceSnapshot,
    Base,
    FundingSnapshot,
    PositionSnapshot,
    TransferTotal,
)
from bot.ledger.types import ExactDecimal
from bot.model import (
    Funding,
    PlannedTransfer,
    Position,
    Rule,
    State,
    TransferStatus,
    VenueState,
    Wallet,
)
from bot.money import plain

TINY = D("0.123456789012345678901234567891")  # 30 decimals
LARGE = D("123456789012345678901234567890.123456789012345678901234567891")  # 60 digits
COINW = D("438.799142390000018")
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def item(amount: D) -> PlannedTransfer:
    return PlannedTransfer(
        venue="paper",
        hedges=("eth",),
        asset="USDT",
        from_account="spot",
        to_account="linear",
        amount=amount,
        rule=Rule.TOP_UP,
        reason="below band",
        figures={"notional": LARGE},
    )


def state() -> State:
    wallet = Wallet(
        account="spot", asset="USDT", free=TINY, used=COINW, balance=LARGE, transferable=TINY
    )
    position = Position(
        symbol="ETH/USD:ETH",
        side="short",
        contracts=D(150),
        contract_size=D(10),
        notional=TINY,  # 1500 USD / mark, in ETH
        entry_price=COINW,
        mark_price=LARGE,
        unrealized_pnl=-TINY,
        liquidation_price=None,
    )
    funding = Funding(symbol="ETH/USD:ETH", rate=-TINY, mark_price=COINW)
    venue = VenueState(
        venue="paper",
        read_at=NOW,
        wallets={("spot", "USDT"): wallet},
        positions={position.symbol: position},
        funding={funding.symbol: funding},
    )
    return State(read_at=NOW, venues={"paper": venue})


def money_columns() -> list[tuple[str, str]]:
    return [
        (table.name, column.name)
        for table in Base.metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, ExactDecimal)
    ]


def postgres_numeric_types(engine: Engine) -> set[tuple[int | None, int | None]]:
    """(precision, scale) of every money column the database has (an older revision lacks the
    later ones, e.g. 0003's amount_tag); (None, None) is unconstrained NUMERIC."""
    with engine.connect() as conn:
        found = [
            conn.execute(
                text(
                    "SELECT numeric_precision, numeric_scale FROM information_schema.columns "
                    "WHERE table_name = :t AND column_name = :c"
                ),
                {"t": table, "c": column},
            ).one_or_none()
            for table, column in money_columns()
        ]
    return {(row[0], row[1]) for row in found if row is not None}


def test_many_decimals_and_large_values_round_trip_exactly(ledger: Ledger) -> None:
    run = ledger.start_run("rebalance", dry_run=False, config_digest="x")
    intent = ledger.record_intent(run, item(LARGE), amount=TINY, inputs={"transferable": COINW})
    ledger.record_attempt(
        intent.id,
        amount=TINY,
        outcome="confirmed",
        started_at=NOW,
        exchange_id="1",
        status=TransferStatus.CONFIRMED,
    )
    ledger.record_snapshot(run, state())

    (record,) = list_transfers(ledger, TransferFilter())
    assert (record.planned_amount, record.amount) == (LARGE, TINY)
    assert (plain(record.planned_amount), plain(record.amount)) == (str(LARGE), str(TINY))
    with Session(ledger.engine) as session:
        wallet = session.execute(select(BalanceSnapshot)).scalar_one()
        position = session.execute(select(PositionSnapshot)).scalar_one()
        funding = session.execute(select(FundingSnapshot)).scalar_one()
    assert (wallet.free, wallet.used, wallet.balance, wallet.transferable) == (
        TINY,
        COINW,
        LARGE,
        TINY,
    )
    assert (position.notional, position.entry_price, position.mark_price) == (TINY, COINW, LARGE)
    assert (position.unrealized_pnl, position.liquidation_price) == (-TINY, None)
    assert (funding.rate, funding.mark_price) == (-TINY, COINW)
    # as the database holds them, not only as they come back
    with ledger.engine.connect() as conn:
        stored = conn.execute(text("SELECT CAST(amount AS TEXT) FROM transfer_attempts")).scalar()
    assert D(stored) == TINY
    assert verify_ledger(ledger).ok  # the journal wrote these digits; the rows still hold them all


def test_migrations_create_exactly_the_models_schema(ledger_url: str) -> None:
    engine = db.create_ledger_engine(ledger_url)
    db.upgrade(engine)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
    if engine.dialect.name == "postgresql":
        assert postgres_numeric_types(engine) == {(None, None)}
    engine.dispose()


def test_upgrading_a_0001_ledger_keeps_its_rows_and_guards(ledger_url: str) -> None:
    engine = db.create_ledger_engine(ledger_url)
    db.upgrade(engine, "0001")
    postgres = engine.dialect.name == "postgresql"
    if postgres:
        assert postgres_numeric_types(engine) == {(38, 18)}
    # The model now has columns added after 0001: they exist only while the old rows are
    # written (NULL, so their journal bodies are what a 0001 bot wrote), then go again.
    with _later_columns_while_writing(engine):
        old = Ledger(engine)
        run = old.start_run("rebalance", dry_run=False, config_digest="x")
        confirmed = old.record_intent(run, item(D("3000")), amount=D("2970.12345678"), inputs={})
        old.record_attempt(
            confirmed.id,
            amount=D("2970.12345678"),
            outcome="confirmed",
            started_at=NOW,
            exchange_id="1",
            status=TransferStatus.CONFIRMED,
        )
        pending = old.record_intent(run, item(D("12.5")), amount=D("12.5"), inputs={})
        old.record_snapshot(run, _fits_18_decimals())
        before = list_transfers(old, TransferFilter())
        with Session(engine) as session:
            wallet_before = session.execute(select(BalanceSnapshot)).scalar_one().free

    db.upgrade(engine)

    assert db.current_revision(engine) == db.head_revision()
    if postgres:
        assert postgres_numeric_types(engine) == {(None, None)}
    ledger = Ledger(engine)
    assert list_transfers(ledger, TransferFilter()) == before
    with Session(engine) as session:
        assert session.execute(select(BalanceSnapshot)).scalar_one().free == wallet_before
    assert verify_ledger(ledger).ok
    # the triggers survived the change of type...
    with pytest.raises(IntegrityError, match="never updated"):
        ledger.record_outcome(confirmed.id, TransferStatus.FAILED, error="late")
    with pytest.raises(IntegrityError, match="never deleted"), engine.begin() as conn:
        conn.execute(text("DELETE FROM transfers"))
    # ...and the open row settles, now with every digit
    settled = ledger.record_attempt(
        pending.id,
        amount=TINY,
        outcome="confirmed",
        started_at=NOW,
        exchange_id="2",
        status=TransferStatus.CONFIRMED,
    )
    assert settled.status is TransferStatus.CONFIRMED
    later = ledger.record_intent(run, item(LARGE), amount=TINY, inputs={})
    assert (ledger.get_transfer(later.id).planned_amount, later.amount) == (LARGE, TINY)
    assert verify_ledger(ledger).ok
    engine.dispose()


@contextmanager
def _later_columns_while_writing(engine: Engine) -> Iterator[None]:
    """Let today's model write into a 0001 schema: add the columns of later revisions for the
    writes, and drop them again before the upgrade under test."""
    money = "NUMERIC" if engine.dialect.name == "postgresql" else "VARCHAR(64)"  # as 0003's
    later = (
        ("transfers", "amount_tag", money),
        ("transfer_attempts", "venue_clock_offset_ms", "BIGINT"),
        ("journal", "chain", "VARCHAR(16)"),
        ("balance_snapshots", "cross_balance", money),  # 0008's pool figures
        ("balance_snapshots", "cross_unrealized_pnl", money),
        ("position_snapshots", "margin_mode", "VARCHAR(16)"),
        ("position_snapshots", "isolated_wallet", money),
    )
    with engine.begin() as conn:
        for table, column, kind in later:
            conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {column} {kind}"))
        TransferTotal.__table__.create(conn)  # 0006's running totals, which the writer keeps
    yield
    with engine.begin() as conn:
        for table, column, _ in later:
            conn.execute(text(f"ALTER TABLE {table} DROP COLUMN {column}"))
        TransferTotal.__table__.drop(conn)


def _fits_18_decimals() -> State:
    """A snapshot that NUMERIC(38, 18) holds exactly, as rows written before 0002 were."""
    wallet = Wallet(
        account="spot",
        asset="USDT",
        free=D("4500.000000000000000001"),
        used=D(0),
        balance=D("4500"),
        transferable=D("4500"),
    )
    venue = VenueState(venue="paper", read_at=NOW, wallets={("spot", "USDT"): wallet})
    return State(read_at=NOW, venues={"paper": venue})
