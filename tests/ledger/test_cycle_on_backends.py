"""A whole rebalance cycle with the ledger on each backend, then a crash and a restart."""

from __future__ import annotations

import pytest

from bot.audit.verify import verify_ledger
from bot.config import Config
from bot.cycle.rebalance import rebalance
from bot.ledger import Ledger
from bot.model import TransferStatus
from bot.paper import PaperExchange
from bot.runtime import failpoints
from tests.amounts import sent


async def test_rebalance_crash_and_restart(paper: PaperExchange, config: Config) -> None:
    ledger = Ledger.open(config.ledger_url)
    failpoints.arm(failpoints.AFTER_RESPONSE)  # the venue applied it; the outcome is not saved
    with pytest.raises(failpoints.SimulatedCrash):
        await rebalance(config, ledger, dry_run=False)
    restarted = await rebalance(config, ledger, dry_run=False)
    assert [r.status for r in restarted.reconciled.resolved] == [TransferStatus.CONFIRMED]
    assert restarted.transfers == []  # found, not sent again
    assert [(t.type, t.amount) for t in paper.state.transfers] == [
        ("MAIN_UMFUTURE", sent("3000", 1))
    ]
    assert verify_ledger(ledger).ok
    ledger.close()
