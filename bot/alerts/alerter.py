"""Alert state: a condition alerts once when it starts firing and once when it resolves.

The state lives in the ledger's `alerts` table, so a restart neither repeats an alert nor
forgets one. Two limits keep a flapping condition from flooding the channels: a key sends at
most one firing message per `alerts.rate_limit` (a resolution is sent only for a firing that
was), and all keys together at most `alerts.max_per_hour` messages. What is held back is still
recorded, and logged.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.alerts.channels import Channels
from bot.alerts.conditions import Findings
from bot.config import AlertsConfig
from bot.ledger import Ledger
from bot.ledger.store import utc_now

log = logging.getLogger(__name__)

TITLE = "bot"


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
        self._max_per_hour = config.max_per_hour
        self._sent: deque[datetime] = deque()
        self._clock = clock

    async def observe(self, findings: Findings) -> None:
        """Fire what is newly firing, resolve what cleared, send the notices."""
        firing_before = self._ledger.firing_alerts()
        for key, message in sorted(findings.firing.items()):
            known = firing_before.get(key)
            if known is not None:
                if known.message != message or known.sent_count == 0:
                    self._ledger.fire_alert(key, message, sent=False)
                continue
            sent = self._may_send(key) and await self._send(f"ALERT {message}")
            self._ledger.fire_alert(key, message, sent=sent)
        for key, known in sorted(firing_before.items()):
            if key in findings.firing or not any(key.startswith(p) for p in findings.checked):
                continue
            sent = known.sent_count > 0 and await self._send(f"RESOLVED {known.message}")
            self._ledger.resolve_alert(key, sent=sent)
        for key, message in sorted(findings.notices.items()):
            sent = self._may_send(key) and await self._send(message)
            self._ledger.record_notice(key, message, sent=sent)

    async def notice(self, key: str, message: str) -> bool:
        """A one-off message (the daily report, a missed run), recorded and rate limited."""
        sent = self._may_send(key) and await self._send(message)
        self._ledger.record_notice(key, message, sent=sent)
        return sent

    def _may_send(self, key: str) -> bool:
        last = self._ledger.last_alert_sent(key)
        if last is not None and self._clock() - last < self._per_key:
            log.info("alert %s held back: it alerted at %s", key, last.isoformat())
            return False
        return True

    async def _send(self, body: str) -> bool:
        if not len(self.channels):  # nowhere to send: the ledger and the log keep it
            log.info("alert (no channel configured): %s", body)
            return False
        now = self._clock()
        while self._sent and now - self._sent[0] > timedelta(hours=1):
            self._sent.popleft()
        if len(self._sent) >= self._max_per_hour:
            log.warning("alert held back (alerts.max_per_hour reached): %s", body)
            return False
        log.info("alert: %s", body)
        self._sent.append(now)
        return await self.channels.send(TITLE, body) > 0
