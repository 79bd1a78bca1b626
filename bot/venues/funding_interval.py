"""Funding intervals as venues state them: ccxt's `interval` ("8h"; Hyperliquid's "1h") or
Binance's `fundingIntervalHours` (4). A venue that states none per symbol gives its documented
default in `VenueTraits.funding_interval`."""

from __future__ import annotations

import re
from datetime import timedelta

HOUR = timedelta(hours=1)

_CCXT_INTERVAL = re.compile(r"^\s*(\d+)\s*([mhd])\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def parse_interval(value: object) -> timedelta | None:
    """ccxt's `interval` ("8h", "1h", "30m"), or Binance's `fundingIntervalHours` (4 or "4"),
    as a timedelta; None for anything else (a venue that sends none)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit()):
        hours = int(value)
        return hours * HOUR if hours > 0 else None
    if not isinstance(value, str):
        return None
    found = _CCXT_INTERVAL.match(value)
    if found is None or int(found[1]) == 0:
        return None
    return timedelta(**{_UNITS[found[2]]: int(found[1])})
