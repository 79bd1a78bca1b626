"""The repository stands alone: a copy of it with nothing beside it tests green.

The copy holds exactly the files git would commit (tracked, plus untracked ones it does not
ignore), in a fresh temporary folder whose parent holds nothing else: a test, doc or script
that reads a sibling folder or any other path outside the repository fails here.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Tests that read recorded data: they must find it inside the copy.
PYTEST = [sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider"]
FIXTURE_READERS = [
    "tests/integration/test_binance_requests.py::test_reads_and_transfers_match_ccxts_recorded_requests",
    "tests/venues/test_client_ids.py",
]


def repository_files() -> list[str]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return [name for name in listed.split("\0") if name and (ROOT / name).is_file()]


@pytest.fixture(scope="module")
def lone_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("alone") / "bot"
    for name in repository_files():
        target = copy / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    return copy


def test_no_file_reaches_outside_the_repository(lone_copy: Path) -> None:
    sibling = "shared"  # the team's folder beside the repository, which users never have
    outside = re.compile(r"\.\./" + sibling + r"|parents\[\d\]\.parent")
    offenders = [
        str(path.relative_to(lone_copy))
        for path in lone_copy.rglob("*")
        if path.is_file()
        and path.suffix in {".py", ".md", ".sh", ".toml", ".yaml", ".ini", ""}
        and outside.search(path.read_text(encoding="utf-8", errors="replace"))
    ]
    assert offenders == []


def test_a_copy_with_nothing_beside_it_collects_and_reads_its_fixtures(lone_copy: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env["PYTHONPATH"] = str(lone_copy)  # the copy's own `bot` and `tests`, not this checkout's
    # Every test folder's conftest (fixtures, helpers) loads in the copy: collect the smallest
    # test file of each folder too (collecting all of them costs the suite half a minute). One
    # pytest run does both: a collection error fails it even where `-k` deselects the tests,
    # and a fixture reader that is no longer there is an error, not a silent skip.
    folders: dict[Path, Path] = {}
    for path in sorted((lone_copy / "tests").rglob("test_*.py")):
        best = folders.get(path.parent)
        if best is None or path.stat().st_size < best.stat().st_size:
            folders[path.parent] = path
    smallest = [str(path.relative_to(lone_copy)) for path in folders.values()]
    readers = " or ".join(Path(reader.split("::")[-1]).stem for reader in FIXTURE_READERS)
    # its temporary folders inside this run's (CI removes those; /tmp would keep them)
    basetemp = ["--basetemp", str(lone_copy.parent / "basetemp")]
    run = subprocess.run(
        [*PYTEST, *basetemp, "-rA", "-k", readers, *FIXTURE_READERS, *smallest],
        cwd=lone_copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    passed = {line.split()[1] for line in run.stdout.splitlines() if line.startswith("PASSED ")}
    for reader in FIXTURE_READERS:
        assert any(test == reader or test.startswith(reader + "::") for test in passed), reader
