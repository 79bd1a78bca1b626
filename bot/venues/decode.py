"""The one strict decoder of venue answers, and the one exact JSON loader: refuse, never guess.

Every figure the bot acts on is the venue's own text read exactly (design invariant 10):

- **JSON** is read by `loads_exact`, the loader of every client the bot builds (and of our own
  ccxt exchange classes): non-integer numbers, NaN and Infinity stay the literal text the venue
  sent, never a float; an object with one key twice raises `AmbiguousBody` (Python would keep
  the last value silently).
- **A figure** is an exact decimal literal or a refusal (`exact_decimal`): a JSON integer or the
  text of a plain literal (ASCII digits, an optional sign, fraction and exponent; no spaces, no
  underscores, no other digits), finite, within its bound. A float is refused (its digits are
  not the venue's), and so are booleans, null, NaN, infinities and absurd magnitudes.
- **An answer** is read by a `Decoder` (one venue, one endpoint): a required field that is
  missing or null, a figure that fails the rule above or is of the wrong sign, a list that
  names one asset twice, or a body of the wrong shape raises `Untrusted`, one line naming the
  venue, the endpoint and the field: "coinw: GET /v1/perpum/account/getUserAssets:
  availableMargin is 'NaN', not a finite number". The caller drops that venue for the cycle.

Free of ccxt and of the rest of the bot but its error vocabulary, so our ccxt exchange classes
(`bot/venues/<venue>/exchange.py`) use it on their own.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from enum import Enum
from typing import Any, Final

from bot.errors import ErrorKind, VenueError

#: money, prices and sizes beyond this are refused as absurd (a venue's glitch, not a fortune)
MONEY_BOUND: Final = Decimal("1e15")
#: a funding rate beyond ±100% per interval is absurd
RATE_BOUND: Final = Decimal(1)
#: longer literals are refused: no venue figure needs more characters
MAX_LITERAL_CHARS: Final = 100

# A plain decimal literal: every JSON number matches, and so does the text of one in a string.
# ASCII digits only, nothing around it: `Decimal` would also read ' 1 ', '1_000' or '١٢'.
_LITERAL: Final = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?", re.ASCII)


class Sign(Enum):
    """The sign a field's meaning implies (a balance cannot be negative)."""

    ANY = "any"
    NON_NEGATIVE = "non-negative"
    POSITIVE = "positive"


class NotExact(ValueError):
    """A value that is not an exact, finite, sane figure; `problem` ends a sentence naming the
    field: "is 'NaN', not a finite number"."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


class AmbiguousBody(Exception):
    """A JSON body that says two things at once (one key twice in an object).

    Not a `ValueError` on purpose: ccxt swallows those while decoding and would go on as if the
    body were plain text.
    """


class Untrusted(VenueError):
    """An answer that fails validation; the venue acts on nothing this cycle."""

    def __init__(self, venue: str, endpoint: str, problem: str) -> None:
        super().__init__(ErrorKind.UNTRUSTED, venue, f"{endpoint}: {problem}")
        self.endpoint = endpoint


# JSON ---------------------------------------------------------------------------------------


def loads_exact(body: str | bytes) -> Any:
    """`json.loads`, keeping non-integer numbers (and NaN, Infinity) as their literal text, and
    refusing an object with one key twice (`AmbiguousBody`)."""
    return json.loads(
        body, parse_float=str, parse_constant=str, object_pairs_hook=_refuse_duplicate_keys
    )


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise AmbiguousBody(f"key {shown(key)} appears twice in one object")
        result[key] = value
    return result


# figures ------------------------------------------------------------------------------------


def exact_decimal(
    value: object, *, bound: Decimal | None = MONEY_BOUND, sign: Sign = Sign.ANY
) -> Decimal:
    """The exact `Decimal` of a venue's figure: a JSON integer or the text of a plain decimal
    literal, finite, within `bound` (None: any magnitude), of the `sign` its meaning implies.
    Anything else raises `NotExact`, saying why. Never rounds."""
    if isinstance(value, bool):
        raise NotExact(f"is {shown(value)}, not a number")
    if isinstance(value, int):
        parsed = Decimal(value)
    elif isinstance(value, str):
        parsed = _parse_literal(value)
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise NotExact(f"is {shown(value)}, not a finite number")
        parsed = value
    elif isinstance(value, float):
        raise NotExact(f"is {shown(value)}, a float: the venue's digits are lost")
    elif value is None:
        raise NotExact("is null")
    else:
        raise NotExact(f"is {shown(value)}, not a number")
    if bound is not None and parsed.copy_abs() > bound:
        raise NotExact(f"is {shown(value)}, absurdly large (beyond ±{_magnitude(bound)})")
    if sign is Sign.NON_NEGATIVE and parsed < 0:
        raise NotExact(f"is {shown(value)}; it cannot be negative")
    if sign is Sign.POSITIVE and parsed <= 0:
        raise NotExact(f"is {shown(value)}; it must be above 0")
    return parsed


def finite_text(value: object) -> str | None:
    """The literal text of a readable figure, else None: lenient, for ccxt's unified fields of
    our own exchange classes, which may have a hole but never a misread figure."""
    try:
        exact_decimal(value, bound=None)
    except NotExact:
        return None
    return str(value)


def _parse_literal(text: str) -> Decimal:
    if len(text) > MAX_LITERAL_CHARS:
        raise NotExact(f"is {shown(text)}, too long to be a figure")
    if _LITERAL.fullmatch(text) is None:
        try:
            special = Decimal(text)
        except ArithmeticError:
            special = None
        if special is not None and not special.is_finite():
            raise NotExact(f"is {shown(text)}, not a finite number")
        raise NotExact(f"is {shown(text)}, not a number")
    try:
        return Decimal(text)
    except ArithmeticError:  # an exponent beyond what Decimal holds
        raise NotExact(f"is {shown(text)}, out of any sane range") from None


def _magnitude(bound: Decimal) -> str:
    """1e15 as "1e15", 1 as "1"."""
    normal = bound.normalize()
    if normal.adjusted() < 6:
        return format(normal, "f")
    mantissa, _, exponent = f"{normal:e}".partition("e")
    return f"{mantissa}e{int(exponent)}"


def shown(value: object) -> str:
    """`value` as a message shows it, on one line, cut short: text quoted, JSON's own words
    for null, true and false, an empty object or list as {} or []."""
    if value is None:
        text = "null"
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, Mapping | list) and not value:
        text = "{}" if isinstance(value, Mapping) else "[]"
    else:
        text = repr(value)
    text = " ".join(text.split())
    return text if len(text) <= 40 else text[:37] + "..."


# answers ------------------------------------------------------------------------------------


def _at(path: str, key: str) -> str:
    """A field's name in messages: `path.key`, or `key` alone at the top of the answer."""
    return f"{path}.{key}" if path else key


