"""Markets on disk for one-shot commands, so `bot rebalance` does not reload them every run.

Loading Binance's markets is two to three `exchangeInfo` requests, megabytes each on the real
venue, for figures that change a few times a year. A command that connects a venue first looks
here: markets saved less than `ttl` ago, for the same exchange, market families and URLs, are
handed to the client (`set_markets`) and no request is made. A hedge whose market is missing
from cached markets is not refused on them: the session loads the venue's markets again and
checks once more (`session.connect_venue`). A file that cannot be read is a miss, never an error.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

MARKETS_TTL_SECONDS = 3600.0
FORMAT = 1


def cache_key(exchange_id: str, options: Mapping[str, Any], urls: Mapping[str, Any]) -> str:
    """What the cached markets depend on: the exchange, the families loaded, the URLs asked."""
    text = json.dumps(
        {"exchange": exchange_id, "options": options, "urls": urls}, sort_keys=True, default=str
    )
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class MarketsCache:
    """One JSON file per venue under `directory`."""

    def __init__(
        self,
        directory: Path,
        *,
        ttl_seconds: float = MARKETS_TTL_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.directory = directory
        self.ttl_seconds = ttl_seconds
        self._clock = clock

    def _path(self, venue: str) -> Path:
        return self.directory / f"markets-{venue}.json"

    def load(self, venue: str, key: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """(markets, currencies) saved for `key` less than `ttl` ago, else None."""
        try:
            saved = json.loads(self._path(venue).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(saved, dict) or saved.get("format") != FORMAT or saved.get("key") != key:
            return None
        saved_at = saved.get("saved_at")
        if not isinstance(saved_at, int | float):
            return None
        if not 0 <= self._clock() - saved_at < self.ttl_seconds:
            return None
        markets, currencies = saved.get("markets"), saved.get("currencies")
        if not isinstance(markets, dict) or not markets or not isinstance(currencies, dict):
            return None
        return markets, currencies

    def facts(self, venue: str, key: str) -> dict[str, Any]:
        """The connect facts saved with the markets (`CcxtVenue.connect_facts`) while those
        markets are fresh; empty when none were saved (the venue then reads them again)."""
        if self.load(venue, key) is None:
            return {}
        try:
            saved = json.loads(self._path(venue).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        facts = saved.get("facts") if isinstance(saved, dict) else None
        return dict(facts) if isinstance(facts, dict) else {}

    def store(
        self,
        venue: str,
        key: str,
        markets: Mapping[str, Any],
        currencies: Mapping[str, Any],
        facts: Mapping[str, Any] | None = None,
    ) -> None:
        """Save atomically (write, then rename); a disk that refuses is logged and ignored."""
        body = {
            "format": FORMAT,
            "key": key,
            "saved_at": self._clock(),
            "markets": markets,
            "currencies": currencies or {},
            "facts": dict(facts or {}),
        }
        path = self._path(venue)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            temporary = path.with_suffix(f".{os.getpid()}.tmp")
            temporary.write_text(json.dumps(body, default=str), encoding="utf-8")
            temporary.replace(path)
        except (OSError, TypeError, ValueError) as exc:
            log.info("markets of %s not cached: %s", venue, exc)
