"""Alert conditions and their delivery (0005, 0010): one `alerts` row per condition while it
fires, updated in place and final once resolved; one `alert_deliveries` row per channel's
answer to each delivery attempt (append-only).

An alert transition (its ALERT, a reminder, its RESOLVED) is *claimed* before it is sent
(`stand_alert`, `claim_resolution`: the firing row locked, `claim`/`claimed_at` set in the same
transaction) and the claim is released with the outcome (`finish_delivery`), so two writers
sharing one ledger never both send one transition. A claim older than its lease (a writer
that died mid-send) is abandoned.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from bot.ledger.sessions import LedgerBase
from bot.ledger.tables import Alert, AlertDelivery


@dataclass(frozen=True, kw_only=True)
class AlertRecord:
    id: int
    key: str
    state: str
    message: str
    first_seen: datetime
    last_seen: datetime
    sent_count: int
    last_sent_at: datetime | None
    severity: str | None = None
    occurrences: int | None = None
    attempts: int = 0
    last_attempt_at: datetime | None = None
    claim: str | None = None
    claimed_at: datetime | None = None

    @classmethod
    def of(cls, row: Alert) -> AlertRecord:
        return cls(
            id=row.id,
            key=row.key,
            state=row.state,
            message=row.message,
            first_seen=row.first_seen,
            last_seen=row.last_seen,
            sent_count=row.sent_count or 0,
            last_sent_at=row.last_sent_at,
            severity=row.severity,
            occurrences=row.occurrences,
            attempts=row.attempts or 0,
            last_attempt_at=row.last_attempt_at,
            claim=row.claim,
            claimed_at=row.claimed_at,
        )

    def claimed(self, now: datetime, lease: timedelta) -> bool:
        """Another delivery of this row is under way (its claim not yet older than `lease`)."""
        return (
            self.claim is not None and self.claimed_at is not None and now - self.claimed_at < lease
        )


@dataclass(frozen=True, kw_only=True)
class DeliveryRecord:
    """One channel's answer to one delivery attempt (an `alert_deliveries` row to be)."""

    channel: str
    outcome: str  # delivered failed timeout refused
    detail: str | None = None


#: what the alerter decides under the row lock: the transition to claim ("alert", "reminder")
#: or None, given the row and when the key last delivered anything (any of its rows)
Decide = Callable[[AlertRecord, datetime | None], str | None]


