"""Ledger records as the bot sees them, for the pure tests: one place that knows every field."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D
from typing import Any

from bot.ledger.store import TransferRecord
from bot.model import TransferStatus

AT = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def transfer_record(**overrides: Any) -> TransferRecord:
    """A top-up of 3000 USDT spot -> linear on `paper` for hedge `eth`, left `unknown` after
    one attempt; `overrides` set any field."""
    values: dict[str, Any] = {
        "id": 1,
        "run_id": 1,
        "client_id": "c" * 32,
        "created_at": AT,
        "updated_at": AT,
        "venue": "paper",
        "hedges": "eth",
        "asset": "USDT",
        "from_account": "spot",
        "to_account": "linear",
        "rule": "top_up",
        "planned_amount": D(3000),
        "amount": D(3000),
        "status": TransferStatus.UNKNOWN,
        "exchange_id": None,
        "error": None,
        "reason": "",
        "dry_run": False,
        "attempts": 1,
        "replaces_id": None,
    }
    return TransferRecord(**(values | overrides))
