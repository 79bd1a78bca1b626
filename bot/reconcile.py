"""Reconciliation: settle every `pending` or `unknown` transfer against the venue's history.

A transfer whose answer was lost may or may not have happened. Before anything new is sent on
a venue, each such transfer is looked up in the venue's transfer history: by our client id
where the venue records one, else by asset, exact amount, direction and time window, never
claiming an exchange transfer that another ledger row already holds. Found: `confirmed`.
Provably absent once the venue's settle window has passed: `failed`. Otherwise it stays
`unknown`, and the venue/asset stays blocked until a later run settles it.

An entry that matches but whose id another row holds proves nothing either way (a venue that
numbered its transfers again from the start reuses ids): the transfer is left `unknown` with a
message naming both rows, for an operator, and never settled `failed` on that evidence.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from bot.ledger.queries import exchange_id_holders, open_transfers
from bot.ledger.store import Clock, Ledger, TransferRecord, held_elsewhere, utc_now
from bot.model import TransferStatus, VenueTransfer
from bot.venues.base import Venue
from bot.venues.errors import VenueError

log = logging.getLogger(__name__)

# Venue clocks and ours differ; a history entry may carry a time slightly before our intent.
CLOCK_SKEW = timedelta(minutes=2)


def find_match(
    intent: TransferRecord,
    history: Iterable[VenueTransfer],
    claimed: set[str],
    *,
    window: timedelta,
) -> VenueTransfer | None:
    """The venue transfer that is this intent, if the history holds one. Pure.

    With a client id on both sides, only the id decides. Without, the earliest unclaimed entry
    with the same asset, the exact amount and the same direction, inside
    [intent time - skew, intent time + window], is taken.
    """
    candidates = [entry for entry in history if entry.exchange_id not in claimed]
    by_id = [e for e in candidates if e.client_id is not None]
    if by_id and any(e.client_id == intent.client_id for e in by_id):
        return next(e for e in by_id if e.client_id == intent.client_id)
    earliest = intent.created_at - CLOCK_SKEW
    latest = intent.created_at + max(window, CLOCK_SKEW)
    matching = [
        e
        for e in candidates
        if e.client_id is None
        and e.asset == intent.asset
        and intent.amount is not None
        and e.amount == intent.amount
        and e.from_account in (None, intent.from_account)
        and e.to_account in (None, intent.to_account)
        and (e.at is None or earliest <= e.at <= latest)
        and (e.status is None or e.status.lower() in ("ok", "confirmed", "success"))
    ]
    matching.sort(key=lambda e: (e.at is None, e.at))
    return matching[0] if matching else None


def find_held_match(
    intent: TransferRecord,
    history: Iterable[VenueTransfer],
    holders: Mapping[str, int],
    *,
    window: timedelta,
) -> tuple[VenueTransfer, int] | None:
    """The entry that would be this intent but for its id being held by another row, and that
    row's id; None when an unheld entry matches or nothing does. Pure.

    Such an entry may be the holder's or this intent's (ids are reused when a venue starts its
    numbering over), so it must neither confirm nor let the intent be settled failed."""
    claimed = set(holders)
    if find_match(intent, history, claimed, window=window) is not None:
        return None
    entry = find_match(intent, history, set(), window=window)
    if entry is None or holders.get(entry.exchange_id) in (None, intent.id):
        return None
    return entry, holders[entry.exchange_id]


@dataclass
class ReconcileReport:
    resolved: list[TransferRecord] = field(default_factory=list)
    still_open: list[TransferRecord] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class Reconciler:
    """Settles open transfers of the given venues; safe to run at any time, any number of times."""

    def __init__(
        self,
        venues: Mapping[str, Venue],
        ledger: Ledger,
        *,
        settle_window: timedelta,
        clock: Clock = utc_now,
    ) -> None:
        self._venues = venues
        self._ledger = ledger
        self._window = settle_window
        self._clock = clock

    async def reconcile(self) -> ReconcileReport:
        report = ReconcileReport()
        for name, venue in self._venues.items():
            for record in open_transfers(self._ledger, venue=name):
                try:
                    await self._settle(venue, record, report)
                except Exception as exc:  # one venue's failure never stops another's
                    log.debug("reconciling transfer %s failed", record.id, exc_info=exc)
                    report.still_open.append(record)
                    report.errors.append(f"transfer {record.id}: cannot settle: {exc}")
        return report

    async def _settle(self, venue: Venue, record: TransferRecord, report: ReconcileReport) -> None:
        if record.dry_run:
            # A dry-run client refuses before sending: nothing can have left.
            report.resolved.append(self._resolve(record, TransferStatus.DRY_RUN, None, "dry run"))
            return
        if not venue.can_fetch_transfers:
            report.still_open.append(record)
            report.errors.append(
                f"transfer {record.id}: {venue.name} has no transfer history API; check it there "
                "by hand"
            )
            return
        checked_at = self._clock()
        try:
            history = await venue.fetch_transfer_history(
                record.asset,
                record.from_account,
                record.to_account,
                since=record.created_at - CLOCK_SKEW,
            )
        except VenueError as exc:
            report.still_open.append(record)
            report.errors.append(f"transfer {record.id}: cannot read history: {exc}")
            return
        holders = exchange_id_holders(self._ledger, venue.name)
        match = find_match(record, history, set(holders), window=self._window)
        held = find_held_match(record, history, holders, window=self._window)
        if match is not None:
            found = self._resolve(record, TransferStatus.CONFIRMED, match.exchange_id, "found")
            if found.status.is_final:
                report.resolved.append(found)
            else:  # another process claimed the id meanwhile: the ledger left it unknown
                report.still_open.append(found)
                report.errors.append(found.error or f"transfer {record.id}: left unknown")
        elif held is not None:
            entry, holder = held
            report.still_open.append(self._leave_unknown(record, entry, holder))
            report.errors.append(held_elsewhere(record.venue, entry.exchange_id, record.id, holder))
        elif checked_at >= record.created_at + self._window:
            report.resolved.append(
                self._resolve(
                    record,
                    TransferStatus.FAILED,
                    None,
                    f"absent from {venue.name}'s history {int(self._window.total_seconds())} s "
                    "after the intent",
                )
            )
        else:
            report.still_open.append(record)

    def _leave_unknown(
        self, record: TransferRecord, entry: VenueTransfer, holder: int
    ) -> TransferRecord:
        """Record once (not on every run) that the only match is held by another row."""
        message = held_elsewhere(record.venue, entry.exchange_id, record.id, holder)
        if record.status is TransferStatus.UNKNOWN and record.error == message:
            return record
        assert record.amount is not None
        log.warning("%s", message)
        return self._ledger.record_attempt(
            record.id,
            amount=record.amount,
            outcome=f"reconciled:{TransferStatus.UNKNOWN.value}",
            started_at=self._clock(),
            error=message,
            status=TransferStatus.UNKNOWN,
        )

    def _resolve(
        self, record: TransferRecord, status: TransferStatus, exchange_id: str | None, how: str
    ) -> TransferRecord:
        assert record.amount is not None
        failed = status is TransferStatus.FAILED
        resolved = self._ledger.record_attempt(
            record.id,
            amount=record.amount,
            outcome=f"reconciled:{status.value}",
            started_at=self._clock(),
            exchange_id=exchange_id,
            error=f"reconciled: {how}" if failed else None,
            status=status,
        )
        log.info("transfer %s reconciled: %s (%s)", record.id, resolved.status.value, how)
        return resolved
