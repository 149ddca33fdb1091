"""Real-browser fixtures: the studio served by `streamlit run asgi_app.py` (simulator mode, no key)
on a free port, and Debian's Chromium driven by Playwright (never `playwright install`).

Helpers for the tests live in browser.py: the module name "conftest" is already taken in
sys.modules by tests/conftest.py, so `from conftest import ...` would find the wrong one.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from browser import CHROMIUM, CHROMIUM_ARGS, StudioServer
from playwright.sync_api import expect

ROOT = Path(__file__).resolve().parents[2]
# An `expect(...)` waits this long for what a person would see: Playwright's 5 s default is shorter
# than a page's redraw on a loaded 2-core machine (CI runs the journeys beside the gates).
expect.set_options(timeout=20_000)


def pytest_collection_modifyitems(items):
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def studio_server(tmp_path_factory):
    "A studio shared by the journeys of one session; yields its base URL."
    server = StudioServer(tmp_path_factory.mktemp("e2e-data")).start()
    yield server.base
    server.stop()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    assert Path(CHROMIUM).exists(), "Debian chromium is missing: apt-get install chromium (scripts/test does)"
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1400, "height": 1000}}
