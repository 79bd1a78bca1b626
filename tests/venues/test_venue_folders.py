"""A venue is one folder: the registry finds every venue class there (no hand-kept table), each
declares what it is in one `traits` value, and no module outside a venue's folder names that
venue's exchange id."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import bot
from bot.venues import registry
from bot.venues.base import ClientIdSupport, VenueTraits
from bot.venues.binance.venue import BinanceVenue
from bot.venues.bybit.venue import BybitVenue
from bot.venues.generic import CcxtVenue
from bot.venues.okx.venue import OkxVenue

PACKAGE = Path(bot.__file__).resolve().parent
VENUES = PACKAGE / "venues"

#: Where a venue's id may appear outside its own folder, and why. Keep this short: every entry
#: is knowledge of a venue that lives somewhere else.
ALLOWED_ELSEWHERE: dict[str, tuple[str, str]] = {
    # the built-in paper exchange is a Binance dialect on loopback: it refuses a client whose
    # URL still points at binance.com, so it names Binance's host
    "binance": ("paper/", "the paper exchange speaks Binance"),
}


def _folder_of(exchange_id: str) -> Path:
    cls = registry.venue_class(exchange_id)
    return Path(__import__(cls.__module__, fromlist=["_"]).__file__).resolve().parent


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def _names_in_code(path: Path) -> list[tuple[int, str]]:
    """What the code of `path` spells out: its string literals (docstrings aside: prose may
    cite a venue's documentation), names, attributes and imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docs = _docstrings(tree)
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if id(node) not in docs:
                found.append((node.lineno, node.value))
        elif isinstance(node, ast.Name):
            found.append((node.lineno, node.id))
        elif isinstance(node, ast.Attribute):
            found.append((node.lineno, node.attr))
        elif isinstance(node, ast.Import | ast.ImportFrom):
            module = getattr(node, "module", None) or ""
            found += [(node.lineno, text) for text in (module, *(a.name for a in node.names))]
    return found


def test_the_registry_finds_every_venue_folder_and_nothing_else() -> None:
    folders = registry.venue_folders()
    assert set(folders) >= {"binance", "bybit", "okx", "coinw", "coinswitch"}
    served = registry.served()
    for folder in folders:  # every folder serves at least one id, with a class of its own
        assert any(cls.__module__ == f"bot.venues.{folder}.venue" for cls in served.values())
    assert registry.venue_class("binanceusdm") is BinanceVenue
    assert registry.venue_class("bybit") is BybitVenue and registry.venue_class("okx") is OkxVenue
    assert registry.venue_class("kraken") is CcxtVenue  # any other ccxt id: the generic venue
    assert registry.paper_exchange_ids() == ["binance", "binancecoinm", "binanceusdm"]
    assert set(registry.own_exchanges()) == {"coinw", "coinswitch"}
    assert {"coinw", "coinswitch", "binance", "kraken"} <= set(registry.known_exchange_ids())


def test_each_venue_declares_its_traits_as_one_value() -> None:
    for exchange_id, cls in registry.served().items():
        assert isinstance(cls.traits, VenueTraits), exchange_id
        assert "traits" in vars(cls) and "exchange_ids" in vars(cls), cls
    assert BybitVenue.traits.client_ids == ClientIdSupport(
        param="transferId", uuid_format=True, dedupes=True
    )
    assert BybitVenue.traits.unified_account == "unified"
    assert OkxVenue.traits.unified_account == "trading"
    assert BinanceVenue.traits.stream_classes == {
        "linear": "binanceusdm",
        "inverse": "binancecoinm",
    }
    assert CcxtVenue.traits == VenueTraits()  # a plain ccxt venue: nothing special


def test_no_module_outside_a_venue_folder_names_that_venue() -> None:
    ids = sorted(registry.served())
    folders = {exchange_id: _folder_of(exchange_id) for exchange_id in ids}
    patterns = {i: re.compile(rf"(?<![A-Za-z0-9_]){re.escape(i)}(?![A-Za-z0-9_])") for i in ids}
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        for line, text in _names_in_code(path):
            for exchange_id, pattern in patterns.items():
                if not pattern.search(text) or path.is_relative_to(folders[exchange_id]):
                    continue
                allowed = ALLOWED_ELSEWHERE.get(exchange_id)
                if allowed is not None and relative.startswith(allowed[0]):
                    continue
                found.append(f"bot/{relative}:{line}: {exchange_id!r} in {text[:60]!r}")
    assert found == [], "\n".join(found)


@pytest.mark.parametrize("exchange_id", ["binance", "coinw", "coinswitch", "bybit", "okx"])
def test_each_venue_lives_in_its_own_folder(exchange_id: str) -> None:
    folder = _folder_of(exchange_id)
    assert folder.parent == VENUES and (folder / "venue.py").is_file()
