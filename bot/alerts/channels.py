"""The alert channels: apprise URLs from config, `${VAR}` expanded from the environment.

The expanded URLs carry secrets (a bot token): they are registered for redaction and never
logged; a channel is named in logs by its scheme only. Sending runs in a thread (apprise is
synchronous) and a failing channel is logged, never raised: an alert must not stop a cycle.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections.abc import Sequence

from bot.errors import ConfigError
from bot.redact import redact, register_secret

log = logging.getLogger(__name__)
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def expand(url: str, index: int) -> str:
    """`url` with each `${VAR}` replaced from the environment; a missing one is a config error."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        found = os.environ.get(name)
        if found is None:
            raise ConfigError(f"alerts.urls[{index}]: environment variable {name} is not set")
        register_secret(found)
        return found

    return _VAR.sub(value, url)


def scheme(url: str) -> str:
    return url.split("://", 1)[0]


class Channels:
    """Every configured channel; `send` reports how many took the message."""

    def __init__(self, urls: Sequence[str]) -> None:
        # apprise's own info/debug lines print every URL and payload: keep its warnings only
        logging.getLogger("apprise").setLevel(logging.WARNING)
        self._raw = list(urls)
        self._expanded = [expand(url, i) for i, url in enumerate(self._raw)]
        for url in self._expanded:
            register_secret(url)

    def __len__(self) -> int:
        return len(self._expanded)

    def describe(self) -> str:
        return ", ".join(scheme(url) for url in self._raw) or "none"

    async def send(self, title: str, body: str, notify_type: str = "info") -> int:
        """`notify_type` is apprise's: info, success, warning or failure."""
        if not self._expanded:
            return 0
        return await asyncio.to_thread(self._send_all, title, body, notify_type)

    def _send_all(self, title: str, body: str, notify_type: str = "info") -> int:
        import apprise

        delivered = 0
        for raw, url in zip(self._raw, self._expanded, strict=True):
            try:
                notifier = apprise.Apprise()
                if not notifier.add(url):
                    log.warning("alert channel %s: apprise does not accept this URL", scheme(raw))
                    continue
                if notifier.notify(title=title, body=body, notify_type=notify_type):
                    delivered += 1
                else:
                    log.warning("alert channel %s: sending failed", scheme(raw))
            except Exception as exc:  # a broken channel must never stop a cycle
                log.warning("alert channel %s failed: %s", scheme(raw), redact(str(exc)))
        return delivered
