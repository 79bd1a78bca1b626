"""`bot ledger show ID`: one transfer with everything an auditor asks about it.

The intent and the rule with its figures, the snapshot its run read (balances, positions,
marks, funding), the sizing inputs of the fresh read, every attempt with its error, the
reconciliation notes, the venue's transfer id, the operators' corrections, and the funding
its hedges earned.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from bot.ledger.queries import direction_of
from bot.ledger.store import Ledger
from bot.ledger.tables import (
    BalanceSnapshot,
    Correction,
    FundingPayment,
    FundingSnapshot,
    PositionSnapshot,
    Run,
    Transfer,
    TransferAttempt,
)
from bot.money import plain


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return plain(value)
    if isinstance(value, datetime):
        return _iso(value)
    return value


def _columns(row: Any, *skip: str) -> dict[str, Any]:
    return {
        c.key: _json_value(getattr(row, c.key)) for c in row.__table__.columns if c.key not in skip
    }


def _parsed(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def transfer_detail(ledger: Ledger, transfer_id: int) -> dict[str, Any] | None:
    """The documented JSON shape of `bot ledger show --json`; None when there is no such id."""
    with ledger.engine.connect() as connection:
        from sqlalchemy.orm import Session

        session = Session(bind=connection)
        row = session.get(Transfer, transfer_id)
        if row is None:
            return None
        run = session.get(Run, row.run_id)
        attempts = session.scalars(
            select(TransferAttempt)
            .where(TransferAttempt.transfer_id == transfer_id)
            .order_by(TransferAttempt.number)
        ).all()
        corrections = session.scalars(
            select(Correction).where(Correction.transfer_id == transfer_id).order_by(Correction.id)
        ).all()
        snapshot = {
            "balances": [
                _columns(b, "id", "run_id", "venue")
                for b in session.scalars(
                    select(BalanceSnapshot)
                    .where(BalanceSnapshot.run_id == row.run_id, BalanceSnapshot.venue == row.venue)
                    .order_by(BalanceSnapshot.id)
                )
            ],
            "positions": [
                _columns(p, "id", "run_id", "venue")
                for p in session.scalars(
                    select(PositionSnapshot)
                    .where(
                        PositionSnapshot.run_id == row.run_id, PositionSnapshot.venue == row.venue
                    )
                    .order_by(PositionSnapshot.id)
                )
            ],
            "funding": [
                _columns(f, "id", "run_id", "venue")
                for f in session.scalars(
                    select(FundingSnapshot)
                    .where(FundingSnapshot.run_id == row.run_id, FundingSnapshot.venue == row.venue)
                    .order_by(FundingSnapshot.id)
                )
            ],
        }
        hedges = [h for h in row.hedges.split(",") if h]
        previous_at = session.scalar(
            select(func.max(Transfer.created_at)).where(
                Transfer.venue == row.venue, Transfer.id < row.id, Transfer.dry_run.is_(False)
            )
        )
        income = _funding_income(session, row.venue, hedges, previous_at, row.created_at)
        shape: dict[str, Any] = {
            "id": row.id,
            "run": {
                "id": row.run_id,
                "command": run.command if run else None,
                "started_at": _iso(run.started_at) if run else None,
                "status": run.status if run else None,
            },
            "created_at": _iso(row.created_at),
            "updated_at": _iso(row.updated_at),
            "venue": row.venue,
            "hedges": hedges,
            "asset": row.asset,
            "from_account": row.from_account,
            "to_account": row.to_account,
            "direction": direction_of(row.from_account, row.to_account),
            "intent": {
                "rule": row.rule,
                "reason": row.reason,
                "planned_amount": plain(row.planned_amount),
                "figures": _parsed(row.figures),
            },
            "sizing": {
                "amount": plain(row.amount),
                "amount_tag": plain(row.amount_tag),
                "inputs": _parsed(row.inputs),
                "replaces_id": row.replaces_id,
            },
            "snapshot": snapshot,
            "status": row.status,
            "exchange_id": row.exchange_id,
            "client_id": row.client_id,
            "error": row.error,
            "dry_run": row.dry_run,
            "attempts": [
                _columns(a, "transfer_id")
                for a in attempts
                if not a.outcome.startswith("reconciled:")
            ],
            "reconciliation": [
                _columns(a, "transfer_id") for a in attempts if a.outcome.startswith("reconciled:")
            ],
            "corrections": [_columns(c, "transfer_id") for c in corrections],
            "funding_income": income,
        }
        session.close()
    return shape


def _funding_income(
    session: Any, venue: str, hedges: list[str], since: datetime | None, until: datetime
) -> dict[str, Any]:
    """Per hedge and asset: funding booked since the venue's previous transfer up to this one,
    and in total up to this one."""
    result: dict[str, Any] = {
        "since": _iso(since),
        "until": _iso(until),
        "period": {},
        "to_date": {},
    }
    query = select(
        FundingPayment.hedge, FundingPayment.asset, FundingPayment.amount, FundingPayment.at
    ).where(FundingPayment.venue == venue, FundingPayment.at <= until)
    if hedges:
        query = query.where(FundingPayment.hedge.in_(hedges))
    for hedge, asset, amount, at in session.execute(query):
        name = f"{hedge or '-'} {asset}"
        result["to_date"][name] = result["to_date"].get(name, Decimal(0)) + amount
        if since is None or at > since:
            result["period"][name] = result["period"].get(name, Decimal(0)) + amount
    for part in ("period", "to_date"):
        result[part] = {k: plain(v) for k, v in sorted(result[part].items())}
    return result
