"""Reconciliation: settle every `pending` or `unknown` transfer against the venue's history.

A transfer whose answer was lost may or may not have happened. Before anything new is sent on
a venue, each such transfer is looked up in the venue's transfer history, and reconciliation
refuses to guess:

- by our client id where the venue records one; else by asset, direction and the exact amount
  (the executor tags amounts so that they are identifiable, see `bot.transfers.amount_tag`);
- only an entry the venue timestamped after the intent was committed and before its last
  attempt could have been applied counts, both on the venue's clock (each attempt stores the
  venue's clock offset, measured from its server time): a look-alike the user made a minute
  earlier is never taken;
- never an entry that another ledger row already holds;
- more than one entry that fits: the row stays `unknown`, its venue/asset stays blocked, and the
  message names every candidate so that an operator can settle it
  (`bot reconcile --assign ID TRAN_ID`);
- a history answer the bot cannot read (`Untrusted`, an error) is an error of this attempt,
  never evidence that the transfer is absent.

A venue that lists no past transfers but dedupes our client id (CoinSwitch PRO HFT's
`client_txn_id`) is settled by sending the same transfer again with the same id: "duplicate"
proves the first applied, a success means it had not and now has (`_settle_by_resend`).

Found: `confirmed`. Provably absent once the settle window after the last attempt has passed:
`failed`. Otherwise it stays open, and the venue/asset stays blocked until a later run.

An entry that matches but whose id another row holds proves nothing either way (a venue that
numbered its transfers again from the start reuses ids): the transfer is left `unknown` with a
message naming both rows, for an operator, and never settled `failed` on that evidence.

Each venue's open margin legs (an isolated position's add/reduce, `bot.transfers.margin_legs`) are
settled in the same pass, against its margin-change history (`bot.transfers.reconcile_margin`):
every caller of reconciliation (`bot reconcile`, the cycle before it sends, `bot run`'s job)
settles both.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.errors import DryRunRefusal, ErrorKind, VenueError
from bot.ledger.margin_queries import open_margin_legs_on_venues
from bot.ledger.queries import attempt_clocks, exchange_id_holders, open_transfers
from bot.ledger.store import (
    Clock,
    Ledger,
    MarginLegRecord,
    TransferRecord,
    held_elsewhere,
    utc_now,
)
from bot.model import TransferStatus, VenueTransfer
from bot.money import plain
from bot.runtime.logs import log_context
from bot.transfers.reconcile_margin import MarginReconciler
from bot.transfers.venue_time import (
    OFFSET_UNCERTAINTY,
    Bounds,
    venue_time_bounds,
)
from bot.venues.base import Venue

log = logging.getLogger(__name__)

DONE = frozenset({"ok", "confirmed", "success", "successful"})
NOT_DONE = frozenset({"failed", "failure", "rejected", "canceled", "cancelled"})


def candidates(
    intent: TransferRecord,
    history: Iterable[VenueTransfer],
    claimed: set[str],
    bounds: Bounds,
) -> list[VenueTransfer]:
    """Every unclaimed history entry that could be this intent, oldest first. Pure.

    With a client id on both sides, only the id decides. Without, an entry must have the same
    asset, the exact amount, the same direction and a time inside `bounds`, and must not be a
    transfer the venue says failed."""
    unclaimed = [entry for entry in history if entry.exchange_id not in claimed]
    by_id = [e for e in unclaimed if e.client_id is not None and e.client_id == intent.client_id]
    if by_id:
        return by_id
    matching = [
        e
        for e in unclaimed
        if e.client_id is None
        and e.asset == intent.asset
        and intent.amount is not None
        and e.amount == intent.amount
        and e.from_account in (None, intent.from_account)
        and e.to_account in (None, intent.to_account)
        and e.at is not None
        and bounds.earliest <= e.at <= bounds.latest
        and (e.status is None or e.status.lower() not in NOT_DONE)
    ]
    return sorted(matching, key=lambda e: e.at or bounds.earliest)


def held_candidate(
    intent: TransferRecord,
    history: Iterable[VenueTransfer],
    holders: Mapping[str, int],
    bounds: Bounds,
) -> tuple[VenueTransfer, int] | None:
    """The entry that would be this intent but for its id being held by another row, and that
    row's id; None when an unheld entry fits or nothing does. Pure.

    Such an entry may be the holder's or this intent's (ids are reused when a venue starts its
    numbering over), so it must neither confirm nor let the intent be settled failed."""
    entries = list(history)
    if candidates(intent, entries, set(holders), bounds):
        return None
    for entry in candidates(intent, entries, set(), bounds):
        holder = holders.get(entry.exchange_id)
        if holder not in (None, intent.id):
            return entry, holder
    return None


def resends_by_client_id(venue: Venue, record: TransferRecord) -> bool:
    """Whether an open row is settled by sending it again with its own client id: the venue
    keeps no transfer history to look it up in, but refuses a repeat of an id it applied."""
    support = venue.client_ids
    return (
        venue.can_transfer
        and support is not None
        and support.dedupes
        and record.client_id is not None
        and record.amount is not None
    )


def ambiguous_message(record: TransferRecord, found: list[VenueTransfer]) -> str:
    """The error of a row that more than one venue transfer fits: every candidate named."""
    ids = ", ".join(entry.exchange_id for entry in found)
    amount = plain(record.amount) if record.amount is not None else "?"
    return (
        f"transfer {record.id}: ambiguous: {record.venue} transfers {ids} each match it "
        f"({amount} {record.asset} {record.from_account}->{record.to_account}); left unknown "
        f"and {record.venue} {record.asset} blocked: settle it with "
        f"bot reconcile --assign {record.id} TRAN_ID --reason ..."
    )


@dataclass
class ReconcileReport:
    resolved: list[TransferRecord] = field(default_factory=list)
    still_open: list[TransferRecord] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    #: venues that could not be reached, with why (their lines are in `errors` too)
    venue_errors: dict[str, Exception] = field(default_factory=dict)
    #: isolated positions' margin legs settled against the venue's margin history
    margin_settled: list[MarginLegRecord] = field(default_factory=list)
    #: margin legs still open, with why (the history cannot tell yet, or tells two)
    margin_still_open: list[tuple[MarginLegRecord, str]] = field(default_factory=list)

    @property
    def unsettled(self) -> bool:
        """Something is still open: a transfer or a margin leg."""
        return bool(self.still_open or self.margin_still_open)


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
        """Settle what is open on every venue. The open rows of all venues are found by two
        queries, not two per venue: a cycle runs this before its reads, and at 20 venues forty
        queries that usually find nothing were most of the time before the first request."""
        report = ReconcileReport()
        open_rows: dict[str, list[TransferRecord]] = {}
        for record in open_transfers(self._ledger):
            open_rows.setdefault(record.venue, []).append(record)
        with_open_legs = {venue for venue, _ in open_margin_legs_on_venues(self._ledger)}
        for name, venue in self._venues.items():
            if name not in open_rows and name not in with_open_legs:
                continue
            with log_context(venue=name):  # this venue's lines say so
                await self._reconcile_venue(name, venue, open_rows.get(name, []), report)
        return report

    async def _reconcile_venue(
        self, name: str, venue: Venue, records: list[TransferRecord], report: ReconcileReport
    ) -> None:
        for record in records:
            try:
                await self._settle(venue, record, report)
            except Exception as exc:  # one venue's failure never stops another's
                log.debug("reconciling transfer %s failed", record.id, exc_info=exc)
                report.still_open.append(record)
                report.errors.append(f"transfer {record.id}: cannot settle: {exc}")
        await self._reconcile_margin_legs(name, venue, report)

    async def _reconcile_margin_legs(
        self, name: str, venue: Venue, report: ReconcileReport
    ) -> None:
        from bot.ledger.margin_queries import open_margin_legs

        try:
            settled = await MarginReconciler(
                {name: venue}, self._ledger, settle_window=self._window, clock=self._clock
            ).reconcile()
        except Exception as exc:  # one venue's failure never stops another's
            log.debug("reconciling margin legs of %s failed", name, exc_info=exc)
            open_legs = open_margin_legs(self._ledger, venue=name)
            report.margin_still_open += [(leg, f"cannot settle: {exc}") for leg in open_legs]
            report.errors.append(f"margin legs on {name}: cannot settle: {exc}")
            return
        report.margin_settled += settled.settled
        for leg, why in settled.still_open:
            log.warning("margin leg %s still open: %s", leg.id, why)
        report.margin_still_open += settled.still_open

    async def _bounds(self, venue: Venue, record: TransferRecord) -> tuple[Bounds, datetime]:
        """The venue-clock bounds of the record, and its last attempt (our clock)."""
        clocks = attempt_clocks(self._ledger, record.id)
        last = max((c.started_at for c in clocks), default=record.created_at)
        offset_ms = next(
            (c.venue_clock_offset_ms for c in clocks if c.venue_clock_offset_ms is not None), None
        )
        if offset_ms is None:  # no attempt measured it (a crash before the call): measure now
            offset_ms = await venue.clock_offset_ms()
        offset = timedelta(milliseconds=offset_ms) if offset_ms is not None else None
        return venue_time_bounds(record.created_at, last, offset, self._window), last

    async def _settle(self, venue: Venue, record: TransferRecord, report: ReconcileReport) -> None:
        if record.dry_run:
            # A dry-run client refuses before sending: nothing can have left.
            report.resolved.append(self._resolve(record, TransferStatus.DRY_RUN, None, "dry run"))
            return
        if not venue.can_fetch_transfers and resends_by_client_id(venue, record):
            await self._settle_by_resend(venue, record, report)
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
            bounds, last_attempt = await self._bounds(venue, record)
            # the venue's record of our id, where it keeps one: it knows a transfer its history
            # does not list yet (OKX books the bill of a pending one only when it completes)
            looked_up = (
                await venue.transfer_by_client_id(record.client_id, record.asset)
                if record.client_id
                else None
            )
            history = (
                [looked_up]
                if looked_up is not None
                else await venue.fetch_transfer_history(
                    record.asset,
                    record.from_account,
                    record.to_account,
                    since=bounds.earliest - OFFSET_UNCERTAINTY,
                )
            )
        except VenueError as exc:
            report.still_open.append(record)
            report.errors.append(f"transfer {record.id}: cannot read history: {exc}")
            return
        holders = exchange_id_holders(self._ledger, venue.name)
        found = candidates(record, history, set(holders), bounds)
        if len(found) > 1:
            message = ambiguous_message(record, found)
            report.still_open.append(self._leave_unknown(record, message))
            report.errors.append(message)
            return
        if found:
            entry = found[0]
            if entry.status is not None and entry.status.lower() in NOT_DONE:
                # the venue's record of our own id says it failed: nothing moved
                report.resolved.append(
                    self._resolve(
                        record, TransferStatus.FAILED, None, f"{venue.name} says it failed"
                    )
                )
                return
            if entry.status is not None and entry.status.lower() not in DONE:
                report.still_open.append(record)  # booked but not done yet: ask again later
                return
            confirmed = self._resolve(record, TransferStatus.CONFIRMED, entry.exchange_id, "found")
            if confirmed.status.is_final:
                report.resolved.append(confirmed)
            else:  # another process claimed the id meanwhile: the ledger left it unknown
                report.still_open.append(confirmed)
                report.errors.append(confirmed.error or f"transfer {record.id}: left unknown")
            return
        held = held_candidate(record, history, holders, bounds)
        if held is not None:
            entry, holder = held
            message = held_elsewhere(record.venue, entry.exchange_id, record.id, holder)
            report.still_open.append(self._leave_unknown(record, message))
            report.errors.append(message)
        elif checked_at >= last_attempt + self._window:
            report.resolved.append(
                self._resolve(
                    record,
                    TransferStatus.FAILED,
                    None,
                    f"absent from {venue.name}'s history {int(self._window.total_seconds())} s "
                    "after the last attempt",
                )
            )
        else:
            report.still_open.append(record)

    async def _settle_by_resend(
        self, venue: Venue, record: TransferRecord, report: ReconcileReport
    ) -> None:
        """The same transfer sent again with the same client id (never a new id): the venue
        refuses it as a duplicate if the first applied (the venue's `transfer` then answers
        as for a success), or applies it now if the first never arrived. Either way exactly
        one transfer stands. A refusal for another reason (insufficient funds, a bad request)
        cannot tell whether the first applied: the row stays unknown for an operator."""
        assert record.amount is not None and record.client_id is not None
        try:
            receipt = await venue.transfer(
                record.asset, record.amount, record.from_account, record.to_account,
                record.client_id,
            )  # fmt: skip
        except DryRunRefusal:
            # `bot reconcile` holds read-only clients: the cycle's reconciliation (`bot
            # rebalance`, `bot run`), with live ones, re-sends it before sending anything new
            report.still_open.append(record)
            report.errors.append(
                f"transfer {record.id}: {venue.name} lists no past transfers; it is settled by "
                f"re-sending client id {record.client_id}, which bot rebalance and bot run do "
                "before anything new is sent (bot reconcile only reads)"
            )
            return
        except VenueError as exc:
            if exc.kind in (ErrorKind.UNKNOWN, ErrorKind.TRANSIENT, ErrorKind.CLOCK):
                report.still_open.append(record)
                report.errors.append(f"transfer {record.id}: re-sent, outcome unknown: {exc}")
                return
            message = (
                f"transfer {record.id}: re-sending client id {record.client_id} to "
                f"{venue.name} was refused ({exc}), which does not tell whether the first send "
                f"applied; left unknown and {record.venue} {record.asset} blocked: check it "
                f"there, then bot reconcile --assign {record.id} TRAN_ID --reason ..."
            )
            report.still_open.append(self._leave_unknown(record, message))
            report.errors.append(message)
            return
        confirmed = self._resolve(
            record, TransferStatus.CONFIRMED, receipt.exchange_id, "re-sent with its client id"
        )
        if confirmed.status.is_final:
            report.resolved.append(confirmed)
        else:
            report.still_open.append(confirmed)
            report.errors.append(confirmed.error or f"transfer {record.id}: left unknown")

    def _leave_unknown(self, record: TransferRecord, message: str) -> TransferRecord:
        """Record once (not on every run) why the row is left unknown for an operator."""
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
