"""`python -m bench --quick` runs and prints every row of the benchmark table (no timing
thresholds: the figures are for bench/results.md, not for the suite)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bench.__main__ import main

ROWS = range(1, 14)


def test_quick_bench_prints_every_row(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    results = tmp_path / "results.md"
    main(["--quick", "--latency", "0.005", "--results", str(results)])
    printed = capsys.readouterr().out
    numbers = {int(n) for n in re.findall(r"^\| (\d+)\. ", printed, flags=re.MULTILINE)}
    assert numbers == set(ROWS), printed
    assert "nan" not in printed.split("| 4.")[0]  # the cycle rows have figures
    assert "| 1. cycle, 1 venue(s) |" in results.read_text()
