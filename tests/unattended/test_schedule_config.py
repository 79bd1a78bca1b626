"""The `schedule`, `alerts` and `metrics` settings: durations, cron lines, the old alias."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from bot.config import JobSchedule, parse_config
from bot.errors import ConfigError
from bot.jobs import JOBS, NAMES

PAPER = {"p": {"exchange": "binance", "paper": True}}


def config(**extra: object):  # type: ignore[no-untyped-def]
    return parse_config({"venues": PAPER, **extra}, base_dir=Path("."))


@pytest.mark.parametrize(
    ("every", "seconds"), [("30s", 30), ("5m", 300), ("1h", 3600), (45, 45), ("1.5s", 1.5)]
)
def test_every_takes_units_or_seconds(every: object, seconds: float) -> None:
    assert config(schedule={"rebalance": {"every": every}}).schedule.rebalance.every == seconds


def test_defaults_run_every_job() -> None:
    described = {k: j.describe() for k, j in config().schedule.jobs().items()}
    assert list(described) == list(NAMES)
    pinned = {  # the schedules `bot run` has always had
        "rebalance": "every 5m",
        "snapshot": "every 1m",
        "reconcile": "every 2m",
        "report": "cron '0 8 * * *'",
        "guard": "every 10s",
    }
    assert {k: described[k] for k in pinned} == pinned


def test_a_job_set_to_null_does_not_run() -> None:
    assert "snapshot" not in config(schedule={"snapshot": None}).schedule.jobs()


def test_interval_seconds_is_an_alias_of_rebalance_every() -> None:
    schedule = config(schedule={"interval_seconds": 60}).schedule
    assert schedule.rebalance.every == 60 and schedule.interval_seconds == 60


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ({"rebalance": {"every": "5x"}}, "schedule.rebalance.every: expected a duration"),
        ({"rebalance": {"every": "0s"}}, "schedule.rebalance.every: must be above 0"),
        ({"report": {"cron": "0 8 * *"}}, "schedule.report.cron: '0 8 * *' is not a crontab"),
        ({"report": {}}, "give either every (such as 5m) or cron"),
        ({"report": {"every": "1m", "cron": "* * * * *"}}, "give either every"),
        ({"interval_seconds": 60, "rebalance": {"every": "1m"}}, "old name of rebalance.every"),
        ({"rebalanse": {"every": "1m"}}, "did you mean 'rebalance'"),
    ],
)
def test_a_bad_schedule_is_one_line_naming_the_field(schedule: object, message: str) -> None:
    with pytest.raises(ConfigError, match=None) as caught:
        config(schedule=schedule)
    assert message in str(caught.value), str(caught.value)
    assert "\n" not in str(caught.value)


def test_alerts_and_metrics_settings() -> None:
    parsed = config(
        alerts={
            "urls": ["json://127.0.0.1:9/hook"],
            "danger_margin_ratio": 0.2,
            "unknown_after": "15m",
        },
        metrics={"port": 9108},
    )
    assert parsed.alerts.unknown_after == 900 and str(parsed.alerts.danger_margin_ratio) == "0.2"
    assert parsed.metrics.port == 9108
    assert config().metrics.port is None  # off unless asked for
    with pytest.raises(ConfigError, match=r"alerts.urls: .*is not an apprise URL"):
        config(alerts={"urls": ["telegram-token"]})


def test_every_declared_job_has_a_schedule_key_its_function_and_its_default() -> None:
    """`bot.jobs.JOBS` is the one list: each job is a key of `schedule:` with its declared
    default, and its function loads (a coroutine function of `bot.jobs`)."""
    schedule = config().schedule
    assert list(schedule.jobs()) == list(NAMES)
    for spec in JOBS:
        assert inspect.iscoroutinefunction(spec.job), spec.run
        assert spec.run.startswith("bot.jobs."), spec.run
        assert schedule.jobs()[spec.name] == JobSchedule.model_validate(spec.default)


def test_a_job_that_cannot_be_switched_off_refuses_null() -> None:
    required = [spec.name for spec in JOBS if not spec.optional]
    assert required == ["rebalance"]
    with pytest.raises(ConfigError, match=r"^schedule\.rebalance: "):
        config(schedule={"rebalance": None})
