"""One planned transfer through the bot's real executor, and one reconciliation on live
clients (each with its ledger and its venue session), for the exactly-once matrices that drive
a single send past a fault."""

from __future__ import annotations

import asyncio

from bot.bootstrap import open_ledger
from bot.config import Config
from bot.model import PlannedTransfer
from bot.transfers.executor import ExecutionResult
from bot.transfers.reconcile import ReconcileReport
from bot.transfers.services import Services
from bot.venues.session import open_venues


def execute_one(loaded: Config, item: PlannedTransfer) -> ExecutionResult:
    """Send `item` in a run of its own, as a rebalance would, and return what happened."""

    async def go() -> ExecutionResult:
        ledger = open_ledger(loaded)
        try:
            async with open_venues(loaded, dry_run=False, cache=False) as venues:
                run_id = ledger.start_run("rebalance", dry_run=False, config_digest="matrix")
                executor = Services(loaded, ledger).executor(venues, dry_run=False)
                return await executor.execute(run_id, (item,))
        finally:
            ledger.close()

    return asyncio.run(go())


def reconcile_live(loaded: Config) -> ReconcileReport:
    """The reconciliation a cycle runs before it sends (`bot rebalance`, `bot run`), on live
    clients: where a venue dedupes client ids it may re-send an open row with its own id."""

    async def go() -> ReconcileReport:
        ledger = open_ledger(loaded)
        try:
            async with open_venues(loaded, dry_run=False, cache=False) as venues:
                return await Services(loaded, ledger).reconciler(venues).reconcile()
        finally:
            ledger.close()

    return asyncio.run(go())
