"""The README's claims are tested: its two commands, every setting, every CLI command."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from studio.cli import _parser
from studio.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
ALIASES = {"api_key": "MOSAIC_API_KEY", "base_url": "MOSAIC_BASE_URL"}


def test_readme_opens_with_exactly_two_commands():
    found = re.search(r"```bash\n(.*?)```", README, re.S)
    assert found, "the README has no bash block"
    first_block = found.group(1).strip().splitlines()
    assert first_block == [
        "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/studio serve",
        "scripts/test",
    ]
    assert (ROOT / "scripts" / "test").stat().st_mode & 0o111
    assert "scripts/test" in (ROOT / ".ci" / "run").read_text()


@pytest.mark.parametrize("field", sorted(Settings.model_fields))
def test_every_setting_is_documented(field):
    assert f"`{ALIASES.get(field, 'STUDIO_' + field.upper())}`" in README


def test_every_cli_command_is_documented():
    [sub] = [a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction)]
    commands = sub.choices
    for name in commands:
        assert f"`studio {name}" in README


def test_every_page_is_routed():
    app = (ROOT / "streamlit_app.py").read_text()
    for page in (ROOT / "pages").glob("*.py"):
        assert f'"pages/{page.name}"' in app
