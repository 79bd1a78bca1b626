"""`bot reconcile --assign ID TRAN_ID`: an operator settles a transfer that reconciliation could
not settle on its own (look-alike transfers of one amount, an id another row holds, a venue
without history), naming the venue transfer it is.

The operator's word is checked before it is recorded: under the venue's lock (nothing else acts
on the venue meanwhile), the venue's own history around the transfer must hold an entry with
exactly that id, the same asset, the same direction and exactly the row's amount, and no other
ledger row may hold that id. Only a venue with no history API can be assigned unchecked, with
`--force`; the correction then says it was not checked. The ledger writes the attempt, the
confirmed outcome and the correction (who and why) in one transaction (`Ledger.assign`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.config import Config
from bot.errors import CorrectionRefused
from bot.ledger.queries import NOT_CHECKED, exchange_id_holders, find_transfer
from bot.ledger.store import Ledger, TransferRecord, assign_refusal, held_by
from bot.model import VenueTransfer
from bot.money import plain
from bot.runtime.retry import Timing
from bot.transfers.reconcile import DONE
from bot.transfers.services import Services
from bot.venues.base import Venue
from bot.venues.session import open_venues

#: how far before the intent the venue's history is read (its clock and ours differ)
HISTORY_LEAD = timedelta(minutes=10)


@dataclass(frozen=True, kw_only=True)
class Assignment:
    """A transfer settled on an operator's word."""

    transfer: TransferRecord
    exchange_id: str
    operator: str
    reason: str
    checked: bool  # False: a venue without history, recorded with --force
    note: str


async def assign(
    config: Config,
    ledger: Ledger,
    transfer_id: int,
    tran_id: str,
    *,
    operator: str,
    reason: str,
    force: bool = False,
    timing: Timing | None = None,
) -> Assignment:
    """Check `tran_id` against the transfer's venue and settle the transfer as it.

    Raises `CorrectionRefused` (bad input: the ledger is unchanged) or `VenueError` (the venue
    could not be read: nothing is recorded either)."""
    tran_id = tran_id.strip()
    record = _open_transfer(ledger, transfer_id)
    if record.venue not in config.venues:
        raise CorrectionRefused(
            f"transfer {transfer_id}: its venue {record.venue} is not in the config; add it "
            "under venues so that its history can be checked"
        )
    with Services(config, ledger).locks([record.venue], "reconcile --assign"):
        record = _open_transfer(ledger, transfer_id)  # as it is now that nothing else acts
        holder = exchange_id_holders(ledger, record.venue).get(tran_id)
        if holder is not None and holder != record.id:
            raise CorrectionRefused(held_by(record.venue, tran_id, record.id, holder))
        async with open_venues(config, dry_run=True, names=[record.venue], timing=timing) as opened:
            venue = opened[record.venue]
            if venue.can_fetch_transfers:
                note = await _check_against_history(venue, record, tran_id)
            elif force:
                note = f"{NOT_CHECKED}: {venue.name} has no transfer history API (--force)"
            else:
                raise CorrectionRefused(
                    f"transfer {record.id}: venue {venue.name} has no transfer history API, so "
                    f"transfer {tran_id} cannot be checked; check it on the venue and add --force"
                )
    settled = ledger.assign(record.id, tran_id, operator=operator, reason=reason, note=note)
    return Assignment(
        transfer=settled,
        exchange_id=tran_id,
        operator=operator.strip(),
        reason=reason.strip(),
        checked=not note.startswith(NOT_CHECKED),
        note=note,
    )


def _open_transfer(ledger: Ledger, transfer_id: int) -> TransferRecord:
    record = find_transfer(ledger, transfer_id)
    refusal = assign_refusal(record, transfer_id)
    if refusal is not None:
        raise CorrectionRefused(refusal)
    assert record is not None
    return record


async def _check_against_history(venue: Venue, record: TransferRecord, tran_id: str) -> str:
    """The note of a venue transfer that is this row; refuses one that is not."""
    since = record.created_at - HISTORY_LEAD
    history = await venue.fetch_transfer_history(
        record.asset, record.from_account, record.to_account, since=since
    )
    entry = _by_id(history, tran_id)
    if entry is None:
        # the other way round? (the history is read one direction at a time)
        back = await venue.fetch_transfer_history(
            record.asset, record.to_account, record.from_account, since=since
        )
        entry = _by_id(back, tran_id)
        if entry is None:
            raise CorrectionRefused(
                f"transfer {record.id}: venue {venue.name} lists no {record.asset} transfer "
                f"{tran_id} between {record.from_account} and {record.to_account} since "
                f"{_when(since)}; check the id"
            )
    refusal = mismatch(venue, record, entry)
    if refusal is not None:
        raise CorrectionRefused(refusal)
    at = f" at {_when(entry.at)}" if entry.at is not None else ""
    return (
        f"checked against {venue.name}'s transfer history: {plain(entry.amount)} {entry.asset} "
        f"{record.from_account} -> {record.to_account}{at}"
    )


def mismatch(venue: Venue, record: TransferRecord, entry: VenueTransfer) -> str | None:
    """Why the venue transfer `entry` is not the ledger row `record`, or None. Pure."""
    head = f"transfer {record.id}: venue transfer {entry.exchange_id}"
    if entry.asset != record.asset:
        return f"{head} moved {entry.asset}, transfer {record.id} is {record.asset}"
    ours = (
        venue.normalize_account(record.from_account),
        venue.normalize_account(record.to_account),
    )
    theirs = tuple(
        venue.normalize_account(account) if account is not None else mine
        for account, mine in zip((entry.from_account, entry.to_account), ours, strict=True)
    )
    if theirs != ours:
        return (
            f"{head} went {theirs[0]} -> {theirs[1]}, transfer {record.id} is "
            f"{ours[0]} -> {ours[1]}"
        )
    if entry.amount != record.amount:
        return (
            f"{head} moved {plain(entry.amount)} {entry.asset}, transfer {record.id} is "
            f"{plain(record.amount)} {record.asset}; the amounts must be equal"
        )
    if entry.status is not None and entry.status.lower() not in DONE:
        return f"{head} is {entry.status} on the venue, not done"
    return None


def _by_id(history: Iterable[VenueTransfer], tran_id: str) -> VenueTransfer | None:
    return next((entry for entry in history if entry.exchange_id == tran_id), None)


def _when(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")
