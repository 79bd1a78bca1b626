"""Column types that keep money exact and time in UTC on every database the ledger supports."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import DateTime, Numeric, String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from bot.money import plain


class ExactDecimal(TypeDecorator[Decimal]):
    """A Decimal stored without loss: unconstrained NUMERIC on PostgreSQL, canonical text on
    SQLite; read back in the same canonical form on both ("3000.5", never "3.0005E+3").

    SQLite has no decimal type: its NUMERIC affinity turns "0.1" into a float, so text keeps
    every digit (SQLite ignores the 64). PostgreSQL's NUMERIC without precision and scale keeps
    any number of digits; NUMERIC(38, 18) rounded an inverse notional or a venue's
    '438.799142390000018' past the 18th decimal (migration 0002).
    """

    impl = String(64)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(Numeric(asdecimal=True))
        return dialect.type_descriptor(String(64))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, Decimal):
            raise TypeError(f"money columns take Decimal, got {type(value).__name__}")
        return value if dialect.name == "postgresql" else plain(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        # not Decimal.normalize(): it rounds to the context's 28 digits
        exact = value if isinstance(value, Decimal) else Decimal(str(value))
        return Decimal(plain(exact))


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes in, timezone-aware UTC datetimes out (SQLite drops tzinfo)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("ledger times must be timezone-aware (UTC)")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
