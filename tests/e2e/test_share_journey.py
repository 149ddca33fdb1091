"""Journey: a producer makes a 2 × 2 comparison in Chromium, shares it from Compare's Share popover,
and the link is opened in a fresh browser context (no cookies, no session): a read-only page whose
only controls are the review player's, whose four videos play together at the sizes the studio
saved, labelled by the comparison's grid.
Then the producer revokes the link, and the same page reloads as the clear 410 page."""

from __future__ import annotations

import re

from browser import launch_comparison, screenshot, wait_for_app

PROMPT = "A kite over a windy beach at noon"
EXPECTED = {
    ("480p", "16:9"): (864, 496),
    ("480p", "9:16"): (496, 864),
    ("720p", "16:9"): (1280, 720),
    ("720p", "9:16"): (720, 1280),
}
SHARE_URL = re.compile(r"http://127\.0\.0\.1:\d+/share/[A-Za-z0-9_-]{43}")
# Nothing to type in or submit; the only controls are the review player's transport.
EDIT_CONTROLS = "textarea, form, [contenteditable], [onclick]"
CONTROLS = "input, button, select, [role=button]"
PLAYING = (
    """() => [...document.querySelectorAll(".sp-root video")].every(v => v.readyState >= 3 && v.currentTime > 0.3)"""
)
# Each cell of the player: the grid's label it carries, the size the studio saved (the player's
# data), the file's real size, and the shape it is shown at.
CELL_FACTS = """() => {
    const root = document.querySelector(".sp-root");
    const data = JSON.parse(root.parentElement.dataset.player);
    return [...root.querySelectorAll(".sp-cell")].map((cell, i) => {
        const v = cell.querySelector("video"), box = v.getBoundingClientRect(), clip = data.clips[i];
        const [resolution, ratio] = clip.label.split(" · ");
        return {ratio, resolution, attr: [clip.width, clip.height], real: [v.videoWidth, v.videoHeight],
                shown: box.width / box.height, height: Math.round(box.height)};
    });
}"""


def make_comparison(page, base: str) -> None:
    page.goto(f"{base}/compare")
    wait_for_app(page)
    launch_comparison(page, PROMPT, cells=4, resolutions=["480p"])


def open_share_popover(page) -> None:
    wait_for_app(page)
    if not page.locator(".st-key-compare_share_create button").is_visible():
        page.locator(".st-key-compare_share_popover button").first.click()
    page.locator(".st-key-compare_share_create button").wait_for()


def test_share_a_comparison_read_only_then_revoke_it(page, browser, studio_server):
    make_comparison(page, studio_server)
    open_share_popover(page)
    page.locator(".st-key-compare_share_create button").click()
    code = page.locator("[data-testid='stCode']", has_text="/share/")
    code.wait_for(timeout=30_000)
    found = SHARE_URL.search(code.inner_text())
    assert found, code.inner_text()
    url = found.group(0)
    screenshot(page, "share-popover")

    stranger = browser.new_context(viewport={"width": 1400, "height": 1000})  # no cookies, no session
    try:
        viewer = stranger.new_page()
        answer = viewer.goto(url)
        assert answer is not None and answer.status == 200
        assert answer.headers["referrer-policy"] == "no-referrer" and "noindex" in answer.headers["x-robots-tag"]
        viewer.locator(".sp-root").wait_for()
        assert viewer.locator(EDIT_CONTROLS).count() == 0  # read-only: nothing to type in or submit
        controls = viewer.locator(CONTROLS)
        assert controls.count() > 0 and controls.count() == viewer.locator(f".sp-transport :is({CONTROLS})").count()
        assert viewer.locator("script").count() == 1  # the review player's module, served by the studio
        assert viewer.locator("video").count() == 4 == viewer.locator(".sp-root video").count()
        assert viewer.get_by_role("heading", level=1).inner_text() == "Comparison"
        assert viewer.locator("p.prompt").inner_text() == PROMPT  # once, above the grid
        viewer.get_by_role("button", name="Play / pause (space)").click()  # one transport plays all four
        viewer.wait_for_function(PLAYING, timeout=30_000)
        cells = viewer.evaluate(CELL_FACTS)
        assert {(c["resolution"], c["ratio"]): tuple(c["real"]) for c in cells} == EXPECTED  # the grid's labels
        assert len({c["height"] for c in cells}) == 1  # mixed shapes side by side at one height
        for c in cells:
            assert tuple(c["attr"]) == tuple(c["real"])  # the sizes the studio saved are the files' sizes
            assert abs(c["shown"] - c["real"][0] / c["real"][1]) < 0.02, c  # shown at its real shape
        screenshot(viewer, "share-page")
        assert viewer.locator("a.download").count() == 4 and viewer.locator("a.download").first.is_visible()
        viewer.emulate_media(media="print")  # printable: the grid stays, download links go
        assert viewer.locator("table.grid").is_visible() and not viewer.locator("a.download").first.is_visible()
        screenshot(viewer, "share-page-print")
        viewer.emulate_media(media="screen")

        open_share_popover(page)
        page.locator("[class*='st-key-compare_share_revoke_'] button").first.click()
        page.get_by_text("Revoked: that link now says so.").wait_for(timeout=30_000)

        gone = viewer.reload()
        assert gone is not None and gone.status == 410
        viewer.get_by_role("heading", name="This share link no longer works").wait_for()
        assert "revoked on" in viewer.locator("body").inner_text()
        assert viewer.locator("video").count() == 0
        screenshot(viewer, "share-revoked")
    finally:
        stranger.close()
