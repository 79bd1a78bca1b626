"""Venue numbers as the venue wrote them: JSON decoding and number literals, exactly.

A JSON number read as a float has already lost the venue's digits ('438.799142390000018'
becomes 438.79914239000004), so our ccxt exchanges decode bodies with every non-integer number
kept as its literal text, and these helpers turn such text into a `Decimal` exactly or refuse
it. Refusing is the point: a figure that is not a plain, finite, sane number must stop the read,
never be rounded, clamped or read as zero.

Pure and free of the rest of the bot, so the ccxt exchange classes can use it on their own.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any, Final

#: money, prices and sizes beyond this are refused as absurd (a venue's glitch, not a fortune)
MONEY_BOUND: Final = Decimal("1e15")
#: a funding rate beyond ±100% per interval is absurd
RATE_BOUND: Final = Decimal(1)
#: longer literals are refused: no venue figure needs more characters
MAX_LITERAL_CHARS: Final = 100

# A plain decimal literal: every JSON number matches, and so does the text of one in a string.
# ASCII digits only: `Decimal` would also read '١٢' or '1_000', which no venue sends.
_LITERAL: Final = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?", re.ASCII)


class NotExact(ValueError):
    """A value that cannot be read as an exact, finite, sane number; `problem` says why, as
    the end of a sentence naming the field: "is 'NaN', not a finite number"."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


class AmbiguousBody(Exception):
    """A JSON body that says two things at once (one key twice in an object).

    Not a `ValueError` on purpose: ccxt swallows those while decoding and would go on as if
    the body were plain text.
    """


def shown(value: object) -> str:
    """`value` as a message shows it: its repr, on one line, cut short."""
    text = "null" if value is None else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def exact_decimal(value: object, *, bound: Decimal | None = MONEY_BOUND) -> Decimal:
    """The exact `Decimal` of a venue's number: a JSON integer or the text of a number literal.

    Floats are refused (their digits are not the venue's), and so are booleans, null, text that
    is not a plain literal, NaN and infinities, and magnitudes beyond `bound`. Never rounds.
    """
    if isinstance(value, bool):
        raise NotExact(f"is {shown(value)}, not a number")
    if isinstance(value, int):
        parsed = Decimal(value)
    elif isinstance(value, str):
        parsed = _parse_literal(value)
    elif isinstance(value, float):
        raise NotExact(f"is {shown(value)}, a float: the venue's digits are lost")
    elif value is None:
        raise NotExact("is null")
    else:
        raise NotExact(f"is {shown(value)}, not a number")
    if bound is not None and parsed.copy_abs() > bound:
        raise NotExact(f"is {shown(value)}, absurdly large (beyond ±{_magnitude(bound)})")
    return parsed


def _magnitude(bound: Decimal) -> str:
    """1e15 as "1e15", 1 as "1"."""
    normal = bound.normalize()
    if normal.adjusted() < 6:
        return format(normal, "f")
    mantissa, _, exponent = f"{normal:e}".partition("e")
    return f"{mantissa}e{int(exponent)}"


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


def finite_text(value: object) -> str | None:
    """The literal text of a readable number, else None: lenient, for ccxt's unified fields,
    which may be empty but must never come from a misread figure."""
    try:
        exact_decimal(value, bound=None)
    except NotExact:
        return None
    return str(value)


def loads_exact(body: str) -> Any:
    """`json.loads`, keeping non-integer numbers (and NaN, Infinity) as their literal text.

    Python's `json` would read `NaN` and `Infinity` as floats; they stay text here, so
    `exact_decimal` refuses them by name. An object with one key twice raises `AmbiguousBody`
    (Python would silently keep the last value).
    """
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
