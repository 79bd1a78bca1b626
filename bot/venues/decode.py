"""Strict decoding of a venue's answers into the figures the bot acts on: refuse, never guess.

Every number is parsed from the venue's own text (ccxt clients are built with `number = str`
and a JSON decoder that keeps non-integer numbers as their literal text), never through a
float. A figure that is missing, not a number, not finite, absurdly large or of the wrong sign,
or an answer that is not the shape the endpoint documents, raises `Untrusted`: one line naming
the venue, the endpoint and the field. The caller drops that venue for the cycle, so a read the
bot cannot trust never moves money (design invariant 10).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any

from bot.errors import ErrorKind, VenueError

#: No balance, price or notional the bot meets is anywhere near this; beyond it is garbage.
MAX_FIGURE = Decimal(10) ** 15


class Sign(Enum):
    """The sign a field's meaning implies (a balance cannot be negative)."""

    ANY = "any"
    NON_NEGATIVE = "non-negative"
    POSITIVE = "positive"


class Untrusted(VenueError):
    """An answer that fails validation; the venue acts on nothing this cycle."""

    def __init__(self, venue: str, endpoint: str, problem: str) -> None:
        super().__init__(ErrorKind.UNTRUSTED, venue, f"{endpoint}: {problem}")
        self.endpoint = endpoint


def json_keeping_text(body: str) -> Any:
    """ccxt's JSON hook: non-integer numbers and NaN/Infinity stay as their literal text, so
    that they reach the decoder exactly as the venue sent them (and can be refused there)."""
    return json.loads(body, parse_float=str, parse_constant=str)


class Decoder:
    """Reads one answer of one endpoint, raising `Untrusted` with the field's path."""

    def __init__(self, venue: str, endpoint: str) -> None:
        self.venue = venue
        self.endpoint = endpoint

    def refuse(self, problem: str) -> Untrusted:
        return Untrusted(self.venue, self.endpoint, problem)

    # shapes ---------------------------------------------------------------------------------

    def mapping(self, value: Any, path: str = "the answer") -> Mapping[str, Any]:
        if isinstance(value, Mapping) and value:
            return value
        raise self.refuse(f"{path} is {_shown(value)}, not a JSON object")

    def sequence(self, value: Any, path: str, *, allow_empty: bool = True) -> list[Any]:
        if isinstance(value, list) and (allow_empty or value):
            return value
        what = "a non-empty list" if not allow_empty else "a list"
        raise self.refuse(f"{path} is {_shown(value)}, not {what}")

    def field(self, entry: Mapping[str, Any], key: str, path: str) -> Any:
        if not isinstance(entry, Mapping):
            raise self.refuse(f"{path} is {_shown(entry)}, not a JSON object")
        if key not in entry or entry[key] is None:
            raise self.refuse(f"{path}.{key} is missing")
        return entry[key]

    def text(self, entry: Mapping[str, Any], key: str, path: str) -> str:
        value = self.field(entry, key, path)
        if not isinstance(value, str) or not value.strip():
            raise self.refuse(f"{path}.{key} is {_shown(value)}, not a name")
        return value

    # numbers --------------------------------------------------------------------------------

    def decimal(
        self,
        entry: Mapping[str, Any],
        key: str,
        path: str,
        *,
        sign: Sign = Sign.ANY,
        limit: Decimal = MAX_FIGURE,
    ) -> Decimal:
        """A required figure, exactly as the venue wrote it."""
        return self.number(self.field(entry, key, path), f"{path}.{key}", sign=sign, limit=limit)

    def optional_decimal(
        self, entry: Mapping[str, Any], key: str, path: str, *, sign: Sign = Sign.ANY
    ) -> Decimal | None:
        """A figure the venue may leave out (None or ""), but never sends as garbage."""
        if not isinstance(entry, Mapping):
            raise self.refuse(f"{path} is {_shown(entry)}, not a JSON object")
        value = entry.get(key)
        if value is None or value == "":
            return None
        return self.number(value, f"{path}.{key}", sign=sign)

    def number(
        self, value: Any, path: str, *, sign: Sign = Sign.ANY, limit: Decimal = MAX_FIGURE
    ) -> Decimal:
        parsed = parse_exact(value)
        if parsed is None:
            raise self.refuse(f"{path} is {_shown(value)}, not a number")
        if not parsed.is_finite():
            raise self.refuse(f"{path} is {_shown(value)}, not a finite number")
        if abs(parsed) > limit:
            raise self.refuse(f"{path} is {_shown(value)}, beyond any plausible figure")
        if sign is Sign.NON_NEGATIVE and parsed < 0:
            raise self.refuse(f"{path} is {_shown(value)}; it cannot be negative")
        if sign is Sign.POSITIVE and parsed <= 0:
            raise self.refuse(f"{path} is {_shown(value)}; it must be above 0")
        return parsed

    # collections ----------------------------------------------------------------------------

    def unique(self, names: Iterable[str], what: str) -> None:
        """Refuse an answer that lists one asset or position twice: which one would be true?"""
        seen: set[str] = set()
        for name in names:
            if name in seen:
                raise self.refuse(f"two entries for {what} {name}")
            seen.add(name)


def parse_exact(value: Any) -> Decimal | None:
    """The exact Decimal of a venue's number text (or an int), else None. Never a float: a
    float has already lost the venue's digits, so it is refused as 'not a number'."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, Decimal):
        return value
    if not isinstance(value, str):
        return None
    try:
        return Decimal(value.strip())
    except InvalidOperation:
        return None


def _shown(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, Mapping) and not value:
        return "{}"
    if isinstance(value, list) and not value:
        return "[]"
    text = repr(value) if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= 40 else text[:37] + "..."
