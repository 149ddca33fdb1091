"""Journey: the synchronized review player in Chromium. A saved 3 × 3 comparison (three
resolutions × 16:9, 1:1 and 9:16, real H.264 clips) opens on Compare at 1440 × 900: the whole
grid is on screen at one height, a click on the scrub bar and a frame step put every cell at the
same time (within 1/24 s), three seconds of playback keep them within 0.1 s, a click on a cell
hears only that cell, the loop and mark keys work, and F fills the screen."""

from __future__ import annotations

from pathlib import Path

import pytest
from browser import SCREENSHOTS, StudioServer, wait_for_app
from playwright.sync_api import expect
from support import finish_with_clip

from studio import services as svc
from studio.models import VideoGenerationParams, output_size
from studio.settings import Settings

DESKTOP = {"width": 1440, "height": 900}
RATIOS = ("16:9", "1:1", "9:16")
RESOLUTIONS = ("480p", "720p", "1080p")
SECONDS = 6
FRAME_S = 1 / 24
PLAYER = "compare_player_0"
PROMPT = "A lighthouse in fog, review player check"


def seed_grid(
    data_dir: Path, *, ratios=RATIOS, resolutions=RESOLUTIONS, seconds: int = SECONDS
) -> tuple[str, list[str]]:
    """A saved comparison whose cells are finished takes with real clips (rendered small, at each
    ratio's 480p size, so the machine is not busy for long): (grid id, cell ids)."""
    studio = svc.build_services(Settings(api_key="", data_dir=data_dir), start_worker=False)
    try:
        cells = [
            (VideoGenerationParams(prompt=PROMPT, resolution=res, aspect_ratio=ratio, duration=str(seconds)), "")
            for ratio in ratios
            for res in resolutions
        ]
        grid_id, ids = studio.store.add_grid(prompt=PROMPT, axes={}, cells=cells)
        for gen_id, (params, _) in zip(ids, cells, strict=True):
            width, height = output_size("480p", params.aspect_ratio)
            text = f"{params.resolution} {params.aspect_ratio}"
            finish_with_clip(studio, gen_id, width=width, height=height, seconds=seconds, text=text)
        return grid_id, ids
    finally:
        studio.close()


@pytest.fixture(scope="module")
def grid_server(tmp_path_factory):
    data = tmp_path_factory.mktemp("player-data")
    grid_id, ids = seed_grid(data)
    server = StudioServer(data).start()
    yield server.base, grid_id, ids
    server.stop()


def times(page) -> list[float]:
    "Every cell's currentTime, read in one go."
    return page.evaluate(f"() => window.__studioPlayers['{PLAYER}'].times()")


def spread(values: list[float]) -> float:
    return max(values) - min(values)


def test_review_player_keeps_nine_mixed_cells_in_step(page, grid_server):
    base, grid_id, ids = grid_server
    page.set_viewport_size(DESKTOP)
    page.goto(f"{base}/compare?grid={grid_id}")
    wait_for_app(page)
    root = page.locator(f".sp-root[data-player='{PLAYER}']")
    root.wait_for()
    page.wait_for_function(
        f"""() => {{ const p = window.__studioPlayers['{PLAYER}'];
            return p && p.videos.length === 9 && p.videos.every(v => v.readyState >= 2); }}""",
        timeout=60_000,
    )
    root.scroll_into_view_if_needed()
    videos = root.locator("video")
    assert videos.count() == 9
    assert [videos.nth(i).get_attribute("data-clip") for i in range(9)] == ids  # rows of ratios, by resolution

    # The whole 3 × 3 grid and the transport are on one 1440 × 900 screen, every cell one height.
    root.evaluate("el => el.scrollIntoView({block: 'start'})")
    boxes = [videos.nth(i).bounding_box() for i in range(9)]
    bar = root.locator(".sp-transport").bounding_box()
    assert all(b is not None for b in boxes) and bar is not None
    heights = {round(b["height"]) for b in boxes}
    assert len(heights) == 1, heights
    for b in [*boxes, bar]:
        assert b["x"] >= 0 and b["x"] + b["width"] <= DESKTOP["width"] + 1, b
        assert b["y"] >= 0 and b["y"] + b["height"] <= DESKTOP["height"] + 1, b
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "player_3x3_1440x900.png"))

    # A click half-way along the scrub bar: every cell at the same time.
    scrub = root.locator(".sp-range")
    sbox = scrub.bounding_box()
    assert sbox is not None
    scrub.click(position={"x": sbox["width"] / 2, "y": sbox["height"] / 2})
    now = times(page)
    assert spread(now) <= FRAME_S, now
    assert abs(now[0] - SECONDS / 2) < 0.5, now

    # One frame forward, then one back: all move together by 1/24 s.
    root.get_by_role("button", name="One frame forward (→)").click()
    stepped = times(page)
    assert spread(stepped) <= FRAME_S, stepped
    assert abs(stepped[0] - now[0] - FRAME_S) <= FRAME_S, (now, stepped)
    page.keyboard.press("ArrowLeft")
    back = times(page)
    assert spread(back) <= FRAME_S and back[0] < stepped[0], (stepped, back)

    # Three seconds of playback from the start: followers stay within 0.1 s of each other.
    scrub.click(position={"x": 2, "y": sbox["height"] / 2})
    root.get_by_role("button", name="Play / pause (space)").click()
    page.wait_for_timeout(3000)
    playing = times(page)
    assert min(playing) > 1.5, playing  # they really played
    assert spread(playing) <= 0.1, playing
    speed = root.locator(".sp-speed")
    speed.select_option("0.5")  # half speed: every cell, followers nudged from there
    page.wait_for_timeout(300)
    rates = page.evaluate(f"() => window.__studioPlayers['{PLAYER}'].videos.map(v => v.playbackRate)")
    assert all(0.45 <= r <= 0.55 for r in rates), rates
    speed.select_option("1")
    root.focus()
    page.keyboard.press("Space")  # pause: all exactly together again
    paused = times(page)
    assert spread(paused) <= FRAME_S, paused
    assert root.get_attribute("data-playing") == "false"

    # Audio solo: a click on the third cell hears only it; key 1 moves the solo to the first.
    def muted() -> list[bool]:
        return [bool(videos.nth(i).evaluate("v => v.muted")) for i in range(9)]

    assert all(muted())
    root.locator(".sp-cell").nth(2).click()
    assert muted() == [i != 2 for i in range(9)]
    page.keyboard.press("1")
    assert muted() == [i != 0 for i in range(9)]
    page.keyboard.press("1")  # again: all muted
    assert all(muted())

    # A loop from here ([) to one second later (]); M marks the moment (a trigger back to Python).
    at = times(page)[0]
    page.keyboard.press("[")
    for _ in range(24):
        page.keyboard.press("ArrowRight")
    page.keyboard.press("]")
    start, end = (float(x) for x in (root.get_attribute("data-loop") or "0-0").split("-"))
    assert abs(start - at) < FRAME_S and abs(end - start - 1) < 2 * FRAME_S, (at, start, end)
    page.keyboard.press("m")
    assert abs(float(root.get_attribute("data-marked") or -1) - end) < 0.01

    # F fills the screen with the player, every cell taller; F again comes back.
    small = float(root.get_attribute("data-cell-height") or 0)
    page.keyboard.press("f")
    expect(root).to_have_attribute("data-full", "true")
    page.wait_for_function(f"() => window.__studioPlayers['{PLAYER}'].root.dataset.cellHeight > {small}")
    page.screenshot(path=str(SCREENSHOTS / "player_fullscreen.png"))
    page.keyboard.press("f")
    expect(root).to_have_attribute("data-full", "false")
