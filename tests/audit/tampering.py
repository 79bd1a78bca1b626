"""What an attacker with write access to the database (but not the key) can do: drop the
triggers, edit rows and their journal bodies, recompute the chain without the key, delete
the newest entries. Raw SQL, as they would."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal as D

from sqlalchemy import Engine, text

from bot.ledger import Ledger
from bot.ledger.journal import ENTITIES, body_of, chain_hash
from bot.ledger.store import FundingPaymentRecord
from bot.model import (
    Position,
    State,
    TransferStatus,
    VenueState,
    Wallet,
)
from tests.ledger.items import TOP_UP

KEY = b"the ledger's key"
NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def triggers(engine: Engine) -> set[tuple[str, str]]:
    """(trigger, table) of every trigger the migrations created."""
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            rows = conn.execute(
                text(
                    "SELECT t.tgname, c.relname FROM pg_trigger t JOIN pg_class c "
                    "ON c.oid = t.tgrelid WHERE NOT t.tgisinternal"
                )
            )
        else:
            rows = conn.execute(
                text("SELECT name, tbl_name FROM sqlite_master WHERE type = 'trigger'")
            )
        return {(name, table) for name, table in rows}


def drop_triggers(engine: Engine) -> None:
    postgres = engine.dialect.name == "postgresql"
    found = triggers(engine)
    with engine.begin() as conn:
        for name, table in found:
            conn.execute(text(f"DROP TRIGGER {name}" + (f" ON {table}" if postgres else "")))


def snapshot_state() -> State:
    wallets = {
        ("spot", "USDT"): Wallet(
            account="spot",
            asset="USDT",
            free=D(20000),
            used=D(0),
            balance=D(20000),
            transferable=D(20000),
        ),
        ("linear", "USDT"): Wallet(
            account="linear",
            asset="USDT",
            free=D(3000),
            used=D(1500),
            balance=D(4500),
            transferable=D(3000),
        ),
    }
    position = Position(
        symbol="ETH/USDT:USDT",
        side="short",
        contracts=D(5),
        contract_size=D(1),
        notional=D(15000),
        entry_price=D(3000),
        mark_price=D(3000),
        unrealized_pnl=D(0),
        initial_margin=D(1500),
        maintenance_margin=D(75),
        liquidation_price=D("3880.5"),
    )
    venue = VenueState(
        venue="paper", read_at=NOW, wallets=wallets, positions={"ETH/USDT:USDT": position}
    )
    return State(read_at=NOW, venues={"paper": venue})


def populate(ledger: Ledger) -> int:
    """A whole run: snapshot, a confirmed transfer with its attempt, a funding payment."""
    run = ledger.start_run("rebalance", dry_run=False, config_digest="x")
    ledger.record_snapshot(run, snapshot_state())
    intent = ledger.record_intent(run, TOP_UP, amount=D("2999.99999999"), inputs={"safety": "0.99"})
    ledger.record_attempt(
        intent.id,
        amount=D("2999.99999999"),
        outcome="confirmed",
        started_at=NOW,
        exchange_id="1",
        status=TransferStatus.CONFIRMED,
    )
    ledger.record_funding_payments(
        [
            FundingPaymentRecord(
                venue="paper",
                hedge="eth",
                symbol="ETH/USDT:USDT",
                asset="USDT",
                amount=D("1.5"),
                at=NOW,
                exchange_id="9689322392",
            )
        ]
    )
    ledger.finish_run(run, "ok")
    return intent.id


def rewrite_row(engine: Engine, table: str, row_id: int, **values: object) -> None:
    """Change a row behind the bot's back (its triggers dropped first)."""
    sets = ", ".join(f"{k} = :{k}" for k in values)
    with engine.begin() as conn:
        conn.execute(text(f"UPDATE {table} SET {sets} WHERE id = :id"), {**values, "id": row_id})


def recompute_chain(
    engine: Engine, entity: str, table: str, row_id: int, chain: str | None
) -> None:
    """Rewrite the row's last entry with the row's new content and recompute every hash from
    there on without the key (labelled `chain`), head included: the "forged" chain."""
    with engine.begin() as conn:
        row = conn.execute(text(f"SELECT * FROM {table} WHERE id = :id"), {"id": row_id}).first()
        assert row is not None
        entries = conn.execute(
            text("SELECT seq, entity, entity_id, body, prev_hash FROM journal ORDER BY seq")
        ).all()
        target = max(e.seq for e in entries if e.entity == entity and e.entity_id == row_id)
        prev = None
        for entry in entries:
            if entry.seq < target:
                continue
            body = entry.body
            if entry.seq == target:
                old = json.loads(body)
                new = {k: _json(v) for k, v in row._mapping.items()}
                body = body_of({**old, **{k: new[k] for k in old}})
            prev_hash = entry.prev_hash if prev is None else prev
            digest = chain_hash(prev_hash, entry.entity, entry.entity_id, body)
            conn.execute(
                text(
                    "UPDATE journal SET body = :body, prev_hash = :prev, hash = :hash, "
                    "chain = :chain WHERE seq = :seq"
                ),
                {"body": body, "prev": prev_hash, "hash": digest, "chain": chain, "seq": entry.seq},
            )
            prev = digest
        conn.execute(text("UPDATE journal_head SET hash = :hash"), {"hash": prev})


def recompute_whole_chain(engine: Engine, chain: str | None) -> None:
    """Recompute every entry's hash from genesis without the key."""
    with engine.begin() as conn:
        entries = conn.execute(
            text("SELECT seq, entity, entity_id, body FROM journal ORDER BY seq")
        ).all()
        prev = "0" * 64
        for entry in entries:
            digest = chain_hash(prev, entry.entity, entry.entity_id, entry.body)
            conn.execute(
                text(
                    "UPDATE journal SET prev_hash = :prev, hash = :hash, chain = :chain "
                    "WHERE seq = :seq"
                ),
                {"prev": prev, "hash": digest, "chain": chain, "seq": entry.seq},
            )
            prev = digest
        conn.execute(text("UPDATE journal_head SET hash = :hash"), {"hash": prev})


def _json(value: object) -> object:
    """A raw column value as the journal's canonical JSON holds it."""
    if isinstance(value, D):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.replace(tzinfo=value.tzinfo or UTC).isoformat()
    return value


def truncate_newest(engine: Engine, entries: int) -> None:
    """Delete the newest journal entries, and the rows no remaining entry speaks of; point
    the head back: a consistent, shorter ledger."""
    tables = {entity: model.__tablename__ for entity, model in ENTITIES.items()}
    with engine.begin() as conn:
        newest = conn.execute(
            text("SELECT seq, entity, entity_id FROM journal ORDER BY seq DESC LIMIT :n"),
            {"n": entries},
        ).all()
        for entry in newest:
            conn.execute(text("DELETE FROM journal WHERE seq = :seq"), {"seq": entry.seq})
        for entry in newest:
            left = conn.execute(
                text("SELECT count(*) FROM journal WHERE entity = :e AND entity_id = :i"),
                {"e": entry.entity, "i": entry.entity_id},
            ).scalar()
            if not left and entry.entity in tables:
                conn.execute(
                    text(f"DELETE FROM {tables[entry.entity]} WHERE id = :id"),
                    {"id": entry.entity_id},
                )
        last = conn.execute(text("SELECT seq, hash FROM journal ORDER BY seq DESC LIMIT 1")).one()
        conn.execute(
            text("UPDATE journal_head SET seq = :seq, hash = :hash"),
            {"seq": last.seq, "hash": last.hash},
        )
