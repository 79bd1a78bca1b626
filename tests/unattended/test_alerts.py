"""Alerts go out once when a condition fires and once when it resolves, through apprise to a
loopback `json://` webhook, at their severity; an undelivered alert is tried again, a standing
danger is reminded, concurrent observers send each transition once; a failing or slow channel
never stops the caller; secrets stay out. Time is an injected clock, never a sleep."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path

import pytest
import yaml
from sqlalchemy import text

from bot.alerts.alerter import Alerter
from bot.alerts.channels import Channels
from bot.alerts.conditions import Facts, Findings, margin_danger, transfer_failed
from bot.audit.verify import verify_ledger
from bot.config import AlertsConfig
from bot.errors import ConfigError
from bot.ledger import Ledger
from bot.model import TransferStatus
from bot.runtime.redact import install_log_redaction
from tests.ledger.conftest import ledger_url  # noqa: F401  (fixture: SQLite and PostgreSQL)
from tests.records import transfer_record
from tests.unattended.conftest import Hook
from tests.unattended.test_conditions import CONFIG, margin


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 3, 12, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def alerter(ledger: Ledger, urls: list[str], clock: Clock, **settings: object) -> Alerter:
    """An alerter whose ledger and rate limits both run on `clock`."""
    config = AlertsConfig.model_validate({"urls": urls, **settings})
    return Alerter(Ledger(ledger.engine, clock), Channels(urls), config, clock)


def firing(key: str, message: str, severity: str = "warning") -> Findings:
    return Findings(frozenset({key}), {key: message}, severity={key: severity})


def cleared(key: str, now: str | None = None) -> Findings:
    return Findings(frozenset({key}), cleared={key: now} if now else {})


def margins(equity: str) -> Findings:
    """What the guard's margin condition finds for hedge eth at `equity` (notional 15000,
    danger line 0.25)."""
    return margin_danger(Facts(kind="guard", now=NOW, margins={"eth": margin(equity)}), CONFIG)


NOW = datetime(2026, 12, 3, 12, tzinfo=UTC)


async def test_a_condition_alerts_once_then_resolves_once(ledger: Ledger, hook: Hook) -> None:
    clock = Clock()
    alerts = alerter(ledger, [hook.url], clock)
    for _ in range(3):
        await alerts.observe(firing("margin:eth", "hedge eth: margin ratio 0.2"))
        clock.now += timedelta(seconds=10)
    assert hook.messages() == ["ALERT hedge eth: margin ratio 0.2"]
    assert ledger.firing_alerts()["margin:eth"].sent_count == 1

    await alerts.observe(Findings(frozenset({"venue:"})))  # margins not read: nothing changes
    assert "margin:eth" in ledger.firing_alerts()
    await alerts.observe(cleared("margin:eth", "hedge eth: margin ratio 0.5"))
    await alerts.observe(cleared("margin:eth", "hedge eth: margin ratio 0.5"))
    assert hook.messages()[1:] == ["RESOLVED hedge eth: margin ratio 0.5"]
    assert ledger.firing_alerts() == {}


async def test_a_flapping_condition_is_rate_limited(ledger: Ledger, hook: Hook) -> None:
    clock = Clock()
    alerts = alerter(ledger, [hook.url], clock, rate_limit="5m")
    await alerts.observe(firing("venue:p", "venue p down"))
    clock.now += timedelta(seconds=30)
    await alerts.observe(cleared("venue:p"))
    clock.now += timedelta(seconds=30)
    await alerts.observe(firing("venue:p", "venue p down"))  # a warning: waits out the 5m
    clock.now += timedelta(seconds=30)
    await alerts.observe(cleared("venue:p"))  # its firing was not sent: neither is this
    assert hook.messages() == [
        "ALERT venue p down",
        "RESOLVED venue:p no longer fires (it said: venue p down)",
    ]
    clock.now += timedelta(minutes=6)
    await alerts.observe(firing("venue:p", "venue p down"))
    assert hook.messages()[-1] == "ALERT venue p down" and len(hook.messages()) == 3


async def test_all_alerts_together_are_capped_per_hour(ledger: Ledger, hook: Hook) -> None:
    alerts = alerter(ledger, [hook.url], Clock(), max_per_hour=2)
    await alerts.observe(
        Findings(frozenset({"transfer:"}), {f"transfer:{i}": f"transfer {i}" for i in range(5)})
    )
    assert len(hook.messages()) == 2
    assert len(ledger.firing_alerts()) == 5  # held back, not forgotten


async def test_a_new_danger_episode_inside_the_rate_window_is_delivered(
    ledger: Ledger, hook: Hook
) -> None:
    """The defect: ALERT, top-up, RESOLVED; six seconds later the mark moved again and the
    hedge sat in danger for minutes with nothing sent. A danger's first message never waits
    for `rate_limit`, and while it stands every later observe leaves it delivered."""
    clock = Clock()
    alerts = alerter(ledger, [hook.url], clock, rate_limit="15s")
    await alerts.observe(margins("2400"))  # ratio 0.16
    clock.now += timedelta(seconds=3)
    await alerts.observe(margins("7500"))  # topped up: 0.5
    clock.now += timedelta(seconds=6)
    for _ in range(27):  # 4.5 minutes of guard runs at 0.186
        await alerts.observe(margins("2790"))
        clock.now += timedelta(seconds=10)
    alert, resolved, again = hook.messages()
    assert alert.startswith("ALERT hedge eth on p: margin ratio 0.1600")
    assert resolved.startswith("RESOLVED hedge eth on p: margin ratio 0.5000")
    assert "under the danger line" not in resolved and "at or above the danger line" in resolved
    assert again.startswith("ALERT hedge eth on p: margin ratio 0.1860")
    assert "under the danger line 0.25" in again and "needs a top-up of USDT" in again
    assert ledger.firing_alerts()["margin:eth"].sent_count == 1


async def test_the_notify_type_is_the_severity(ledger: Ledger, hook: Hook) -> None:
    clock = Clock()
    alerts = alerter(ledger, [hook.url], clock)
    await alerts.observe(margins("3000"))
    await alerts.observe(firing("plan:unbalanced:eth", "p [eth]: unbalanced"))
    clock.now += timedelta(seconds=1)
    await alerts.observe(margins("7500"))
    await alerts.notice("report:x", "daily report")
    assert hook.types() == ["failure", "warning", "info", "info"]


async def test_an_alert_whose_channel_was_down_is_delivered_when_it_returns(
    ledger: Ledger, hook: Hook
) -> None:
    clock = Clock()
    alerts = alerter(ledger, [hook.url], clock)
    hook.status = 500  # the channel is down when the danger starts
    await alerts.observe(margins("3000"))
    hook.status = 200
    clock.now += timedelta(seconds=1)
    await alerts.observe(margins("3000"))  # inside the backoff: not tried yet
    assert len(hook.posts) == 1
    clock.now += timedelta(seconds=5)
    await alerts.observe(margins("3000"))
    assert len(hook.messages()) == 2  # the failed try, then the delivery
    assert all(m.startswith("ALERT hedge eth on p: margin ratio 0.2000") for m in hook.messages())
    record = ledger.firing_alerts()["margin:eth"]
    assert (record.sent_count, record.attempts) == (1, 0)
    assert ledger.alert_deliveries(record.id) == [
        ("margin:eth", "alert", "json", "failed"),
        ("margin:eth", "alert", "json", "delivered"),
    ]
    clock.now += timedelta(seconds=1)
    await alerts.observe(margins("7500"))  # delivered, so its resolution follows
    assert hook.messages()[-1].startswith("RESOLVED hedge eth on p: margin ratio 0.5000")


async def test_a_never_delivered_alert_that_resolves_sends_nothing(
    ledger: Ledger, hook: Hook
) -> None:
    clock = Clock()
    alerts = alerter(ledger, [hook.url], clock)
    hook.status = 500
    await alerts.observe(margins("3000"))
    hook.status = 200
    clock.now += timedelta(seconds=1)
    await alerts.observe(margins("7500"))
    assert len(hook.posts) == 1 and ledger.firing_alerts() == {}  # the one failed try only


async def test_a_danger_lasting_longer_than_repeat_is_reminded_with_current_figures(
    ledger: Ledger, hook: Hook
) -> None:
    clock = Clock()
    alerts = alerter(ledger, [hook.url], clock, repeat="10m")
    await alerts.observe(margins("3000"))  # 0.2
    clock.now += timedelta(minutes=5)
    await alerts.observe(margins("2850"))  # 0.19: recorded, not sent
    assert len(hook.messages()) == 1
    clock.now += timedelta(minutes=5)
    await alerts.observe(margins("2700"))  # 0.18, ten minutes after the ALERT
    clock.now += timedelta(minutes=1)
    await alerts.observe(margins("2700"))
    _, reminder = hook.messages()
    assert reminder.startswith("REMINDER hedge eth on p: margin ratio 0.1800")
    assert reminder.endswith("firing since 2026-12-03 12:00:00Z")
    assert hook.types() == ["failure", "failure"]
    clock.now += timedelta(minutes=10)
    await alerts.observe(margins("2700"))
    assert len(hook.messages()) == 3  # every `repeat` while it stands


async def test_concurrent_observers_deliver_one_alert_and_one_resolved(
    ledger: Ledger, hook: Hook
) -> None:
    clock = Clock()
    alerts = alerter(ledger, [hook.url], clock)
    await asyncio.gather(*(alerts.observe(margins("3000")) for _ in range(3)))
    clock.now += timedelta(seconds=1)
    await asyncio.gather(*(alerts.observe(margins("7500")) for _ in range(3)))
    assert [m.split()[0] for m in hook.messages()] == ["ALERT", "RESOLVED"]


async def test_two_alerters_on_one_ledger_send_each_transition_once(
    ledger_url: str,  # noqa: F811
    hook: Hook,
) -> None:
    """Two processes sharing one ledger (PostgreSQL in production): each transition is
    claimed under the row lock before it is sent, so only one of them sends it."""
    clock = Clock()
    config = AlertsConfig.model_validate({"urls": [hook.url]})
    first, second = Ledger.open(ledger_url), Ledger.open(ledger_url)
    try:
        a = Alerter(Ledger(first.engine, clock), Channels([hook.url]), config, clock)
        b = Alerter(Ledger(second.engine, clock), Channels([hook.url]), config, clock)
        await asyncio.gather(a.observe(margins("3000")), b.observe(margins("3000")))
        await asyncio.gather(b.observe(margins("3000")), a.observe(margins("3000")))
        clock.now += timedelta(seconds=1)
        await asyncio.gather(a.observe(margins("7500")), b.observe(margins("7500")))
        await asyncio.gather(b.observe(margins("7500")), a.observe(margins("7500")))
        assert [m.split()[0] for m in hook.messages()] == ["ALERT", "RESOLVED"]
        assert [d[1:] for d in first.alert_deliveries()] == [
            ("alert", "json", "delivered"),
            ("resolved", "json", "delivered"),
        ]
        assert verify_ledger(first).ok
    finally:
        first.close()
        second.close()


async def test_a_standing_failure_of_one_kind_is_one_alert_with_a_count(
    ledger: Ledger, hook: Hook
) -> None:
    clock = Clock()
    alerts = alerter(ledger, [hook.url], clock, repeat="30m")

    def failures(*ids: int) -> Findings:
        rows = [
            transfer_record(
                id=i,
                venue="p",
                status=TransferStatus.FAILED,
                amount=None,
                planned_amount=D(100 + i),
                error=f"p: insufficient balance, {100 + i} USDT asked",
            )
            for i in ids
        ]
        return transfer_failed(Facts(kind="guard", now=NOW, transfers=rows), CONFIG)

    await alerts.observe(failures(1, 2, 3))
    for i in range(4, 11):
        clock.now += timedelta(minutes=1)
        await alerts.observe(failures(i))
    [(key, record)] = ledger.firing_alerts().items()
    assert key.startswith("transfer-failed:p:eth:to_futures:p-insufficient-balance")
    assert record.occurrences == 10
    [alert] = hook.messages()
    assert "hedge eth" in alert and "(3 times since" in alert and hook.types() == ["failure"]
    clock.now += timedelta(minutes=30)
    await alerts.observe(failures(11))
    assert "latest transfer 11" in hook.messages()[-1]
    assert "(11 times since 2026-12-03 12:00:00Z)" in hook.messages()[-1]


async def test_a_slow_channel_costs_at_most_its_timeout(ledger: Ledger) -> None:
    with Hook(delay=5) as slow:
        channels = Channels([slow.url], timeout=0.2)
        started = time.monotonic()
        [outcome] = await channels.deliver("bot", "hello", "failure")
        assert outcome.outcome == "timeout"
        assert time.monotonic() - started < slow.delay  # bounded by the timeout, not the sink


async def test_a_failing_channel_is_logged_and_the_others_still_get_it(
    ledger: Ledger, hook: Hook, caplog: pytest.LogCaptureFixture
) -> None:
    with Hook(status=500) as broken:
        dead = "json://127.0.0.1:9/hook"  # nothing listens on the discard port
        alerts = alerter(ledger, [broken.url, dead, hook.url], Clock())
        with caplog.at_level(logging.WARNING):
            await alerts.observe(firing("job:rebalance", "job rebalance crashed: boom"))
    assert hook.messages() == ["ALERT job rebalance crashed: boom"]
    assert "alert channel json: sending failed" in caplog.text


async def test_urls_expand_variables_and_never_show_them(
    ledger: Ledger, hook: Hook, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    install_log_redaction()  # as every bot command does
    monkeypatch.setenv("HOOK_PORT", str(hook.port))
    monkeypatch.setenv("HOOK_TOKEN", "s3cr3t-token-value")
    channels = Channels(["json://127.0.0.1:${HOOK_PORT}/hook?:token=${HOOK_TOKEN}"])
    with caplog.at_level(logging.DEBUG):
        assert await channels.send("bot", "hello") == 1
    assert hook.messages() == ["hello"]
    assert "s3cr3t-token-value" not in caplog.text and channels.describe() == "json"
    alerts = Alerter(ledger, channels, AlertsConfig.model_validate({"urls": ["json://x"]}))
    with caplog.at_level(logging.DEBUG):
        await alerts.observe(firing("job:snapshot", "job snapshot crashed: boom", "failure"))
        await alerts.observe(cleared("job:snapshot", "job snapshot ran without crashing"))
    assert len(hook.messages()) == 3
    # the URL's own payload field carries the token to its sink; no message or title does
    sent = [str(post.get(field)) for post in hook.posts for field in ("message", "title")]
    assert not any("s3cr3t-token-value" in text for text in sent)
    with ledger.engine.connect() as conn:
        stored = [
            str(row)
            for table in ("alerts", "alert_deliveries", "journal")
            for row in conn.execute(text(f"SELECT * FROM {table}"))
        ]
    assert stored and not any("s3cr3t-token-value" in row for row in stored)
    assert "s3cr3t-token-value" not in caplog.text
    monkeypatch.delenv("HOOK_TOKEN")
    with pytest.raises(ConfigError, match=r"alerts.urls\[0\]: environment variable HOOK_TOKEN"):
        Channels(["json://127.0.0.1:${HOOK_PORT}/hook?:token=${HOOK_TOKEN}"])


def test_bot_alerts_test_sends_to_every_channel(
    tmp_path: Path, hook: Hook, bot: Callable[..., object]
) -> None:
    config = tmp_path / "config.yaml"
    raw = {"venues": {"p": {"exchange": "binance", "paper": True}}, "alerts": {"urls": [hook.url]}}
    config.write_text(yaml.safe_dump(raw))
    result = bot("alerts", "test", config=config)
    assert result.exit_code == 0, result.stderr  # type: ignore[attr-defined]
    assert "1 of 1 channels took the message" in result.stdout  # type: ignore[attr-defined]
    assert hook.messages() == ["bot alerts test: this channel works"]

    raw["alerts"] = {"urls": [hook.url, "json://127.0.0.1:9/hook"]}
    config.write_text(yaml.safe_dump(raw))
    assert bot("alerts", "test", config=config).exit_code == 1  # type: ignore[attr-defined]

    raw["alerts"] = {"urls": ["tgram://${UNSET_TELEGRAM_TOKEN}/1"]}
    config.write_text(yaml.safe_dump(raw))
    refused = bot("alerts", "test", config=config)
    assert refused.exit_code == 2  # type: ignore[attr-defined]
    assert "UNSET_TELEGRAM_TOKEN is not set" in refused.stderr  # type: ignore[attr-defined]


def test_repeat_takes_the_duration_forms_of_rate_limit() -> None:
    assert AlertsConfig().repeat == 1800
    assert AlertsConfig.model_validate({"repeat": "10m"}).repeat == 600
    assert AlertsConfig.model_validate({"repeat": 0}).repeat == 0
    with pytest.raises(ValueError, match="repeat"):
        AlertsConfig.model_validate({"repeat": "soon"})
