"""A migrated SQLite ledger made once per test process and copied where a test opens a new one.

`Ledger.open` on a new SQLite file runs every Alembic migration (~0.1 s of CPU each time, and
the suite opens hundreds of new ledgers). The copy is the same database: it is made by the
real migrations of this checkout in the same process, and a migration writes nothing that
depends on the file's path or the time. Tests that run migrations themselves
(`db.upgrade(`/`db.downgrade(` in their source or in a function of their module they call:
`runs_migrations`) get the real thing, and so does every `bot` subprocess.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from types import CodeType, ModuleType
from typing import Any

_template: Path | None = None
RUNS_MIGRATIONS = re.compile(r"\bdb\.(up|down)grade\(")


@functools.cache
def runs_migrations(where: Path | Callable[..., Any]) -> bool:
    """Whether a test runs migrations itself (then it gets no template): a module (its `Path`)
    when anything in it does; a test function when it, or a function of its module that it
    calls, does. So the other tests of a module that tests migrations still get the template."""
    if isinstance(where, Path):
        return RUNS_MIGRATIONS.search(where.read_text(encoding="utf-8")) is not None
    module = sys.modules[where.__module__]
    if module.__file__ is None or not runs_migrations(Path(module.__file__)):
        return False
    return _reaches_migrations(where, module)


def the_test(request: Any) -> Path | Callable[..., Any]:
    """A pytest request's test function, for `runs_migrations` (its module's path if none)."""
    try:
        return request.function  # type: ignore[no-any-return]
    except AttributeError:
        return request.path  # type: ignore[no-any-return]


def _reaches_migrations(test: Callable[..., Any], module: ModuleType) -> bool:
    """The test's own source, then each function of its module it names, and so on."""
    todo, seen = [test], set()
    while todo:
        named = todo.pop()
        function = inspect.unwrap(getattr(named, "__func__", named))  # a method: its function
        if function in seen:
            continue
        seen.add(function)
        try:
            source = inspect.getsource(function)
        except (OSError, TypeError):
            return True  # cannot tell: as if it did, so it migrates from nothing
        if RUNS_MIGRATIONS.search(source):
            return True
        for name in _names(function.__code__):
            called = getattr(module, name, None)
            if inspect.isfunction(called) and called.__module__ == module.__name__:
                todo.append(called)
    return False


def _names(code: CodeType) -> Iterator[str]:
    """The global names a function's code uses, its nested functions' and lambdas' included."""
    yield from code.co_names
    for const in code.co_consts:
        if isinstance(const, CodeType):
            yield from _names(const)


def _made(real_upgrade: Callable[..., None]) -> Path:
    global _template
    if _template is None:
        from bot.ledger import db

        folder = Path(tempfile.mkdtemp(prefix="bot-ledger-template-"))
        engine = db.create_ledger_engine(f"sqlite:///{folder}/ledger.sqlite")
        try:
            real_upgrade(engine)
        finally:
            engine.dispose()
        _template = folder / "ledger.sqlite"
    return _template


def copying_upgrade(real_upgrade: Callable[..., None]) -> Callable[..., None]:
    """`db.upgrade`, which first copies the template to a SQLite file that does not exist yet
    (then finds it at head and returns); anything else goes to `real_upgrade` untouched."""

    def upgrade(engine: Any, revision: str = "head") -> None:
        database = engine.url.database if engine.dialect.name == "sqlite" else None
        if revision == "head" and database and database != ":memory:":
            target = Path(database)
            if not target.exists() and target.parent.is_dir():
                with contextlib.suppress(OSError):  # unwritable: the real upgrade says so
                    shutil.copyfile(_made(real_upgrade), target)
        real_upgrade(engine, revision)

    return upgrade


def cleanup() -> None:
    if _template is not None:
        shutil.rmtree(_template.parent, ignore_errors=True)
