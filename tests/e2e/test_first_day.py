"""The issue's "done when", as a person does it: a first visit with no key, straight to a Compare
link; one prompt across 3 resolutions x 3 aspect ratios; then the server restarts ("the next
day") and the comparison is found again in the Gallery by a word of its prompt."""

from __future__ import annotations

from browser import StudioServer, launch_comparison, screenshot, videos_ready, wait_for_app
from playwright.sync_api import Page, expect

from studio.models import output_size

PROMPT = "An origami crane unfolding over a quiet harbour at dawn"
RESOLUTIONS = ("480p", "720p", "1080p")
RATIOS = ("16:9", "1:1", "9:16")
CARD = "[class*='st-key-gallery_card_']"


def expected_size(resolution: str, ratio: str) -> tuple[int, int]:
    "Seedance 2's output size (seedance-2.md), which the simulator renders."
    return output_size(resolution, ratio)


def test_first_day_compare_then_find_it_the_next_day(page: Page, tmp_path):
    server = StudioServer(tmp_path / "studio").start()
    try:
        # A colleague's link to Compare is the very first visit after the server started.
        page.goto(f"{server.base}/compare")
        wait_for_app(page)
        expect(page.get_by_role("heading", name="Compare", level=1)).to_be_visible()
        expect(page.get_by_test_id("stSidebar").get_by_text("Simulator mode")).to_be_visible()

        launch_comparison(
            page, PROMPT, cells=9, resolutions=["480p", "1080p"], aspect_ratios=["1:1"], timeout_ms=120_000
        )
        # Every cell plays in the comparison's review player, labelled by its resolution and ratio.
        cells = page.evaluate(
            """() => window.__studioPlayers["compare_player_0"].cells
                .map(c => [c.clip.label, c.video.videoWidth, c.video.videoHeight])"""
        )
        sizes = {tuple(label.split(" · ")): (width, height) for label, width, height in cells}
        assert sizes == {(r, a): expected_size(r, a) for r in RESOLUTIONS for a in RATIOS}
        screenshot(page, "first-day-compare-3x3")
    finally:
        server.stop()

    # The next day: the server was restarted; everything is still there.
    server.start()
    try:
        page.goto(server.base)
        wait_for_app(page)
        page.get_by_test_id("stSidebarNavItems").get_by_role("link", name="Gallery").click()
        wait_for_app(page)
        search = page.locator(".st-key-q input")
        search.fill("origami")
        search.press("Enter")
        page.wait_for_function("() => location.href.includes('q=origami')", timeout=10_000)
        wait_for_app(page)
        # The comparison is one stacked card that opens into its nine cells.
        stack = page.locator("[class*='st-key-gallery_stack_']")
        expect(stack).to_have_count(1, timeout=15_000)
        expect(stack).to_contain_text("9 cells")
        stack.get_by_role("button", name="Open its 9 cells").click()
        page.wait_for_function("() => location.href.includes('grid_id=')", timeout=10_000)
        wait_for_app(page)
        expect(page.locator(CARD)).to_have_count(9, timeout=15_000)
        page.locator(CARD).first.get_by_role("button", name="Open").click()
        dialog = page.locator("[role=dialog]")
        page.wait_for_function(videos_ready(1, within="[role=dialog]"), timeout=15_000)  # in the review player
        expect(dialog.locator("[data-testid=stCode]").first).to_contain_text(PROMPT)
        screenshot(page, "first-day-gallery-next-day")
    finally:
        server.stop()
