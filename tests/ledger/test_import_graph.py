"""The ledger's and the audit's modules import each other without a circle, read from the
source: every import counts, those inside functions too (a lazy import hides a circle from
Python, not from the design)."""

from __future__ import annotations

import ast
from pathlib import Path

import bot

ROOT = Path(bot.__file__).parent.parent
PACKAGES = ("bot/ledger", "bot/audit")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(tree: ast.Module, name: str, is_package: bool, known: set[str]) -> set[str]:
    """The modules among `known` that the module `name` imports, wherever the import is."""
    found: set[str] = set()
    package = name if is_package else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            # `from bot.ledger import journal` imports the module bot.ledger.journal
            targets = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in known]
            targets = targets or [base]
        else:
            continue
        found.update(target for target in targets if target in known and target != name)
    return found


def import_graph() -> dict[str, set[str]]:
    files = [path for package in PACKAGES for path in sorted((ROOT / package).glob("*.py"))]
    known = {module_name(path) for path in files}
    return {
        module_name(path): imported(
            ast.parse(path.read_text(encoding="utf-8")),
            module_name(path),
            path.name == "__init__.py",
            known,
        )
        for path in files
    }


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as a path (first module repeated at its end), or None."""
    done: set[str] = set()
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in done:
            return None
        path.append(node)
        for target in sorted(graph.get(node, ())):
            cycle = visit(target)
            if cycle:
                return cycle
        path.pop()
        done.add(node)
        return None

    for node in sorted(graph):
        cycle = visit(node)
        if cycle:
            return cycle
    return None


def test_the_ledger_and_audit_modules_import_without_a_circle() -> None:
    graph = import_graph()
    assert "bot.ledger.store" in graph and "bot.audit.chain" in graph  # the walk found them
    cycle = find_cycle(graph)
    assert cycle is None, " -> ".join(cycle or [])


def test_the_check_finds_a_circle_hidden_in_a_function() -> None:
    known = {"pkg.a", "pkg.b"}
    a = ast.parse("from pkg import b\n")
    b = ast.parse("def f():\n    from pkg.a import thing\n")
    graph = {
        "pkg.a": imported(a, "pkg.a", False, known),
        "pkg.b": imported(b, "pkg.b", False, known),
    }
    assert find_cycle(graph) == ["pkg.a", "pkg.b", "pkg.a"]


def test_the_ledger_does_not_import_the_audit() -> None:
    """The audit reads the ledger; the ledger never calls up into its use cases."""
    upward = {
        (module, target)
        for module, targets in import_graph().items()
        if module.startswith("bot.ledger")
        for target in targets
        if target.startswith("bot.audit")
    }
    assert not upward


def test_chain_verification_reads_no_derived_data() -> None:
    """Verifying the chain never calls into the running totals (derived data)."""
    assert "bot.ledger.totals" not in import_graph()["bot.audit.chain"]


def test_the_page_size_is_defined_once() -> None:
    """Every paged reader of the ledger reads `bot.ledger.pages.PAGE`."""
    defined = [
        module
        for package in PACKAGES
        for path in sorted((ROOT / package).glob("*.py"))
        for module in [module_name(path)]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "PAGE" for t in node.targets)
    ]
    assert defined == ["bot.ledger.pages"]
