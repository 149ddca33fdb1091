"""A producer's journey through Create in a real Chromium: write a prompt, pick 480p / 9:16 / 4 s,
run it, watch it finish and play at 496x864; refresh mid-run and still see the progress; look at Status.
Then a quick double click on Run launches once, and four landscape takes sit two a row at their own shape."""

from __future__ import annotations

import re

import pytest
from browser import screenshot, wait_for_app
from playwright.sync_api import Page, expect

from studio.store import GalleryQuery, HistoryStore

RUN_TIMEOUT_MS = 45_000
VIDEO_SIZE_JS = """(selector) => {
    const v = document.querySelector(selector);
    return v && v.readyState >= 2 && v.videoWidth ? [v.videoWidth, v.videoHeight, v.currentSrc] : null;
}"""
RESULT_VIDEO = ".st-key-create_results video"
PROGRESS = ".st-key-create_results [data-testid=stProgress]"


def choose(page: Page, key: str, option: str) -> None:
    "Pick an option in a selectbox the way a person does: open it, click the option."
    page.locator(f".st-key-{key} [role=combobox]").click()
    page.get_by_role("option", name=option, exact=True).click()
    wait_for_app(page)


def nav(page: Page, name: str) -> None:
    "Go to a page through the sidebar, as a person does."
    page.locator("[data-testid=stSidebarNav]").get_by_role("link", name=name, exact=True).click()


def write_prompt(page: Page, text: str) -> None:
    box = page.locator(".st-key-create_prompt textarea")
    box.fill(text)
    box.press("Control+Enter")  # how Streamlit applies a text area without leaving it
    expect(page.locator(".st-key-create_prompt_box")).to_contain_text(f"{len(text)} / 5,000 characters")
    wait_for_app(page)


def video_size(page: Page) -> list:
    "Width, height and source of the result video once its metadata and first frame have loaded."
    return page.wait_for_function(VIDEO_SIZE_JS, arg=RESULT_VIDEO, timeout=RUN_TIMEOUT_MS).json_value()


def test_create_run_refresh_and_status(page: Page, studio_server):
    page.goto(studio_server)
    wait_for_app(page)
    expect(page.get_by_role("heading", name="Create")).to_be_visible()
    expect(page.locator(".st-key-create_run_box")).to_contain_text("the local simulator")

    # First generation: 480p, 9:16, 4 s.
    write_prompt(page, "A paper boat sails down a rainy neon street, slow dolly-in")
    page.locator(".st-key-create_resolution").get_by_text("480p", exact=True).click()
    wait_for_app(page)
    choose(page, "create_aspect_ratio", "9:16 vertical")
    choose(page, "create_duration", "4 s")
    expect(page.locator(".st-key-create_run_box")).to_contain_text("1 run · 4 s of video")
    page.locator(".st-key-create_run button").click()

    expect(page.locator(PROGRESS)).to_be_visible(timeout=10_000)
    expect(page).to_have_url(re.compile(r"\?jobs=[0-9a-f]+"))
    screenshot(page, "create-running")

    width, height, first_src = video_size(page)
    assert (width, height) == (496, 864)
    assert "/files/" in first_src
    results = page.locator(".st-key-create_results")
    expect(results).to_contain_text("496×864 · 4.0 s · audio")
    expect(page.locator(PROGRESS)).to_have_count(0)
    screenshot(page, "create-done")

    # Second generation: refresh the browser while it runs; the progress comes back from the URL.
    write_prompt(page, "The same boat at sunrise, drone shot rising over the rooftops")
    page.locator(".st-key-create_resolution").get_by_text("1080p", exact=True).click()
    wait_for_app(page)
    choose(page, "create_duration", "15 s")
    page.locator(".st-key-create_run button").click()
    expect(page.locator(PROGRESS)).to_be_visible(timeout=10_000)
    url_before = page.evaluate("location.href")  # page.url can lag behind Streamlit's history updates
    assert "jobs=" in url_before
    page.reload()
    wait_for_app(page)
    assert page.evaluate("location.href") == url_before
    expect(page.locator(PROGRESS)).to_be_visible(timeout=10_000)
    expect(results).to_contain_text("The same boat at sunrise")

    # Status, while the second one runs, then back to Create: the run is still there.
    nav(page, "Status")
    wait_for_app(page)
    expect(page.get_by_role("heading", name="Status")).to_be_visible()
    expect(page.get_by_text("Simulator", exact=True)).to_be_visible()
    expect(page.get_by_text("Works", exact=True)).to_be_visible()
    screenshot(page, "status")
    nav(page, "Create")
    wait_for_app(page)

    width, height, second_src = video_size(page)
    assert (width, height) == (1080, 1920) and second_src != first_src
    expect(results).to_contain_text("1080×1920 · 15.0 s · audio")


def test_a_double_click_on_run_makes_one_launch_and_landscape_takes_fill_their_boxes(
    page: Page, studio_server, tmp_path_factory
):
    page.goto(studio_server)
    wait_for_app(page)
    write_prompt(page, "A wide desert road at noon, heat haze, a red car far away")
    page.locator(".st-key-create_resolution").get_by_text("480p", exact=True).click()
    wait_for_app(page)
    choose(page, "create_aspect_ratio", "16:9 wide")
    choose(page, "create_duration", "4 s")
    takes = page.locator(".st-key-create_takes input")
    takes.fill("4")
    takes.press("Enter")
    wait_for_app(page)

    run = page.locator(".st-key-create_run button")
    run.click()
    page.wait_for_timeout(150)  # a second click 150 ms later, as a quick double click
    run.click(force=True)
    expect(page.locator(PROGRESS)).to_have_count(4, timeout=10_000)
    wait_for_app(page)
    expect(page.locator(".st-key-create_results [data-testid=stProgress]")).to_have_count(0, timeout=RUN_TIMEOUT_MS)
    videos = page.locator(RESULT_VIDEO)
    expect(videos).to_have_count(4)
    page.wait_for_function(
        "(s) => [...document.querySelectorAll(s)].every(v => v.readyState >= 2)",
        arg=RESULT_VIDEO,
        timeout=RUN_TIMEOUT_MS,
    )
    # Two a row (once the page has settled: a rerun on a busy machine briefly shifts what is below it).
    page.wait_for_function(
        """(s) => { const b = [...document.querySelectorAll(s)].map(v => v.getBoundingClientRect());
            return b.length === 4 && Math.abs(b[0].y - b[1].y) <= 2 && b[2].y > b[0].y + b[0].height; }""",
        arg=RESULT_VIDEO,
        timeout=15_000,
    )
    screenshot(page, "create-four-landscape-takes")
    # Two a row, each box the video's own 16:9 shape: no tall narrow black boxes.
    boxes = [box for i in range(4) if (box := videos.nth(i).bounding_box()) is not None]
    assert len(boxes) == 4
    for box in boxes:
        assert box["width"] / box["height"] == pytest.approx(16 / 9, rel=0.03)
    assert boxes[0]["y"] == pytest.approx(boxes[1]["y"], abs=2) and boxes[2]["y"] > boxes[0]["y"] + boxes[0]["height"]
    # One launch: the history holds exactly four takes of this prompt.
    dbs = tmp_path_factory.getbasetemp().glob("e2e-data[0-9]*/studio.db")  # not the "current" link
    assert sum(HistoryStore(db).count(GalleryQuery(text="desert road heat haze")) for db in dbs) == 4
