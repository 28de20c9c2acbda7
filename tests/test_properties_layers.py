"""runbook.properties imports one way only: codec <- model <- decisions <- report <- writer.

The package was split out of three modules that imported each other (issue 10); this
keeps a new import from quietly closing the loop again. TYPE_CHECKING imports count too:
they are a loop for a reader and for import-linter all the same.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "runbook" / "properties"
# Lowest first: each module may import only the ones before it.
LAYERS = ["codec", "model", "decisions", "report", "writer"]


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            names.add(f"runbook.properties.{module}".rstrip(".") if node.level else module)
    return names


def test_every_module_of_the_package_has_a_place_in_the_layers() -> None:
    modules = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__"}
    assert modules == set(LAYERS)


def test_each_module_imports_only_the_modules_below_it() -> None:
    for at, name in enumerate(LAYERS):
        inside = {
            module for module in _imports(PACKAGE / f"{name}.py")
            if module == "runbook.properties" or module.startswith("runbook.properties.")
        }
        allowed = {f"runbook.properties.{below}" for below in LAYERS[:at]}
        # The package itself re-exports every module, so importing it is importing them all.
        assert inside <= allowed, f"{name} imports {sorted(inside - allowed)}"
