"""What the standing conditions kept per move share (manual instructions, nothing to move):
at most one open row per (venue, asset, from account, to account), found, opened and
cleared the same way; each table adds its own fields."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

#: (venue, asset, from_account, to_account)
MoveKey = tuple[str, str, str, str]

OPEN = "open"


def move_key(row: Any) -> MoveKey:
    return (row.venue, row.asset, row.from_account, row.to_account)


def open_row(model: Any, key: MoveKey) -> Select[Any]:
    """The open row of `key` in `model`'s table (at most one)."""
    venue, asset, from_account, to_account = key
    return select(model).where(
        model.venue == venue,
        model.asset == asset,
        model.from_account == from_account,
        model.to_account == to_account,
        model.state == OPEN,
    )


def open_or_new(
    session: Session, model: Any, key: MoveKey, now: datetime, **new: Any
) -> tuple[Any, bool]:
    """The open row of `key`, or a new one first seen `now` (with `new`'s fields); True when
    it is new. The caller then sets what it saw this time."""
    row = session.scalar(open_row(model, key))
    if row is not None:
        return row, False
    venue, asset, from_account, to_account = key
    row = model(
        venue=venue,
        asset=asset,
        from_account=from_account,
        to_account=to_account,
        first_seen=now,
        state=OPEN,
        **new,
    )
    session.add(row)
    return row, True


def clear_open(
    session: Session,
    model: Any,
    venues: str | Iterable[str],
    *,
    stays: Callable[[MoveKey], bool],
    clear: Callable[[Any], None],
) -> list[MoveKey]:
    """`clear` every open row of the venue (or venues, in one query) whose key does not
    `stay`; the keys cleared."""
    names = [venues] if isinstance(venues, str) else sorted(set(venues))
    cleared: list[MoveKey] = []
    for row in session.scalars(select(model).where(model.venue.in_(names), model.state == OPEN)):
        key = move_key(row)
        if not stays(key):
            clear(row)
            cleared.append(key)
    return cleared
