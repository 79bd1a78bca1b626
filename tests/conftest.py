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
