"""AppTest: the entry script and its pages with an injected studio."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from studio import services as svc
from studio.models import VideoGenerationParams

from conftest import settings_for

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def app(studio):
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=30)
    at.session_state["services"] = studio
    return at


def test_history_shows_mode_and_recent_runs(app, studio):
    svc.wait_for(studio, svc.generate(studio, VideoGenerationParams(prompt="A glass whale", duration="4")),
                 timeout=60)
    app.run()
    assert not app.exception
    assert any("Mosaic" in s.value for s in app.sidebar.success)
    table = app.dataframe[0].value
    assert list(table["prompt"]) == ["A glass whale"] and list(table["status"]) == ["done"]


def test_simulator_mode_is_announced(clean_sim, tmp_path):
    services = svc.build_services(settings_for(clean_sim, tmp_path / "d", api_key=None), start_worker=False)
    try:
        at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=30)
        at.session_state["services"] = services
        at.run()
        assert not at.exception
        assert any("Simulator mode" in w.value for w in at.sidebar.warning)
        assert at.info and "No generations yet" in at.info[0].value
    finally:
        services.close()
