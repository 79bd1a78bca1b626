"""`bot ledger verify --against-venue NAME --since D`: the ledger against the venue's own
transfer history over a period.

The comparison is pure (`compare`); reading the history (`venue_history`) asks the venue for
every direction the ledger's rows and the venue's hedges use. A history that cannot be read
is an error, never "missing at venue".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from bot.ledger.store import TransferRecord
from bot.model import TransferStatus, VenueTransfer
from bot.money import plain
from bot.venues.base import Venue


@dataclass(frozen=True)
class Mismatch:
    what: str
    ledger_id: int | None
    exchange_id: str | None
    detail: str


@dataclass
class Comparison:
    matched: list[tuple[TransferRecord, VenueTransfer]] = field(default_factory=list)
    missing_in_ledger: list[VenueTransfer] = field(default_factory=list)
    missing_at_venue: list[TransferRecord] = field(default_factory=list)
    amount_mismatch: list[tuple[TransferRecord, VenueTransfer]] = field(default_factory=list)
    open_in_ledger: list[TransferRecord] = field(default_factory=list)
    #: where the venue lists no past transfers: the confirmed rows, proven by their client ids
    #: alone (the venue refused a re-send as a duplicate, or answered the send), never compared
    unlisted: list[TransferRecord] = field(default_factory=list)
    note: str | None = None

    @property
    def ok(self) -> bool:
        return not (self.missing_in_ledger or self.missing_at_venue or self.amount_mismatch)

    def lines(self) -> list[str]:
        """One line per difference, then the counts."""
        out = [
            f"missing in ledger: venue transfer {v.exchange_id} {plain(v.amount)} {v.asset} "
            f"{v.from_account}->{v.to_account} at {v.at.isoformat() if v.at else '?'}"
            for v in self.missing_in_ledger
        ]
        out += [
            f"missing at venue: transfer {r.id} {plain(r.amount)} {r.asset} is {r.status.value} "
            f"with venue id {r.exchange_id}, which the venue's history does not hold"
            for r in self.missing_at_venue
        ]
        out += [
            f"amount mismatch: transfer {r.id} recorded {plain(r.amount)} {r.asset}, venue "
            f"transfer {v.exchange_id} moved {plain(v.amount)} {v.asset}"
            for r, v in self.amount_mismatch
        ]
        out += [
            f"open in ledger: transfer {r.id} {plain(r.amount)} {r.asset} is {r.status.value}; "
            "bot reconcile settles it"
            for r in self.open_in_ledger
        ]
        if self.note is not None:
            out.append(self.note)
        return out

    def counts(self) -> str:
        return (
            f"matched {len(self.matched)}, missing in ledger {len(self.missing_in_ledger)}, "
            f"missing at venue {len(self.missing_at_venue)}, amount mismatch "
            f"{len(self.amount_mismatch)}, open in ledger {len(self.open_in_ledger)}"
            + (f", unlisted {len(self.unlisted)}" if self.note is not None else "")
        )


SENT = (TransferStatus.CONFIRMED, TransferStatus.UNKNOWN, TransferStatus.PENDING)


def compare(records: Iterable[TransferRecord], history: Iterable[VenueTransfer]) -> Comparison:
    """Match ledger rows to venue transfers by the venue's id (else by client id). Pure.

    Dry runs, skipped, failed and manual rows moved nothing through the API and are left out.
    A venue transfer no row claims is "missing in ledger"; a confirmed row whose id the venue
    does not hold is "missing at venue"; an open row with no match is listed, not counted."""
    result = Comparison()
    by_id = {v.exchange_id: v for v in history}
    by_client = {v.client_id: v for v in by_id.values() if v.client_id}
    claimed: set[str] = set()
    for record in records:
        if record.dry_run or record.status not in SENT:
            continue
        venue_entry = None
        if record.exchange_id is not None:
            venue_entry = by_id.get(record.exchange_id)
        if venue_entry is None:
            venue_entry = by_client.get(record.client_id)
        if venue_entry is None:
            if record.status is TransferStatus.CONFIRMED:
                result.missing_at_venue.append(record)
            else:
                result.open_in_ledger.append(record)
            continue
        claimed.add(venue_entry.exchange_id)
        if record.amount is not None and venue_entry.amount == record.amount:
            result.matched.append((record, venue_entry))
        else:
            result.amount_mismatch.append((record, venue_entry))
    result.missing_in_ledger = [v for v in by_id.values() if v.exchange_id not in claimed]
    return result


def without_history(records: Iterable[TransferRecord], venue: str) -> Comparison:
    """The comparison for a venue that lists no past transfers (CoinSwitch PRO HFT). Pure.

    Nothing can be matched: the confirmed rows are listed as `unlisted` (each was proven by
    the venue's answer to its send, or by the venue refusing a re-send of its client id as a
    duplicate), the open ones as open, and one line says why nothing was compared."""
    result = Comparison()
    for record in records:
        if record.dry_run or record.status not in SENT:
            continue
        if record.status is TransferStatus.CONFIRMED:
            result.unlisted.append(record)
        else:
            result.open_in_ledger.append(record)
    result.note = (
        f"{venue} lists no past transfers, so none can be compared: "
        f"{len(result.unlisted)} confirmed rows rest on their client ids (a re-send of each "
        "is refused as a duplicate)"
    )
    return result


async def venue_history(
    venue: Venue, records: Iterable[TransferRecord], since: datetime
) -> list[VenueTransfer]:
    """The venue's transfers since `since` in every direction the ledger's rows or the venue's
    hedges use (each hedge's collateral between spot and its futures wallet, both ways)."""
    directions: set[tuple[str, str, str]] = set()
    for record in records:
        directions.add((record.asset, record.from_account, record.to_account))
    for hedge in venue.hedges.values():
        collateral, futures = _hedge_wallet(venue, hedge)
        if collateral and futures:
            directions.add((collateral, "spot", futures))
            directions.add((collateral, futures, "spot"))
    found: dict[str, VenueTransfer] = {}
    for asset, source, target in sorted(directions):
        for entry in await venue.fetch_transfer_history(asset, source, target, since):
            found.setdefault(entry.exchange_id, entry)
    return list(found.values())


def _hedge_wallet(venue: Venue, hedge: object) -> tuple[str | None, str | None]:
    """The hedge's collateral asset and futures wallet, from its perpetual's market."""
    markets = getattr(getattr(venue, "client", None), "markets", None) or {}
    market = markets.get(getattr(hedge, "perp", ""))
    if not market:
        return None, None
    futures_account = getattr(venue, "futures_account", None)
    if futures_account is not None:
        futures = futures_account(market)
    else:
        futures = "linear" if market.get("linear") else "inverse"
    return market.get("settle"), futures
