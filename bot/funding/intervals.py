"""Funding intervals: how often a perpetual pays funding, and a change of it under a live hedge.

Venues move symbols off their default interval (Binance lists the ones paid every 4, 2 or 1
hours in `GET /fapi/v1/fundingInfo`; Hyperliquid pays every hour): a rate read per period means
twice the payments at 4 h as at 8 h, so the funding buffer and the annualised rate use the
symbol's own interval. ccxt's funding-rate structure carries it as `interval` ("8h") for some
venues; where it does not, the venue's documented default stands.

The intervals last seen are kept in `<data_dir>/funding-intervals.json`, so a change is told
once (one notice, then the new interval is the known one), across restarts and one-shot runs.
A file that cannot be read is empty: nothing is told until a second read.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from bot.config import HedgeConfig
from bot.model import State
from bot.policy.funding import label, periods_per_year

log = logging.getLogger(__name__)

MEMORY_FILE = "funding-intervals.json"


@dataclass(frozen=True, kw_only=True)
class IntervalChange:
    """A hedged perpetual's funding interval, read different from the one last seen."""

    venue: str
    symbol: str
    hedges: tuple[str, ...]
    before: timedelta
    after: timedelta

    @property
    def key(self) -> str:
        return (
            f"funding-interval:{self.venue}:{self.symbol}:{label(self.before)}>{label(self.after)}"
        )

    def message(self) -> str:
        faster = self.after < self.before
        return (
            f"{self.venue}: funding on {self.symbol} is now paid every {label(self.after)} "
            f"(was {label(self.before)}), under hedge{'s' if len(self.hedges) != 1 else ''} "
            f"{', '.join(self.hedges)}: {periods_per_year(self.after).normalize():f} payments "
            f"a year; a paying short pays {'more' if faster else 'less'} often, and a funding "
            "buffer given in periods now covers "
            f"{'less' if faster else 'more'} time (give it in hours to keep the time)"
        )


Known = dict[str, dict[str, int]]  # venue -> symbol -> whole seconds


def interval_changes(
    known: Known, state: State, hedges: Mapping[str, HedgeConfig]
) -> tuple[list[IntervalChange], Known]:
    """The changes of interval this read shows on perpetuals with an open short of a hedge,
    and what is known after it (every interval read, hedged or not). Pure."""
    after: Known = {venue: dict(symbols) for venue, symbols in known.items()}
    changes = []
    for venue_name, venue in sorted(state.venues.items()):
        for symbol, funding in sorted(venue.funding.items()):
            if funding.interval is None:
                continue
            seconds = int(funding.interval.total_seconds())
            before = known.get(venue_name, {}).get(symbol)
            after.setdefault(venue_name, {})[symbol] = seconds
            if before is None or before == seconds:
                continue
            position = venue.positions.get(symbol)
            live = tuple(
                sorted(n for n, h in hedges.items() if h.venue == venue_name and h.perp == symbol)
            )
            if position is None or position.contracts == 0 or not live:
                continue
            changes.append(
                IntervalChange(
                    venue=venue_name,
                    symbol=symbol,
                    hedges=live,
                    before=timedelta(seconds=before),
                    after=funding.interval,
                )
            )
    return changes, after


def load_known(data_dir: Path) -> Known:
    try:
        saved = json.loads((data_dir / MEMORY_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(saved, dict):
        return {}
    return {
        str(venue): {str(s): v for s, v in symbols.items() if isinstance(v, int) and v > 0}
        for venue, symbols in saved.items()
        if isinstance(symbols, dict)
    }


def save_known(data_dir: Path, known: Known) -> None:
    """Written whole to a temporary file and renamed: a reader never sees half of it."""
    path = data_dir / MEMORY_FILE
    partial = path.with_name(path.name + ".part")
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        partial.write_text(json.dumps(known, sort_keys=True), encoding="utf-8")
        partial.replace(path)
    except OSError as exc:
        log.warning("funding intervals not saved to %s (%s)", path, exc)


def observe(
    data_dir: Path, state: State, hedges: Mapping[str, HedgeConfig]
) -> list[IntervalChange]:
    """Compare a read's intervals with the ones last seen, remember them, return the changes."""
    known = load_known(data_dir)
    changes, after = interval_changes(known, state, hedges)
    if after != known:
        save_known(data_dir, after)
    return changes


def known_interval(data_dir: Path, venue: str, symbol: str) -> timedelta | None:
    """The interval last seen for `venue`'s `symbol` (for reports that read no venue)."""
    seconds = load_known(data_dir).get(venue, {}).get(symbol)
    return timedelta(seconds=seconds) if seconds else None
