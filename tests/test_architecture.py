"""Import direction: pages -> services -> (mosaic | jobs -> store); only studio/ui.py imports streamlit."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STUDIO = sorted((ROOT / "studio").glob("*.py"))


def imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = "studio." if node.level else ""
            names.add(base + (node.module or ""))
            names.update(base + a.name for a in node.names if node.module is None)
    return names


@pytest.mark.parametrize("path", STUDIO, ids=lambda p: p.name)
def test_only_ui_imports_streamlit(path):
    found = {n for n in imports(path) if n.split(".")[0] == "streamlit"}
    assert path.name == "ui.py" or not found


@pytest.mark.parametrize("path", STUDIO, ids=lambda p: p.name)
def test_nothing_imports_pages_or_entry_scripts(path):
    assert not {n for n in imports(path) if n.split(".")[0] in ("pages", "streamlit_app", "asgi_app")}


@pytest.mark.parametrize(
    "module,forbidden",
    [
        ("mosaic", {"studio.store", "studio.jobs", "studio.services", "studio.simulator"}),
        ("store", {"studio.mosaic", "studio.jobs", "studio.services", "studio.simulator"}),
        ("jobs", {"studio.services", "studio.simulator", "studio.web"}),
        ("simulator", {"studio.mosaic", "studio.store", "studio.jobs", "studio.services"}),
    ],
)
def test_layers_do_not_reach_upwards(module, forbidden):
    package = ROOT / "studio" / module
    files = sorted(package.glob("*.py")) if package.is_dir() else [ROOT / "studio" / f"{module}.py"]
    assert files and not set().union(*(imports(f) for f in files)) & forbidden


@pytest.mark.parametrize("page", sorted((ROOT / "pages").glob("*.py")), ids=lambda p: p.name)
def test_pages_talk_only_to_services(page):
    bad = {n for n in imports(page) if n.split(".")[0] in ("httpx", "sqlite3", "sqlite_utils")}
    bad |= {n for n in imports(page) if n in ("studio.mosaic", "studio.store", "studio.simulator")}
    assert not bad