class AlertRecords(LedgerBase):
    """Writes and reads of alert conditions and their delivery attempts."""

    def firing_alerts(self) -> dict[str, AlertRecord]:
        with self._sessions() as session:
            rows = session.scalars(select(Alert).where(Alert.state == "firing"))
            return {row.key: AlertRecord.of(row) for row in rows}

    def last_alert_sent(self, key: str) -> datetime | None:
        with self._sessions() as session:
            return session.scalar(select(func.max(Alert.last_sent_at)).where(Alert.key == key))

    def fire_alert(self, key: str, message: str, *, sent: bool) -> AlertRecord:
        """Record that `key` is firing: a new row, or the open one seen again (its message
        refreshed, one more message counted when `sent`)."""
        now = self._clock()
        with self._transaction(now) as session:
            row = session.scalar(select(Alert).where(Alert.key == key, Alert.state == "firing"))
            if row is None:
                row = Alert(key=key, state="firing", first_seen=now, sent_count=0)
                session.add(row)
            row.message, row.last_seen = message, now
            if sent:
                row.sent_count, row.last_sent_at = (row.sent_count or 0) + 1, now
        return AlertRecord.of(row)

    def stand_alert(
        self,
        key: str,
        message: str,
        *,
        severity: str,
        count: int = 0,
        token: str,
        lease: timedelta,
        decide: Decide,
    ) -> tuple[AlertRecord, str | None]:
        """`key` is firing: its row (new, or the open one with the newest message, severity and
        `count` more occurrences) and, under the row lock, the transition `decide` says is due,
        claimed for `token`; None when none is due or another writer's claim stands."""
        for tries_left in (1, 0):
            try:
                return self._stand_alert(key, message, severity, count, token, lease, decide)
            except IntegrityError:  # another writer inserted the firing row first: it is theirs
                if not tries_left:
                    raise
        raise AssertionError("unreachable")

    def _stand_alert(
        self,
        key: str,
        message: str,
        severity: str,
        count: int,
        token: str,
        lease: timedelta,
        decide: Decide,
    ) -> tuple[AlertRecord, str | None]:
        now = self._clock()
        with self._transaction(now) as session:
            row = session.scalar(_firing(key).with_for_update())
            if row is None:
                row = Alert(key=key, state="firing", message=message, first_seen=now)
                row.last_seen, row.sent_count, row.occurrences = now, 0, count or None
                row.severity = severity
                session.add(row)
                session.flush()  # a second writer's row makes this an IntegrityError
            elif row.message != message or row.severity != severity or count:
                # only a change is written (and so journaled): a sighting with nothing new
                # leaves the row as it is
                row.occurrences = (row.occurrences or 1) + count if count else row.occurrences
                row.message, row.severity, row.last_seen = message, severity, now
            record = AlertRecord.of(row)
            transition = None
            if not record.claimed(now, lease):
                last_sent = session.scalar(
                    select(func.max(Alert.last_sent_at)).where(Alert.key == key)
                )
                transition = decide(record, last_sent)
            if transition is not None:
                row.claim, row.claimed_at = token, now
            return AlertRecord.of(row), transition

    def claim_resolution(
        self, key: str, *, token: str, lease: timedelta
    ) -> tuple[AlertRecord | None, bool]:
        """`key` cleared. A firing row never delivered resolves here, silently: (record, False).
        One that was delivered is claimed for its RESOLVED: (record, True), to be finished by
        `finish_delivery(..., resolve=True)`. (None, False) when nothing is firing or another
        writer holds a claim on it."""
        now = self._clock()
        with self._transaction(now) as session:
            row = session.scalar(_firing(key).with_for_update())
            if row is None or AlertRecord.of(row).claimed(now, lease):
                return None, False
            if not row.sent_count:
                row.state, row.resolved_at, row.last_seen = "resolved", now, now
                row.claim = row.claimed_at = None
                return AlertRecord.of(row), False
            row.claim, row.claimed_at = token, now
            return AlertRecord.of(row), True

    def finish_delivery(
        self,
        alert_id: int,
        *,
        token: str,
        kind: str,
        severity: str,
        deliveries: Iterable[DeliveryRecord],
        resolve: bool = False,
    ) -> AlertRecord:
        """Record a claimed transition's attempt: one `alert_deliveries` row per channel, the
        claim released, the row's `sent_count` (delivered) or `attempts` (not) counted; a
        resolution makes the row final whatever came of its message."""
        now = self._clock()
        answers = list(deliveries)
        delivered = any(d.outcome == "delivered" for d in answers)
        with self._transaction(now) as session:
            row = session.get_one(Alert, alert_id, with_for_update=True)
            if row.state == "firing" and row.claim == token:
                row.claim = row.claimed_at = None
                row.last_attempt_at = now
                if delivered:
                    row.sent_count, row.last_sent_at, row.attempts = row.sent_count + 1, now, 0
                else:
                    row.attempts = (row.attempts or 0) + 1
                if resolve:
                    row.state, row.resolved_at, row.last_seen = "resolved", now, now
            rows = [
                AlertDelivery(
                    alert_id=alert_id,
                    key=row.key,
                    kind=kind,
                    at=now,
                    channel=d.channel,
                    severity=severity,
                    outcome=d.outcome,
                    detail=d.detail,
                )
                for d in answers
            ]
            session.add_all(rows)
            return AlertRecord.of(row)

    def alert_deliveries(self, alert_id: int | None = None) -> list[tuple[str, str, str, str]]:
        """(key, kind, channel, outcome) of every delivery attempt (of one alert), oldest first."""
        query = select(
            AlertDelivery.key, AlertDelivery.kind, AlertDelivery.channel, AlertDelivery.outcome
        ).order_by(AlertDelivery.id)
        if alert_id is not None:
            query = query.where(AlertDelivery.alert_id == alert_id)
        with self._sessions() as session:
            return [tuple(row) for row in session.execute(query)]  # type: ignore[misc]

    def resolve_alert(self, key: str, *, sent: bool) -> None:
        now = self._clock()
        with self._transaction(now) as session:
            row = session.scalar(select(Alert).where(Alert.key == key, Alert.state == "firing"))
            if row is None:
                return
            row.last_seen = now
            if sent:
                row.sent_count, row.last_sent_at = row.sent_count + 1, now
            row.state, row.resolved_at = "resolved", now

    def record_notice(
        self,
        key: str,
        message: str,
        *,
        sent: bool,
        severity: str | None = None,
        deliveries: Iterable[DeliveryRecord] = (),
    ) -> None:
        """A one-off message, final as written, with its delivery attempts."""
        now = self._clock()
        with self._transaction(now) as session:
            row = Alert(
                key=key,
                state="notice",
                message=message,
                first_seen=now,
                last_seen=now,
                resolved_at=now,
                sent_count=1 if sent else 0,
                last_sent_at=now if sent else None,
                severity=severity,
            )
            session.add(row)
            session.flush()  # the alert's id, which its deliveries carry
            rows = [
                AlertDelivery(
                    alert_id=row.id,
                    key=key,
                    kind="notice",
                    at=now,
                    channel=d.channel,
                    severity=severity or "info",
                    outcome=d.outcome,
                    detail=d.detail,
                )
                for d in deliveries
            ]
            session.add_all(rows)


def _firing(key: str):  # type: ignore[no-untyped-def]
    return select(Alert).where(Alert.key == key, Alert.state == "firing")
