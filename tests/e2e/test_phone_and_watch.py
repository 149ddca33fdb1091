"""Journeys in Chromium: a run launched on Create is announced by a toast on the Gallery page when
it ends (the sidebar's watch), and the Gallery on a phone (390 × 844): the mode is shown above
the page, the folded filters leave the first card on the first screen, and the page number in
the link survives a reload."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from browser import StudioServer, screenshot, wait_for_app
from PIL import Image
from playwright.sync_api import Page, ViewportSize, expect

from studio.models import VideoGenerationParams
from studio.settings import Settings
from studio.store import HistoryStore

PHONE: ViewportSize = {"width": 390, "height": 844}
RUN_TIMEOUT_MS = 90_000
SLOW_RUN_S = "40"  # the run must still be going when the person reaches the Gallery, even on a busy machine
CARD = "[class*='st-key-gallery_card_']"
SHOTS = 30  # two gallery pages of 24


@pytest.fixture(scope="module")
def filled_studio(tmp_path_factory):
    "A studio whose history already holds SHOTS finished takes with thumbnails."
    data = tmp_path_factory.mktemp("e2e-filled")
    settings = Settings(data_dir=data)
    settings.media_dir.mkdir(parents=True, exist_ok=True)
    store = HistoryStore(settings.db_path)
    for i in range(SHOTS):
        gen_id = store.add_generation(VideoGenerationParams(prompt=f"Lighthouse shot {i}", resolution="480p"))
        Image.new("RGB", (320, 180), (20 + 7 * i, 60, 120)).save(settings.media_dir / f"{gen_id}.jpg")
        store.update(gen_id, status="done", thumb_path=f"{gen_id}.jpg", created_at=f"2026-11-01T10:{i:02d}:00+00:00")
    store.close()
    server = StudioServer(Path(data)).start()
    yield server.base
    server.stop()


# Records the browser notifications the page shows (their text), and keeps them from the desktop.
RECORD_NOTIFICATIONS = """
window.__notes = [];
class RecordedNotification { constructor(title, options) { window.__notes.push([title, options.body]); } }
RecordedNotification.permission = "granted";
RecordedNotification.requestPermission = async () => "granted";
window.Notification = RecordedNotification;
"""


@pytest.fixture(scope="module")
def slow_studio(tmp_path_factory):
    "A studio whose runs take long enough that one launched on Create ends after the person has left."
    server = StudioServer(tmp_path_factory.mktemp("e2e-slow"), STUDIO_SIM_LATENCY=SLOW_RUN_S).start()
    yield server.base
    server.stop()


def test_a_run_launched_on_create_is_announced_on_the_gallery(page: Page, slow_studio):
    page.add_init_script(RECORD_NOTIFICATIONS)
    page.goto(slow_studio)
    wait_for_app(page)
    box = page.locator(".st-key-create_prompt textarea")
    box.fill("A heron lands on a pier at dawn")
    box.press("Control+Enter")
    wait_for_app(page)
    page.locator(".st-key-create_run button").click()
    page.wait_for_url(re.compile(r"[?&]jobs="), timeout=30_000)  # launched (the page says so), then leave
    wait_for_app(page)
    page.get_by_test_id("stSidebarNavItems").get_by_role("link", name="Gallery").click()
    wait_for_app(page)
    expect(page.get_by_role("heading", name="Gallery")).to_be_visible()
    toast = page.get_by_test_id("stToast").filter(has_text="Your run finished")
    expect(toast).to_be_visible(timeout=RUN_TIMEOUT_MS)
    page.wait_for_function("() => window.__notes.length > 0", timeout=5_000)
    assert page.evaluate("window.__notes") == [["Mosaic Prompt Studio", "Your run finished: the video is ready."]]
    screenshot(page, "watch-toast-on-gallery")


def test_gallery_on_a_phone(page: Page, filled_studio):
    page.set_viewport_size(PHONE)
    page.goto(f"{filled_studio}/gallery?page=2")
    wait_for_app(page)
    expect(page.locator(".st-key-studio_mode_badge")).to_contain_text("Simulator mode")
    expect(page.locator(".st-key-studio_mode_badge")).to_be_visible()
    first = page.locator(CARD).first
    expect(page.get_by_text("page 2 of 2").first).to_be_visible()
    expect(first).to_contain_text("Lighthouse shot")
    expect(page.locator(".st-key-q input")).to_be_visible(timeout=20_000)  # widgets draw after the text when loaded
    page.wait_for_function(
        # Thumbnails are hover-preview videos whose poster is the picture: every card has one.
        "() => [...document.querySelectorAll(\"[class*='st-key-gallery_card_']\")]"
        ".every(c => c.querySelector('video.studio-hover')?.poster)",
        timeout=10_000,
    )
    box = first.bounding_box()
    assert box is not None and box["y"] < PHONE["height"], box  # the first card starts on the first screen
    page.screenshot(path=str(screenshot_path("gallery-phone")))
    page.reload()
    wait_for_app(page)
    expect(page.get_by_text("page 2 of 2").first).to_be_visible()
    assert "page=2" in page.evaluate("location.href")
    page.locator(".st-key-gallery_filters summary").click()
    expect(page.locator(".st-key-resolution")).to_be_visible()
    page.wait_for_timeout(400)  # let the panel finish opening before the picture
    page.screenshot(path=str(screenshot_path("gallery-phone-filters-open")))


def screenshot_path(name: str) -> Path:
    "A viewport-sized screenshot's path (the helper's full-height shot resizes to desktop width)."
    from browser import SCREENSHOTS

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS / f"{name}.png"
