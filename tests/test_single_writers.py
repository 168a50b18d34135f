"""One writer per kind of record, read from the source (as tests/test_layers.py reads the imports):
a case's events are written only by the core's `events_append`, and a state column only by its
transition function (`case_transition` / `cases_transition` for cases, `notice_transition` /
`notices_transition` for notices, `delivery_transition` / `deliveries_transition` for the parts
of a notice's delivery). A stage that builds an `Event` itself, or sets ``state`` in a
queryset update, skips the checks and the timeline those functions keep."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = ("scart", "accounts", "reports", "routing", "privacy", "stats", "workspace")

EVENT_WRITER = "reports/cases/services.py"
# The modules that set a ``state`` column in an ``update``, each with the model whose state it is.
STATE_WRITERS = {
    "reports/cases/services.py": "Case (the case transition table)",
    "routing/notices/states.py": "Notice (the notice transition table)",
    "routing/notices/channels/parts.py": "NoticeDelivery (the delivery parts' transition table)",
    "reports/reviews.py": "Review (a review's own life: open, then agreed, overruled or superseded)",
}
WRITES = {"create", "bulk_create", "get_or_create", "update_or_create"}


def product_modules() -> list[tuple[str, ast.Module]]:
    return [
        (str(path.relative_to(ROOT)), ast.parse(path.read_text(), str(path)))
        for top in PRODUCT
        for path in sorted((ROOT / top).rglob("*.py"))
        if "migrations" not in path.parts
    ]


def _is_event_write(func: ast.expr) -> bool:
    if isinstance(func, ast.Name):
        return func.id == "Event"
    return (
        isinstance(func, ast.Attribute)
        and func.attr in WRITES
        and isinstance(func.value, ast.Attribute)
        and func.value.attr == "objects"
        and isinstance(func.value.value, ast.Name)
        and func.value.value.id == "Event"
    )


def event_writes(tree: ast.Module) -> list[int]:
    """Lines that build an ``Event`` or write one through its manager."""
    return [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Call) and _is_event_write(node.func)]


def state_updates(tree: ast.Module) -> list[int]:
    """Lines that set ``state`` in a queryset ``update``."""
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "update"
        and any(keyword.arg == "state" for keyword in node.keywords)
    ]


def test_only_the_core_writes_events():
    found = [
        f"{path}:{line}" for path, tree in product_modules() if path != EVENT_WRITER for line in event_writes(tree)
    ]
    assert found == [], "write events with reports.cases.services.event_new / event_append / events_append"


def test_the_core_does_write_events_so_the_scan_sees_them():
    tree = dict(product_modules())[EVENT_WRITER]
    assert event_writes(tree)


def test_only_the_transition_functions_change_a_state():
    modules = dict(product_modules())
    found = [
        f"{path}:{line}" for path, tree in modules.items() if path not in STATE_WRITERS for line in state_updates(tree)
    ]
    assert found == [], "change a case's state with case_transition, a notice's with notice_transition"
    assert [path for path in STATE_WRITERS if not state_updates(modules[path])] == [], "a writer listed for nothing"
