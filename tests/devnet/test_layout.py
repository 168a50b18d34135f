"""Who may import the local peers and the demo world: the demo's entry points, the benchmarks and the
tests; and nothing outside `tests/` imports the tests."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("scart", "accounts", "reports", "routing", "privacy", "stats")
# Product code reaches devnet only in demo mode: the commands that fill a demo database.
DEMO_ENTRY_POINTS = {
    "reports/management/commands/demo_reports.py",
    "stats/management/commands/seed_demo.py",
}


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def sources(*folders: str) -> list[Path]:
    return [
        path for folder in folders for path in sorted((ROOT / folder).rglob("*.py")) if "migrations" not in path.parts
    ]


def importers(paths: list[Path], package: str) -> list[str]:
    return sorted(
        str(path.relative_to(ROOT))
        for path in paths
        if any(module == package or module.startswith(f"{package}.") for module in imported_modules(path))
    )


def test_nothing_outside_tests_imports_tests() -> None:
    assert importers(sources(*PRODUCT, "devnet", "bench"), "tests") == []


def test_product_code_imports_devnet_only_for_the_demo() -> None:
    assert set(importers(sources(*PRODUCT), "devnet")) <= DEMO_ENTRY_POINTS


def test_benches_share_the_harness_and_import_no_other_bench() -> None:
    # A bench is a script bench/<name>.py; its parts, if any, are the package bench/_<name>/.
    benches = [path.stem for path in sorted((ROOT / "bench").glob("[!_]*.py"))]
    assert benches == ["checks", "intake", "notices", "resolve", "retention", "search", "stats", "workspace"]
    for path in sources("bench"):
        relative = path.relative_to(ROOT / "bench")
        own = relative.stem if len(relative.parts) == 1 else relative.parts[0].removeprefix("_")
        imported = imported_modules(path)
        for other in benches:
            if other != own:
                assert not {m for m in imported if m.split(".")[:2] in (["bench", other], ["bench", f"_{other}"])}, (
                    f"{relative} imports the {other} bench"
                )
        if len(relative.parts) == 1 and not relative.stem.startswith("_"):
            assert "bench._harness" in imported, f"{relative} does not use the harness"


def test_no_bench_module_is_one_a_newcomer_must_fear() -> None:
    sizes = {str(path.relative_to(ROOT)): len(path.read_text().splitlines()) for path in sources("bench")}
    assert {path: lines for path, lines in sizes.items() if lines > 400} == {}
