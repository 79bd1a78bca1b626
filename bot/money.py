"""Money as `Decimal`: parsing venue values and rounding down to a venue's precision.

Venues send numbers as text to keep precision (ccxt's clients are built with `number = str`);
they enter the bot as `Decimal`, and a float is refused, so no float ever touches an amount.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal, InvalidOperation

ZERO = Decimal(0)
# Where a venue says nothing finer: 8 decimals (Binance's universal transfer takes no more).
DEFAULT_TRANSFER_STEP = Decimal("0.00000001")
#: settle assets counted one for one against a venue's USD figures
USD_STABLECOINS = frozenset({"USDT", "USDC", "USD"})


class BadAmount(ValueError):
    """A value that should be a number is not one."""


def to_decimal(value: object, field: str = "amount") -> Decimal:
    """Parse a venue or config value into a finite `Decimal`.

    A float is refused: it has already lost the venue's digits past ~17 (CoinW's
    `438.799142390000018` comes back as `438.79914239000004`). Venue figures arrive as text
    (`venues/decode.py`), config figures as pydantic Decimals.
    """
    if isinstance(value, Decimal):
        parsed = value
    elif isinstance(value, bool):
        raise BadAmount(f"{field}: expected a number, got {value!r}")
    elif isinstance(value, int):
        parsed = Decimal(value)
    elif isinstance(value, float):
        raise BadAmount(f"{field}: got the float {value!r}; money is parsed from text only")
    elif isinstance(value, str):
        try:
            parsed = Decimal(value.strip())
        except InvalidOperation:
            raise BadAmount(f"{field}: expected a number, got {value!r}") from None
    else:
        raise BadAmount(f"{field}: expected a number, got {value!r}")
    if not parsed.is_finite():
        raise BadAmount(f"{field}: expected a finite number, got {value!r}")
    return parsed


def to_decimal_or_none(value: object, field: str = "amount") -> Decimal | None:
    """Like `to_decimal`, but missing values (None, empty string) stay None."""
    if value is None or value == "":
        return None
    return to_decimal(value, field)


def round_down(amount: Decimal, step: Decimal) -> Decimal:
    """Round `amount` down to a multiple of `step` (e.g. 0.00000001), never up.

    Rounding to nearest (ccxt's default for currencies) can round up past what the wallet
    holds, which the venue rejects as an over-transfer.
    """
    if step <= 0:
        raise ValueError(f"precision step must be positive, got {step}")
    if amount <= 0:
        return ZERO.quantize(step) if step.as_tuple().exponent < 0 else ZERO
    units = (amount / step).to_integral_value(rounding=ROUND_DOWN)
    return (units * step).quantize(step, rounding=ROUND_DOWN)


def step_from_precision(precision: object, *, tick_size: bool) -> Decimal | None:
    """Turn a ccxt precision value into a step: a tick size (1e-08) or a number of decimals (8).

    Which of the two a number means depends on the exchange's `precisionMode`.
    """
    if precision is None:
        return None
    value = to_decimal(precision, "precision")
    if tick_size:
        return value.normalize() if value > 0 else None
    if value < 0 or value != value.to_integral_value():
        return None
    return Decimal(1).scaleb(-int(value))


def plain(amount: Decimal | None) -> str | None:
    """Render a Decimal without exponent notation ("0.00000001", not "1E-8")."""
    if amount is None:
        return None
    text = format(amount, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"
