"""ccxt-style implicit API methods for our own ccxt `Exchange` subclasses.

ccxt generates `ccxt/abstract/<id>.py` from each exchange's `describe()['api']` at build time;
Python ccxt does not do it at run time. This builds the same class at import: one `Entry` per
endpoint, named as ccxt names them (`futures_private_get_v1_perpum_positions` and
`futuresPrivateGetV1PerpumPositions`), carrying the endpoint's cost to ccxt's throttler.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ccxt.base.types import Entry

HTTP_METHODS = frozenset({"get", "post", "put", "delete", "patch"})


def implicit_api(name: str, api: Mapping[str, Any]) -> type:
    """A class with one implicit method per endpoint of a ccxt `api` tree (any nesting of
    sections above the HTTP method, then `{path: cost or config}`)."""
    entries: dict[str, Entry] = {}

    def walk(node: Mapping[str, Any], sections: list[str]) -> None:
        for key, value in node.items():
            if key.lower() not in HTTP_METHODS:
                walk(value, [*sections, key])
                continue
            for path, config in value.items():
                words = [w for w in re.split(r"[^A-Za-z0-9]+", path) if w]
                parts = [*sections, key.lower(), *(w.lower() for w in words)]
                snake = "_".join(parts)
                camel = parts[0] + "".join(p[:1].upper() + p[1:] for p in parts[1:])
                settings = config if isinstance(config, dict) else {"cost": config}
                entry = Entry(path, list(sections), key.upper(), settings)
                entry.name = snake
                entries[snake] = entries[camel] = entry

    walk(api, [])
    return type(name, (), entries)
