"""Column types that keep money exact and times in UTC on every database."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import DateTime, Dialect, Numeric, Text
from sqlalchemy.types import TypeDecorator, TypeEngine


class ExactDecimal(TypeDecorator[Decimal]):
    """An exact decimal: NUMERIC on PostgreSQL, the decimal's text on SQLite.

    SQLite has no exact numeric storage (its NUMERIC affinity turns "3.50" into a
    float), so there the value is kept as plain fixed-point text, e.g. "80000000000"
    or "3.50". Reads always give `decimal.Decimal`, never a float; writes refuse
    floats and non-finite values (NaN, Infinity).

    On SQLite the column is text, so ORDER BY and range filters on it compare
    strings, not numbers: sort and compare in Python, or use PostgreSQL.
    """

    impl = Numeric
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(Text())
        return dialect.type_descriptor(Numeric(asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (Decimal, int, str)):
            raise TypeError(
                f"exact decimal column needs a Decimal, int or numeric string, "
                f"got {type(value).__name__} {value!r}; build money amounts with Decimal"
            )
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise ValueError(f"{value!r} is not a decimal number") from None
        if not number.is_finite():
            raise ValueError(f"{value!r} is not a finite decimal number")
        if dialect.name == "sqlite":
            # fixed-point text, never an exponent: Decimal("8E+10") -> "80000000000"
            return format(number, "f")
        return number

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if isinstance(value, Decimal):
            return value
        if isinstance(value, float):  # pragma: no cover - only if a driver misbehaves
            raise TypeError(f"exact decimal column returned a float {value!r}")
        return Decimal(str(value))


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime kept in UTC.

    Writes refuse naive datetimes (their zone is unknown) and convert the others
    to UTC. PostgreSQL stores TIMESTAMP WITH TIME ZONE; SQLite drops the zone, so
    the UTC value is stored as is and marked UTC again on read. Reads always give
    aware datetimes in UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"UTC datetime column needs a datetime, got {type(value).__name__}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(
                f"naive datetime {value.isoformat()} refused: its time zone is unknown; "
                "use datetime.now(UTC) or attach a tzinfo"
            )
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)
