"""Alert delivery: a state machine per condition, one writer per transition.

The state lives in the ledger's `alerts` table (one row per firing, until it resolves), so a
restart neither repeats an alert nor forgets one. A firing row moves through:

- **undelivered**: its ALERT is sent at once (a `failure`, danger, always; a warning that fired
  again within `alerts.rate_limit` of its key's last message waits for the span's end, so a
  flapping warning collapses); a send no channel took is tried again at each later observe,
  after a backoff (`RETRY_FIRST` doubling up to `RETRY_MAX`), until delivered or resolved;
- **delivered**: a `failure` still firing is reminded every `alerts.repeat` with its current
  message (its figures now);
- **resolved**: a delivered one sends RESOLVED with the figures at resolution (the condition's
  `cleared` text where it has one); one never delivered resolves silently.

Each transition is claimed in the ledger under the row lock before it is sent and released with
its outcome, every channel's answer a row of `alert_deliveries`; in this process one asyncio
lock serialises `observe` and `notice`. So concurrent jobs, or two processes on one PostgreSQL
ledger, send each transition once. All keys together send at most `alerts.max_per_hour`
messages (a danger's first ALERT is never held by it; what is held stays undelivered and is
tried again). Sends are bounded in time (`Channels.timeout`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from bot.alerts.channels import Channels, Outcome
from bot.alerts.conditions import FAILURE, INFO, WARNING, Findings
from bot.config import AlertsConfig
from bot.ledger import Ledger
from bot.ledger.alerts import AlertRecord, DeliveryRecord
from bot.ledger.store import utc_now

log = logging.getLogger(__name__)

TITLE = "bot"
#: an undelivered message is tried again after this, doubling per failed try, at most RETRY_MAX
RETRY_FIRST = timedelta(seconds=5)
RETRY_MAX = timedelta(minutes=5)


def backoff(attempts: int) -> timedelta:
    """How long after its `attempts`-th failed try a message is tried again."""
    if attempts <= 0:
        return timedelta(0)
    return min(RETRY_FIRST * 2 ** min(attempts - 1, 16), RETRY_MAX)


class Alerter:
    def __init__(
        self,
        ledger: Ledger,
        channels: Channels,
        config: AlertsConfig,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._ledger = ledger
        self.channels = channels
        self._per_key = timedelta(seconds=config.rate_limit)
        self._repeat = timedelta(seconds=config.repeat)
        self._max_per_hour = config.max_per_hour
        self._sent: deque[datetime] = deque()
        self._clock = clock
        self._lock: asyncio.Lock | None = None
        #: names this writer's claims in the ledger
        self._token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        #: a claim older than this belongs to a writer that died mid-send
        self._lease = timedelta(seconds=2 * channels.timeout + 30)

    def _serial(self) -> asyncio.Lock:
        if self._lock is None:
            self._lock = asyncio.Lock()
        return self._lock

    async def observe(self, findings: Findings) -> None:
        """Record what fires, deliver what is due (first ALERT, a retry, a reminder), resolve
        what cleared; one observe at a time in this process."""
        async with self._serial():
            await self._observe(findings)

    async def _observe(self, findings: Findings) -> None:
        firing_before = self._ledger.firing_alerts()
        for key, message in sorted(findings.firing.items()):
            severity = findings.severity_of(key)
            count = findings.counts.get(key, 0)
            known = firing_before.get(key)
            if known is not None and self._unchanged(known, message, severity, count):
                continue
            record, transition = self._ledger.stand_alert(
                key,
                message,
                severity=severity,
                count=count,
                token=self._token,
                lease=self._lease,
                decide=self._due,
            )
            if transition is not None:
                await self._deliver(record, transition, self._body(record, transition))
        for key in sorted(firing_before):
            if key in findings.firing or not any(key.startswith(p) for p in findings.checked):
                continue
            record, send = self._ledger.claim_resolution(key, token=self._token, lease=self._lease)
            if record is None:
                continue
            if not send:
                log.info("alert %s resolved before it was delivered: nothing to send", key)
                continue
            now_text = findings.cleared.get(key)
            body = f"RESOLVED {now_text}" if now_text else _resolved_without_figures(record)
            await self._deliver(record, "resolved", body, resolve=True)
        for key, message in sorted(findings.notices.items()):
            await self._notice(key, message, findings.severity_of(key))

    async def notice(self, key: str, message: str, severity: str = INFO) -> bool:
        """A one-off message (the daily report, a missed run), recorded and rate limited."""
        async with self._serial():
            return await self._notice(key, message, severity)

    async def _notice(self, key: str, message: str, severity: str) -> bool:
        outcomes: list[Outcome] = []
        if self._may_send(key) and self._room(exempt=False):
            outcomes = await self._send(message, severity)
        sent = any(o.delivered for o in outcomes)
        self._ledger.record_notice(
            key, message, sent=sent, severity=severity, deliveries=_records(outcomes)
        )
        return sent

    # the state machine ---------------------------------------------------------------------

    def _unchanged(self, known: AlertRecord, message: str, severity: str, count: int) -> bool:
        """Nothing to write and nothing due: skip the ledger (a guard poll every few seconds
        must not write a row each time)."""
        if known.message != message or known.severity != severity or count:
            return False
        if not known.sent_count:  # undelivered: the ledger decides under the lock (a retry)
            return not len(self.channels)
        return self._due(known, None) is None

    def _due(self, record: AlertRecord, last_sent: datetime | None) -> str | None:
        """The transition to send now for a firing row, or None (judged under its row lock)."""
        if not len(self.channels):
            return None  # nowhere to send: the ledger and the log keep it
        now = self._clock()
        retried = record.attempts and record.last_attempt_at is not None
        if retried and now - record.last_attempt_at < backoff(record.attempts):  # type: ignore[operator]
            return None
        danger = record.severity == FAILURE
        if not record.sent_count:
            if not danger and last_sent is not None and now - last_sent < self._per_key:
                log.info("alert %s waits: its key alerted at %s", record.key, last_sent.isoformat())
                return None
            return "alert" if self._room(exempt=danger) else None
        if not danger or not self._repeat or record.last_sent_at is None:
            return None
        if now - record.last_sent_at < self._repeat:
            return None
        return "reminder" if self._room(exempt=False) else None

    def _body(self, record: AlertRecord, transition: str) -> str:
        count = record.occurrences or 0
        counted = (
            f" ({count} times since {record.first_seen:%Y-%m-%d %H:%M:%S}Z)" if count > 1 else ""
        )
        if transition == "reminder":
            return (
                f"REMINDER {record.message}{counted}; firing since "
                f"{record.first_seen:%Y-%m-%d %H:%M:%S}Z"
            )
        return f"ALERT {record.message}{counted}"

    async def _deliver(
        self, record: AlertRecord, transition: str, body: str, *, resolve: bool = False
    ) -> None:
        severity = INFO if resolve else (record.severity or WARNING)
        outcomes = await self._send(body, severity)
        self._ledger.finish_delivery(
            record.id,
            token=self._token,
            kind=transition,
            severity=severity,
            deliveries=_records(outcomes),
            resolve=resolve,
        )
        if not any(o.delivered for o in outcomes) and not resolve:
            log.warning("alert %s not delivered: tried again at a later run", record.key)

    # limits and sending --------------------------------------------------------------------

    def _may_send(self, key: str) -> bool:
        last = self._ledger.last_alert_sent(key)
        if last is not None and self._clock() - last < self._per_key:
            log.info("alert %s held back: it alerted at %s", key, last.isoformat())
            return False
        return True

    def _room(self, *, exempt: bool) -> bool:
        """Whether `alerts.max_per_hour` leaves room for one more message (a danger's first
        ALERT always has room)."""
        if not len(self.channels):
            return True
        now = self._clock()
        while self._sent and now - self._sent[0] > timedelta(hours=1):
            self._sent.popleft()
        if exempt or len(self._sent) < self._max_per_hour:
            return True
        log.warning("alert held back: alerts.max_per_hour (%s) reached", self._max_per_hour)
        return False

    async def _send(self, body: str, severity: str) -> list[Outcome]:
        if not len(self.channels):
            log.info("alert (no channel configured): %s", body)
            return []
        log.info("alert (%s): %s", severity, body)
        self._sent.append(self._clock())
        return await self.channels.deliver(TITLE, body, severity)


def _resolved_without_figures(record: AlertRecord) -> str:
    """RESOLVED for a condition that gives no figures when it clears: the key, and what it
    last said, marked as the past."""
    return f"RESOLVED {record.key} no longer fires (it said: {record.message})"


def _records(outcomes: Iterable[Outcome]) -> list[DeliveryRecord]:
    return [DeliveryRecord(channel=o.channel, outcome=o.outcome, detail=o.detail) for o in outcomes]
