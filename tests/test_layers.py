"""The three layers of service/ import only downward (see the README's layout).

1. service.ranking, the numpy core: no web, no jobs, no Flask or marshmallow.
2. service.jobs, service.decoding, service.models: no web.
3. service.web ranks through the jobs entry point alone; of the core it
   knows only the registry, to list strategies.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SERVICE = Path(__file__).resolve().parents[1] / "service"


def imports_of(path: Path) -> set[str]:
    """Every module ``path`` imports, absolute names."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def modules(package: str) -> list[Path]:
    return sorted((SERVICE / package).rglob("*.py"))


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


@pytest.mark.parametrize("path", modules("ranking"), ids=lambda p: p.name)
def test_the_core_imports_no_layer_above_it_and_no_web_library(path):
    forbidden = ("service.jobs", "service.web", "service.models", "flask", "marshmallow")
    found = [n for n in imports_of(path) if any(_under(n, f) for f in forbidden)]
    assert not found, f"{path.name} imports {found}"


@pytest.mark.parametrize(
    "path", modules("jobs") + modules("decoding") + modules("models"), ids=lambda p: p.name
)
def test_the_middle_layer_imports_no_web(path):
    found = [n for n in imports_of(path) if _under(n, "service.web") or _under(n, "flask")]
    assert not found, f"{path.name} imports {found}"


@pytest.mark.parametrize("path", modules("web"), ids=lambda p: p.name)
def test_the_web_reaches_the_core_only_through_the_registry(path):
    core = [
        n
        for n in imports_of(path)
        if _under(n, "service.ranking") and not _under(n, "service.ranking.registry")
    ]
    assert not core, f"{path.name} imports {core}"


def test_one_route_calls_the_entry_point():
    """POST /v1/rank goes from route to ranking through service.jobs.rank."""
    callers = [
        path.name
        for path in modules("web")
        if "service.jobs.rank" in imports_of(path)
    ]
    assert callers == ["rank.py"]
