"""Steering a paper account from another process while its exchange runs (`bot paper mark`...).

Each paper account (its state file) has one *owner*: the process whose exchange holds the
account's control lock, a `flock` on `paper-control/<state>.lock` beside the state file. The
owner serves the admin routes (`routes_admin`) on a Unix socket beside it,
`paper-control/<state>.sock`, in a folder only the user can enter (0700; the socket 0600). A
command that steers the account (`request`) either reaches the owner through the socket, so
the change goes through the running exchange (its streams push the new mark at once, the
guard wakes as it would on Binance), or, when no exchange runs, takes the lock itself and
edits the state file while holding it. Either way, one process at a time changes the account.

Why a socket rather than editing the file under a lock: a running exchange keeps its account
in memory and writes it after each change, so an edit behind its back would be overwritten
by its next commit and never reach its push streams. Why not TCP: a Unix socket in a 0700
folder is reachable by the local user alone, with no key to hand out.

The exchange of `bot run` lives as long as `bot run`, so it owns its account for that life; a
one-shot command (`bot balances`) started beside it finds the lock held and the socket
answering, and runs as before without owning the account.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import inspect
import json
import logging
import os
import socket
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from bot.errors import UserFacingError

if TYPE_CHECKING:
    from aiohttp import web

    from bot.paper.server import PaperExchange

log = logging.getLogger(__name__)

CONTROL_DIR = "paper-control"
#: Unix socket addresses hold at most 107 bytes on Linux (longer: see `socket_address`)
MAX_SOCKET_PATH = 100
#: how long a starting exchange or a command waits for a short file edit to end
CLAIM_WAIT_SECONDS = 3.0


class PaperControlError(UserFacingError):
    """A paper control request that cannot be served (exit 2)."""


def control_paths(state_path: Path) -> tuple[Path, Path]:
    """The account's control lock and socket, in a private folder beside its state file."""
    folder = state_path.parent / CONTROL_DIR
    return folder / f"{state_path.stem}.lock", folder / f"{state_path.stem}.sock"


def _private_folder(folder: Path) -> None:
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(folder, 0o700)


def _try_lock(lock_path: Path) -> IO[str] | None:
    _private_folder(lock_path.parent)
    handle = lock_path.open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


def release(handle: IO[str] | None) -> None:
    """Give back a control lock from `claim` (None: nothing to give back)."""
    if handle is None:
        return
    with contextlib.suppress(OSError):
        fcntl.flock(handle, fcntl.LOCK_UN)
    handle.close()


