"""Journey: a blind review session in Chromium. Ana compares one product-shot prompt across two
resolutions and three aspect ratios (6 takes, 15 pairs), opens Review restricted to that
comparison by its link, and judges 10 pairs: half by the keys ← ↓ →, half by clicking. Before each
vote the pair shows no settings; after it the reveal says what differed and the next pair is
there. The votes table then holds 10 rows, one per pair, with the winners she picked."""

from __future__ import annotations

import re
import sqlite3
import time
from contextlib import closing
from pathlib import Path

from browser import StudioServer, launch_comparison, screenshot, type_name, wait_for_app
from decisions_check import check_table
from playwright.sync_api import Page

PROMPT = "A product shot of a red sneaker turning on a white plinth"
PAIR = ".st-key-review_pair"
PAIRS_TO_JUDGE = 10
SETTING_WORDS = ("480p", "720p", "16:9", "9:16", "1:1", "4 s", "audio")
CHOICES = ("a", "b", "none")
KEYS = {"a": "ArrowLeft", "none": "ArrowDown", "b": "ArrowRight"}
BUTTONS = {"a": "A is better", "none": "No preference", "b": "B is better"}
PICKED = {"a": "A", "b": "B", "none": "no preference"}
PAIR_WAIT_S = 30.0
# Each video's file name and whether it has loaded far enough to know its size.
VIDEO_STATE = (
    "vs => vs.map(v => [(v.getAttribute('src') || '').split('/').pop(), v.readyState >= 1 && v.videoWidth > 0])"
)


def pair_on_screen(page: Page, previous: tuple[str, str] | None) -> tuple[str, str]:
    """The file names of the two videos, left (A) then right (B), once both have loaded and are not
    the previous pair's (a rerun shows the new counts a moment before it replaces the videos). A
    locator, not document.querySelectorAll: it also looks inside the review player's shadow root."""
    videos = page.locator(f"{PAIR} video")
    deadline = time.monotonic() + PAIR_WAIT_S
    while True:
        state = videos.evaluate_all(VIDEO_STATE)
        names = tuple(name for name, _ in state)
        if len(state) == 2 and all(ready for _, ready in state) and names != previous:
            return names[0], names[1]
        assert time.monotonic() < deadline, f"the next pair did not come: {state}"
        page.wait_for_timeout(200)


def ids_by_file(db: Path) -> dict[str, str]:
    with closing(sqlite3.connect(db)) as conn:
        return dict(conn.execute("SELECT video_path, id FROM generations WHERE status = 'done'").fetchall())


def test_a_blind_review_of_ten_pairs_by_keyboard_and_clicks(browser, tmp_path):
    data = tmp_path / "data"
    server = StudioServer(data).start()
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        page.goto(f"{server.base}/compare")
        wait_for_app(page)
        type_name(page, "Ana")
        launch_comparison(page, PROMPT, cells=6, resolutions=("480p",), aspect_ratios=("1:1",), timeout_ms=180_000)
        grid_id = page.url.rsplit("=", 1)[1]
        files = ids_by_file(data / "studio.db")
        assert len(files) == 6

        page.goto(f"{server.base}/review?comparison={grid_id}")
        wait_for_app(page)
        page.get_by_text(re.compile(r"0 pairs voted · 15 left in this scope")).wait_for(timeout=30_000)
        expected: list[tuple[str, str, str]] = []
        seen: set[frozenset[str]] = set()
        shown: tuple[str, str] | None = None
        for number in range(PAIRS_TO_JUDGE):
            shown = left, right = pair_on_screen(page, shown)
            a_id, b_id = files[left], files[right]
            assert frozenset((a_id, b_id)) not in seen  # a new pair every time
            seen.add(frozenset((a_id, b_id)))
            labels = page.locator(f"{PAIR} .sp-label-text").all_inner_texts()
            assert labels == ["A", "B"], labels  # the player names the takes A and B, nothing more
            player_text = page.locator(f"{PAIR} .sp-root").inner_text()
            assert not [w for w in SETTING_WORDS if w in player_text], player_text
            heights = page.locator(f"{PAIR} .sp-frame").evaluate_all(
                "fs => fs.map(f => Math.round(f.getBoundingClientRect().height))"
            )
            assert heights[0] == heights[1] > 100  # the same height, whatever their shapes
            if number == 0:
                main = page.get_by_test_id("stMain").inner_text()
                assert not [w for w in SETTING_WORDS if w in main], main  # nothing gives the settings away
                screenshot(page, "review-blind-pair")

            choice = CHOICES[number % 3]
            if number % 2 == 0:
                page.get_by_role("heading", name="Review").click()  # focus on the page, not in a field
                page.keyboard.press(KEYS[choice])
            else:
                page.get_by_role("button", name=BUTTONS[choice]).click()
            expected.append((a_id, b_id, choice))
            voted = number + 1
            page.get_by_text(re.compile(rf"^{voted} pairs? voted · {15 - voted} left in this scope")).wait_for(
                timeout=30_000
            )
            page.get_by_text(f"Vote saved: you picked {PICKED[choice]}.").wait_for(timeout=30_000)
            wait_for_app(page)
            if number == 0:
                reveal = page.locator(".st-key-review_reveal").inner_text()
                assert "differed in" in reveal and any(w in reveal for w in SETTING_WORDS), reveal
                screenshot(page, "review-reveal")

        screenshot(page, "review-after-ten")
        with closing(sqlite3.connect(data / "studio.db")) as conn:
            rows = conn.execute(
                "SELECT a_id, b_id, choice, winner_id, voter, scope, pair_key FROM votes ORDER BY created_at"
            ).fetchall()
        assert len(rows) == PAIRS_TO_JUDGE
        assert [(a, b, c) for a, b, c, *_ in rows] == expected
        for a, b, choice, winner, voter, scope, key in rows:
            assert winner == {"a": a, "b": b, "none": None}[choice]
            assert (voter, scope, key) == ("Ana", f"comparison:{grid_id}", "|".join(sorted((a, b))))
        assert len({r[-1] for r in rows}) == PAIRS_TO_JUDGE

        # Decisions after the session: its numbers are the votes just recorded, by a Wilson interval
        # worked out in the test.
        page.goto(f"{server.base}/decisions")
        wait_for_app(page)
        page.get_by_text(f"{PAIRS_TO_JUDGE} votes from 1 voter", exact=False).first.wait_for(timeout=30_000)
        checked = {s: check_table(page, data / "studio.db", s) for s in ("resolution", "aspect_ratio")}
        assert set(checked["resolution"]) == {"480p", "720p"} and set(checked["aspect_ratio"]) <= {
            "16:9",
            "9:16",
            "1:1",
        }
        screenshot(page, "review-decisions")
    finally:
        context.close()
        server.stop()
