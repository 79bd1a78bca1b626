"""Suite-wide set-up: compile the bot's modules and the tests once, before any test starts.

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

from tests.rewrite_cache import write_rewritten_tests

ROOT = Path(__file__).resolve().parents[1]
# Test modules and conftests get pytest's rewritten bytecode instead (see rewrite_cache.py).
NOT_PLAIN = re.compile(r"(^|/)(test_[^/]*|conftest)\.py$")


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
    "tests/unit/test_cold_start.py",
    "tests/integration/test_cli.py::test_quick_start_on_a_fresh_machine",
    "tests/unit/test_decode.py::test_a_figure_is_exact_or_refused",
    "tests/integration/test_rest_fallback.py",
    "tests/reliability/test_crash.py::test_killed_while_the_request_is_in_flight",
)


def slow_rank(nodeid: str) -> int:
    """Where a test goes in the run order: the index of its SLOW_FIRST entry, else last."""
    for rank, prefix in enumerate(SLOW_FIRST):
        if nodeid.startswith(prefix):
            return rank
    return len(SLOW_FIRST)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: slow_rank(item.nodeid))
