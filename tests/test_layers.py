"""The layering of docs/architecture.md, read from the source: every import of every product module
(including the ones inside functions and under ``TYPE_CHECKING``) may only reach its own component
or a lower one. Layers, bottom to top: ``scart`` helpers and ``accounts`` → ``reports`` (core,
intake, assessment) → ``routing``'s models → the stages in flow order → ``routing``'s wiring
(tasks, hooks, admin) → ``privacy`` → ``stats`` → ``workspace`` → the project URLconf. ``devnet`` and ``bench``
are tools beside the product; product code never imports ``tests``."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = ("scart", "accounts", "reports", "routing", "privacy", "stats", "workspace")
TOOLS = ("devnet", "bench")

# Components by module prefix (the longest prefix wins), each with its rank: a module may import
# a component of its own rank or lower. Equal ranks are one layer.
RANKS: dict[str, int] = {
    "scart": 0,
    "accounts": 0,
    "reports": 1,
    # The tables of every stage; the stages share them (a notice names a provider, a check a case).
    "routing.models": 2,
    "routing.resolution": 3,
    # Domain rules: suggested at assessment, applied by jurisdiction and the checks.
    "routing.rules": 4,
    "routing.jurisdiction": 5,
    "routing.notices": 6,
    "routing.checks": 7,
    # routing's wiring: the Celery tasks of every stage, the hook subscribers, admin, forms,
    # commands and template tags.
    "routing": 8,
    # Retention rules and reporters' data: they erase in the tables of every stage.
    "privacy": 9,
    "stats": 10,
    "workspace": 11,
    # The project URLconf mounts every app's pages.
    "scart.urls": 12,
    # Beside the product: they may use all of it, and the product uses them only as ALLOWED says.
    "devnet": 13,
    "bench": 14,
}
STAGES = ("routing.resolution", "routing.rules", "routing.jurisdiction", "routing.notices", "routing.checks")

# Imports against the layering that stay for now, each with its reason. (importer, imported
# component) pairs; the test fails when one disappears, so the list cannot go stale.
ALLOWED: dict[tuple[str, str], str] = {
    ("stats.management.commands.seed_demo", "devnet"): (
        "seed_demo is the demo's statistics seeder; the synthetic history it writes lives in devnet/history"
    ),
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def modules() -> dict[str, Path]:
    found = {}
    for top in PRODUCT + TOOLS:
        for path in (ROOT / top).rglob("*.py"):
            found[module_name(path)] = path
    return found


def component(name: str) -> str | None:
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        prefix = ".".join(parts[:end])
        if prefix in RANKS or prefix == "tests":
            return prefix
    return None


def imported(name: str, path: Path) -> set[str]:
    """The modules ``name`` imports, as dotted names (relative imports resolved; ``from a import b``
    counts as ``a.b`` when that is a module)."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    result = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            result |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            for alias in node.names:
                full = f"{module}.{alias.name}"
                result.add(full if full in modules() else module)
    return result


@cache
def edges() -> set[tuple[str, str]]:
    """(importer module, imported component) for every import between two components."""
    found = set()
    for name, path in modules().items():
        source = component(name)
        for target in imported(name, path):
            reached = component(target)
            if reached is not None and reached != source:
                found.add((name, reached))
    return found


def violation(importer: str, target: str) -> bool:
    source = component(importer)
    assert source is not None
    if target == "tests":
        return True
    if target in TOOLS and source not in TOOLS:
        return True
    return RANKS[target] > RANKS[source]


def test_every_import_goes_down_the_layers_or_is_listed_with_its_reason():
    found = {(importer, target) for importer, target in edges() if violation(importer, target)}
    assert sorted(found - ALLOWED.keys()) == []
    assert sorted(ALLOWED.keys() - found) == [], "an allowed exception is gone: drop it from ALLOWED"


def test_reports_imports_no_later_layer_and_no_tool():
    later = {
        "routing",
        "stats",
        "workspace",
        "devnet",
        "bench",
        "tests",
        *(c for c in RANKS if c.startswith("routing.")),
    }
    found = sorted((i, t) for i, t in edges() if i.split(".")[0] == "reports" and t in later)
    assert found == []


def test_stages_import_only_the_core_and_earlier_stages():
    found = []
    for importer, target in edges():
        source = component(importer)
        if source not in STAGES or not target.startswith("routing") or target == "routing.models":
            continue
        if target not in STAGES or STAGES.index(target) > STAGES.index(source):
            found.append((importer, target))
    assert sorted(found) == sorted(k for k in ALLOWED if component(k[0]) in STAGES)


def test_no_module_imports_tests():
    assert sorted(i for i, t in edges() if t == "tests") == []


def test_the_graph_sees_imports_inside_functions():
    # The app's ready() imports its hook subscribers only inside the function: the walk must reach it.
    assert ("routing.apps", "routing") not in edges()  # within a component is no edge
    assert "routing.hooks" in imported("routing.apps", modules()["routing.apps"])
    assert not any(component(i) == t for i, t in edges())


def functions_imports_without_reason(path: Path) -> list[str]:
    """Imports inside a function of ``path`` with no comment on their line or the three above."""
    lines = path.read_text().splitlines()
    found = []
    for node in ast.walk(ast.parse("\n".join(lines))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for inner in ast.walk(node):
                if isinstance(inner, ast.Import | ast.ImportFrom):
                    above = lines[max(0, inner.lineno - 4) : inner.lineno]
                    if not any("#" in line for line in above):
                        found.append(f"{path.relative_to(ROOT)}:{inner.lineno}")
    return found


def test_an_import_inside_a_function_says_why():
    found = [
        where
        for name, path in modules().items()
        if component(name) is not None and name.split(".")[0] in PRODUCT and ".migrations." not in name
        for where in functions_imports_without_reason(path)
    ]
    assert found == []
