"""Import direction: pages -> services -> (mosaic | jobs -> store); only studio's ui imports streamlit;
exactly one wiring module (outside the simulator) imports the simulator; ui never imports web; and
the tests define each fixture name in one place."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STUDIO_DIR = ROOT / "studio"
STUDIO = sorted(STUDIO_DIR.rglob("*.py"))
SIMULATOR = "studio.simulator"


def module_name(path: Path) -> str:
    "studio/services/grids.py -> studio.services.grids; studio/services/__init__.py -> studio.services."
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, module: str | None = None) -> set[str]:
    """Every module a file imports, absolute (`from x import y` counts as both x and x.y); relative
    imports resolve against `module`, the file's own dotted name (by default, from its path)."""
    own = module or module_name(path)
    package = own.split(".") if path.name == "__init__.py" else own.split(".")[:-1]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            anchor = package[: len(package) - node.level + 1] if node.level else []
            base = ".".join([*anchor, *([node.module] if node.module else [])])
            names.add(base)
            names.update(f"{base}.{a.name}" for a in node.names)
    return names


def reaches(names: set[str], module: str) -> bool:
    return any(n == module or n.startswith(module + ".") for n in names)


def files_of(module: str) -> list[Path]:
    "A module's files: studio/x.py, or every file of the package studio/x/."
    path = ROOT / Path(*module.split("."))
    return sorted(path.rglob("*.py")) if path.is_dir() else [path.with_suffix(".py")]


def is_in(path: Path, module: str) -> bool:
    name = module_name(path)
    return name == module or name.startswith(module + ".")


def test_the_import_reader_resolves_relative_and_from_imports(tmp_path):
    probe = tmp_path / "grids.py"
    probe.write_text("from .. import simulator\nfrom .app import wire\nfrom studio import ui\nimport httpx.x\n")
    names = imports(probe, module="studio.services.grids")
    for module in (SIMULATOR, "studio.services.app", "studio.ui", "httpx"):
        assert reaches(names, module), module
    assert not reaches(names, "studio.web") and not reaches(names, "studio.services.simulator")


@pytest.mark.parametrize("path", STUDIO, ids=lambda p: module_name(p))
def test_only_ui_imports_streamlit(path):
    found = {n for n in imports(path) if n.split(".")[0] == "streamlit"}
    assert is_in(path, "studio.ui") or not found


@pytest.mark.parametrize("path", STUDIO, ids=lambda p: module_name(p))
def test_nothing_imports_pages_or_entry_scripts(path):
    assert not {n for n in imports(path) if n.split(".")[0] in ("pages", "streamlit_app", "asgi_app")}


@pytest.mark.parametrize(
    "module,forbidden",
    [
        ("studio.mosaic", {"studio.store", "studio.jobs", "studio.services", SIMULATOR}),
        ("studio.store", {"studio.mosaic", "studio.jobs", "studio.services", SIMULATOR}),
        ("studio.jobs", {"studio.services", SIMULATOR, "studio.web"}),
        (SIMULATOR, {"studio.mosaic", "studio.store", "studio.jobs", "studio.services"}),
        ("studio.ui", {"studio.web"}),
    ],
)
def test_layers_do_not_reach_upwards(module, forbidden):
    for path in files_of(module):
        names = imports(path)
        assert not [f for f in forbidden if reaches(names, f)], path.relative_to(ROOT)


def test_exactly_one_wiring_module_imports_the_simulator():
    "Services (and everything else) get the simulator from the one module that wires the studio."
    importers = [module_name(p) for p in STUDIO if not is_in(p, SIMULATOR) and reaches(imports(p), SIMULATOR)]
    assert len(importers) == 1, f"modules importing the simulator: {importers}"


@pytest.mark.parametrize("page", sorted((ROOT / "pages").glob("*.py")), ids=lambda p: p.name)
def test_pages_talk_only_to_services(page):
    names = imports(page)
    bad = {n for n in names if n.split(".")[0] in ("httpx", "sqlite3", "sqlite_utils")}
    bad |= {m for m in ("studio.mosaic", "studio.store", SIMULATOR) if reaches(names, m)}
    assert not bad


def fixtures_defined(path: Path) -> set[str]:
    "Names of the pytest fixtures a test file defines (honouring `@pytest.fixture(name=...)`)."
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.FunctionDef):
            continue
        for deco in node.decorator_list:
            call = deco if isinstance(deco, ast.Call) else None
            target = call.func if call else deco
            if isinstance(target, ast.Attribute) and target.attr == "fixture":
                named = [k.value for k in (call.keywords if call else []) if k.arg == "name"]
                found.add(str(named[0].value) if named and isinstance(named[0], ast.Constant) else node.name)
    return found


def test_each_fixture_name_is_defined_in_one_file():
    "Two files defining the same fixture name would silently mean different things per file."
    where = defaultdict(list)
    for path in sorted((ROOT / "tests").rglob("*.py")):
        for name in fixtures_defined(path):
            where[name].append(str(path.relative_to(ROOT)))
    assert "studio" in where and "open_page" not in where  # the scan does see conftest's fixtures
    assert {name: files for name, files in where.items() if len(files) > 1} == {}
