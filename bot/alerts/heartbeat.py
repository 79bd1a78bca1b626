"""The heartbeat: a push monitor outside the bot (healthchecks.io, Uptime Kuma, Better Stack)
fetched after each healthy cycle, so that a bot that died (a crash loop, an OOM kill, the host
down) is noticed by the monitor's silence, which no alert from inside the bot can do.

`Beat` is the pure decision: which cycle outcome pings, and which URL (the success URL at most
once per `every`, the failure URL after a failing cycle, each change of health at once).
`Heartbeat` is the I/O at the edge: one HTTP GET per ping in a task of its own, bounded by a
timeout, logged and never raised, so that a ping never delays or fails a job.

The ping URLs carry the check's secret (its UUID or token): they are registered for redaction
and never logged; the monitor is named by its host only.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from bot.alerts.channels import expand
from bot.config import HeartbeatConfig, format_duration
from bot.jobs import JOBS
from bot.runtime.redact import redact

log = logging.getLogger(__name__)

#: the jobs whose outcome is the bot's health (`JobSpec.health`): a cycle that may move money
CYCLES = frozenset(spec.name for spec in JOBS if spec.health)
HEALTHY = frozenset({"ok"})
FAILING = frozenset({"failed", "error"})
#: seconds a ping may take, connection included
TIMEOUT_SECONDS = 10.0

Ping = Literal["ok", "fail"]


def host(url: str) -> str:
    """The monitor's host, the one part of its URL that may be shown."""
    return urlsplit(url).hostname or "?"


def describe(config: HeartbeatConfig) -> str:
    fail = "; failures to its fail URL" if config.fail_url_or_default else ""
    return f"heartbeat to {host(config.url)} every {format_duration(config.every)}{fail}"


@dataclass
class Beat:
    """When a cycle's outcome pings, and which URL. Health is a rebalance or guard job that
    ended `ok`; failing is one that ended `failed` or crashed. A change of health pings at
    once; the same health again only once `every` seconds have passed since the last ping.
    Without a failure URL a failing cycle pings nothing (the monitor notices the silence)."""

    every: float
    has_fail_url: bool
    last_at: float | None = None
    last: Ping | None = None

    def decide(self, kind: str, status: str, now: float) -> Ping | None:
        if kind not in CYCLES:
            return None
        if status in HEALTHY:
            ping: Ping = "ok"
        elif status in FAILING and self.has_fail_url:
            ping = "fail"
        else:
            return None
        if ping == self.last and self.last_at is not None and now - self.last_at < self.every:
            return None
        self.last, self.last_at = ping, now
        return ping


class Heartbeat:
    """Pings the monitor after cycle outcomes (`observe`), each ping a task of its own."""

    def __init__(
        self,
        config: HeartbeatConfig,
        *,
        clock: Callable[[], float] = time.monotonic,
        timeout: float = TIMEOUT_SECONDS,
    ) -> None:
        self._url = expand(config.url, "alerts.heartbeat.url")
        fail = config.fail_url_or_default
        field = "alerts.heartbeat." + ("fail_url" if config.fail_url else "url")
        self._fail_url = expand(fail, field) if fail else None
        self._config = config
        self._host = host(config.url)
        self._beat = Beat(config.every, has_fail_url=self._fail_url is not None)
        self._clock = clock
        self._timeout = timeout
        self._tasks: set[asyncio.Task[None]] = set()

    def describe(self) -> str:
        return describe(self._config)

    def observe(self, kind: str, status: str) -> None:
        """A job ended with `status`: ping if `Beat` says so, without waiting for it."""
        ping = self._beat.decide(kind, status, self._clock())
        if ping is None:
            return
        url = self._url if ping == "ok" else self._fail_url
        assert url is not None
        task = asyncio.get_running_loop().create_task(self._ping(url, ping))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _ping(self, url: str, ping: Ping) -> None:
        import aiohttp

        what = "heartbeat" if ping == "ok" else "heartbeat failure"
        try:
            timeout = aiohttp.ClientTimeout(total=self._timeout)
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.get(url) as response,
            ):
                await response.read()
                if response.status >= 400:
                    log.warning(
                        "%s ping to %s: HTTP %d; check alerts.heartbeat",
                        what,
                        self._host,
                        response.status,
                    )
                else:
                    log.debug("%s ping to %s: HTTP %d", what, self._host, response.status)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a monitor that cannot be reached never stops a cycle
            reason = redact(f"{type(exc).__name__}: {exc}".rstrip(": "))
            log.warning("%s ping to %s failed: %s", what, self._host, reason)

    async def close(self, wait: float = TIMEOUT_SECONDS) -> None:
        """Let pings under way finish (at most `wait` seconds), then cancel the rest."""
        pending = {task for task in self._tasks if not task.done()}
        if not pending:
            return
        _, late = await asyncio.wait(pending, timeout=wait)
        for task in late:
            task.cancel()
        if late:
            await asyncio.gather(*late, return_exceptions=True)
