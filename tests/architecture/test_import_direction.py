"""The import direction of docs/architecture.md, checked from the source: a module imports
only its own layer or the layers below it, `policy/` imports only the core vocabulary, nothing
imports the CLI but `python -m bot`, no import circle, and `bot/`'s top level holds only the
entry points, the composition root and the core vocabulary."""

from __future__ import annotations

from tests.architecture.imports import PACKAGE, cycles, import_graph

#: bot's parts, by layer: a module may import its own layer and those below (a lower number)
LAYERS: dict[str, int] = {
    # the core vocabulary, and what every layer leans on at run time
    **dict.fromkeys(("model", "money", "errors", "config", "config_file", "runtime"), 0),
    # pure decisions | exchange adapters | the database | the paper exchange | metrics
    **dict.fromkeys(("policy", "venues", "ledger", "paper", "metrics"), 1),
    # the use cases, and how their results are shown
    **dict.fromkeys(
        ("transfers", "cycle", "guard", "funding", "alerts", "audit", "health", "jobs", "present"),
        2,
    ),
    "bootstrap": 3,  # the composition root
    **dict.fromkeys(("cli", "scheduler", "__main__", ""), 4),  # the entry points
}

#: modules placed apart from their package: the declared job table, which `config.py` reads for
#: the `schedule:` keys, names each job's function by import path and imports nothing of the bot
MODULE_LAYERS: dict[str, int] = {"bot.jobs": 0}

#: what may sit at bot/'s top level besides packages
TOP_LEVEL = {
    "__init__",
    "__main__",
    "bootstrap",
    "config",
    "config_file",
    "errors",
    "model",
    "money",
}


def part(module: str) -> str:
    """`bot.transfers.executor` -> `transfers`; `bot` itself -> ``."""
    return module.split(".")[1] if "." in module else ""


def layer(module: str) -> int:
    return MODULE_LAYERS.get(module, LAYERS[part(module)])


def test_every_part_of_bot_has_a_layer() -> None:
    parts = {path.stem for path in PACKAGE.glob("*.py")} | {
        path.name for path in PACKAGE.iterdir() if (path / "__init__.py").is_file()
    }
    assert sorted(parts - set(LAYERS) - {"__init__"}) == []


def test_bots_top_level_holds_only_entry_points_root_and_vocabulary() -> None:
    assert sorted(path.stem for path in PACKAGE.glob("*.py")) == sorted(TOP_LEVEL)


def test_imports_run_downwards_only() -> None:
    upward = sorted(
        f"{module} imports {target}"
        for module, targets in import_graph().items()
        for target in targets
        if layer(target) > layer(module)
    )
    assert upward == []


def test_the_job_table_imports_nothing_of_the_bot() -> None:
    assert sorted(import_graph()["bot.jobs"]) == []


def test_the_policy_imports_only_the_core_vocabulary() -> None:
    io = sorted(
        f"{module} imports {target}"
        for module, targets in import_graph().items()
        if part(module) == "policy"
        for target in targets
        if part(target) != "policy" and layer(target) > 0
    )
    assert io == []


def test_nothing_imports_the_cli() -> None:
    into_cli = sorted(
        f"{module} imports {target}"
        for module, targets in import_graph().items()
        if part(module) not in ("cli", "__main__")  # `python -m bot` runs the CLI
        for target in targets
        if part(target) == "cli"
    )
    assert into_cli == []


def test_there_is_no_import_circle() -> None:
    assert cycles(import_graph()) == []
