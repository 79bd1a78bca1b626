"""A bot `config.yaml` around one venue that is a loopback fake: the ledger in the folder, the
transfer rules the fake tests share, reads retried at once (a test's 5xx costs no backoff), and
the hedges on that venue. Each fake's `config.py` says what its venue section is."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml


def write_fake_config(
    folder: Path,
    venue: str,
    venue_section: Mapping[str, Any],
    hedges: Mapping[str, Mapping[str, Any]],
    **extra: Any,
) -> Path:
    """Write `folder/config.yaml` with `venue` configured as `venue_section` and `hedges` on
    it (each gets `venue:` set); `extra` top-level keys (e.g. `transfers=`, `retry=`) replace
    the defaults. Returns the file's path."""
    config: dict[str, Any] = {
        "ledger": {"url": "sqlite:///data/ledger.sqlite"},
        "transfers": {"safety": "0.99", "min_amount": "10", "max_amount": None},
        "retry": {"attempts": 3, "initial_backoff_seconds": 0, "max_backoff_seconds": 0},
        "venues": {venue: dict(venue_section)},
        "hedges": {
            name: {**dict(h), "venue": venue} for name, h in copy.deepcopy(dict(hedges)).items()
        },
    }
    config.update(extra)
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path
