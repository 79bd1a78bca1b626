"""systemd's notify protocol (`Type=notify`, `WatchdogSec=`) with the socket module alone.

READY=1 once `bot run` is up, WATCHDOG=1 from the event loop at half the watchdog interval (so
a loop that hangs stops the pings and systemd restarts the service), STOPPING=1 on the way out.
Outside systemd ($NOTIFY_SOCKET unset) every call does nothing.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket

log = logging.getLogger(__name__)


def notify(message: str) -> bool:
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):  # an abstract socket
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.connect(address)
            sock.sendall(message.encode())
    except OSError as exc:
        log.warning("systemd notify failed: %s", exc)
        return False
    return True


def watchdog_interval() -> float | None:
    """Half of WatchdogSec, when systemd asks this process for pings."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        return int(usec) / 2 / 1_000_000
    except ValueError:
        return None


async def watchdog(interval: float) -> None:
    """Ping until cancelled; runs on the event loop, so it stops when the loop is stuck."""
    while True:
        notify("WATCHDOG=1")
        await asyncio.sleep(interval)
