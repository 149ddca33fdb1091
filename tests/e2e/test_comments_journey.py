"""Journey: a comment pinned to a moment, in Chromium. A finished take (a real 6 s H.264 clip) opens
in the Gallery's detail view; the person plays it, pauses it part-way, pins a comment "where the
player is", then moves the player back to the start and clicks the comment's time: the video is
back at the pinned moment (its currentTime), and the comment shows as a marker on the scrub bar."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from browser import SCREENSHOTS, StudioServer, screenshot, type_name, wait_for_app
from support import finish_with_clip

from studio import services as svc
from studio.models import VideoGenerationParams
from studio.settings import Settings

SECONDS = 6
WIDTH, HEIGHT = 640, 360
PROMPT = "A red bicycle leaning on a lamp post, comments journey"
BODY = "The wheel wobbles here"


def seed_take(data_dir: Path) -> str:
    "One finished take with a real clip in the media folder; its id."
    studio = svc.build_services(Settings(api_key="", data_dir=data_dir), start_worker=False)
    try:
        gen_id = studio.store.add_generation(VideoGenerationParams(prompt=PROMPT, duration=str(SECONDS)))
        finish_with_clip(studio, gen_id, width=WIDTH, height=HEIGHT, seconds=SECONDS, text="comments")
        return gen_id
    finally:
        studio.close()


@pytest.fixture(scope="module")
def take_server(tmp_path_factory):
    data = tmp_path_factory.mktemp("comments-data")
    gen_id = seed_take(data)
    server = StudioServer(data).start()
    yield server.base, gen_id, data
    server.stop()


def test_pin_a_comment_where_the_player_paused_and_its_time_seeks_back_there(page, take_server):
    base, gen_id, data = take_server
    player = f"detail_player_{gen_id}"
    comments = f"detail_comments_{gen_id}"
    page.goto(f"{base}/gallery")
    type_name(page, "Ada")
    page.goto(f"{base}/gallery?id={gen_id}")
    wait_for_app(page)
    root = page.locator(f".sp-root[data-player='{player}']")
    root.wait_for(timeout=30_000)
    video = root.locator("video").first
    page.wait_for_function(
        f"() => {{ const p = window.__studioPlayers['{player}'];"
        " return p && p.videos.every(v => v.readyState >= 2); }",
        timeout=60_000,
    )

    # Play, then pause part-way.
    play = root.get_by_role("button", name="Play / pause (space)")
    play.click()
    page.wait_for_function(f"() => window.__studioPlayers['{player}'].times()[0] > 1.5", timeout=30_000)
    play.click()
    page.wait_for_function(f"() => window.__studioPlayers['{player}'].videos.every(v => v.paused)")
    paused_at = float(video.evaluate("v => v.currentTime"))
    assert 1.5 < paused_at < SECONDS, paused_at
    page.wait_for_timeout(500)  # the player tells Python where it paused (after 250 ms), which reruns the page
    wait_for_app(page)

    # Pin the comment where the player is: the page says where that is before it is sent.
    page.locator(f".st-key-{comments}_pin").get_by_text("Where the player is").click()
    # (the tenth is matched loosely: the paused time may sit on a rounding edge)
    shown = page.get_by_text(re.compile(r"^The player is at 0:0\d\.\d\.$"))
    shown.wait_for(timeout=30_000)
    said = float(re.findall(r"0:(\d\d\.\d)", shown.inner_text())[0])
    assert abs(said - paused_at) <= 0.051, (said, paused_at)
    page.locator(f".st-key-{comments}_new_text textarea").fill(BODY)
    page.locator(f".st-key-{comments}_send button").click()
    wait_for_app(page)
    # Saved and pinned: the comment shows its time as a link (the text alone could be the box's).
    saved = page.get_by_role("button", name=re.compile(r"^at 0:0\d\.\d"))
    try:
        saved.wait_for(timeout=30_000)
    except Exception:
        screenshot(page, "comments-not-saved")
        raise AssertionError(f"no pinned comment; alerts: {page.get_by_test_id('stAlert').all_inner_texts()}") from None

    studio = svc.build_services(Settings(api_key="", data_dir=data), start_worker=False)
    try:
        [pinned] = svc.pinned_comments(studio, [gen_id])
    finally:
        studio.close()
    assert pinned.author == "Ada" and pinned.body == BODY
    assert pinned.at_s is not None and abs(pinned.at_s - paused_at) < 0.01
    link = page.get_by_role("button", name=f"at {pinned.moment}")
    link.wait_for(timeout=30_000)

    # The pinned comment is a marker on the scrub bar.
    root.locator(".sp-marker").first.wait_for(timeout=30_000)

    # Back to the start, then the comment's time: the video is at the pinned moment again.
    scrub = root.locator(".sp-range")
    box = scrub.bounding_box()
    assert box is not None
    scrub.click(position={"x": 2, "y": box["height"] / 2})
    page.wait_for_function(f"() => window.__studioPlayers['{player}'].times()[0] < 0.5")
    page.wait_for_timeout(500)
    wait_for_app(page)
    link.click()
    page.wait_for_function(
        f"() => Math.abs(window.__studioPlayers['{player}'].times()[0] - {pinned.at_s}) < 0.05", timeout=30_000
    )
    now = float(video.evaluate("v => v.currentTime"))
    assert abs(now - pinned.at_s) < 0.05, (now, pinned.at_s)
    root.scroll_into_view_if_needed()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "comments_player_at_the_pinned_moment.png"))
    screenshot(page, "comments_pinned_and_seeked")