class Decoder:
    """Reads one answer of one endpoint, raising `Untrusted` naming the field's path."""

    def __init__(self, venue: str, endpoint: str) -> None:
        self.venue = venue
        self.endpoint = endpoint  # "GET /fapi/v3/account", "fetch_balance spot"

    def refuse(self, problem: str) -> Untrusted:
        return Untrusted(self.venue, self.endpoint, problem)

    # shapes ---------------------------------------------------------------------------------

    def mapping(
        self, value: Any, path: str = "the answer", *, allow_empty: bool = False
    ) -> Mapping[str, Any]:
        if isinstance(value, Mapping) and (allow_empty or value):
            return value
        raise self.refuse(f"{path} is {shown(value)}, not a JSON object")

    def sequence(self, value: Any, path: str, *, allow_empty: bool = True) -> list[Any]:
        if isinstance(value, list) and (allow_empty or value):
            return value
        what = "a non-empty list" if not allow_empty else "a list"
        raise self.refuse(f"{path} is {shown(value)}, not {what}")

    def field(self, entry: Any, key: str, path: str = "") -> Any:
        """A required field's value: absent or null is refused."""
        if not isinstance(entry, Mapping):
            raise self.refuse(f"{path or 'the answer'} is {shown(entry)}, not a JSON object")
        if key not in entry:
            raise self.refuse(f"{_at(path, key)} is missing")
        if entry[key] is None:
            raise self.refuse(f"{_at(path, key)} is null")
        return entry[key]

    def text(self, entry: Any, key: str, path: str = "") -> str:
        """A required, non-empty name (an asset, a symbol, a side)."""
        value = self.field(entry, key, path)
        if not isinstance(value, str) or not value.strip():
            raise self.refuse(f"{_at(path, key)} is {shown(value)}, not a name")
        return value

    # figures --------------------------------------------------------------------------------

    def decimal(
        self,
        entry: Any,
        key: str,
        path: str = "",
        *,
        sign: Sign = Sign.ANY,
        bound: Decimal = MONEY_BOUND,
        name: str | None = None,
    ) -> Decimal:
        """A required figure, exactly as the venue wrote it. `name` is the field's name in the
        venue's docs, where the answer keeps it under another key."""
        if not isinstance(entry, Mapping):
            raise self.refuse(f"{path or 'the answer'} is {shown(entry)}, not a JSON object")
        field = _at(path, name or key)
        if key not in entry:
            raise self.refuse(f"{field} is missing")
        return self.number(entry[key], field, sign=sign, bound=bound)

    def optional_decimal(
        self,
        entry: Any,
        key: str,
        path: str = "",
        *,
        sign: Sign = Sign.ANY,
        bound: Decimal = MONEY_BOUND,
    ) -> Decimal | None:
        """A figure the venue may leave out (absent, null or ""): None, never zero; when it is
        there it is read as strictly as a required one."""
        if not isinstance(entry, Mapping):
            raise self.refuse(f"{path or 'the answer'} is {shown(entry)}, not a JSON object")
        value = entry.get(key)
        if value is None or value == "":
            return None
        return self.number(value, _at(path, key), sign=sign, bound=bound)

    def number(
        self, value: Any, field: str, *, sign: Sign = Sign.ANY, bound: Decimal = MONEY_BOUND
    ) -> Decimal:
        """`value` (the field named `field`) as an exact figure (`exact_decimal`), or refused."""
        try:
            return exact_decimal(value, bound=bound, sign=sign)
        except NotExact as exc:
            raise self.refuse(f"{field} {exc.problem}") from None

    # collections ----------------------------------------------------------------------------

    def unique(self, names: Iterable[str], what: str) -> None:
        """Refuse an answer that lists one asset or position twice: which one would be true?"""
        seen: set[str] = set()
        for name in names:
            if name in seen:
                raise self.refuse(f"two entries for {what} {name}")
            seen.add(name)
