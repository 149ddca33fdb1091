"""Journey (issue 8, "done when"): two people on one studio server, each known by the name they
typed, build one collection together: Ana from Compare (her whole comparison), Ben from the
Gallery (a take of his own, ticked, added from the bulk bar). Ana shares the collection; a third
person opens the link in a fresh browser with nothing to log into and sees it read-only, every
video playing at its size. Ana downloads it as a ZIP whose index.html, opened from disk with no
server, plays every take."""

from __future__ import annotations

import re
import zipfile

from browser import StudioServer, launch_comparison, screenshot, type_name, wait_for_app
from playwright.sync_api import Page, expect

ANA_PROMPT = "A lantern festival over a river at night"
BEN_PROMPT = "A heron lands on a pier at dawn"
ITEMS = "[class*='st-key-collection_item_']"
BOARD = "Friday board"
SHARE_URL = re.compile(r"http://127\.0\.0\.1:\d+/share/[A-Za-z0-9_-]{43}")
EDIT_CONTROLS = "textarea, form, [contenteditable], [onclick]"
CONTROLS = "input, button, select, [role=button]"  # on a share page: only the review player's transport
RUN_TIMEOUT_MS = 90_000
VIDEO_FACTS = """() => [...document.querySelectorAll("video")].map(v => ({
    ready: v.readyState, real: [v.videoWidth, v.videoHeight],
    attr: [+v.getAttribute("width"), +v.getAttribute("height")]}))"""
# The share page's review player: each video's real size and the size the studio saved (its data).
PLAYER_FACTS = """() => { const data = JSON.parse(document.querySelector("[data-player]").dataset.player);
    return [...document.querySelectorAll("video")].map((v, i) => ({
        ready: v.readyState, real: [v.videoWidth, v.videoHeight],
        attr: [data.clips[i].width, data.clips[i].height]})); }"""
ALL_READY = """(n) => { const v = [...document.querySelectorAll("video")];
    return v.length === n && v.every(x => x.readyState >= 2 && x.videoWidth > 0); }"""
# What Seedance 2 makes at 720p (seedance-2.md): the sizes every player must show.
SIZES = {(1280, 720), (720, 1280)}


def ana_compares_and_collects(page: Page, base: str) -> str:
    "Ana runs a 720p comparison at 16:9 and 9:16 and puts all of it into a new collection; its URL."
    page.goto(f"{base}/compare")
    wait_for_app(page)
    type_name(page, "Ana")
    expect(page.locator(".st-key-studio_identity")).to_contain_text("You are Ana")
    launch_comparison(page, ANA_PROMPT, cells=2, timeout_ms=RUN_TIMEOUT_MS)
    page.locator("[class*='st-key-compare_pick_all_'][class*='_popover'] button").first.click()
    panel = page.get_by_test_id("stPopoverBody")
    panel.get_by_role("textbox", name="New collection").fill(BOARD)
    panel.get_by_role("button", name="Create and add").click()
    said = page.locator("[class*='st-key-compare_pick_all_'][class*='_said']")
    said.get_by_text(f"Added 2 takes to “{BOARD}”.").wait_for(timeout=30_000)
    page.keyboard.press("Escape")
    screenshot(page, "team-ana-compare")
    said.get_by_role("link", name="Open the collection").click()
    page.wait_for_url(re.compile(r"/collections\?id=[0-9a-f]+$"), timeout=30_000)
    return page.url


def ben_makes_a_take_and_adds_it_from_the_gallery(page: Page, base: str) -> None:
    "Ben makes one 720p 9:16 take on Create, finds it in the Gallery under his name, ticks it, adds it."
    page.goto(base)
    wait_for_app(page)
    type_name(page, "Ben")
    expect(page.locator(".st-key-studio_identity")).to_contain_text("You are Ben")
    box = page.locator(".st-key-create_prompt textarea")
    box.fill(BEN_PROMPT)
    box.press("Control+Enter")
    wait_for_app(page)
    for key, option in (("create_aspect_ratio", "9:16 vertical"), ("create_duration", "4 s")):
        page.locator(f".st-key-{key} [role=combobox]").click()
        page.get_by_role("option", name=option, exact=True).click()
        wait_for_app(page)
    page.locator(".st-key-create_resolution").get_by_text("720p", exact=True).click()
    page.locator(".st-key-create_run button").click()
    page.wait_for_selector(".st-key-create_results video", timeout=RUN_TIMEOUT_MS)

    page.goto(f"{base}/gallery?whose=mine")
    wait_for_app(page)
    cards = page.locator("[class*='st-key-gallery_card_']")
    expect(cards).to_have_count(1, timeout=30_000)  # his take only: Ana's comparison is hers
    expect(cards.first).to_contain_text("by Ben")
    cards.first.get_by_text("Select", exact=True).click()
    bar = page.locator(".st-key-gallery_bulk")
    expect(bar).to_contain_text("1 take selected")
    wait_for_app(page)
    page.locator(".st-key-gallery_bulk_collection_popover button").first.click()
    panel = page.get_by_test_id("stPopoverBody")
    panel.get_by_role("button", name="Add", exact=True).click()  # the newest collection is chosen
    page.get_by_text(f"Added 1 take to “{BOARD}”.").wait_for(timeout=30_000)
    page.keyboard.press("Escape")
    screenshot(page, "team-ben-gallery")


