"""Suite-wide set-up: byte-compile the bot's own modules once, before any test starts.

Where PYTHONDONTWRITEBYTECODE is set (CI images often set it), every `bot` subprocess the
tests start (crash tests, `bot run`, the secrets canary...) would otherwise compile the whole
package from source again; reading compiled modules that exist is still allowed.
"""

from __future__ import annotations

import compileall
import os
from pathlib import Path

import pytest


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return  # the controller did it
    root = Path(__file__).resolve().parents[1]
    compileall.compile_dir(root / "bot", quiet=1)
