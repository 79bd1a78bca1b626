"""A migrated SQLite ledger made once per test process and copied where a test opens a new one.

`Ledger.open` on a new SQLite file runs every Alembic migration (~0.1 s of CPU each time, and
the suite opens hundreds of new ledgers). The copy is the same database: it is made by the
real migrations of this checkout in the same process, and a migration writes nothing that
depends on the file's path or the time. Tests whose module runs migrations itself
(`db.upgrade(`/`db.downgrade(` in its source) get the real thing, and so does every `bot`
subprocess.
"""

from __future__ import annotations

import contextlib
import functools
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

_template: Path | None = None
RUNS_MIGRATIONS = re.compile(r"\bdb\.(up|down)grade\(")


@functools.cache
def runs_migrations(module: Path) -> bool:
    """Whether a test module runs migrations itself (then it gets no template)."""
    return RUNS_MIGRATIONS.search(module.read_text(encoding="utf-8")) is not None


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
