"""The heartbeat against a loopback receiver that counts its pings: after healthy cycles (at most
once per `every`), the failure URL after a failing job and never its success URL, a monitor
down never failing a job, at least one ping under a real `bot run`; `bot config check` and
`bot run` refusing what would fail unattended; `bot alerts send` at its severity. The ping's
secret (the check's UUID) appears in no output."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot import bootstrap
from bot.alerts.alerter import Alerter
from bot.alerts.channels import Channels
from bot.alerts.conditions import Facts
from bot.config import Config, parse_config
from bot.jobs.context import JobContext, JobOutcome
from bot.ledger import Ledger
from bot.runtime.redact import install_log_redaction
from bot.scheduler.runner import run_job
from tests.integration.conftest import ETH_HEDGE, Invocation
from tests.unattended.conftest import Hook
from tests.unattended.test_run_end_to_end import ROOT, Output
from tests.waiting import until, until_sync

UUID = "5f1c0de4-heartbeat-secret-uuid"
OK, FAIL = f"/ping/{UUID}", f"/ping/{UUID}/fail"
PAPER = {"binance": {"exchange": "binance", "paper": True}}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def heartbeat_config(tmp_path: Path, hook: Hook, **heartbeat: Any) -> Config:
    beat = {"url": f"http://127.0.0.1:{hook.port}/ping/${{HC_UUID}}", "every": "5m", **heartbeat}
    raw = {"venues": PAPER, "hedges": {"eth": ETH_HEDGE}, "alerts": {"heartbeat": beat}}
    return parse_config(raw, base_dir=tmp_path)


@pytest.fixture
def uuid_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HC_UUID", UUID)


@pytest.fixture
def context(tmp_path: Path, hook: Hook, ledger: Ledger, uuid_env: None) -> Iterator[JobContext]:
    config = heartbeat_config(tmp_path, hook, fail_url=f"http://127.0.0.1:{hook.port}{FAIL}")
    yield job_context(config, ledger)


def job_context(config: Config, ledger: Ledger) -> JobContext:
    alerter = Alerter(ledger, Channels([]), config.alerts)
    ctx = JobContext(config=config, ledger=ledger, alerter=alerter, say=lambda _: None)
    ctx.heartbeat = bootstrap.heartbeat(config)
    ctx.heartbeat._clock = clock = Clock()  # type: ignore[union-attr]
    ctx.clock_s = clock  # type: ignore[attr-defined]
    return ctx


def ending(status: str) -> Callable[[JobContext], Any]:
    async def job(ctx: JobContext) -> JobOutcome:
        if status == "error":
            raise RuntimeError(f"crashed with {UUID}")
        return JobOutcome(status, Facts(kind="rebalance", now=ctx.clock()))

    return job


async def settled(ctx: JobContext) -> None:
    """Every ping under way has been answered (the heartbeat never waits for one itself)."""
    assert ctx.heartbeat is not None
    await ctx.heartbeat.close()


async def test_healthy_cycles_ping_once_per_every_and_failures_the_fail_url(
    context: JobContext, hook: Hook
) -> None:
    clock: Clock = context.clock_s  # type: ignore[attr-defined]
    await run_job("rebalance", context, None, job=ending("ok"))
    await until(lambda: hook.pings(OK) == 1, "the first healthy cycle pings")
    for kind in ("guard", "rebalance", "guard"):  # within `every`: no more pings
        clock.now += 60
        await run_job(kind, context, None, job=ending("ok"))
    await run_job("snapshot", context, None, job=ending("ok"))  # not a cycle
    await settled(context)
    assert (hook.pings(OK), hook.pings(FAIL)) == (1, 0)

    clock.now += 120  # 5 min since the last ping
    await run_job("guard", context, None, job=ending("ok"))
    await until(lambda: hook.pings(OK) == 2, "a healthy cycle after `every` pings again")

    clock.now += 1
    await run_job("rebalance", context, None, job=ending("failed"))
    await until(lambda: hook.pings(FAIL) == 1, "a failing cycle pings the failure URL")
    clock.now += 1
    assert await run_job("guard", context, None, job=ending("error")) is None  # crashed
    await settled(context)
    assert (hook.pings(OK), hook.pings(FAIL)) == (2, 1)  # failing again: rate-limited

    clock.now += 1
    await run_job("guard", context, None, job=ending("ok"))  # recovered: at once
    await until(lambda: hook.pings(OK) == 3, "a recovery pings at once")
    await settled(context)
    assert hook.pings(FAIL) == 1 and len(hook.gets) == 4, hook.gets


async def test_without_a_fail_url_a_failing_cycle_pings_nothing(
    tmp_path: Path, hook: Hook, ledger: Ledger, uuid_env: None
) -> None:
    ctx = job_context(heartbeat_config(tmp_path, hook), ledger)  # not hc-ping.com: no fail URL
    await run_job("rebalance", ctx, None, job=ending("failed"))
    await run_job("guard", ctx, None, job=ending("error"))
    await settled(ctx)
    assert hook.gets == []
    await run_job("guard", ctx, None, job=ending("ok"))
    await settled(ctx)
    assert hook.gets == [OK]


async def test_a_monitor_down_or_refusing_never_fails_a_job_nor_shows_the_secret(
    tmp_path: Path,
    ledger: Ledger,
    uuid_env: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    install_log_redaction()  # as every bot command does
    dead = parse_config(
        {
            "venues": PAPER,
            "alerts": {"heartbeat": {"url": "http://127.0.0.1:9/ping/${HC_UUID}", "every": "1s"}},
        },
        base_dir=tmp_path,
    )
    ctx = job_context(dead, ledger)
    with caplog.at_level(logging.DEBUG):
        outcome = await run_job("rebalance", ctx, None, job=ending("ok"))
        await settled(ctx)
        with Hook(status=404) as refusing:
            ctx = job_context(heartbeat_config(tmp_path, refusing), ledger)
            await run_job("guard", ctx, None, job=ending("ok"))
            await settled(ctx)
            assert refusing.gets == [OK]
    assert outcome is not None and outcome.status == "ok"
    assert "heartbeat ping to 127.0.0.1 failed: ClientConnectorError" in caplog.text
    assert "heartbeat ping to 127.0.0.1: HTTP 404; check alerts.heartbeat" in caplog.text
    assert UUID not in caplog.text


def write(tmp_path: Path, **extra: Any) -> Path:
    config = tmp_path / "config.yaml"
    raw = {"venues": PAPER, "hedges": {"eth": ETH_HEDGE}, **extra}
    config.write_text(yaml.safe_dump(raw))
    return config


def refusal(result: Invocation) -> str:
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert UUID not in result.stderr + result.stdout
    return lines[0]


def test_config_check_and_run_refuse_what_would_fail_unattended(
    tmp_path: Path, bot: Callable[..., Invocation], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HC_UUID", UUID)
    monkeypatch.delenv("UNSET_CHAT", raising=False)
    monkeypatch.delenv("UNSET_UUID", raising=False)
    hb = {"url": "https://hc-ping.com/${UNSET_UUID}"}
    cases = {
        "alerts.urls[0]: apprise has no notaurl:// service; write an apprise URL": {
            "alerts": {"urls": ["notaurl://foo"]}
        },
        "alerts.urls[0]: apprise cannot parse this tgram:// URL (with its variables set)": {
            "alerts": {"urls": ["tgram://${HC_UUID}/x"]}  # the secret expanded: not shown
        },
        "alerts.urls[1]: environment variable UNSET_CHAT is not set; set it where the bot runs": {
            "alerts": {"urls": ["json://127.0.0.1:9/hook", "tgram://${HC_UUID}/${UNSET_CHAT}"]}
        },
        "alerts.heartbeat.url: environment variable UNSET_UUID is not set": {
            "alerts": {"heartbeat": hb}
        },
        "alerts.heartbeat.fail_url: environment variable UNSET_UUID is not set": {
            "alerts": {"heartbeat": {"url": "https://kuma.example/up", "fail_url": hb["url"]}}
        },
        f"ledger.anchor_file: its folder {tmp_path / 'missing'} does not exist; create it": {
            "ledger": {"anchor_file": "missing/heads.jsonl"}
        },
        f"ledger.anchor_file: {tmp_path} is a folder; name a file in it": {
            "ledger": {"anchor_file": "."}
        },
    }
    for expected, extra in cases.items():
        config = write(tmp_path, **extra)
        for command in (["config", "check"], ["run", "--once"]):
            line = refusal(bot(*command, config=config))
            assert line.startswith(f"error: {expected}"), (command, line)
    assert not (tmp_path / "data").exists()  # refused before the ledger was opened

    config = write(
        tmp_path,
        alerts={
            "urls": ["json://127.0.0.1:9/hook"],
            "heartbeat": {"url": f"https://hc-ping.com/{UUID}"},
        },
        ledger={"anchor_file": "heads.jsonl"},
    )
    checked = bot("config", "check", config=config)
    assert checked.exit_code == 0, checked.stderr
    assert "alerts: 1 channel(s) (json), each parsed by apprise" in checked.stdout
    assert "heartbeat to hc-ping.com every 5m; failures to its fail URL" in checked.stdout
    assert UUID not in checked.stdout + checked.stderr


def test_alerts_send_delivers_at_its_severity(
    tmp_path: Path, hook: Hook, bot: Callable[..., Invocation]
) -> None:
    config = write(tmp_path, alerts={"urls": [hook.url]})
    for severity in ("failure", "warning", "info"):
        sent = bot(
            "alerts", "send", "--severity", severity, f"bot stopped ({severity})", config=config
        )
        assert sent.exit_code == 0, sent.stderr
        assert "alerts send: 1 of 1 channels took the message (json)" in sent.stdout
    assert [(p["type"], p["message"]) for p in hook.posts] == [
        ("failure", "bot stopped (failure)"),
        ("warning", "bot stopped (warning)"),
        ("info", "bot stopped (info)"),
    ]
    assert bot("alerts", "send", "plain", config=config).exit_code == 0
    assert hook.posts[-1]["type"] == "info"

    config = write(tmp_path, alerts={"urls": [hook.url, "json://127.0.0.1:9/hook"]})
    assert bot("alerts", "send", "one took it", config=config).exit_code == 0
    config = write(tmp_path, alerts={"urls": ["json://127.0.0.1:9/hook"]})
    nobody = bot("alerts", "send", "--severity", "failure", "nobody", config=config)
    assert nobody.exit_code == 1 and "0 of 1 channels" in nobody.stdout
    bad = bot("alerts", "send", "--severity", "fatal", "x", config=config)
    assert refusal(bad).startswith("error: --severity: 'fatal' is not one of")
    assert refusal(bot("alerts", "send", config=config)).startswith("error: ")
    none = write(tmp_path)
    assert refusal(bot("alerts", "send", "x", config=none)).startswith(
        "error: alerts.urls: no channel configured"
    )


def test_bot_run_pings_the_heartbeat_and_warns_nobody_is_told(tmp_path: Path, hook: Hook) -> None:
    config = write(
        tmp_path,
        ledger={"url": "sqlite:///data/ledger.sqlite"},
        schedule={
            "rebalance": {"every": "1s"},
            "snapshot": None,
            "reconcile": None,
            "report": None,
            "guard": {"every": "2s"},
        },
        alerts={
            "heartbeat": {
                "url": f"http://127.0.0.1:{hook.port}/ping/${{HC_UUID}}",
                "every": "1s",
            }
        },
    )
    env = {**os.environ, "HC_UUID": UUID}
    env.pop("BOT_CONFIG", None)
    errors = (tmp_path / "stderr.txt").open("w+")
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "--config", str(config), "run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=errors,
        text=True,
    )
    try:
        output = Output(process.stdout)
        output.wait_for(r"heartbeat to 127\.0\.0\.1 every 1s")
        until_sync(lambda: hook.pings(OK) >= 2, "bot run pings after its healthy cycles")
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=150)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        errors.seek(0)
        stderr = errors.read()
        errors.close()
    assert process.returncode == 0, stderr
    assert hook.pings(FAIL) == 0 and set(hook.gets) == {OK}
    assert stderr.count("nobody will be told") == 1, stderr
    assert "alerts.urls is empty" in stderr
    for leak in ("Traceback", "was destroyed but it is pending", "Unclosed", UUID):
        assert leak not in stderr + output.text(), leak


def test_the_units_tell_someone_when_bot_run_fails() -> None:
    """bot.service's OnFailure= runs bot-stopped.service, a one-shot `bot alerts send` with the
    same environment and user. `systemd-analyze verify` of both, with ExecStart pointed at an
    installed wheel's `bot`, is in tests/test_wheel.py."""
    deploy = ROOT / "deploy"
    service, stopped = (deploy / name for name in ("bot.service", "bot-stopped.service"))
    assert "\nOnFailure=bot-stopped.service\n" in service.read_text()
    text = stopped.read_text()
    assert "\nType=oneshot\n" in text
    assert (
        '\nExecStart=/opt/bot/.venv/bin/bot --log-format json alerts send --severity failure "bot '
        'stopped on %H"\n'
    ) in text
    for line in ("EnvironmentFile=", "Environment=BOT_CONFIG=", "User=", "Group="):
        (same,) = {row for row in service.read_text().splitlines() if row.startswith(line)}
        assert f"\n{same}\n" in text, line