def test_two_people_build_a_collection_share_it_and_download_it(browser, tmp_path):
    server = StudioServer(tmp_path / "data").start()
    contexts = [browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True) for _ in "ab"]
    try:
        ana, ben = (c.new_page() for c in contexts)
        board_url = ana_compares_and_collects(ana, server.base)
        ben_makes_a_take_and_adds_it_from_the_gallery(ben, server.base)

        # Ana's collection page now holds all three takes, each with who made it and who added it.
        ana.goto(board_url)
        wait_for_app(ana)
        ana.get_by_role("heading", name=BOARD).wait_for()
        items = ana.locator(ITEMS)
        expect(items).to_have_count(3, timeout=30_000)
        expect(items.nth(0)).to_contain_text("by Ana · added by Ana")
        expect(items.nth(2)).to_contain_text("by Ben · added by Ben")
        expect(ana.get_by_text(re.compile(r"^Owner: Ana · 3 takes"))).to_be_visible()
        screenshot(ana, "team-collection")

        # Ana shares it; the link is shown once, to copy.
        coll_id = board_url.rsplit("=", 1)[1]
        ana.locator(f".st-key-collection_share_{coll_id}_popover button").first.click()
        ana.locator(f".st-key-collection_share_{coll_id}_create button").click()
        code = ana.locator("[data-testid='stCode']", has_text="/share/")
        code.wait_for(timeout=30_000)
        found = SHARE_URL.search(code.inner_text())
        assert found, code.inner_text()
        ana.keyboard.press("Escape")

        # A third person: a fresh browser, no cookies, nothing to log into; read-only, every video plays.
        stranger = browser.new_context(viewport={"width": 1400, "height": 1000})
        try:
            viewer = stranger.new_page()
            answer = viewer.goto(found.group(0))
            assert answer is not None and answer.status == 200
            assert viewer.locator(EDIT_CONTROLS).count() == 0
            controls = viewer.locator(CONTROLS)
            assert controls.count() == viewer.locator(f".sp-transport :is({CONTROLS})").count() > 0
            assert viewer.get_by_role("heading", level=1).inner_text() == BOARD
            body = viewer.locator("body").inner_text()
            assert ANA_PROMPT in body and BEN_PROMPT in body and "Ana" in body and "Ben" in body
            viewer.wait_for_function(ALL_READY, arg=3, timeout=30_000)
            facts = viewer.evaluate(PLAYER_FACTS)
            assert {tuple(f["real"]) for f in facts} == SIZES and len(facts) == 3
            assert all(f["attr"] == f["real"] for f in facts)  # shown at the sizes the studio saved
            viewer.get_by_role("button", name="Play / pause (space)").click()  # one transport plays all three
            viewer.wait_for_function(
                "() => [...document.querySelectorAll('video')].every(v => v.currentTime > 0.3)", timeout=30_000
            )
            screenshot(viewer, "team-share-page")
        finally:
            stranger.close()

        # Ana downloads the collection as a ZIP; its index.html plays every take from disk.
        ana.locator(f".st-key-collection_export_{coll_id}_export summary").click()
        wait_for_app(ana)
        ana.locator(f".st-key-collection_export_{coll_id}_start button").click()
        link = ana.locator(".studio-export-links a").first
        link.wait_for(timeout=200_000)
        with ana.expect_download() as info:
            link.click()
        zipped = tmp_path / info.value.suggested_filename
        info.value.save_as(zipped)
        folder = tmp_path / "unzipped"
        with zipfile.ZipFile(zipped) as z:
            z.extractall(folder)
        offline = contexts[0].new_page()
        offline.goto((folder / "index.html").as_uri())
        offline.wait_for_function(ALL_READY, arg=3, timeout=30_000)
        facts = offline.evaluate(VIDEO_FACTS)
        assert {tuple(f["real"]) for f in facts} == SIZES
        text = offline.locator("body").inner_text()
        assert BOARD in text and ANA_PROMPT in text and BEN_PROMPT in text
        screenshot(offline, "team-export-offline")
    finally:
        for context in contexts:
            context.close()
        server.stop()
