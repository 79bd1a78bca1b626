"""The alert channels: apprise URLs from config, `${VAR}` expanded from the environment.

The expanded URLs carry secrets (a bot token): they are registered for redaction and never
logged; a channel is named in logs and in the ledger by its scheme only. Each channel sends in
a thread of its own (apprise is synchronous), all at once, each within `SEND_TIMEOUT` seconds
(apprise's own socket timeouts bound it too): a channel that is down or slow costs the caller
at most that, and is logged, never raised: an alert must not stop a cycle. The message goes
out at its severity (apprise's notify type: `failure`, `warning`, `info`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from bot.config import ENV_VAR
from bot.errors import ConfigError
from bot.runtime.redact import redact, register_secret

log = logging.getLogger(__name__)

#: seconds one channel may take to take a message; then it counts as not delivered
SEND_TIMEOUT = 15.0
#: apprise's notify types, as the alerts use them
SEVERITIES = ("failure", "warning", "info")


@dataclass(frozen=True)
class Outcome:
    """One channel's answer to one message: `delivered`, `failed`, `timeout` or `refused`
    (apprise does not accept the URL); `detail` is redacted."""

    channel: str
    outcome: str
    detail: str | None = None

    @property
    def delivered(self) -> bool:
        return self.outcome == "delivered"


def expand(url: str, field: str) -> str:
    """`url` with each `${VAR}` from the environment (each value, and the whole URL, registered
    as a secret); an unset one is one line naming `field` and the variable, never a value. The
    one expansion of alert and heartbeat URLs."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        found = os.environ.get(name)
        if found is None:
            raise ConfigError(
                f"{field}: environment variable {name} is not set; set it where the bot runs "
                "(under systemd: in the unit's EnvironmentFile)"
            )
        register_secret(found)
        return found

    expanded = ENV_VAR.sub(value, url)
    register_secret(expanded)
    return expanded


def scheme(url: str) -> str:
    return url.split("://", 1)[0]


class Channels:
    """Every configured channel; `send` reports how many took the message, `deliver` how each
    answered."""

    def __init__(self, urls: Sequence[str], *, timeout: float = SEND_TIMEOUT) -> None:
        # apprise's own info/debug lines print every URL and payload: keep its warnings only
        logging.getLogger("apprise").setLevel(logging.WARNING)
        self._raw = list(urls)
        self._expanded = [expand(url, f"alerts.urls[{i}]") for i, url in enumerate(self._raw)]
        for url in self._expanded:
            register_secret(url)
        self.timeout = timeout
        self._pool: ThreadPoolExecutor | None = None

    def __len__(self) -> int:
        return len(self._expanded)

    def describe(self) -> str:
        return ", ".join(scheme(url) for url in self._raw) or "none"

    async def send(self, title: str, body: str, notify_type: str = "info") -> int:
        return sum(o.delivered for o in await self.deliver(title, body, notify_type))

    async def deliver(self, title: str, body: str, notify_type: str = "info") -> list[Outcome]:
        """Send to every channel at once; each answers within `timeout` seconds or counts as
        `timeout` (its thread is left to apprise's own socket timeouts)."""
        if not self._expanded:
            return []
        if notify_type not in SEVERITIES:
            raise ValueError(f"notify type {notify_type!r} is not one of {SEVERITIES}")
        if self._pool is None:  # its own threads: a hung channel never starves the loop's
            self._pool = ThreadPoolExecutor(
                max_workers=max(2, 2 * len(self._expanded)), thread_name_prefix="alerts"
            )
        loop = asyncio.get_running_loop()

        async def one(index: int) -> Outcome:
            name = scheme(self._raw[index])
            call = loop.run_in_executor(self._pool, self._send_one, index, title, body, notify_type)
            try:
                return await asyncio.wait_for(call, self.timeout)
            except TimeoutError:
                log.warning("alert channel %s: no answer within %g s", name, self.timeout)
                return Outcome(name, "timeout", f"no answer within {self.timeout:g} s")

        return list(await asyncio.gather(*(one(i) for i in range(len(self._expanded)))))

    def _send_one(self, index: int, title: str, body: str, notify_type: str) -> Outcome:
        import apprise

        name = scheme(self._raw[index])
        try:
            notifier = apprise.Apprise()
            if not notifier.add(self._expanded[index]):
                log.warning("alert channel %s: apprise does not accept this URL", name)
                return Outcome(name, "refused", "apprise does not accept this URL")
            if notifier.notify(title=title, body=body, notify_type=notify_type):
                return Outcome(name, "delivered")
            log.warning("alert channel %s: sending failed", name)
            return Outcome(name, "failed", "the channel did not take the message")
        except Exception as exc:  # a broken channel must never stop a cycle
            detail = " ".join(redact(str(exc)).split())[:200]
            log.warning("alert channel %s failed: %s", name, detail)
            return Outcome(name, "failed", detail)
