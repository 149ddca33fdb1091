"""Journey: a blind review session in Chromium. Ana compares one product-shot prompt across two
resolutions and three aspect ratios (6 takes, 15 pairs), opens Review restricted to that
comparison by its link, and judges 10 pairs: half by the keys ← ↓ →, half by clicking. Before each
vote the pair shows no settings; after it the reveal says what differed and the next pair is
there. The votes table then holds 10 rows, one per pair, with the winners she picked."""

from __future__ import annotations

import re
import sqlite3
from contextlib import closing
from pathlib import Path

from browser import StudioServer, launch_comparison, screenshot, type_name, wait_for_app
from playwright.sync_api import Page

PROMPT = "A product shot of a red sneaker turning on a white plinth"
PAIR = ".st-key-review_pair"
PAIRS_TO_JUDGE = 10
SETTING_WORDS = ("480p", "720p", "16:9", "9:16", "1:1", "4 s", "audio")
CHOICES = ("a", "b", "none")
KEYS = {"a": "ArrowLeft", "none": "ArrowDown", "b": "ArrowRight"}
BUTTONS = {"a": "A is better", "none": "No preference", "b": "B is better"}
PICKED = {"a": "A", "b": "B", "none": "no preference"}
PAIR_READY = f"""() => {{ const v = [...document.querySelectorAll("{PAIR} video")];
    return v.length === 2 && v.every(x => x.readyState >= 1 && x.videoWidth > 0); }}"""


def pair_on_screen(page: Page) -> tuple[str, str]:
    "The file names of the two videos, left (A) then right (B), once both have loaded."
    page.wait_for_function(PAIR_READY, timeout=30_000)
    srcs = page.locator(f"{PAIR} video").evaluate_all("vs => vs.map(v => v.getAttribute('src'))")
    assert len(srcs) == 2
    return srcs[0].rsplit("/", 1)[1], srcs[1].rsplit("/", 1)[1]


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
        for number in range(PAIRS_TO_JUDGE):
            left, right = pair_on_screen(page)
            a_id, b_id = files[left], files[right]
            assert frozenset((a_id, b_id)) not in seen  # a new pair every time
            seen.add(frozenset((a_id, b_id)))
            pair_text = page.locator(PAIR).inner_text()
            assert [line for line in pair_text.splitlines() if line.strip()] == ["A", "B"], pair_text
            heights = page.locator(f"{PAIR} video").evaluate_all("vs => vs.map(v => v.getBoundingClientRect().height)")
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
    finally:
        context.close()
        server.stop()
