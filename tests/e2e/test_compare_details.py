"""Journey: what a first-time user hit on Compare, in Chromium — a double click on Launch, a long
paste into the prompt, star and winner agreeing between the grid and the A/B panel, landscape and
portrait takes side by side, and the grid on a 390 px phone."""

from __future__ import annotations

import re

from browser import SCREENSHOTS, pick, screenshot, videos_ready, wait_for_app

PROMPT = "A red kite over a windy beach at noon, double-click check"
PHONE = {"width": 390, "height": 844}
CELLS = "[class*='st-key-grid_cell_']"
VIDEOS_READY = videos_ready(2)  # in the comparison's review player


def phone_screenshot(page, name: str) -> None:
    "A full-height screenshot at phone width (Streamlit scrolls inside stMain: grow the viewport first)."
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    height = page.evaluate("() => document.querySelector('[data-testid=stMain]').scrollHeight")
    page.set_viewport_size({"width": PHONE["width"], "height": min(int(height) + 50, 8000)})
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    page.set_viewport_size(PHONE)


def box(locator) -> dict[str, float]:
    found = locator.bounding_box()
    assert found is not None
    return found


def test_compare_details_journey(page, studio_server):
    page.goto(f"{studio_server}/compare")
    wait_for_app(page)
    prompt = page.locator(".st-key-compare_prompt textarea")

    # A paste over the limit stays in the box, and the problem is said right under it.
    prompt.click()
    page.keyboard.insert_text("A paper boat on a rainy street. " * 160)
    prompt.press("Control+Enter")
    page.get_by_text("5,120 characters, 120 over the 5,000 limit").wait_for()
    assert len(prompt.input_value()) == 5120
    prompt.fill(PROMPT)
    prompt.press("Control+Enter")
    page.get_by_text(f"{len(PROMPT)} / 5,000 characters").wait_for()

    # 480p × (16:9, 9:16) at 4 s; then a double click on Launch.
    pick(page, "compare_resolutions", "480p")
    page.locator(".st-key-compare_resolutions").get_by_role("button", name="Remove 720p").click()
    page.locator(".st-key-compare_durations").get_by_role("button", name="Remove 5 s").click()
    pick(page, "compare_durations", "4 s")
    page.locator(".st-key-compare_summary", has_text="2 cells").wait_for()
    page.locator(".st-key-compare_launch button").dblclick()
    page.wait_for_url(re.compile(r"/compare\?grid=[0-9a-f]+$"), timeout=30_000)
    grid_url = page.url
    page.get_by_text("Launched 2 cells").wait_for()
    saved = page.locator("[class*='st-key-compare_saved_']", has_text=PROMPT)
    saved.first.wait_for()
    page.wait_for_timeout(1500)  # room for a second comparison to appear, if the double click made one
    page.reload()
    wait_for_app(page)
    page.get_by_text("Comparison · 2 cells").wait_for()
    saved.first.wait_for()
    assert saved.count() == 1, "a double click made one comparison"
    page.wait_for_function(VIDEOS_READY, timeout=60_000)
    page.get_by_test_id("stProgress").get_by_text("2 of 2 cells done").wait_for()  # not the toast saying it too

    # Every take in the grid's review player is shown at its own shape (no letterbox), at one height.
    videos = page.locator(".st-key-compare_grid_live .sp-root video")  # Playwright's CSS pierces the shadow root
    assert videos.count() == 2
    for video in videos.all():
        shape = video.evaluate("v => [v.videoWidth, v.videoHeight]")
        frame = box(video)
        assert abs(frame["width"] / frame["height"] - shape[0] / shape[1]) < 0.03, (frame, shape)
    assert abs(box(videos.nth(0))["height"] - box(videos.nth(1))["height"]) < 1
    # A/B: a landscape and a portrait take share one height, in their own player.
    ab_videos = page.locator(".st-key-compare_ab_grid .sp-root video")
    ab_videos.nth(1).wait_for()
    assert abs(box(ab_videos.nth(0))["height"] - box(ab_videos.nth(1))["height"]) < 1

    # Star in the grid shows in the A/B panel at once, and a winner picked in A/B shows in the grid.
    first = page.locator(CELLS).first
    first_id = first.get_attribute("class").split("st-key-grid_cell_")[1].split()[0]
    first.get_by_role("button", name="☆ Star").click()
    page.locator(f".st-key-compare_ab_grid_A_cell_{first_id}").get_by_role("button", name="★ Starred").wait_for()
    ab_b = page.locator("[class*='st-key-compare_ab_grid_B_cell_']")
    second_id = ab_b.get_attribute("class").split("st-key-compare_ab_grid_B_cell_")[1].split()[0]
    ab_b.get_by_role("button", name="🏆 Winner").click()
    grid_second = page.locator(f".st-key-grid_cell_{second_id}")
    grid_second.get_by_role("button", name="✖ Not the winner").wait_for()
    assert grid_second.locator(".stMarkdownBadge", has_text="Winner").is_visible()
    ab_b.get_by_role("button", name="✖ Not the winner").wait_for()
    assert ab_b.get_by_role("button", name="☆ Star").is_visible(), "a winner is not starred"
    assert not ab_b.locator(".stMarkdownBadge", has_text="Starred").count()
    assert page.locator(f".st-key-compare_ab_grid_A_cell_{first_id} .stMarkdownBadge", has_text="Starred").count()
    screenshot(page, "compare-curation")
    grid_second.get_by_role("button", name="✖ Not the winner").click()
    ab_b.get_by_role("button", name="🏆 Winner").wait_for()

    # A phone: no orphan header list; each cell says which resolution and ratio it is.
    page.set_viewport_size(PHONE)
    page.goto(grid_url)
    wait_for_app(page)
    page.wait_for_function(VIDEOS_READY, timeout=30_000)
    assert page.locator("[class*='st-key-compare_axis_']").first.is_hidden()
    titles = [c.locator("strong").first.inner_text() for c in page.locator(CELLS).all()]
    assert titles == ["480p · 16:9", "480p · 9:16"]
    widths = [box(c)["width"] for c in page.locator(CELLS).all()]
    assert all(w > 300 for w in widths), widths  # one column, each cell the screen's width
    phone_screenshot(page, "compare-grid-phone")
    page.set_viewport_size({"width": 1400, "height": 1000})
