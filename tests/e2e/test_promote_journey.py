"""Journey: a producer makes a 480p 4 s draft on Create, opens it in the Gallery, promotes it to a
720p final (the dialog shows the cost difference and the seed note before launch), launches it,
comes back when it is done and sees draft and final side by side with the chain between them, then
filters the Gallery to finals, all in a real Chromium."""

from __future__ import annotations

import re
import time

from browser import screenshot, wait_for_app
from playwright.sync_api import Page, expect

PROMPT = "A paper kite over red dunes at dawn, slow tilt up"
RUN_TIMEOUT_MS = 45_000
FINAL_TIMEOUT_S = 60
DIALOG = "[role=dialog]"
CARD = "[class*='st-key-gallery_card_']"
CHAIN = "[class*='st-key-detail_lineage_'][class*='_chain']"


def choose(page: Page, where, option: str) -> None:
    "Open a selectbox (a locator around it) and click the option, as a person does."
    where.locator("[role=combobox]").click()
    page.get_by_role("option", name=option, exact=True).click()
    wait_for_app(page)


def sizes(page: Page, within: str) -> list[list[int]]:
    """Width and height of every video inside `within` (the review player's too: locators see into
    its shadow root), once each has loaded its first frame."""
    videos = page.locator(f"{within} video")
    deadline = time.monotonic() + RUN_TIMEOUT_MS / 1000
    while True:
        found = videos.evaluate_all("els => els.map(v => [v.readyState, v.videoWidth, v.videoHeight])")
        if found and all(ready >= 2 and width > 0 for ready, width, _ in found):
            return [[width, height] for _, width, height in found]
        assert time.monotonic() < deadline, f"videos not loaded: {found}"
        time.sleep(0.25)


def test_promote_a_draft_to_a_final_and_see_them_side_by_side(page: Page, studio_server):
    # The draft, made as a person makes one: 480p, 16:9, 4 s.
    page.goto(studio_server)
    wait_for_app(page)
    page.locator(".st-key-create_resolution").get_by_text("480p", exact=True).click()
    wait_for_app(page)
    choose(page, page.locator(".st-key-create_aspect_ratio"), "16:9 wide")
    choose(page, page.locator(".st-key-create_duration"), "4 s")
    prompt = page.locator(".st-key-create_prompt textarea")
    prompt.fill(PROMPT)
    prompt.press("Control+Enter")
    wait_for_app(page)
    page.locator(".st-key-create_run button").click()
    expect(page.locator(".st-key-create_results")).to_contain_text("864×496 · 4.0 s · audio", timeout=RUN_TIMEOUT_MS)

    # Gallery: open the finished take; Promote closes the detail and opens the Promote dialog.
    page.locator("[data-testid=stSidebarNav]").get_by_role("link", name="Gallery", exact=True).click()
    wait_for_app(page)
    page.locator(CARD, has_text=PROMPT).first.get_by_role("button", name="Open").click()
    dialog = page.locator(DIALOG)
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="⬆️ Promote").click()
    expect(dialog.get_by_role("heading", name="Promote to a final")).to_be_visible(timeout=10_000)
    wait_for_app(page)

    # The target: 720p is the default (the next resolution up); a short final keeps the journey quick.
    resolution = dialog.locator("[class*='st-key-promote_'][class*='_resolution']")
    expect(resolution.get_by_role("combobox")).to_have_value("720p")
    choose(page, dialog.locator("[class*='st-key-promote_'][class*='_duration']"), "6")
    cost = dialog.locator("[data-testid=stAlertContentInfo]")
    expect(cost).to_contain_text(re.compile(r"480p 4 s → 720p 6 s: about 3\.2× the tokens · ready in about \d"))
    expect(dialog).to_contain_text("Seeds are best effort on Seedance 2: a final is a new take, not an upscale.")
    screenshot(page, "promote-dialog")

    dialog.get_by_role("button", name="🚀 Launch the final").click()
    expect(dialog).to_contain_text("Launched the final (720p · 16:9 · 6 s · audio). While it runs", timeout=10_000)
    expect(page.locator("[data-testid=stSidebar]")).to_contain_text("of yours in flight", timeout=10_000)
    dialog.get_by_role("button", name="Open the final in the Gallery").click()
    expect(dialog.locator(CHAIN)).to_contain_text("Draft", timeout=10_000)
    expect(dialog.locator(CHAIN)).to_contain_text("This take")

    # Come back once it is done (the sidebar stops counting it): the detail plays draft and final side by side.
    sidebar = page.locator("[data-testid=stSidebar]")
    expect(sidebar).not_to_contain_text("of yours in flight", timeout=FINAL_TIMEOUT_S * 1000)
    page.reload()
    wait_for_app(page)
    expect(dialog.get_by_text("Final · 720p · 16:9 · 6 s · audio")).to_be_visible(timeout=15_000)
    expect(dialog).to_contain_text("Draft · 480p · 16:9 · 4 s · audio")
    all_sizes = sizes(page, DIALOG)
    assert [864, 496] in all_sizes and all_sizes.count([1280, 720]) == 2, all_sizes  # the final, twice: top and pair
    dialog.locator(CHAIN).scroll_into_view_if_needed()
    wait_for_app(page)
    screenshot(page, "promote-side-by-side")

    # The chain links back to the draft, whose own chain names its final.
    dialog.locator(CHAIN).get_by_role("button", name="Open").click()
    expect(dialog.locator(CHAIN)).to_contain_text("Final", timeout=10_000)
    expect(dialog.locator(CHAIN)).to_contain_text("This take")

    # The Gallery filtered to finals shows the one final.
    page.goto(f"{studio_server}/gallery?stage=finals")
    wait_for_app(page)
    expect(page.locator(CARD)).to_have_count(1, timeout=10_000)
    expect(page.locator(CARD)).to_contain_text("final of a draft")
