"""Journey (issue 9, "done when"): three people vote blind on takes of "product shot" prompts across
aspect ratios, and the Decisions page shows which aspect ratio the team prefers, with its interval,
its cost, and the comment pinned to the moment that decided it.

Dana, the producer, runs two product-shot comparisons on Compare (720p at 16:9, 9:16 and 1:1) and
pins a comment to a moment of one 9:16 take. Ana, Ben and Cy each open Review in a browser of their
own, say who they are, and judge every pair with nothing on screen but "A" and "B": they pick by
what they see (the shape of each video), by keyboard and by clicks. Dana then opens Decisions: the
aspect-ratio table's win rates and 95 % intervals match a Wilson interval this test computes itself
from the votes as recorded, the sentence names 9:16, the cost per generated second is Seedance 2's
token rule at the configured credit rate, and Dana's pinned comment is there with its moment."""

from __future__ import annotations

import re
import sqlite3
import time
from contextlib import closing
from pathlib import Path

from browser import StudioServer, launch_comparison, screenshot, type_name, wait_for_app
from decisions_check import check_table, rate_and_interval, table_rows
from playwright.sync_api import Browser, Page, expect

PROMPTS = (
    "Product shot: a steel watch turning slowly on black glass",
    "Product shot: a perfume bottle on wet stone, soft rim light",
)
CREDITS = "480p=1,720p=2,1080p=4"
# What each voter prefers, best first: all three like the upright frame for these products.
TASTE = {
    "Ana": ("9:16", "1:1", "16:9"),
    "Ben": ("9:16", "16:9", "1:1"),
    "Cy": ("9:16", "1:1", "16:9"),
}
UNDECIDED = ("Cy", frozenset({"16:9", "1:1"}), 1)  # Cy has no preference on the second prompt's wide vs square
SIZES_720P = {"16:9": (1280, 720), "9:16": (720, 1280), "1:1": (960, 960)}  # seedance-2.md
COMMENT = "The strap catches the light right here: this is why upright works"
PIN_AT_S = 2.5
RUN_TIMEOUT_MS = 180_000
PAIRS_EACH = 6  # two prompts × three aspect ratios: three pairs each
KEYS = {"a": "ArrowLeft", "none": "ArrowDown", "b": "ArrowRight"}
BUTTONS = {"a": "A is better", "none": "No preference", "b": "B is better"}
VIDEOS = "[data-testid=stMain] video"  # a locator: it looks inside the player's shadow root too


def takes(db: Path) -> dict[str, tuple[str, str, str]]:
    "Finished takes by video file name: (id, aspect ratio, prompt)."
    with closing(sqlite3.connect(db)) as conn:
        rows = conn.execute("SELECT video_path, id, aspect_ratio, prompt FROM generations WHERE status = 'done'")
        return {file: (gen_id, ratio, prompt) for file, gen_id, ratio, prompt in rows}


def dana_compares(page: Page, base: str, prompt: str, *, name: bool) -> str:
    "Dana runs one prompt at 720p across 16:9, 9:16 and 1:1; the comparison's URL."
    page.goto(f"{base}/compare")
    wait_for_app(page)
    if name:
        type_name(page, "Dana")
    launch_comparison(page, prompt, cells=3, aspect_ratios=("1:1",), timeout_ms=RUN_TIMEOUT_MS)
    return page.url


def dana_pins_a_comment(page: Page, gen_id: str) -> None:
    "On the 9:16 cell, Dana writes what she sees at 2.5 s and pins it there."
    wait_for_app(page)
    page.locator(f".st-key-grid_comments_{gen_id} button").first.click()
    panel = page.get_by_test_id("stPopoverBody")
    panel.locator(f".st-key-grid_comments_{gen_id}_new_text textarea").fill(COMMENT)
    panel.get_by_text("At a time I type", exact=True).click()
    wait_for_app(page)
    moment = panel.locator(f".st-key-grid_comments_{gen_id}_pin_at input")
    moment.fill(str(PIN_AT_S))
    moment.press("Enter")
    wait_for_app(page)
    panel.get_by_role("button", name="Comment", exact=True).click()
    expect(panel.locator(f".st-key-grid_comments_{gen_id}_comments")).to_contain_text(COMMENT, timeout=30_000)
    expect(panel).to_contain_text("0:02.5")
    page.keyboard.press("Escape")


def pair_on_screen(page: Page, before: set[str]) -> list[str]:
    """The two videos' URLs, A then B, once a pair other than `before` is on screen and both have
    loaded far enough to know their size (two pairs in a row share one take at most)."""
    videos = page.locator(VIDEOS)
    deadline = time.monotonic() + 30
    while True:
        srcs = videos.evaluate_all("vs => vs.map(v => v.getAttribute('src'))")
        if len(srcs) == 2 and all(srcs) and set(srcs) != before:  # (a cell being built has no src yet)
            break
        assert time.monotonic() < deadline, f"the next pair did not come: {srcs}"
        page.wait_for_timeout(100)
    page.wait_for_function("vs => vs.every(v => v.readyState >= 1)", arg=videos.element_handles(), timeout=30_000)
    return srcs


