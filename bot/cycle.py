"""One rebalance cycle, end to end: read every venue, snapshot, plan, execute, record.

This is the use case the CLI and the scheduler both call; it owns the order of the steps and
the run row, and nothing else.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from bot.config import Config
from bot.executor import Executor
from bot.ledger.journal import canonical_json
from bot.ledger.store import Ledger, TransferRecord
from bot.model import Plan, State, TransferStatus
from bot.policy import plan_transfers
from bot.redact import redact
from bot.venues.session import open_venues, read_state

NOT_DONE = (TransferStatus.FAILED, TransferStatus.UNKNOWN)


@dataclass(frozen=True)
class CycleResult:
    run_id: int
    state: State
    plan: Plan
    transfers: list[TransferRecord]

    @property
    def failed(self) -> bool:
        """True when a transfer that was meant to happen did not (or is not known to have)."""
        return any(t.status in NOT_DONE for t in self.transfers)


def config_digest(config: Config) -> str:
    """A fingerprint of the settings a run used, stored with the run for audits."""
    return hashlib.sha256(canonical_json(config.model_dump(mode="json")).encode()).hexdigest()


def hedged_venues(config: Config) -> list[str]:
    return sorted({hedge.venue for hedge in config.hedges.values()})


async def inspect(config: Config) -> tuple[State, Plan]:
    """Read and plan without recording or moving anything (`bot plan`, `bot balances`)."""
    async with open_venues(config, dry_run=True, names=hedged_venues(config)) as venues:
        state = await read_state(venues)
    return state, plan_transfers(state, config.hedges)


async def rebalance(
    config: Config, ledger: Ledger, *, dry_run: bool, command: str = "rebalance"
) -> CycleResult:
    """Run one full cycle and record it; a dry run records everything and moves nothing."""
    run_id = ledger.start_run(command, dry_run=dry_run, config_digest=config_digest(config))
    try:
        async with open_venues(config, dry_run=dry_run, names=hedged_venues(config)) as venues:
            state = await read_state(venues)
            ledger.record_snapshot(run_id, state)
            plan = plan_transfers(state, config.hedges)
            executor = Executor(venues, ledger, config.transfers, dry_run=dry_run)
            transfers = await executor.execute(run_id, plan.transfers)
    except BaseException as exc:
        ledger.finish_run(run_id, "error", redact(str(exc)) or type(exc).__name__)
        raise
    result = CycleResult(run_id, state, plan, transfers)
    ledger.finish_run(run_id, "failed" if result.failed else "ok")
    return result
