"""Checked before it runs: what config validation alone cannot see, because it depends on the
environment and the machine: each alert URL with its `${VAR}`s set and parsed by apprise
itself, the heartbeat URLs' variables, and a `ledger.anchor_file` the bot can append to.

`bot config check` and `bot run` (`--once` too) call `check` before anything else, so that a
typo in an alert URL is refused at start (one line, exit 2) instead of being found by the
first alert that never arrives. A refusal names the field and the variable, never a URL's
expanded value (it holds a secret).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

from bot.config import Config
from bot.errors import ConfigError

APPRISE_WIKI = "https://github.com/caronc/apprise/wiki"


def check(config: Config) -> None:
    """Raise `ConfigError` (one line: the field and the fix) for the first problem found."""
    alert_urls(config.alerts.urls)
    heartbeat_urls(config)
    anchor_file(config)


def alert_urls(urls: list[str]) -> None:
    """Every alert URL, its variables expanded, is one apprise can load."""
    from bot.alerts.channels import expand, scheme

    if not urls:
        return
    import apprise
    from apprise.manager_plugins import NotificationManager

    known = set(NotificationManager().schemas())
    for index, url in enumerate(urls):
        expanded = expand(url, f"alerts.urls[{index}]")  # an unset ${VAR}: names it, and the fix
        name = scheme(url).lower()
        with _apprise_quiet():  # apprise logs the URL it could not parse, secret and all
            loaded = apprise.Apprise().add(expanded)
        if loaded:
            continue
        field = f"alerts.urls[{index}]"
        if name not in known:
            raise ConfigError(
                f"{field}: apprise has no {name}:// service; write an apprise URL "
                f"({APPRISE_WIKI}) such as tgram://${{TELEGRAM_TOKEN}}/${{TELEGRAM_CHAT}}"
            )
        raise ConfigError(
            f"{field}: apprise cannot parse this {name}:// URL (with its variables set); "
            f"check its form on {APPRISE_WIKI}, then bot alerts test"
        )


def heartbeat_urls(config: Config) -> None:
    """The heartbeat's URLs have every variable they name set."""
    from bot.alerts.channels import expand

    beat = config.alerts.heartbeat
    if beat is None:
        return
    expand(beat.url, "alerts.heartbeat.url")
    if beat.fail_url:
        expand(beat.fail_url, "alerts.heartbeat.fail_url")


def anchor_file(config: Config) -> None:
    """The chain-head file can be appended to: its folder exists and the bot may write there."""
    path = config.anchor_path
    if path is None:
        return
    folder = path.parent
    if not folder.is_dir():
        raise ConfigError(
            f"ledger.anchor_file: its folder {folder} does not exist; create it, writable by "
            "the user the bot runs as, or point anchor_file at an existing folder"
        )
    if path.is_dir():
        raise ConfigError(f"ledger.anchor_file: {path} is a folder; name a file in it")
    writable = os.access(path, os.W_OK) if path.exists() else os.access(folder, os.W_OK | os.X_OK)
    if not writable:
        where = path if path.exists() else folder
        raise ConfigError(
            f"ledger.anchor_file: {where} is not writable by this user; give the user the bot "
            "runs as write access (under systemd: ReadWritePaths=) or move anchor_file"
        )


@contextmanager
def _apprise_quiet() -> Iterator[None]:
    logger = logging.getLogger("apprise")
    disabled = logger.disabled
    logger.disabled = True
    try:
        yield
    finally:
        logger.disabled = disabled
