"""Suite-wide set-up: compile the bot's modules and the tests once, before any test starts;
mark every test by what it needs (see `mark`); measure what each test costs in CPU.

Where PYTHONDONTWRITEBYTECODE is set (CI images often set it), every `bot` subprocess the
tests start (crash tests, `bot run`, the secrets canary...) would otherwise compile the whole
package from source again; reading compiled modules that exist is still allowed. The same
holds for pytest's assertion rewriting: each xdist worker would parse and rewrite every test
module again (seconds of CPU per worker on two cores), so the controller writes pytest's own
rewritten bytecode once and the workers read it.
"""

from __future__ import annotations

import compileall
import os
import re
from pathlib import Path

import pytest

from tests import ledger_template, marks, postgres_template
from tests.rewrite_cache import write_rewritten_tests

ROOT = Path(__file__).resolve().parents[1]
# Test modules and conftests get pytest's rewritten bytecode instead (see rewrite_cache.py).
NOT_PLAIN = re.compile(r"(^|/)(test_[^/]*|conftest)\.py$")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--record-slow",
        action="store_true",
        help="rewrite tests/slow_tests.txt from this run's CPU times (the `slow` marker)",
    )


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return  # the controller did it
    compileall.compile_dir(ROOT / "bot", quiet=1)
    for helpers in ("tests", "bench"):
        compileall.compile_dir(ROOT / helpers, quiet=1, rx=NOT_PLAIN)
    if getattr(config.option, "numprocesses", None):  # only xdist workers would pay it again
        write_rewritten_tests(config, ROOT / "tests")


# The slowest tests (from `pytest --durations`), started first: xdist deals the first tests out
# one per worker, so these run side by side from the start instead of one of them being the
# last thing the suite waits for. A stable sort: the rest keep their order.
SLOW_FIRST = (
    "tests/test_standalone.py::test_a_copy_with_nothing_beside_it",
    "tests/integration/test_no_secret_printed.py::test_no_secret_is_printed_or_stored",
    "tests/protective/test_guard_faults.py",
    "tests/protective/test_alert_delivery_under_bot_run.py",
    "tests/unattended/test_run_end_to_end.py",
    "tests/bench/test_bench_smoke.py",
    "tests/integration/test_cli_conventions.py::test_run_says_what_it_does",
    "tests/integration/test_plan_truth.py",
    "tests/integration/test_locks_and_reconcile.py::test_bot_run_cycles_until_sigterm",
    "tests/reliability/test_stateful.py",
    "tests/reliability/test_campaign.py",
    "tests/cli/test_cold_start.py",
    "tests/integration/test_cli.py::test_quick_start_on_a_fresh_machine",
    "tests/venues/test_decode.py::test_a_figure_is_exact_or_refused",
    "tests/integration/test_rest_fallback.py",
    "tests/reliability/test_crash.py::test_killed_while_the_request_is_in_flight",
)


def slow_rank(nodeid: str, measured: dict[str, int] | None = None) -> int:
    """Where a test goes in the run order: the index of its SLOW_FIRST entry; then the rest of
    the measured slow tests (`measured`: nodeid -> rank, most CPU first); else last."""
    for rank, prefix in enumerate(SLOW_FIRST):
        if nodeid.startswith(prefix):
            return rank
    measured = measured or {}
    return len(SLOW_FIRST) + measured.get(nodeid, len(measured))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    slow = marks.read_slow()
    marks.apply(items, slow)
    by_cpu = {nodeid: rank for rank, nodeid in enumerate(sorted(slow, key=lambda n: -slow[n]))}
    items.sort(key=lambda item: slow_rank(item.nodeid, by_cpu))


@pytest.fixture(autouse=True)
def migrated_ledger_template(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new SQLite ledger opened in-process is a copy of one migrated per test process
    (tests/ledger_template.py), unless the test runs migrations itself."""
    if ledger_template.runs_migrations(ledger_template.the_test(request)):
        return
    from bot.ledger import db

    monkeypatch.setattr(db, "upgrade", ledger_template.copying_upgrade(db.upgrade))


def pytest_unconfigure(config: pytest.Config) -> None:
    ledger_template.cleanup()
    postgres_template.cleanup()


# CPU per test, measured in the process that runs it (an xdist worker) and carried to the
# controller in the teardown report's user_properties.
CPU_START = pytest.StashKey[float]()
#: nodeid -> CPU seconds of setup, call and teardown, as the controller received them
MEASURED: dict[str, float] = {}


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    item.stash[CPU_START] = marks.cpu_seconds()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    report = yield
    if call.when == "teardown" and CPU_START in item.stash:
        spent = marks.cpu_seconds() - item.stash[CPU_START]
        report.user_properties.append((marks.CPU_PROPERTY, spent))
    return report


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when != "teardown":
        return
    for name, value in report.user_properties:
        if name == marks.CPU_PROPERTY:
            MEASURED[report.nodeid] = float(value)


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:  # type: ignore[no-untyped-def]
    if os.environ.get("PYTEST_XDIST_WORKER") or not MEASURED:
        return
    before = marks.read_slow()
    if config.getoption("record_slow"):
        kept = marks.write_slow(MEASURED, before, ROOT)
        terminalreporter.write_line(f"{marks.SLOW_LIST.name}: {len(kept)} slow tests")
        return
    unmarked = sorted(
        (seconds, nodeid)
        for nodeid, seconds in MEASURED.items()
        if seconds > marks.WARN_CPU_SECONDS and nodeid not in before
    )
    if unmarked:
        terminalreporter.section(f"tests over {marks.WARN_CPU_SECONDS:g} s of CPU not marked slow")
        for seconds, nodeid in reversed(unmarked):
            terminalreporter.write_line(f"{seconds:6.1f} s CPU  {nodeid}")
        terminalreporter.write_line("mark them: pytest --record-slow (tests/marks.py)")
