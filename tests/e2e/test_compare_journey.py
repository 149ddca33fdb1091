"""Journey: a producer compares one prompt across 2 resolutions × 2 aspect ratios in Chromium,
checks every video is the size its cell says, reloads the saved link, and looks at two takes A/B."""

from __future__ import annotations

import re

from browser import pick, screenshot, wait_for_app

PROMPT = "A paper boat drifting down a rainy street at dusk"
EXPECTED = {
    ("480p", "16:9"): (864, 496),
    ("480p", "9:16"): (496, 864),
    ("720p", "16:9"): (1280, 720),
    ("720p", "9:16"): (720, 1280),
}
CELLS = "[class*='st-key-grid_cell_']"
VIDEOS_READY = f"""() => {{
    const v = [...document.querySelectorAll("{CELLS} video")];
    return v.length === 4 && v.every(x => x.readyState >= 1 && x.videoWidth > 0);
}}"""


def cell_sizes(page) -> dict[tuple[str, str], tuple[int, int]]:
    "For each grid cell: (resolution, ratio) from its settings line -> the video's real size."
    out = {}
    for cell in page.locator(CELLS).all():
        settings = cell.get_by_text(re.compile(r"^(480p|720p|1080p) · ")).first.inner_text()
        resolution, ratio = settings.split(" · ")[:2]
        size = cell.locator("video").evaluate("v => [v.videoWidth, v.videoHeight]")
        out[(resolution, ratio)] = tuple(size)
    return out


def row_heights(page) -> dict[str, list[float]]:
    "For each row of the grid (an aspect ratio): the heights its videos are shown at."
    rows: dict[str, list[float]] = {}
    for cell in page.locator(CELLS).all():
        ratio = cell.get_by_text(re.compile(r"^(480p|720p|1080p) · ")).first.inner_text().split(" · ")[1]
        frame = cell.locator("video").bounding_box()
        assert frame is not None
        rows.setdefault(ratio, []).append(frame["height"])
    return rows


def test_compare_grid_journey(page, studio_server):
    page.goto(studio_server)
    wait_for_app(page)
    page.get_by_role("heading", name="Create").wait_for()  # the home page has rendered
    page.get_by_role("link", name="Compare").click()
    page.locator(".st-key-compare_prompt textarea").wait_for()
    assert page.url.endswith("/compare")
    page.locator(".st-key-compare_prompt textarea").fill(PROMPT)
    pick(page, "compare_resolutions", "480p")  # 720p, 16:9 and 9:16 are already chosen
    durations = page.locator(".st-key-compare_durations")
    durations.get_by_role("button", name="Remove 5 s").click()
    pick(page, "compare_durations", "4 s")
    page.locator(".st-key-compare_summary", has_text="16 s of video").wait_for()
    assert (
        page.locator(".st-key-compare_summary")
        .inner_text()
        .startswith("4 cells (2 resolutions × 2 aspect ratios) · 4 runs · 16 s of video · about ")
    )
    screenshot(page, "compare-form")
    wait_for_app(page)  # not while the page redraws: the click could land on a replaced button
    page.locator(".st-key-compare_launch button").click()

    page.wait_for_url(re.compile(r"/compare\?grid=[0-9a-f]+$"), timeout=60_000)
    grid_url = page.url
    page.wait_for_function(VIDEOS_READY, timeout=60_000)
    assert cell_sizes(page) == EXPECTED
    page.get_by_test_id("stProgress").get_by_text("4 of 4 cells done").wait_for()  # not the toast saying it too
    # 480p and 720p differ a little in shape (864×496, 1280×720), yet each row lines up at one height.
    heights = row_heights(page)
    assert sorted(heights) == ["16:9", "9:16"] and all(len(h) == 2 and max(h) - min(h) < 1 for h in heights.values())
    screenshot(page, "compare-grid")

    page.goto(grid_url)  # a reload, or the link sent to a colleague
    wait_for_app(page)
    page.get_by_text("Comparison · 4 cells").wait_for()
    page.wait_for_function(VIDEOS_READY, timeout=30_000)
    assert cell_sizes(page) == EXPECTED
    assert page.locator(".st-key-compare_prompt textarea").is_hidden()  # the form is folded away

    pick(page, "compare_ab_b", "720p · 9:16 · 4 s · audio")
    table = page.locator("[data-testid='stTable']")
    table.get_by_text("720x1280").wait_for()
    highlighted = table.locator("tr", has_text="≠")
    differing = {row.locator("th, td").first.inner_text() for row in highlighted.all()}
    assert {"Resolution", "Aspect ratio", "Size"} <= differing and not {"Prompt", "Duration"} & differing
    background = highlighted.first.locator("td").nth(1).evaluate("td => getComputedStyle(td).backgroundColor")
    assert background == "rgb(255, 224, 138)"
    page.locator(".st-key-compare_ab_grid").scroll_into_view_if_needed()
    screenshot(page, "compare-ab")
