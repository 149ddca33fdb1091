"""Journey: a producer exports a comparison from Compare in Chromium (ZIP, contact sheet, comparison
video), downloads the files, unzips the ZIP and opens its index.html from disk (file://, no
server): every video plays at its own size. The contact sheet and the comparison video are probed."""

from __future__ import annotations

import json
import zipfile

import av
from browser import launch_comparison, screenshot, wait_for_app
from PIL import Image

from studio import exports

PROMPT = "A <b>neon</b> tram crossing a bridge at night"
SIZES = {(864, 496), (496, 864), (1280, 720), (720, 1280)}  # 480p/720p × 16:9/9:16
ALL_PLAYABLE = """() => {
    const v = [...document.querySelectorAll("video")];
    return v.length > 0 && v.every(x => x.readyState >= 2 && x.videoWidth > 0);
}"""


def test_export_a_comparison_and_open_it_offline(page, studio_server, tmp_path):
    page.goto(f"{studio_server}/compare")
    wait_for_app(page)
    launch_comparison(page, PROMPT, cells=4, resolutions=["480p"])

    page.locator(".st-key-compare_grid_export summary").click()
    page.locator(".st-key-compare_grid_kind_sheet label").click()
    page.locator(".st-key-compare_grid_kind_video label").click()
    wait_for_app(page)
    page.locator(".st-key-compare_grid_start button").click()
    links = page.locator(".studio-export-links a")
    links.first.wait_for(timeout=200_000)  # ffmpeg runs under nice: slow on a busy machine
    assert links.count() == 3
    screenshot(page, "export-ready")

    saved = {}
    for i in range(3):
        with page.expect_download() as info:
            links.nth(i).click()
        download = info.value
        path = tmp_path / download.suggested_filename
        download.save_as(path)
        saved[path.suffix] = path
    assert set(saved) == {".zip", ".png", ".mp4"}

    folder = tmp_path / "unzipped"
    with zipfile.ZipFile(saved[".zip"]) as z:
        z.extractall(folder)
    meta = json.loads((folder / "metadata.json").read_text())
    assert meta["count"] == 4 and {i["prompt"] for i in meta["items"]} == {PROMPT}

    offline = page.context.new_page()
    offline.goto((folder / "index.html").as_uri())
    offline.wait_for_function(ALL_PLAYABLE, timeout=30_000)
    shown = offline.evaluate(
        "() => [...document.querySelectorAll('video')].map(v => [v.videoWidth, v.videoHeight, "
        "+v.getAttribute('width'), +v.getAttribute('height'), v.readyState])"
    )
    assert len(shown) == 4
    assert {(w, h) for w, h, *_ in shown} == SIZES
    assert all((w, h) == (aw, ah) and ready >= 2 for w, h, aw, ah, ready in shown)
    # The prompt is shown as text, not markup: the <b> is there to read.
    assert offline.locator(".prompt").first.inner_text() == PROMPT
    assert offline.locator("b").count() == 0
    assert offline.locator("table.grid th", has_text="720p").count() == 1
    screenshot(offline, "export-index-offline")
    offline.close()

    # An X/Y plot: 2 resolutions across, 2 ratios down, one table.
    cell, gap = exports.SHEET_CELL, exports.SHEET_GAP
    with Image.open(saved[".png"]) as sheet:
        assert sheet.format == "PNG"
        assert sheet.size == (
            2 * exports.SHEET_MARGIN + exports.SHEET_ROW_LABEL_W + 2 * (cell + gap),
            2 * exports.SHEET_MARGIN
            + exports.SHEET_TITLE_H
            + exports.SHEET_HEADER_H
            + 2 * (cell + exports.SHEET_CAPTION_H + gap),
        )
    with av.open(str(saved[".mp4"])) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264" and stream.average_rate == 24
        # 2 × 2 boxes of 640 × 360 (the widest cell, 16:9, at the 360 px cap) over 32 px label strips
        assert (stream.width, stream.height) == (2 * 640, 2 * (360 + 32))
        assert container.duration is not None
        seconds = container.duration / av.time_base
    longest = max(i["duration_s"] for i in meta["items"])
    assert abs(seconds - longest) < 0.1
