"""Journey: a producer compares one prompt at two aspect ratios in Chromium, puts one cell into a
new collection from its cell, then adds the whole comparison (the cell already in it stays put),
opens the collection's page, moves a take to the front and renames the collection."""

from __future__ import annotations

import re

from browser import CELLS, SCREENSHOTS, launch_comparison, screenshot, videos_ready, wait_for_app
from playwright.sync_api import expect

PROMPT = "A lantern festival over a river at night"
ITEMS = "[class*='st-key-collection_item_']"
ITEM_VIDEOS_READY = videos_ready(2, "[data-testid='stMain']")  # both play in the collection's review player
PLAYER_VIDEOS = ".sp-root video"  # (Playwright's CSS reaches into the player's shadow root)


def cards(n: int) -> str:
    "A browser condition: the Gallery shows exactly n cards."
    return f"() => document.querySelectorAll(\"[class*='st-key-gallery_card_']\").length === {n}"


def open_popover(page, key_start: str):
    "Open the first picker whose key starts so; returns its open panel."
    page.locator(f"[class*='st-key-{key_start}'][class*='_popover'] button").first.click()
    panel = page.get_by_test_id("stPopoverBody")
    panel.wait_for()
    return panel


def wait_for_order(page, ratios: list[str]) -> None:
    "Wait until the collection page shows its takes in this order (by aspect ratio): a rerun redraws them one by one."
    page.wait_for_function(
        """([selector, want]) => JSON.stringify([...document.querySelectorAll(selector)]
            .map(e => (e.innerText.match(/720p · (\\S+)/) || [])[1])) === JSON.stringify(want)""",
        arg=[ITEMS, ratios],
        timeout=15_000,
    )


def test_collections_journey(page, studio_server):
    page.goto(f"{studio_server}/compare")
    wait_for_app(page)
    launch_comparison(page, PROMPT, cells=2, timeout_ms=60_000)

    # One cell (the 9:16 one) into a new collection, from its own picker.
    tall = page.locator(CELLS, has_text="720p · 9:16")
    tall.locator("[class*='_popover'] button").click()
    panel = page.get_by_test_id("stPopoverBody")
    panel.get_by_role("textbox", name="New collection").fill("Lantern picks")
    panel.get_by_role("button", name="Create and add").click()
    tall.get_by_text("Added 1 take to “Lantern picks”.").wait_for()
    page.keyboard.press("Escape")
    wait_for_app(page)

    # Then the whole comparison into the same collection: the cell already in it is not an error.
    panel = open_popover(page, "compare_pick_all_")
    panel.get_by_role("button", name="Add", exact=True).click()
    said = page.locator("[class*='st-key-compare_pick_all_'][class*='_said']")
    said.get_by_text("Added 1 take to “Lantern picks”; 1 already in it.").wait_for()
    page.keyboard.press("Escape")
    screenshot(page, "collections-compare-picked")
    said.get_by_role("link", name="Open the collection").click()

    page.wait_for_url(re.compile(r"/collections\?id=[0-9a-f]+$"), timeout=30_000)
    board_url = page.url
    wait_for_app(page)
    page.get_by_role("heading", name="Lantern picks").wait_for()
    page.wait_for_function(ITEM_VIDEOS_READY, timeout=30_000)
    wait_for_order(page, ["9:16", "16:9"])
    sizes = page.locator(PLAYER_VIDEOS).evaluate_all("vs => vs.map(v => [v.videoWidth, v.videoHeight])")
    assert sizes == [[720, 1280], [1280, 720]]  # in the collection's order
    assert page.locator(f"{ITEMS} video").count() == 0  # no second copy on the cards

    # Reorder: the 16:9 take to the front.
    page.locator(ITEMS).nth(1).get_by_role("button", name="⏮").click()
    wait_for_order(page, ["16:9", "9:16"])
    wait_for_app(page)

    # Rename.
    page.get_by_text("Rename or describe").click()
    name = page.get_by_role("textbox", name="Name")
    name.fill("Lantern finals")
    page.get_by_role("textbox", name="Description").fill("For Friday's review")
    expect(name).to_have_value("Lantern finals")
    page.get_by_role("button", name="Save").click()
    page.get_by_role("heading", name="Lantern finals").wait_for()
    wait_for_app(page)
    page.get_by_text("For Friday's review").first.wait_for()
    screenshot(page, "collections-board")

    # A reload keeps all of it; the list shows the collection with its cover.
    page.goto(board_url)
    wait_for_app(page)
    page.get_by_role("heading", name="Lantern finals").wait_for()
    page.wait_for_function(ITEM_VIDEOS_READY, timeout=30_000)
    wait_for_order(page, ["16:9", "9:16"])
    page.get_by_role("button", name="All collections").click()
    page.wait_for_url(re.compile(r"/collections$"), timeout=15_000)
    wait_for_app(page)
    card = page.locator("[class*='st-key-collections_card_']", has_text="Lantern finals")
    card.get_by_text(re.compile(r"^2 takes · ")).wait_for()
    card.locator("img").wait_for()  # the cover
    screenshot(page, "collections-list")

    # Take the 9:16 one out: it stays in the Gallery, which, filtered to the collection, shows the other.
    card.get_by_role("button", name="Open").click()
    page.get_by_role("heading", name="Lantern finals").wait_for()
    page.wait_for_function(ITEM_VIDEOS_READY, timeout=30_000)
    page.locator(ITEMS).nth(1).get_by_role("button", name="Remove").click()
    wait_for_order(page, ["16:9"])
    page.get_by_role("link", name="Show in the Gallery").click()
    page.wait_for_url(re.compile(r"/gallery\?collection=[0-9a-f]+$"), timeout=30_000)
    assert page.url.endswith(board_url.split("?id=")[1])
    wait_for_app(page)
    page.wait_for_function(cards(1), timeout=15_000)
    page.locator("[class*='st-key-gallery_card_']", has_text="720p · 16:9").wait_for()
    page.get_by_text("Filters · 1 on: collection").click()
    shown = page.locator(".st-key-collection").evaluate(
        "e => e.innerText + ' ' + (e.querySelector('input')?.value ?? '')"
    )
    assert "Lantern finals" in shown, shown
    screenshot(page, "collections-gallery-filter")
    page.goto(page.url)  # the link alone (a bookmark, a colleague) filters the same way
    wait_for_app(page)
    page.wait_for_function(cards(1), timeout=15_000)
    page.goto(f"{studio_server}/gallery")  # and without it, the whole comparison: one stacked card
    wait_for_app(page)
    stack = page.locator("[class*='st-key-gallery_stack_']", has_text=PROMPT)
    stack.get_by_text("🔀 Comparison · 2 cells").wait_for(timeout=15_000)

    # On a phone the board is one column: every take fits the screen's width.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(board_url)
    wait_for_app(page)
    page.get_by_role("heading", name="Lantern finals").wait_for()
    page.locator(PLAYER_VIDEOS).first.wait_for()
    for shown in (page.locator(ITEMS).first, page.locator(PLAYER_VIDEOS).first, page.locator(".sp-transport")):
        frame = shown.bounding_box()
        assert frame is not None and frame["x"] >= 0 and frame["x"] + frame["width"] <= 390, frame
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)  # the viewport as it is (the helper widens it)
    page.screenshot(path=str(SCREENSHOTS / "collections-board-phone.png"))
