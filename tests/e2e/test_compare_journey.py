"""Journey: a producer compares one prompt across 2 resolutions × 2 aspect ratios in Chromium,
checks every video in the review player is the size its label says, reloads the saved link, and
looks at two takes A/B."""

from __future__ import annotations

import re

from browser import pick, screenshot, videos_ready, wait_for_app

PROMPT = "A paper boat drifting down a rainy street at dusk"
EXPECTED = {
    ("480p", "16:9"): (864, 496),
    ("480p", "9:16"): (496, 864),
    ("720p", "16:9"): (1280, 720),
    ("720p", "9:16"): (720, 1280),
}
VIDEOS_READY = videos_ready(4)  # in the comparison's review player
# Each cell of the grid's review player: its label (resolution · ratio), the video's real size and
# the height it is shown at.
PLAYER_CELLS = """() => window.__studioPlayers["compare_player_0"].cells.map(c => ({
    label: c.clip.label, size: [c.video.videoWidth, c.video.videoHeight],
    height: c.video.getBoundingClientRect().height }))"""


def cell_sizes(page) -> dict[tuple[str, str], tuple[int, int]]:
    "For each cell of the player: (resolution, ratio) from its label -> the video's real size."
    cells = page.evaluate(PLAYER_CELLS)
    return {tuple(c["label"].split(" · ")): tuple(c["size"]) for c in cells}


def heights(page) -> list[float]:
    "The heights the player's videos are shown at."
    return [c["height"] for c in page.evaluate(PLAYER_CELLS)]


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
    # 480p and 720p differ a little in shape (864×496, 1280×720), landscape and portrait differ a
    # lot, yet every cell of the player lines up at one height.
    shown = heights(page)
    assert len(shown) == 4 and max(shown) - min(shown) < 1, shown
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
