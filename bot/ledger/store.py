"""The ledger's one facade: `Ledger`, composed of one part per concern, each a module of its
own over the shared unit of work (`sessions.LedgerBase`):

| concern | module |
| --- | --- |
| runs, the chain head and its anchor | `runs.py` |
| snapshots | `snapshots.py` |
| funding payments | `funding.py` |
| transfers, attempts, corrections | `transfers.py` |
| isolated hedges' two-leg moves | `margin_moves.py` |
| job runs of `bot run` | `unattended.py` |
| alerts and their deliveries | `alerts.py` |
| manual instructions | `manual.py` |
| venue halts, nothing-to-move conditions | `standing.py` |

Callers use `Ledger`'s methods and import the values they take and return from here.
"""

from __future__ import annotations

from bot.ledger.alerts import AlertRecords
from bot.ledger.funding import FundingPaymentRecord, FundingRecords
from bot.ledger.manual import ManualRecords
from bot.ledger.margin_moves import MarginLegRecord, MarginMoveRecord, MarginMoveRecords
from bot.ledger.pauses import PauseRecords
from bot.ledger.runs import RunRecords
from bot.ledger.sessions import Clock, utc_now
from bot.ledger.snapshots import SnapshotRecords
from bot.ledger.standing import StandingRecords
from bot.ledger.transfers import (
    AttemptWrite,
    TransferRecord,
    TransferRecords,
    assign_refusal,
    held_by,
    held_elsewhere,
)
from bot.ledger.unattended import UnattendedRecords

__all__ = [
    "AttemptWrite",
    "Clock",
    "FundingPaymentRecord",
    "Ledger",
    "MarginLegRecord",
    "MarginMoveRecord",
    "TransferRecord",
    "assign_refusal",
    "held_by",
    "held_elsewhere",
    "utc_now",
]


class Ledger(
    RunRecords,
    SnapshotRecords,
    FundingRecords,
    TransferRecords,
    MarginMoveRecords,
    UnattendedRecords,
    AlertRecords,
    ManualRecords,
    StandingRecords,
    PauseRecords,
):
    """The bot's record of runs, snapshots, transfers and attempts, and of running unattended.

    `key` chains the journal under HMAC-SHA256 (None: unkeyed SHA-256); `anchor_file`, when
    set, receives the chain head after each run (the log always does)."""
