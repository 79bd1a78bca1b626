"""The heartbeat's pure decision (which outcome pings which URL, how often) and its config:
the failure URL's default, the forms `every` takes, `${VAR}`s refused by name, never by value."""

from __future__ import annotations

import pytest

from bot.alerts.channels import expand
from bot.alerts.heartbeat import Beat, describe
from bot.config import HeartbeatConfig, parse_config
from bot.errors import ConfigError


def test_healthy_cycles_ping_at_most_once_per_every() -> None:
    beat = Beat(every=300, has_fail_url=True)
    assert beat.decide("rebalance", "ok", now=0) == "ok"
    assert beat.decide("guard", "ok", now=10) is None
    assert beat.decide("rebalance", "ok", now=299) is None
    assert beat.decide("guard", "ok", now=300) == "ok"
    assert beat.decide("guard", "ok", now=301) is None


def test_a_failing_cycle_pings_the_failure_url_at_once_and_never_the_success_url() -> None:
    beat = Beat(every=300, has_fail_url=True)
    assert beat.decide("rebalance", "ok", now=0) == "ok"
    assert beat.decide("rebalance", "failed", now=1) == "fail"  # a change of health: at once
    assert beat.decide("guard", "error", now=2) is None  # still failing: rate-limited
    assert beat.decide("rebalance", "ok", now=3) == "ok"  # recovered: at once
    assert beat.decide("guard", "error", now=4) == "fail"
    assert beat.decide("guard", "failed", now=304) == "fail"


def test_without_a_failure_url_a_failing_cycle_pings_nothing() -> None:
    beat = Beat(every=300, has_fail_url=False)
    assert beat.decide("rebalance", "failed", now=0) is None
    assert beat.decide("guard", "error", now=1) is None
    assert beat.decide("rebalance", "ok", now=2) == "ok"
    assert beat.decide("rebalance", "failed", now=3) is None
    assert beat.decide("rebalance", "ok", now=4) is None  # the last ping was this one's kind


@pytest.mark.parametrize(
    ("kind", "status"),
    [
        ("snapshot", "ok"),
        ("reconcile", "ok"),
        ("report", "ok"),
        ("snapshot", "error"),
        ("rebalance", "skipped"),
        ("guard", "missed"),
    ],
)
def test_only_a_cycle_that_ended_ok_failed_or_crashed_counts(kind: str, status: str) -> None:
    assert Beat(every=1, has_fail_url=True).decide(kind, status, now=0) is None


def test_the_failure_url_defaults_to_fail_on_healthchecks_only() -> None:
    hc = HeartbeatConfig(url="https://hc-ping.com/${HC_UUID}")
    assert hc.fail_url_or_default == "https://hc-ping.com/${HC_UUID}/fail"
    assert hc.every == 300
    assert HeartbeatConfig(url="https://hc-ping.com/x/", fail_url=None).fail_url_or_default is None
    kuma = HeartbeatConfig(url="https://kuma.example/api/push/${KUMA_TOKEN}?status=up")
    assert kuma.fail_url_or_default is None
    own = HeartbeatConfig(url="https://kuma.example/up", fail_url="https://kuma.example/down")
    assert own.fail_url_or_default == "https://kuma.example/down"
    assert describe(hc) == "heartbeat to hc-ping.com every 5m; failures to its fail URL"
    assert describe(kuma) == "heartbeat to kuma.example every 5m"


def test_heartbeat_config_takes_durations_and_refuses_what_is_not_a_ping_url() -> None:
    def config(heartbeat: object) -> object:
        raw = {"venues": {"p": {"exchange": "binance", "paper": True}}}
        return parse_config({**raw, "alerts": {"heartbeat": heartbeat}}, base_dir=".")  # type: ignore[arg-type]

    assert config({"url": "https://hc-ping.com/u", "every": "90s"}).alerts.heartbeat.every == 90  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match=r"^alerts\.heartbeat\.url: must be an http\(s\) URL"):
        config({"url": "tgram://hc-ping.com/u"})
    with pytest.raises(ConfigError, match=r"^alerts\.heartbeat\.every: expected a duration"):
        config({"url": "https://hc-ping.com/u", "every": "often"})
    with pytest.raises(ConfigError, match=r"^alerts\.heartbeat: unknown key 'evry'"):
        config({"url": "https://hc-ping.com/u", "evry": "5m"})


def test_an_unset_variable_is_refused_by_field_and_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HC_HOST", "monitor.invalid")
    monkeypatch.delenv("HC_UUID", raising=False)
    with pytest.raises(ConfigError) as refused:
        expand("https://${HC_HOST}/${HC_UUID}", "alerts.heartbeat.url")
    assert str(refused.value).startswith(
        "alerts.heartbeat.url: environment variable HC_UUID is not set; set it"
    )
    assert "monitor.invalid" not in str(refused.value)
    monkeypatch.setenv("HC_UUID", "0b7a-secret-uuid")
    assert (
        expand("https://${HC_HOST}/${HC_UUID}", "x") == "https://monitor.invalid/0b7a-secret-uuid"
    )
