"""Build hook: the wheel carries what `bot` needs at run time from outside `bot/`.

`migrations/` (Alembic), `config.yaml` (the default paper config) and `deploy/` (the systemd
units) stay at the top of the repository, where Alembic, the README and people find them;
this copies them into the built package as `bot/_shipped/...`, where `bot.runtime.shipped` finds
them in a non-editable install. An editable install (or PYTHONPATH on a checkout) reads them from
the checkout itself, so there is one copy in git and nothing to keep in sync.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
SHIPPED = ("migrations", "config.yaml", "deploy")  # keep in step with bot/runtime/shipped.py


class BuildWithShipped(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return  # the checkout is on the path: bot.runtime.shipped reads the files in place
        target = Path(self.build_lib) / "bot" / "_shipped"
        for name in SHIPPED:
            source = HERE / name
            if source.is_dir():
                shutil.copytree(
                    source,
                    target / name,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
                    dirs_exist_ok=True,
                )
            else:
                target.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target / name)


setup(cmdclass={"build_py": BuildWithShipped})