def vote_blind(
    browser: Browser, base: str, voter: str, files: dict[str, tuple[str, str, str]]
) -> set[tuple[str, str, str, str]]:
    "One voter's session on Review: every pair, judged by the shapes on screen; (voter, A, B, choice) of each."
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        page.goto(f"{base}/review")
        wait_for_app(page)
        type_name(page, voter)
        caption = page.get_by_text(re.compile(r"pairs? voted · \d+ left in this scope"))
        expect(caption).to_contain_text(f"0 pairs voted · {PAIRS_EACH} left", timeout=30_000)
        cast: set[tuple[str, str, str, str]] = set()
        srcs: list[str] = []
        for number in range(PAIRS_EACH):
            srcs = pair_on_screen(page, set(srcs))
            (a_id, a_ratio, prompt), (b_id, b_ratio, _) = (files[s.rsplit("/", 1)[1]] for s in srcs)
            main = page.get_by_test_id("stMain").inner_text()
            assert not [w for w in ("16:9", "9:16", "1:1", "720p") if w in main.split("The last pair")[0]], main
            taste = TASTE[voter]
            undecided = (voter, frozenset({a_ratio, b_ratio}), PROMPTS.index(prompt)) == UNDECIDED
            choice = "none" if undecided else ("a" if taste.index(a_ratio) < taste.index(b_ratio) else "b")
            cast.add((voter, a_id, b_id, choice))
            if number == 0 and voter == "Ana":
                screenshot(page, "decide-blind-pair")
            if number % 2 == 0:
                page.get_by_role("heading", name="Review").click()  # the page has the focus, not a field
                page.keyboard.press(KEYS[choice])
            else:
                wait_for_app(page)
                page.get_by_role("button", name=BUTTONS[choice]).click()
            done = number + 1
            expect(caption).to_contain_text(f"{done} pair{'s' if done != 1 else ''} voted", timeout=30_000)
        expect(page.get_by_text("You have voted on all", exact=False)).to_be_visible(timeout=30_000)
        return cast
    finally:
        context.close()


def test_three_people_vote_blind_and_decisions_names_the_aspect_ratio(browser: Browser, tmp_path):
    data = tmp_path / "data"
    server = StudioServer(data, STUDIO_CREDITS_PER_SECOND=CREDITS).start()
    dana = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = dana.new_page()
        dana_compares(page, server.base, PROMPTS[0], name=True)
        files = takes(data / "studio.db")
        upright = next(gen_id for gen_id, ratio, _ in files.values() if ratio == "9:16")
        dana_pins_a_comment(page, upright)
        screenshot(page, "decide-dana-compare")
        second = dana.new_page()  # a fresh Compare form for the second prompt (the first tab keeps its own)
        dana_compares(second, server.base, PROMPTS[1], name=False)
        second.close()
        files = takes(data / "studio.db")
        assert len(files) == 6

        cast = set().union(*(vote_blind(browser, server.base, voter, files) for voter in TASTE))
        with closing(sqlite3.connect(data / "studio.db")) as conn:
            saved = set(conn.execute("SELECT voter, a_id, b_id, choice FROM votes").fetchall())
        assert len(cast) == 18 and saved == cast  # each vote as its voter meant it; one per person per pair

        page.goto(f"{server.base}/decisions")
        wait_for_app(page)
        counts = check_table(page, data / "studio.db", "aspect_ratio")  # every win rate and interval
        assert set(counts) == set(SIZES_720P)
        rows = table_rows(page, "aspect_ratio")
        for ratio, (width, height) in SIZES_720P.items():  # Seedance 2's tokens at the configured 2 credits
            assert rows[ratio]["Cost per generated second"] == f"2 credits ({width * height * 25 / 1024:,.0f} tokens)"

        rate, interval = rate_and_interval(counts["9:16"])
        low, high = interval.removesuffix(" %").split("–")
        verdict = page.locator(".st-key-decisions_aspect_ratio [data-testid=stAlert]").first
        expect(verdict).to_contain_text(f"The team prefers 9:16: {rate} (95 % CI {low}–{high} %)")
        pinned = page.locator(".st-key-decisions_pinned_aspect_ratio")
        expect(pinned).to_contain_text(COMMENT)
        expect(pinned).to_contain_text("0:02.5 · Dana")
        chart = page.locator(".st-key-decisions_aspect_ratio [data-testid=stVegaLiteChart] .mark-symbol path")
        expect(chart).to_have_count(len(SIZES_720P), timeout=30_000)  # a dot (and its interval) per aspect ratio
        screenshot(page, "decide-decisions")
    finally:
        dana.close()
        server.stop()
