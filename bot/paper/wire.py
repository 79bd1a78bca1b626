"""Binance's wire format: how numbers are rendered, how errors look, and JSON that keeps Decimal.

Binance sends most money as strings ("4500.00000000") and a few figures (leverage brackets,
timestamps) as JSON numbers. We never pass money through float, so the encoder here writes a
`Decimal` as a bare JSON number literal.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal, localcontext
from typing import Any

EIGHT_PLACES = Decimal("1E-8")


def fmt8(value: Decimal) -> str:
    """Render a figure the way Binance serves balances: 8 decimals, rounded toward zero."""
    with localcontext() as ctx:
        ctx.prec = 60
        quantized = value.quantize(EIGHT_PLACES, rounding=ROUND_DOWN)
    if quantized.is_zero():
        quantized = abs(quantized)  # never "-0.00000000"
    return f"{quantized:f}"


def plain(value: Decimal) -> str:
    """Render a quantity without exponent or trailing zeros ("-5", "0.009", "25")."""
    if value.is_zero():
        return "0"
    text = f"{value.normalize():f}"
    return text


def fixed(value: Decimal, places: int) -> str:
    """Exactly `places` decimals, rounded toward zero, never "-0.000": how Binance renders a
    position amount at its symbol's `quantityPrecision` ("-5.000" for ETHUSDT, "-300" for
    BTCUSD_PERP, "0.000" when flat)."""
    with localcontext() as ctx:
        ctx.prec = 60
        quantized = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_DOWN)
    if quantized.is_zero():
        quantized = abs(quantized)
    return f"{quantized:f}"


def short_price(value: Decimal) -> str:
    """A USD-M entry or break-even price as Binance renders it: the shortest decimal, with at
    least one fractional digit and at most 8 (rounded toward zero): "3000.0", "67445.9",
    "67479.62295", "0.385077", "0.0" when flat (ccxt's recorded /fapi/v3/positionRisk answers,
    Binance's Position Information V2/V3 examples). Not padded to the symbol's pricePrecision:
    an average entry price is not on the tick, and Binance's answers are not padded."""
    text = fmt8(value)
    whole, _, fraction = text.partition(".")
    return f"{whole}.{fraction.rstrip('0') or '0'}"


@dataclass(frozen=True)
class BinanceError(Exception):
    """An error answer: HTTP status plus Binance's `{"code": ..., "msg": ...}` body."""

    status: int
    code: int
    msg: str

    def __str__(self) -> str:
        return f"HTTP {self.status} {self.code} {self.msg}"

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "msg": self.msg}


def mandatory_missing(name: str) -> BinanceError:
    return BinanceError(
        400, -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
    )


def illegal_characters(name: str, legal: str) -> BinanceError:
    return BinanceError(
        400, -1100, f"Illegal characters found in parameter '{name}'; legal range is '{legal}'."
    )


@dataclass(frozen=True)
class RawNumber:
    """Number text written into JSON as it is ("1e30", "NaN"), unquoted: how a test hook makes
    an answer carry a literal that no Decimal or int renders that way."""

    text: str


def dumps(value: Any) -> str:
    """JSON-encode, writing Decimal as a number literal (never through float) and RawNumber as
    its text."""
    parts: list[str] = []
    _encode(value, parts)
    return "".join(parts)


def _encode(value: Any, out: list[str]) -> None:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"cannot encode non-finite Decimal {value!r}")
        out.append(plain(value))
    elif isinstance(value, RawNumber):
        out.append(value.text)
    elif value is None or isinstance(value, bool | int | str):
        out.append(json.dumps(value))
    elif isinstance(value, Mapping):
        out.append("{")
        for index, (key, item) in enumerate(value.items()):
            if index:
                out.append(",")
            out.append(json.dumps(str(key)))
            out.append(":")
            _encode(item, out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _encode(item, out)
        out.append("]")
    elif isinstance(value, float):
        raise TypeError("floats are not allowed on the paper exchange's wire; use Decimal")
    else:
        raise TypeError(f"cannot encode {type(value).__name__}")