@contextlib.contextmanager
def socket_address(socket_path: Path) -> Iterator[str | None]:
    """The address to bind or connect the account's socket by, for as long as the block runs.

    A Unix socket's address holds at most 107 bytes on Linux, and a data folder can be deeper
    than that (a pytest or CI temp folder is). Then the socket is reached through its folder,
    held open: `/proc/self/fd/<fd>/<name>` names the same file in a few bytes. None where
    neither fits (not Linux, and a long path)."""
    if len(str(socket_path)) <= MAX_SOCKET_PATH:
        yield str(socket_path)
        return
    if not Path("/proc/self/fd").is_dir():
        yield None
        return
    folder = os.open(socket_path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        yield f"/proc/self/fd/{folder}/{socket_path.name}"
    finally:
        os.close(folder)


def socket_answers(socket_path: Path) -> bool:
    """True when an exchange listens on the account's control socket."""
    if not socket_path.exists():
        return False
    with socket_address(socket_path) as address:
        if address is None:
            return False
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.settimeout(1.0)
            probe.connect(address)
        except OSError:
            return False
        finally:
            probe.close()
    return True


def claim(state_path: Path, *, wait: float = CLAIM_WAIT_SECONDS) -> IO[str] | None:
    """Take the account's control lock for an exchange about to load it: at once when free;
    None at once when another exchange owns it (its socket answers); else wait up to `wait`
    seconds for a command's short file edit to end. Call before loading the state file, so a
    command's edit is never loaded half-way or overwritten."""
    lock_path, socket_path = control_paths(state_path)
    deadline = time.monotonic() + wait
    while True:
        handle = _try_lock(lock_path)
        if handle is not None:
            return handle
        if socket_answers(socket_path) or time.monotonic() >= deadline:
            return None
        time.sleep(0.05)


class ControlServer:
    """The owner's admin routes on the account's Unix socket, for the exchange's life."""

    def __init__(self, exchange: PaperExchange, state_path: Path, lock: IO[str]) -> None:
        self.exchange = exchange
        self.lock = lock
        self.socket_path = control_paths(state_path)[1]
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        from aiohttp import web

        from bot.paper.routes_admin import admin_handler

        self.socket_path.unlink(missing_ok=True)  # left by a process that died: we own the lock
        with socket_address(self.socket_path) as address:
            if address is None:
                log.warning(
                    "paper control socket path %s is too long for a Unix socket; bot paper "
                    "mark cannot reach this exchange (use a shorter data folder)",
                    self.socket_path,
                )
                return
            app = web.Application()
            app.router.add_route("*", "/_paper/{tail:.*}", admin_handler(self.exchange))
            runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
            await runner.setup()
            await web.UnixSite(runner, address).start()  # bound: the folder may close now
        os.chmod(self.socket_path, 0o600)
        self._runner = runner

    async def stop(self) -> None:
        try:
            if self._runner is not None:
                runner, self._runner = self._runner, None
                await runner.cleanup()
                self.socket_path.unlink(missing_ok=True)
        finally:
            release(self.lock)


async def serve_control(exchange: PaperExchange, lock: IO[str] | None, state_path: Path) -> Any:
    """Serve `exchange`'s account control when `lock` (from `claim`) made it the owner; the
    returned object's `stop()` ends it (None when not the owner)."""
    if lock is None:
        return None
    server = ControlServer(exchange, state_path, lock)
    try:
        await server.start()
    except BaseException:
        await server.stop()
        raise
    return server


def request(
    state_path: Path, method: str, path: str, body: dict[str, Any] | None = None
) -> tuple[Any, str]:
    """One admin request (`routes_admin.ADMIN_ROUTES`) on the account of `state_path`: through
    the running exchange's socket, or, when none runs, on the state file under the control
    lock. Returns the route's answer and where it was applied ("running exchange" or "state
    file"); raises `PaperControlError` with its reason."""
    lock_path, socket_path = control_paths(state_path)
    deadline = time.monotonic() + CLAIM_WAIT_SECONDS
    while True:
        handle = _try_lock(lock_path)
        if handle is not None:
            try:
                return _apply_to_file(state_path, method, path, body or {}), "state file"
            finally:
                release(handle)
        if socket_answers(socket_path):
            return _over_socket(socket_path, method, path, body), "running exchange"
        if time.monotonic() >= deadline:
            raise PaperControlError(
                f"paper account {state_path}: held by a process that does not answer on "
                f"{socket_path}; try again, or stop the other bot command"
            )
        time.sleep(0.05)


def _apply_to_file(state_path: Path, method: str, path: str, body: dict[str, Any]) -> Any:
    from bot.paper.routes_admin import ADMIN_ROUTES, AdminError
    from bot.paper.server import PaperExchange
    from bot.paper.state import StateStore

    handler = ADMIN_ROUTES.get((method, path))
    if handler is None:
        raise PaperControlError(f"paper control: no route {method} {path}")
    exchange = PaperExchange(StateStore(state_path))  # not started: its state file only
    try:
        result = handler(exchange, body)
        if inspect.isawaitable(result):
            result = asyncio.run(_awaited(result))
    except AdminError as exc:
        raise PaperControlError(str(exc)) from None
    return json.loads(json.dumps(result, default=str))


async def _awaited(result: Any) -> Any:
    return await result


def _over_socket(socket_path: Path, method: str, path: str, body: dict[str, Any] | None) -> Any:
    import http.client

    class UnixConnection(http.client.HTTPConnection):
        def connect(self) -> None:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(self.timeout)
            with socket_address(socket_path) as address:
                if address is None:
                    raise OSError(f"the socket path {socket_path} is too long")
                self.sock.connect(address)

    connection = UnixConnection("localhost", timeout=10)
    payload = json.dumps(body, default=str) if body is not None else None
    headers = {"Content-Type": "application/json"} if payload is not None else {}
    try:
        connection.request(method, path, body=payload, headers=headers)
        response = connection.getresponse()
        text = response.read().decode("utf-8")
    except OSError as exc:
        raise PaperControlError(f"paper control socket {socket_path}: {exc}") from None
    finally:
        connection.close()
    answer = json.loads(text or "null", parse_float=Decimal)
    if response.status != 200:
        reason = answer.get("error") if isinstance(answer, dict) else text
        raise PaperControlError(f"paper exchange refused {method} {path}: {reason}")
    return answer
