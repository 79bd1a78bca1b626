"""Rows a paper account keeps beside its state file (its income, its funding settlements): a
JSON list in `<state file>.<name>.json`, written whole to a temporary file and renamed into
place, so a reader sees the old list or the new one, never half of one; kept in memory for a
state that is kept in memory."""

from __future__ import annotations

import json
import weakref
from pathlib import Path
from typing import Any

from bot.paper.state import StateStore

Rows = list[dict[str, Any]]


class SideLog:
    """One kind of rows beside the state file, oldest first."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._memory: weakref.WeakKeyDictionary[StateStore, Rows] = weakref.WeakKeyDictionary()

    def path(self, store: StateStore) -> Path | None:
        if store.path is None:
            return None
        return store.path.with_name(f"{store.path.name}.{self.name}.json")

    def load(self, store: StateStore) -> Rows:
        path = self.path(store)
        if path is None:
            return list(self._memory.get(store, []))
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []

    def save(self, store: StateStore, rows: Rows) -> None:
        path = self.path(store)
        if path is None:
            self._memory[store] = rows
            return
        partial = path.with_name(path.name + ".tmp")
        partial.write_text(json.dumps(rows), encoding="utf-8")
        partial.replace(path)
