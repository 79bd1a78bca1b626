"""The suite's markers, applied by what a test is rather than by hand, so they stay true as
tests are added (tests/conftest.py applies them at collection):

- `postgres`: the test runs on the PostgreSQL server named by BOT_TEST_POSTGRES_URL (a
  `postgresql` parameter, or a fixture whose name says postgres);
- `subprocess`: its module, or a helper of tests/ or bench/ it imports, starts processes
  (`bot`, python, a wheel install);
- `slow`: it cost more than `SLOW_CPU_SECONDS` of CPU (its own process and the children it
  waited for) when last measured; the measurements live in `slow_tests.txt`, written by
  `pytest --record-slow`, and a run names any unmarked test well past the line.

CPU, not wall time: the machine the suite runs on is shared, and CPU time barely moves with
the load beside it, so the list does not depend on who else was busy when it was written.
"""

from __future__ import annotations

import ast
import functools
import re
import resource
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

SLOW_CPU_SECONDS = 2.0
#: a run names an unmarked test only past this: CPU time moves a little with load and with
#: what a worker imported before, so a test near the line would otherwise come and go
WARN_CPU_SECONDS = 1.5 * SLOW_CPU_SECONDS
SLOW_LIST = Path(__file__).with_name("slow_tests.txt")
CPU_PROPERTY = "cpu_seconds"

# what starts another process, in a test module's source
STARTS_PROCESSES = re.compile(
    r"\bsubprocess\.(run|Popen|check_call|check_output|call)\b"
    r"|\bcreate_subprocess_(exec|shell)\b|\bos\.fork\(|\bmultiprocessing\b"
)


def cpu_seconds() -> float:
    """User and system CPU of this process and of the children it has waited for."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def needs_postgres(item: pytest.Item) -> bool:
    if any("postgres" in name for name in getattr(item, "fixturenames", ())):
        return True
    callspec = getattr(item, "callspec", None)
    return callspec is not None and "postgresql" in map(str, callspec.params.values())


ROOT = Path(__file__).resolve().parents[1]
LOCAL_PACKAGES = ("tests", "bench")  # helpers a test module may start processes through


@functools.cache
def starts_processes(module: Path, names: frozenset[str] | None = None) -> bool:
    """Whether the module (only its definitions `names`, when given) starts processes, or a
    module of `LOCAL_PACKAGES` it imports does. From another test module only the names
    imported are followed: a fixture or constant taken from one does not run its processes."""
    if not module.is_file():
        return False
    source = source_of(module)
    if names is not None:
        tree = ast.parse(source)
        parts = [
            ast.get_source_segment(source, node) or ""
            for node in tree.body
            if getattr(node, "name", None) in names
        ]
        return STARTS_PROCESSES.search("\n".join(parts)) is not None
    if STARTS_PROCESSES.search(source):
        return True
    return any(starts_processes(path, only) for path, only in local_imports(module))


@functools.cache
def source_of(module: Path) -> str:
    """A module's source, read once per run."""
    return module.read_text(encoding="utf-8")


# the imports of `LOCAL_PACKAGES` in a module's source, at any depth (a test may import lazily):
# `import tests.x` and `from tests.x import a, b` (parenthesised over lines, too). A line-based
# reading instead of parsing every module and helper it reaches: that cost each worker ~2 s
# of its collection
LOCAL_IMPORT = re.compile(
    r"^[ \t]*(?:import[ \t]+(?P<plain>(?:tests|bench)(?:\.\w+)*)"
    r"|from[ \t]+(?P<module>(?:tests|bench)(?:\.\w+)*)[ \t]+import[ \t]+"
    r"(?P<names>\([^)]*\)|[^\n]*))",
    re.MULTILINE,
)


@functools.cache
def local_imports(module: Path) -> list[tuple[Path, frozenset[str] | None]]:
    """(module file, the names taken from it if it is a test module) for each import of
    `LOCAL_PACKAGES` in the module."""
    found: list[tuple[Path, frozenset[str] | None]] = []
    for match in LOCAL_IMPORT.finditer(source_of(module)):
        if match["plain"]:
            modules: list[tuple[str, frozenset[str] | None]] = [(match["plain"], None)]
        else:
            listed = match["names"].split("#")[0] if "(" not in match["names"] else match["names"]
            taken = frozenset(
                name.split(" as ")[0].strip()
                for name in re.sub(r"#[^\n]*", "", listed).strip("() \n").split(",")
                if name.strip()
            )
            modules = [(match["module"], taken)]
            modules += [(f"{match['module']}.{name}", None) for name in taken]
        for name, taken in modules:
            parts = name.split(".")
            base = ROOT.joinpath(*parts)
            is_test = parts[-1].startswith(("test_", "conftest"))
            if is_test and taken is None:
                continue
            only = taken if is_test else None
            found += [(base.with_suffix(".py"), only), (base / "__init__.py", only)]
    return found


def read_slow(path: Path = SLOW_LIST) -> dict[str, float]:
    """nodeid -> CPU seconds, as last recorded."""
    if not path.exists():
        return {}
    measured: dict[str, float] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            seconds, nodeid = line.split(maxsplit=1)
            measured[nodeid] = float(seconds)
    return measured


def write_slow(
    ran: Mapping[str, float], before: Mapping[str, float], root: Path, path: Path = SLOW_LIST
) -> dict[str, float]:
    """The list after a run: what ran is measured again (kept only over the line), what did not
    run keeps its old figure while its file still exists."""
    kept = {
        nodeid: seconds
        for nodeid, seconds in before.items()
        if nodeid not in ran and (root / nodeid.split("::", 1)[0]).exists()
    }
    kept |= {nodeid: seconds for nodeid, seconds in ran.items() if seconds > SLOW_CPU_SECONDS}
    lines = [
        "# Tests that cost more than 2 s of CPU (tests/marks.py): marked `slow`.",
        "# Written by `pytest --record-slow`; seconds of CPU, then the test.",
        *(f"{seconds:6.1f} {nodeid}" for nodeid, seconds in sorted(kept.items())),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return kept


def apply(items: Iterable[pytest.Item], slow: Mapping[str, float]) -> None:
    for item in items:
        if needs_postgres(item):
            item.add_marker(pytest.mark.postgres)
        if starts_processes(item.path):
            item.add_marker(pytest.mark.subprocess)
        if item.nodeid in slow:
            item.add_marker(pytest.mark.slow)
