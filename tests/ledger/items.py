"""The planned transfer the ledger tests record: a 3000 USDT top-up on paper."""

from __future__ import annotations

from decimal import Decimal

from bot.model import PlannedTransfer, Rule

TOP_UP = PlannedTransfer(
    venue="paper",
    hedges=("eth",),
    asset="USDT",
    from_account="spot",
    to_account="linear",
    amount=Decimal("3000"),
    rule=Rule.TOP_UP,
    reason="below band",
    figures={"equity": Decimal("4500")},
)
