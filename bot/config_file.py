"""Which config file a command reads: the one fact `bot --help` needs about config, kept apart
from the pydantic models (`bot.config`) so that printing help loads neither pydantic nor YAML."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_CONFIG = Path("config.yaml")
CONFIG_ENV = "BOT_CONFIG"


def config_path(explicit: str | os.PathLike[str] | None) -> Path:
    """The config file to use: the --config option, else $BOT_CONFIG, else ./config.yaml (the
    `DEFAULT_CONFIG` object itself: see `is_default`)."""
    if explicit:
        return Path(explicit)
    from_env = os.environ.get(CONFIG_ENV)
    return Path(from_env) if from_env else DEFAULT_CONFIG


def is_default(path: Path) -> bool:
    """True when nobody named the config file (no --config, no $BOT_CONFIG): a missing
    ./config.yaml then means the built-in default (the paper venue), not a mistake."""
    return path is DEFAULT_CONFIG
