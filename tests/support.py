"""Helpers shared by the test files (import as `from support import ...`)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

from streamlit.testing.v1 import AppTest

from studio.models import VideoGenerationParams
from studio.settings import Settings

T = TypeVar("T")

TEST_KEY = "mk_test_runner_key_7c1d"
ROOT = Path(__file__).resolve().parent.parent
ENTRY = ROOT / "streamlit_app.py"
CREATE, COMPARE, GALLERY, STATUS = "pages/create.py", "pages/compare.py", "pages/gallery.py", "pages/status.py"
PAGE_TIMEOUT_S = 30


def settings_for(sim, data_dir, **overrides) -> Settings:
    "Settings that talk to the test simulator as if it were Mosaic, polling quickly."
    base = dict(
        api_key=TEST_KEY,
        base_url=sim.base_url,
        data_dir=data_dir,
        poll_interval=0.1,
        max_poll_interval=0.3,
        timeout=5.0,
    )
    return Settings(**{**base, **overrides})


def use_sim_env(monkeypatch, sim) -> None:
    "The environment `studio` commands read: the test simulator as Mosaic, quick polls."
    monkeypatch.setenv("MOSAIC_API_KEY", TEST_KEY)
    monkeypatch.setenv("MOSAIC_BASE_URL", sim.base_url)
    monkeypatch.setenv("STUDIO_POLL_INTERVAL", "0.1")
    monkeypatch.setenv("STUDIO_MAX_POLL_INTERVAL", "0.3")


def open_page(path: str, services, query_params: Mapping[str, str | list[str]] | None = None) -> AppTest:
    """A new browser session opening a link to one page: the entry script (sidebar, navigation) with
    `services` injected, routed straight to `path` with `query_params` in the URL, run once."""
    at = AppTest.from_file(str(ENTRY), default_timeout=PAGE_TIMEOUT_S)
    at.session_state["services"] = services
    at.query_params.update(query_params or {})
    at.switch_page(path).run()
    assert not at.exception, at.exception
    return at


def eventually(check: Callable[[], T], timeout: float = 60.0, *, what: str = "the condition", step: float = 0.05) -> T:
    "Poll `check()` until it returns something true, and return that; fail naming `what` after `timeout` s."
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what} not reached within {timeout:g} s"
        time.sleep(step)


def wait_until(at, pred, timeout: float = 30.0, step: float = 0.2):
    "run_every never ticks in AppTest: rerun the page until the worker has moved the jobs on."
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        at.run()
        assert not at.exception, at.exception
        if pred(at):
            return at
        time.sleep(step)
    raise AssertionError("the page did not reach the expected state in time")


def ago(seconds: float) -> str:
    "A store timestamp `seconds` before now."
    return (datetime.now(UTC) - timedelta(seconds=seconds)).isoformat(timespec="microseconds")


def started_ago(services, gen_id: str, seconds: float, *, generating_for: float | None = None) -> None:
    "Make a queued run look as if Mosaic accepted it `seconds` ago (and the model started later)."
    assert services.store.transition(gen_id, ("queued",), "running", submitted_at=ago(seconds), run_id=f"run-{gen_id}")
    if generating_for is not None:
        services.store.update_job(gen_id, generating_since=ago(generating_for))


def add_done(
    studio, prompt: str, *, author: str = "", created_at: str | None = None, grid_id: str | None = None, **params
) -> str:
    "A finished generation written straight into the history (no worker, no video file)."
    gen_id = studio.store.add_generation(VideoGenerationParams(prompt=prompt, **params), grid_id=grid_id, author=author)
    fields = dict(
        status="done",
        video_path=f"{gen_id}.mp4",
        thumb_path=f"{gen_id}.jpg",
        width=1280,
        height=720,
        duration_s=4.0,
        has_audio=1,
        file_size=1234567,
        sha256="ab" * 32,
        run_id=f"run-{gen_id}",
    )
    if created_at:
        fields["created_at"] = created_at
    studio.store.update(gen_id, **fields)
    return gen_id


def finish_with_clip(studio, gen_id: str, *, width: int, height: int, seconds: int, text: str) -> None:
    """Make a take finished with a real clip: rendered into the media folder at this size and length
    (with a mono tone), and its row saying so."""
    from studio import media

    studio.settings.media_dir.mkdir(parents=True, exist_ok=True)
    media.render_clip(
        studio.settings.media_dir / f"{gen_id}.mp4", width=width, height=height, seconds=seconds, audio=True, text=text
    )
    studio.store.update(
        gen_id,
        status="done",
        video_path=f"{gen_id}.mp4",
        width=width,
        height=height,
        duration_s=float(seconds),
        has_audio=1,
        finished_at=studio.store.get(gen_id).created_at,
    )


def players(at) -> dict[str, dict]:
    """The review players on the page (studio.player), by key: the data each one's browser half
    gets (clips with their URLs and labels, markers, the pending seek, dense or not)."""
    import json

    found = {}
    for element in at.get("bidi_component"):
        data = json.loads(element.proto.json)
        found[data["key"]] = data
    return found
