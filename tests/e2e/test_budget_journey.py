"""Journey: with a daily cap of 10 s, a person who has used 8 s today looks at two takes A/B (the
words that differ are highlighted, the ratio shows as a chip), tries a 10 s comparison and is told
why it cannot run, and sees today's spend on Status."""

from __future__ import annotations

from browser import StudioServer, screenshot, wait_for_app

from studio.models import VideoGenerationParams
from studio.store import HistoryStore


def seed(data) -> tuple[str, str]:
    "Two finished 4 s takes of today (8 s used), written as the worker would have left them."
    store = HistoryStore(data / "studio.db")
    try:
        ids = []
        for prompt, ratio in (("A <b>red</b> kite at dusk", "16:9"), ("A <b>red</b> kite at dawn", "9:16")):
            gen_id = store.add_generation(
                VideoGenerationParams(prompt=prompt, resolution="480p", aspect_ratio=ratio, duration="4")
            )
            store.update(gen_id, status="done", duration_s=4.04, width=864, height=496, elapsed_s=61.0)
            ids.append(gen_id)
        return ids[0], ids[1]
    finally:
        store.close()


def test_budget_journey(page, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    a, b = seed(data)
    server = StudioServer(data, STUDIO_CAP_PERSON_DAY="10").start()
    try:
        page.goto(f"{server.base}/compare?a={a}&b={b}")
        wait_for_app(page)
        diff = page.locator(".studio-diff").first
        diff.wait_for()
        assert diff.locator("mark").all_inner_texts() == ["dusk", "dawn"]
        assert "<b>red</b>" in diff.inner_text()  # the prompt as typed, not as HTML
        assert diff.locator(".studio-diff-chips span").all_inner_texts() == ["16:9 → 9:16"]
        screenshot(page, "budget_ab_diff")

        page.goto(f"{server.base}/compare")
        wait_for_app(page)
        page.locator(".st-key-compare_prompt textarea").fill("A paper boat")
        page.locator(".st-key-compare_summary", has_text="10 s of video").wait_for()
        page.locator(".st-key-compare_launch button").click()
        refusal = page.get_by_text("Your daily cap is 10 s of video; you have used 8 s today")
        refusal.wait_for()
        assert "this comparison would add 10 s" in refusal.inner_text()
        screenshot(page, "budget_compare_refused")

        page.goto(f"{server.base}/status")
        wait_for_app(page)
        page.get_by_role("heading", name="Today's spend").wait_for()
        page.get_by_text("Studio today: 8 s").wait_for()
        screenshot(page, "budget_status")
    finally:
        server.stop()
