"""The long-lived heap, set aside from the garbage collector's full passes.

A venue's markets are a few hundred thousand small objects (ccxt's dicts of every market and
currency) that live as long as `bot run` does. CPython's full collection walks every tracked
object each time enough young objects have survived into the oldest generation: at 20 venues
~320,000 objects, a 170-210 ms pause every ~5 cycles, as likely to land between a read and its
send as anywhere (bench: the read-to-send gap's p99 was 249 ms where its median was 36 ms, and
the guard's reaction had the same tail). `gc.freeze()` moves what is alive now into a
permanent generation that collections skip (they are still freed by reference count).
"""

from __future__ import annotations

import gc


def set_aside() -> None:
    """Collect once, then freeze what is alive: for when the long-lived objects have just been
    made (markets loaded). What an earlier call froze is unfrozen first, so that markets
    replaced since (a reload, a venue connected again) are collected with the rest, never kept.
    One full pass (~0.1-0.2 s at 20 venues) at start-up and after a reload, where a cycle
    begins: never between a read and its send."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def give_back() -> None:
    """The pool is closed: what was set aside is collected as usual again (a process that
    opens pools one after another, as the tests do, frees each one's markets)."""
    gc.unfreeze()
