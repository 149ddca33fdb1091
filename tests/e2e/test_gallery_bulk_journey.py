"""Journey: in a real Chromium, a producer previews a take by hovering its thumbnail, ticks three
cards, stars and tags them together, deletes one after confirming, and opens a comparison (one
stacked card) into its cells and goes back. The history is written before the server starts:
real little clips and thumbnails, so the previews really play."""

from __future__ import annotations

import shutil

import pytest
from browser import StudioServer, screenshot, wait_for_app
from media_files import clip, picture
from playwright.sync_api import Page, expect

from studio.models import VideoGenerationParams
from studio.store import HistoryStore

CARD = "[class*='st-key-gallery_card_']"
STACK = "[class*='st-key-gallery_stack_']"
BAR = ".st-key-gallery_bulk"
CLIP_SECONDS = 4


def _finish(store: HistoryStore, media, gen_id: str, video, thumb) -> None:
    shutil.copy(video, media / f"{gen_id}.mp4")
    shutil.copy(thumb, media / f"{gen_id}.jpg")
    store.update(
        gen_id,
        status="done",
        video_path=f"{gen_id}.mp4",
        thumb_path=f"{gen_id}.jpg",
        width=64,
        height=64,
        duration_s=float(CLIP_SECONDS),
        has_audio=0,
    )


@pytest.fixture
def gallery_server(tmp_path):
    "A studio whose history holds five finished takes and one finished 2 × 2 comparison."
    data = tmp_path / "studio"
    media = data / "media"
    media.mkdir(parents=True)
    video = clip(tmp_path / "clip.mp4", seconds=CLIP_SECONDS)
    thumb = picture(tmp_path / "thumb.jpg", 160, 90, "JPEG")
    store = HistoryStore(data / "studio.db")
    for i in range(5):
        _finish(store, media, store.add_generation(VideoGenerationParams(prompt=f"Take number {i}")), video, thumb)
    cells = [
        (VideoGenerationParams(prompt="A kite over the sea", resolution=r, aspect_ratio=a), f"{r} · {a}")
        for r in ("480p", "720p")
        for a in ("16:9", "9:16")
    ]
    axes = {"resolutions": ["480p", "720p"], "aspect_ratios": ["16:9", "9:16"]}
    _grid_id, ids = store.add_grid(prompt="A kite over the sea", axes=axes, cells=cells)
    for gen_id in ids:
        _finish(store, media, gen_id, video, thumb)
    store.close()
    server = StudioServer(data).start()
    yield server.base
    server.stop()


SETTLE_MS = 20_000  # on a loaded 2-core machine the widgets can take seconds to come back after a rerun


def settle(page: Page) -> None:
    wait_for_app(page)
    expect(page.locator(".st-key-q input")).to_be_visible(timeout=SETTLE_MS)
    wait_for_app(page)


def press(page: Page, key: str) -> None:
    "Click a button by its widget key once the page has settled (a rerun briefly shows old copies)."
    wait_for_app(page)
    button = page.locator(f".st-key-{key} button")
    expect(button).to_have_count(1)
    button.click()
    wait_for_app(page)


def card(page: Page, n: int):
    return page.locator(CARD, has_text=f"Take number {n}")


def test_hover_previews_and_tick_star_tag_delete_and_open_a_comparison(page: Page, gallery_server):
    page.goto(gallery_server + "/gallery")
    settle(page)
    expect(page.locator(CARD)).to_have_count(5)
    expect(page.locator(STACK)).to_have_count(1)  # four cells, one card
    stack = page.locator(STACK)
    expect(stack).to_contain_text("4 cells · 480p/720p × 16:9/9:16")

    # Hover: the thumbnail's video plays, muted; nothing was loaded before.
    first = card(page, 4).locator("video.studio-hover")
    assert first.evaluate("v => v.preload") == "none" and first.evaluate("v => v.readyState") == 0
    first.hover()
    page.wait_for_function(
        "() => { const v = document.querySelector(\"[class*='st-key-gallery_card_'] video.studio-hover:hover\");"
        " return v && !v.paused && v.currentTime > 0 && v.muted; }",
        timeout=15_000,
    )
    screenshot(page, "gallery-hover")
    page.mouse.move(5, 5)  # away: paused and back to the start
    page.wait_for_function("(v) => v.paused && v.currentTime === 0", arg=first.element_handle(), timeout=5_000)

    # Tick three cards: the bar counts them; star and tag them together.
    for k, n in enumerate((4, 3, 2), start=1):
        card(page, n).get_by_text("Select", exact=True).click()
        expect(page.locator(BAR)).to_contain_text(f"{k} take{'s' if k > 1 else ''} selected")
        wait_for_app(page)
    press(page, "gallery_bulk_star")
    expect(page.locator(BAR)).to_contain_text("Starred 3 takes")
    for n in (4, 3, 2):
        expect(card(page, n)).to_contain_text("⭐")
    expect(card(page, 1)).not_to_contain_text("⭐")
    page.locator(".st-key-gallery_bulk_tag input").fill("client A")
    page.locator(".st-key-gallery_bulk_tag input").press("Enter")
    wait_for_app(page)
    press(page, "gallery_bulk_tag_add")
    for n in (4, 3, 2):
        expect(card(page, n)).to_contain_text("client A")
    screenshot(page, "gallery-bulk-starred-tagged")

    # Delete one: clear, tick it, confirm in the Delete popover.
    press(page, "gallery_select_clear")
    expect(page.locator(BAR)).to_have_count(0, timeout=SETTLE_MS)  # nothing ticked: no bar
    settle(page)
    card(page, 2).get_by_text("Select", exact=True).click()
    wait_for_app(page)
    expect(page.locator(BAR)).to_contain_text("1 take selected")
    page.get_by_role("button", name="Delete 1…").click()
    delete = page.locator(".st-key-gallery_bulk_delete button")
    expect(delete).to_be_disabled()
    page.get_by_text("Yes, delete this take").click()
    wait_for_app(page)
    expect(delete).to_be_enabled()
    delete.click()
    wait_for_app(page)
    expect(page.get_by_text("Deleted 1 take and its files.")).to_be_visible()
    expect(page.locator(BAR)).to_have_count(0)  # nothing selected any more: the bar folds to one button
    expect(page.locator(CARD)).to_have_count(4)
    expect(card(page, 2)).to_have_count(0)
    expect(card(page, 3)).to_contain_text("client A")  # the others are untouched

    # The comparison opens into its cells (a link that can be sent) and back.
    page.locator(STACK).get_by_role("button", name="Open its 4 cells").click()
    page.wait_for_function("() => location.href.includes('grid_id=')", timeout=10_000)
    settle(page)
    expect(page.locator(CARD)).to_have_count(4)
    expect(page.locator(STACK)).to_have_count(0)
    screenshot(page, "gallery-comparison-cells")
    page.get_by_role("button", name="← Back to the gallery").click()
    page.wait_for_function("() => !location.href.includes('grid_id=')", timeout=10_000)
    settle(page)
    expect(page.locator(STACK)).to_have_count(1)
    expect(page.locator(CARD)).to_have_count(4)
    screenshot(page, "gallery-stacked")
