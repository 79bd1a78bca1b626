"""Alerts go out once when a condition fires and once when it resolves, through apprise to a
loopback `json://` webhook; a failing channel never stops the caller; secrets stay out."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from bot.alerts.alerter import Alerter
from bot.alerts.channels import Channels
from bot.alerts.conditions import Findings
from bot.config import AlertsConfig
from bot.errors import ConfigError
from bot.ledger import Ledger
from bot.redact import install_log_redaction
from tests.unattended.conftest import Hook


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 3, 12, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def alerter(ledger: Ledger, urls: list[str], clock: Clock, **settings: object) -> Alerter:
    """An alerter whose ledger and rate limits both run on `clock`."""
    config = AlertsConfig.model_validate({"urls": urls, **settings})
    return Alerter(Ledger(ledger.engine, clock), Channels(urls), config, clock)


def firing(key: str, message: str) -> Findings:
    return Findings(frozenset({key}), {key: message})


def cleared(key: str) -> Findings:
    return Findings(frozenset({key}))


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
    await alerts.observe(cleared("margin:eth"))
    await alerts.observe(cleared("margin:eth"))
    assert hook.messages()[1:] == ["RESOLVED hedge eth: margin ratio 0.2"]
    assert ledger.firing_alerts() == {}


async def test_a_flapping_condition_is_rate_limited(ledger: Ledger, hook: Hook) -> None:
    clock = Clock()
    alerts = alerter(ledger, [hook.url], clock, rate_limit="5m")
    await alerts.observe(firing("venue:p", "venue p down"))
    clock.now += timedelta(seconds=30)
    await alerts.observe(cleared("venue:p"))
    clock.now += timedelta(seconds=30)
    await alerts.observe(firing("venue:p", "venue p down"))  # within 5m of the last message
    clock.now += timedelta(seconds=30)
    await alerts.observe(cleared("venue:p"))  # its firing was not sent: neither is this
    assert hook.messages() == ["ALERT venue p down", "RESOLVED venue p down"]
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
