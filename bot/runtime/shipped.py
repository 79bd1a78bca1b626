"""Files the bot needs at run time that live outside the `bot/` package in the repository:
the Alembic migrations, the default config and the systemd units.

A wheel (`pip install .`, `pip install bot-*.whl`) carries them inside the package as
`bot/_shipped/` (copied there at build time by setup.py); a checkout (an editable install,
or PYTHONPATH on the repository) has them at the repository's top. The package copy wins, so
an installed wheel never reads whatever folder happens to sit beside site-packages.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

#: the names setup.py copies; keep in step with it
NAMES = ("migrations", "config.yaml", "deploy")


def shipped(name: str) -> Path:
    """The path of a shipped file or folder (`migrations`, `config.yaml`, `deploy`).

    Raises FileNotFoundError, naming both places looked at, when neither has it: a wheel built
    without the build hook, or a checkout missing the file."""
    assert name in NAMES, name
    packaged = resources.files("bot").joinpath("_shipped", name)
    # a wheel installs as plain files, so the Traversable is a real path
    packaged_path = Path(str(packaged))
    if packaged_path.exists():
        return packaged_path
    checkout = Path(__file__).resolve().parents[2] / name
    if checkout.exists() and (checkout.parent / "pyproject.toml").is_file():
        return checkout
    raise FileNotFoundError(
        f"bot is installed without its {name} (looked in {packaged_path} and {checkout}); "
        "reinstall it from a wheel or a checkout: pip install /path/to/bot"
    )
