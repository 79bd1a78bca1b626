"""Log lines carry the run id and venue (human and JSON formats, secrets masked); systemd's
notify protocol over $NOTIFY_SOCKET."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.runtime import logs
from bot.runtime.redact import install_log_redaction, register_secret
from bot.scheduler import systemd


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    logs.configure(level, "human")
    root.handlers[:] = handlers


async def test_json_lines_carry_run_and_venue_into_tasks_and_mask_secrets(
    restore_logging: None,
) -> None:
    install_log_redaction()
    register_secret("sk-live-0123456789")
    stream = io.StringIO()
    logs.configure(logging.INFO, "json", stream)
    log = logging.getLogger("bot.test")

    async def in_a_task() -> None:
        log.info("reading with key sk-live-0123456789")

    with logs.log_context(run_id="rebalance-7", venue="binance"):
        await asyncio.create_task(in_a_task())
    log.info("outside")
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert (first["run_id"], first["venue"], first["level"]) == ("rebalance-7", "binance", "info")
    assert first["message"] == "reading with key ***"
    assert (second["run_id"], second["venue"]) == ("-", "-")


def test_human_lines_and_bot_run_lines_in_each_format(restore_logging: None) -> None:
    stream = io.StringIO()
    logs.configure(logging.INFO, "human", stream)
    printed: list[str] = []
    say = logs.line_printer(printed.append)
    with logs.log_context(run_id=3, venue="paper"):
        logging.getLogger("bot.test").warning("hello")
        say("run 3: nothing to move [ok]")
        logs.configure(logging.INFO, "json", stream)
        say("run 3: nothing to move [ok]")
    assert "[run 3 venue paper]: hello" in stream.getvalue()
    assert printed[0] == "run 3: nothing to move [ok]"
    assert json.loads(printed[1])["message"] == "run 3: nothing to move [ok]"
    assert json.loads(printed[1])["run_id"] == "3"


async def test_systemd_ready_and_watchdog_pings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert systemd.notify("READY=1") is False  # outside systemd: nothing, no error
    path = str(tmp_path / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as receiver:
        receiver.bind(path)
        monkeypatch.setenv("NOTIFY_SOCKET", path)
        monkeypatch.setenv("WATCHDOG_USEC", "3000000")
        monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
        assert systemd.watchdog_interval() == 1.5
        assert systemd.notify("READY=1")
        receiver.setblocking(False)
        pinging = asyncio.create_task(systemd.watchdog(0.01))
        loop = asyncio.get_running_loop()
        received = [await loop.sock_recv(receiver, 64) for _ in range(3)]
        pinging.cancel()
    assert received == [b"READY=1", b"WATCHDOG=1", b"WATCHDOG=1"]
    monkeypatch.setenv("WATCHDOG_PID", "1")  # pings asked of another process
    assert systemd.watchdog_interval() is None


def test_a_bad_log_format_is_one_line_and_exit_2(bot) -> None:  # type: ignore[no-untyped-def]
    result = bot("status", "--log-format", "xml")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "error: --log-format: 'xml' is not a log format; use human or json"
    )
