"""Carrying out a plan: fresh read, sizing, intent, transfer, outcome. One venue at a time each.

For every planned transfer the source wallet is read again right before the call (a balance
read a moment ago may no longer be transferable), the amount is sized at `safety` of it and
rounded down, the intent is committed, and only then is `transfer()` called (invariant 1).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal

from bot.aio import gather_or_cancel
from bot.config import TransfersConfig
from bot.ledger.store import Clock, Ledger, TransferRecord, utc_now
from bot.model import PlannedTransfer, TransferStatus
from bot.money import ZERO, plain, round_down
from bot.venues.clients import DryRunRefused
from bot.venues.errors import ErrorKind, VenueError
from bot.venues.venue import Venue


@dataclass(frozen=True, kw_only=True)
class Sizing:
    """How much to send, or why nothing is sent."""

    amount: Decimal
    skip_reason: str | None = None


def size_transfer(
    *,
    planned: Decimal,
    transferable: Decimal,
    safety: Decimal,
    step: Decimal,
    min_amount: Decimal,
    max_amount: Decimal | None,
    asset: str,
) -> Sizing:
    """round_down(min(planned, safety x transferable, max_amount)); skip under min_amount."""
    caps = [planned, safety * max(transferable, ZERO)]
    if max_amount is not None:
        caps.append(max_amount)
    amount = round_down(min(caps), step)
    if amount <= 0:
        return Sizing(
            amount=amount, skip_reason=f"nothing transferable ({plain(transferable)} {asset})"
        )
    if amount < min_amount:
        return Sizing(
            amount=amount,
            skip_reason=f"sized {plain(amount)} {asset} is under min_amount {plain(min_amount)}",
        )
    return Sizing(amount=amount)


class Executor:
    """Executes plans against venues and records every step in the ledger."""

    def __init__(
        self,
        venues: Mapping[str, Venue],
        ledger: Ledger,
        rules: TransfersConfig,
        *,
        dry_run: bool,
        clock: Clock = utc_now,
    ) -> None:
        self._venues = venues
        self._ledger = ledger
        self._rules = rules
        self._dry_run = dry_run
        self._clock = clock

    async def execute(
        self, run_id: int, transfers: tuple[PlannedTransfer, ...]
    ) -> list[TransferRecord]:
        """Run every planned transfer: venues in parallel, each venue's transfers in order."""
        by_venue: dict[str, list[PlannedTransfer]] = defaultdict(list)
        for item in transfers:
            by_venue[item.venue].append(item)
        results = await gather_or_cancel(
            *(self._execute_venue(run_id, items) for items in by_venue.values())
        )
        return sorted((record for records in results for record in records), key=lambda r: r.id)

    async def _execute_venue(
        self, run_id: int, items: list[PlannedTransfer]
    ) -> list[TransferRecord]:
        records: list[TransferRecord] = []
        stopped: VenueError | None = None
        for item in items:
            if stopped is not None:
                records.append(
                    self._record_final(
                        run_id,
                        item,
                        TransferStatus.FAILED,
                        amount=None,
                        inputs={},
                        error=f"not attempted: {stopped}",
                    )
                )
                continue
            record, error = await self._execute_one(run_id, item)
            records.append(record)
            if error is not None and error.kind is ErrorKind.FATAL:
                stopped = error  # keys or permissions: the venue's next transfers would fail too
        return records

    async def _execute_one(
        self, run_id: int, item: PlannedTransfer
    ) -> tuple[TransferRecord, VenueError | None]:
        venue = self._venues[item.venue]
        if not venue.can_transfer:
            return self._record_final(
                run_id,
                item,
                TransferStatus.MANUAL,
                amount=item.amount,
                inputs={"can_transfer": "false"},
                reason_suffix=f"{venue.name} has no transfer API: move it by hand",
            ), None
        try:
            transferable = await venue.read_transferable(item.from_account, item.asset)
        except VenueError as exc:
            return self._record_final(
                run_id,
                item,
                TransferStatus.FAILED,
                amount=None,
                inputs={},
                error=f"could not read the transferable amount: {exc}",
            ), exc
        step = venue.transfer_step(item.asset)
        sizing = size_transfer(
            planned=item.amount,
            transferable=transferable,
            safety=self._rules.safety,
            step=step,
            min_amount=self._rules.min_for(item.asset),
            max_amount=self._rules.max_for(item.asset),
            asset=item.asset,
        )
        inputs = {
            "transferable": transferable,
            "safety": self._rules.safety,
            "step": step,
            "read_at": self._clock(),
        }
        if sizing.skip_reason is not None:
            return self._record_final(
                run_id,
                item,
                TransferStatus.SKIPPED,
                amount=sizing.amount,
                inputs=inputs,
                reason_suffix=f"skipped: {sizing.skip_reason}",
            ), None
        return await self._send(run_id, item, venue, sizing.amount, inputs)

    async def _send(
        self, run_id: int, item: PlannedTransfer, venue: Venue, amount: Decimal, inputs: dict
    ) -> tuple[TransferRecord, VenueError | None]:
        intent = self._ledger.record_intent(
            run_id, item, amount=amount, inputs=inputs, dry_run=self._dry_run
        )
        started = self._clock()
        try:
            receipt = await venue.transfer(
                item.asset, amount, item.from_account, item.to_account, intent.client_id
            )
        except DryRunRefused:
            self._ledger.record_attempt(
                intent.id, amount=amount, outcome="dry_run", started_at=started
            )
            return self._ledger.record_outcome(intent.id, TransferStatus.DRY_RUN), None
        except VenueError as exc:
            self._ledger.record_attempt(
                intent.id,
                amount=amount,
                outcome=exc.kind.value,
                started_at=started,
                error_kind=exc.kind.value,
                error=str(exc),
            )
            status = (
                TransferStatus.UNKNOWN if exc.kind is ErrorKind.UNKNOWN else TransferStatus.FAILED
            )
            return self._ledger.record_outcome(intent.id, status, error=str(exc)), exc
        self._ledger.record_attempt(
            intent.id,
            amount=amount,
            outcome="confirmed",
            started_at=started,
            exchange_id=receipt.exchange_id,
        )
        return self._ledger.record_outcome(
            intent.id, TransferStatus.CONFIRMED, exchange_id=receipt.exchange_id
        ), None

    def _record_final(
        self,
        run_id: int,
        item: PlannedTransfer,
        status: TransferStatus,
        *,
        amount: Decimal | None,
        inputs: Mapping[str, object],
        error: str | None = None,
        reason_suffix: str | None = None,
    ) -> TransferRecord:
        """A row that is final at once: nothing is (or will be) sent for it."""
        if reason_suffix:
            item = replace(item, reason=f"{item.reason}; {reason_suffix}")
        return self._ledger.record_intent(
            run_id,
            item,
            amount=amount,
            status=status,
            inputs=inputs,
            error=error,
            dry_run=self._dry_run,
        )
