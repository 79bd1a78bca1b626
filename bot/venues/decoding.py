"""Strict reading of a manual venue's own response body (`info`) into the bot's figures.

CoinW and CoinSwitch are read from the venue's raw fields, not from ccxt's unified floats. What
those fields say is taken exactly, and what they fail to say is never guessed: a required field
that is missing or null, a value that is not a plain finite number, one absurdly large, or one of
the wrong sign stops the read with an `Untrusted` error (decode.py) naming the venue, the
endpoint and the field, e.g. "coinw: GET /v1/perpum/account/getUserAssets: availableMargin is
'NaN', not a finite number". A figure read as zero because it was unreadable would move real money.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

from ccxt.base.errors import BadResponse

from bot.runtime.redact import redact
from bot.venues.decode import Sign, Untrusted
from bot.venues.errors import ErrorKind, VenueError
from bot.venues.literals import MONEY_BOUND, NotExact, exact_decimal, shown

T = TypeVar("T")


@dataclass(frozen=True)
class Reader:
    """Reads fields of one endpoint's body; `at` prefixes are the path to a nested row."""

    venue: str
    endpoint: str  # "GET /v1/perpum/account/getUserAssets"

    def refuse(self, field: str, problem: str) -> VenueError:
        return Untrusted(self.venue, self.endpoint, f"{field} {problem}")

    def value(self, row: Mapping[str, Any], key: str, at: str = "") -> Any:
        """The raw value of a required field: absent is refused, null is returned as None."""
        if key not in row:
            raise self.refuse(at + key, "is missing")
        return row[key]

    def mapping(self, value: object, field: str) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.refuse(field, f"is {shown(value)}, not an object")
        return value

    def rows(self, value: object, field: str) -> list[Any]:
        if not isinstance(value, list):
            raise self.refuse(field, f"is {shown(value)}, not a list")
        return value

    def text(self, row: Mapping[str, Any], key: str, at: str = "") -> str:
        """A required, non-empty string (an asset, a symbol, a side)."""
        value = self.value(row, key, at)
        if value is None:
            raise self.refuse(at + key, "is null")
        if not isinstance(value, str) or not value.strip():
            raise self.refuse(at + key, f"is {shown(value)}, not a name")
        return value

    def number(
        self,
        row: Mapping[str, Any],
        key: str,
        at: str = "",
        *,
        sign: Sign = Sign.ANY,
        bound: Decimal = MONEY_BOUND,
        name: str | None = None,
    ) -> Decimal:
        """A required figure, exactly as the venue wrote it. `name` is the field's name in the
        venue's docs, where `info` keeps it under another key."""
        field = at + (name or key)
        if key not in row:
            raise self.refuse(field, "is missing")
        return self._figure(row[key], field, sign, bound)

    def optional_number(
        self,
        row: Mapping[str, Any],
        key: str,
        at: str = "",
        *,
        sign: Sign = Sign.ANY,
        bound: Decimal = MONEY_BOUND,
    ) -> Decimal | None:
        """A figure the venue may leave out (absent or null: None, never zero); when present it
        is read as strictly as a required one."""
        value = row.get(key)
        if value is None:
            return None
        return self._figure(value, at + key, sign, bound)

    def _figure(self, value: object, field: str, sign: Sign, bound: Decimal) -> Decimal:
        try:
            figure = exact_decimal(value, bound=bound)
        except NotExact as exc:
            raise self.refuse(field, exc.problem) from None
        if sign is Sign.NON_NEGATIVE and figure < 0:
            raise self.refuse(field, f"is {shown(value)}, negative")
        if sign is Sign.POSITIVE and figure <= 0:
            raise self.refuse(field, f"is {shown(value)}, not positive")
        return figure


def malformed_as_fatal(venue: str, fn: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
    """`fn`, with the exchange's `BadResponse` (a body of the wrong shape, such as positions
    that are not a list) raised as an UNTRUSTED `VenueError` in the exchange's own words, which
    name the endpoint and the field. Retrying would read the same body again."""

    async def read(*args: Any) -> T:
        try:
            return await fn(*args)
        except BadResponse as exc:
            message = redact(" ".join(str(exc).split()))[:500]
            raise VenueError(ErrorKind.UNTRUSTED, venue, message) from None

    return read
