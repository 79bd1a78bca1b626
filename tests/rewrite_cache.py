"""pytest's rewritten bytecode for every test module and conftest, written once by the xdist
controller so that each worker reads it instead of rewriting the suite again.

It uses pytest's own (private) rewriting functions, so the cache is exactly what pytest would
have written itself; if a pytest release moves them, nothing is written and the workers simply
rewrite as before (slower, same results).
"""

from __future__ import annotations

from pathlib import Path

import pytest


def write_rewritten_tests(config: pytest.Config, tests: Path) -> int:
    """Write the rewritten bytecode of each test module and conftest under `tests` that lacks
    an up-to-date one; return how many were written."""
    try:
        from _pytest.assertion.rewrite import (
            PYC_TAIL,
            _read_pyc,
            _rewrite_test,
            _write_pyc,
            assertstate_key,
            get_cache_dir,
        )

        state = config.stash[assertstate_key]
    except (ImportError, KeyError):
        return 0
    if config.getoption("assertmode") != "rewrite":
        return 0
    written = 0
    for source in sorted(tests.rglob("*.py")):
        if not (source.name == "conftest.py" or source.name.startswith("test_")):
            continue
        cache = get_cache_dir(source)
        pyc = cache / (source.name[:-3] + PYC_TAIL)
        if _read_pyc(source, pyc) is not None:
            continue
        cache.mkdir(exist_ok=True)
        source_hash, code = _rewrite_test(source, config)
        written += _write_pyc(state, code, source_hash, pyc)
    return written
