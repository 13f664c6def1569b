"""The layout's rules, read from the source: which package may import which, no cycles, small modules."""
from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("preprocessing", "trainer", "serving")
MAX_MODULE_LINES = 300
# serving/music renders melodies: it may not reach into the programs that use it.
MUSIC_FORBIDDEN = ("serving.client", "serving.tensors", "serving.server", "serving.model_server",
                   "serving.generation", "serving.cli", "serving.demo")


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _product_modules() -> dict[str, Path]:
    return {_module_name(path): path for package in PACKAGES for path in sorted((REPO / package).rglob("*.py"))}


MODULES = _product_modules()


def _imported(path: Path) -> set[str]:
    """Every product module ``path`` imports, at module level or inside functions."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
        else:
            continue
        for name in names:
            # `from serving import client` names the module serving.client; `from x.y import f` names x.y.
            while name and name not in MODULES:
                name = name.rpartition(".")[0]
            if name and name.split(".")[0] in PACKAGES:
                found.add(name)
    found.discard(_module_name(path))
    return found


IMPORTS = {name: _imported(path) for name, path in MODULES.items()}


def _violations(importer_prefix: str, allowed: Callable[[str], bool]) -> list[str]:
    """'A imports B' for every module A under ``importer_prefix`` importing a B that ``allowed`` refuses."""
    return sorted(f"{importer} imports {imported}" for importer, imported_set in IMPORTS.items()
                  if importer == importer_prefix or importer.startswith(importer_prefix + ".")
                  for imported in imported_set if not allowed(imported))


def test_the_modules_are_found() -> None:
    assert {"preprocessing.run", "trainer.task", "serving.server", "serving.cli"} <= set(MODULES)


def test_preprocessing_imports_neither_trainer_nor_serving() -> None:
    assert _violations("preprocessing", lambda name: name.startswith("preprocessing")) == []


def test_serving_never_imports_trainer() -> None:
    assert _violations("serving", lambda name: not name.startswith("trainer")) == []


def test_trainer_imports_only_the_serving_contract() -> None:
    assert _violations("trainer", lambda name: not name.startswith("serving") or name.startswith("serving.contract")) == []


def test_the_contract_stands_alone_in_serving() -> None:
    assert _violations("serving.contract", lambda name: not name.startswith("serving")
                       or name.startswith("serving.contract")) == []


def test_music_imports_nothing_from_the_client_server_or_generation() -> None:
    assert _violations("serving.music", lambda name: not name.startswith(MUSIC_FORBIDDEN)) == []


def test_there_are_no_import_cycles() -> None:
    cycles, state = [], {}

    def visit(name: str, trail: list[str]) -> None:
        state[name] = "open"
        for imported in sorted(IMPORTS[name]):
            if state.get(imported) == "open":
                cycles.append(" -> ".join(trail[trail.index(imported):] + [name, imported]) if imported in trail
                              else f"{name} -> {imported}")
            elif imported not in state:
                visit(imported, trail + [name])
        state[name] = "done"

    for name in sorted(IMPORTS):
        if name not in state:
            visit(name, [])
    assert cycles == []


def test_no_product_module_is_over_300_lines() -> None:
    lengths = {str(path.relative_to(REPO)): path.read_text(encoding="utf-8").count("\n") for path in MODULES.values()}
    assert {path: lines for path, lines in lengths.items() if lines > MAX_MODULE_LINES} == {}
