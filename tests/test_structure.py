"""The code's shape, as docs/architecture.md describes it: no import circles (at module
level or inside functions), a root that keeps only what Django expects there and what
everything uses, every workflow under services/. That the map names every module is
test_docs.py's."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "generations"
ROOT_MODULES = {
    # What Django expects in an app...
    "__init__",
    "admin",
    "apps",
    "checks",
    "tasks",
    "urls",
    # ...and what everything uses.
    "access",
    "crypto",
    "documents",
    "errors",
    "labels",
    "media",
}


def app_modules() -> dict[str, Path]:
    """Every module of the app by dotted name (a package by its __init__)."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _imports(path: Path, name: str, modules: dict[str, Path]) -> Iterator[str]:
    """The app's modules `path` imports, anywhere in it (module level or in a function):
    `from a.b import c` names the module a.b.c when c is one, else a.b."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in modules:
                    yield alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            if not base.startswith("generations"):
                continue
            for alias in node.names:
                inner = f"{base}.{alias.name}"
                if inner in modules:
                    yield inner
                elif base in modules:
                    yield base


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_module_imports_itself_round_a_circle() -> None:
    modules = app_modules()
    graph = {
        name: {target for target in _imports(path, name, modules) if target != name}
        for name, path in modules.items()
    }
    assert _cycle(graph) is None, " → ".join(_cycle(graph) or [])


def test_the_circle_finder_finds_a_circle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_the_apps_root_keeps_only_what_django_expects_and_what_everything_uses() -> None:
    at_root = {path.stem for path in PACKAGE.glob("*.py")}
    assert at_root == ROOT_MODULES, f"move the others under services/: {at_root - ROOT_MODULES}"
    assert len(at_root) <= 12


def test_template_comments_close_on_their_line() -> None:
    """Django's `{# … #}` is a comment on one line only: one that goes on to the next
    line is printed on the page as text (a feed card once said so to every visitor)."""
    open_comments = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in sorted((ROOT / "templates").rglob("*.html"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if line.count("{#") > line.count("#}")
    ]
    assert open_comments == []
