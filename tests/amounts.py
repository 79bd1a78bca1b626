"""What the bot sends for a planned amount: less the intent's tag (bot.transfers.amount_tag).

Binance takes no client id, so each amount carries a tag of its ledger id in the last digits
(intent 1 sends 2999.99999999 for 3000); tests of other behaviour assert the tagged figure.
"""

from __future__ import annotations

from decimal import Decimal

from bot.transfers.amount_tag import tag_for

BINANCE_STEP = Decimal("0.00000001")


def sent(planned: str | Decimal, intent_id: int, step: Decimal = BINANCE_STEP) -> Decimal:
    """The amount intent `intent_id` sends for `planned`, already a multiple of `step`."""
    return Decimal(planned) - tag_for(intent_id, step)
