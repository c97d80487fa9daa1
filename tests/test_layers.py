"""The import direction of the code: HTTP → schema → resolvers → loaders → db, never back.

``server.py`` and ``web/`` (HTTP) may import everything below them; ``schema/``
(GraphQL types) may import resolvers, loaders and db; ``resolvers/`` (rules)
loaders and db; ``loaders/`` only db; ``db/`` only itself. Function-local
imports of project modules are not allowed either: they are how a cycle
hides. The check walks the source with :mod:`ast` (no import runs), so a
planted upward import anywhere, even under ``if TYPE_CHECKING:``, fails it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = {"server": 5, "web": 4, "schema": 3, "resolvers": 2, "loaders": 1, "db": 0}
PACKAGES = ("web", "schema", "resolvers", "loaders", "db")


def _sources() -> list[Path]:
    files = [ROOT / "server.py"]
    for package in PACKAGES:
        files += sorted(p for p in (ROOT / package).rglob("*.py") if "migrations" not in p.parts)
    return files


def _layer_of(path: Path, root: Path) -> str:
    relative = path.relative_to(root)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def _imports(tree: ast.AST) -> list[tuple[int, str, bool]]:
    """``(line, top-level module, inside a function)`` of every project import in ``tree``."""
    found: list[tuple[int, str, bool]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            local = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            if isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                found.append((child.lineno, child.module.split(".")[0], in_function))
            elif isinstance(child, ast.Import):
                found.extend((child.lineno, alias.name.split(".")[0], in_function) for alias in child.names)
            visit(child, local)

    visit(tree, False)
    return [(line, module, local) for line, module, local in found if module in LAYERS or module in ("tests", "bench")]


def violations(files: list[Path], root: Path = ROOT) -> list[str]:
    """Every upward, test/bench or function-local project import in ``files`` (under ``root``), as ``path:line: why``."""
    problems = []
    for path in files:
        layer = _layer_of(path, root)
        for line, module, local in _imports(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            where = f"{path.relative_to(root)}:{line}"
            if module in ("tests", "bench"):
                problems.append(f"{where}: imports {module}, which is not part of the server")
            elif LAYERS[module] > LAYERS[layer]:
                problems.append(f"{where}: {layer} imports {module}, a layer above it")
            elif local:
                problems.append(f"{where}: function-local import of {module}; import at the top of the module")
    return problems


def test_every_import_points_down() -> None:
    assert violations(_sources()) == []


@pytest.mark.parametrize(
    ("layer", "planted", "why"),
    [
        ("loaders/planted.py", "from schema.types import Customer\n", "loaders imports schema, a layer above it"),
        ("db/planted.py", "import resolvers.ids\n", "db imports resolvers, a layer above it"),
        (
            "resolvers/planted.py",
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from web import app\n",
            "resolvers imports web, a layer above it",
        ),
        ("schema/planted.py", "def f():\n    from db import rules\n", "function-local import of db"),
    ],
)
def test_a_planted_violation_is_found(tmp_path: Path, layer: str, planted: str, why: str) -> None:
    """The check is not vacuous: each kind of violation, planted in a module of a layer, is reported."""
    path = tmp_path / layer
    path.parent.mkdir()
    path.write_text(planted, encoding="utf-8")
    found = violations([path], tmp_path)
    assert len(found) == 1 and why in found[0], found
