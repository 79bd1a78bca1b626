"""Reading a large table in keyset pages: each page is its own short statement, so memory
stays constant and no writer waits long on a reader (SQLite's read lock, PostgreSQL's
snapshot are held for one page only)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, tuple_

#: rows per read, for every paged reader of the ledger
PAGE = 2000


def pages(connection: Connection, query: Any, *order: Any) -> Iterator[Any]:
    """Rows of `query` in `order` (a unique key), read in pages by keyset."""
    after: tuple[Any, ...] | None = None
    names = [column.key for column in order]
    while True:
        page_query = query.order_by(*order).limit(PAGE)
        if after is not None:
            page_query = page_query.where(_after(order, after))
        rows = connection.execute(page_query).all()
        yield from rows
        if len(rows) < PAGE:
            return
        after = tuple(getattr(rows[-1], name) for name in names)


def _after(order: tuple[Any, ...], after: tuple[Any, ...]) -> Any:
    if len(order) == 1:
        return order[0] > after[0]
    return tuple_(*order) > tuple_(*after)
