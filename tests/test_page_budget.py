"""AppTest: budget and prompt diffs on the pages (issue 9 §5, §6): Compare's plan prices each cell,
a cell shows its estimate then what it cost, Create refuses a launch past a cap where the person
is, Status shows today's spend by person, and A/B highlights the words that differ."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest
from support import COMPARE, CREATE, STATUS, add_done, open_page, settings_for, wait_until

from studio import services as svc
from studio.models import VideoGenerationParams


@pytest.fixture
def priced(clean_sim, tmp_path):
    "A running studio with a credit rate per resolution and caps of 12 s a person, 40 s the studio."
    services = svc.build_services(
        settings_for(
            clean_sim,
            tmp_path / "priced",
            credits_per_second="480p=1,720p=2,1080p=4",
            cap_person_day=12,
            cap_studio_day=40,
            author="ann",
        )
    )
    yield services
    services.close()


def diff_html(at: AppTest) -> list[str]:
    return [h.proto.body for h in at.get("html") if "studio-diff" in h.proto.body and "<style>" not in h.proto.body]


def test_the_compare_plan_prices_each_cell_before_launch(priced):
    at = open_page(COMPARE, priced)
    at.text_area(key="compare_prompt").input("A paper boat")
    at.multiselect(key="compare_resolutions").set_value(["480p", "1080p"])
    at.multiselect(key="compare_aspect_ratios").set_value(["16:9"])
    at.multiselect(key="compare_durations").set_value(["4"])
    at.run()
    table = at.dataframe[0].value
    assert list(table["Cell"]) == ["480p · 16:9 · 4 s · audio", "1080p · 16:9 · 4 s · audio"]
    assert list(table["Seconds"]) == [4, 4]
    assert list(table["Tokens"]) == [round(864 * 496 * 97 / 1024), round(1920 * 1080 * 97 / 1024)]
    assert list(table["Credits"]) == [4, 16]
    assert all("min" in t for t in table["Time"])  # Seedance 2 takes minutes (no history yet)


def test_a_cell_shows_its_estimate_then_what_it_cost_and_took(priced):
    grid_id, ids = svc.start_grid(
        priced, VideoGenerationParams(prompt="A kite", duration="4"), resolutions=["480p"], aspect_ratios=["16:9"]
    )
    at = open_page(COMPARE, priced, {"grid": grid_id})
    first = [c.value for c in at.caption if c.value.startswith(("Estimate:", "Actual:"))]
    assert first and (first[0].startswith("Estimate: 4 s of video") or first[0].startswith("Actual: 4 s"))
    wait_until(at, lambda a: any(c.value.startswith("Actual:") for c in a.caption))
    [actual] = [c.value for c in at.caption if c.value.startswith("Actual:")]
    gen = svc.get(priced, ids[0])
    assert gen is not None and gen.elapsed_s is not None
    assert actual.startswith(f"Actual: 4 s of video · {864 * 496 * 97 / 1024:,.0f} tokens · ≈ 4 credits · took ")


def test_create_refuses_a_launch_past_the_cap_where_the_person_is(priced):
    svc.generate(priced, VideoGenerationParams(prompt="Earlier", resolution="480p", duration="10"), author="ann")
    at = open_page(CREATE, priced)
    at.text_area(key="create_prompt").set_value("A fox in the snow")
    at.selectbox(key="create_duration").set_value("5")
    (button,) = at.container("create_run").button
    button.click().run()
    shown = [e.value for e in at.error]
    assert any(
        "Your daily cap is 12 s of video; you have used 10 s today and this run would add 5 s" in e for e in shown
    ), shown
    assert svc.count(priced) == 1 and at.text_area(key="create_prompt").value == "A fox in the snow"


def test_a_take_on_create_shows_what_it_cost(priced):
    at = open_page(CREATE, priced)
    at.text_area(key="create_prompt").set_value("A fox in the snow")
    at.selectbox(key="create_duration").set_value("4")
    at.radio(key="create_resolution").set_value("480p")
    (button,) = at.container("create_run").button
    button.click().run()
    wait_until(at, lambda a: any(c.value.startswith("Actual:") for c in a.container("create_results").caption))


def test_status_shows_todays_spend_by_person_against_the_caps(priced):
    add_done(priced, "One", author="ann", resolution="720p", duration="4")  # 4 s made
    add_done(priced, "Two", author="bob", resolution="480p", duration="4")
    add_done(priced, "Three", author="bob", resolution="480p", duration="4")
    at = open_page(STATUS, priced)
    table = at.dataframe[0].value
    rows = {r["Person"]: r for r in table.to_dict("records")}
    assert list(table["Person"]) == ["bob", "ann"]
    assert (rows["bob"]["Takes"], rows["bob"]["Seconds of video"], rows["bob"]["Credits"]) == (2, 8, 8)
    assert (rows["ann"]["Takes"], rows["ann"]["Seconds of video"], rows["ann"]["Credits"]) == (1, 4, 8)
    assert rows["bob"]["Share of the cap"] == "67%" and rows["ann"]["Share of the cap"] == "33%"
    assert rows["ann"]["Tokens"] == round(1280 * 720 * 97 / 1024)
    [bar] = at.get("progress")
    assert "Studio today: 12 s of its daily cap of 40 s of video" in bar.proto.text


def test_ab_highlights_the_words_and_settings_that_differ(priced):
    same = {"author": "ann", "resolution": "480p", "duration": "4"}
    a = add_done(priced, "A <b>red</b> kite at dusk", aspect_ratio="16:9", **same)
    b = add_done(priced, "A <b>red</b> kite at dawn", aspect_ratio="9:16", **same)
    at = open_page(COMPARE, priced, {"a": a, "b": b})
    [body] = diff_html(at)
    assert "<mark>dusk</mark>" in body and "<mark>dawn</mark>" in body
    assert "&lt;b&gt;red&lt;/b&gt;" in body and "<b>" not in body  # the prompt shows as typed
    assert "<span>16:9 → 9:16</span>" in body


def test_a_prompt_variant_tab_shows_its_diff_against_the_first_prompt(priced):
    grid_id, _ = svc.start_grid(
        priced,
        VideoGenerationParams(prompt="A boat at dusk", duration="4"),
        resolutions=["480p"],
        aspect_ratios=["16:9"],
        prompts=["A boat at dusk", "A boat at dawn"],
    )
    at = open_page(COMPARE, priced, {"grid": grid_id})
    tab, ab = diff_html(at)  # the second prompt's tab (against the first), then the A/B of its two cells
    assert "<mark>dusk</mark>" in tab and "<mark>dawn</mark>" in tab and "Same settings" in tab
    assert 'class="label">A<' in ab
    assert 'class="label">Prompt 2<' in tab


def test_compare_refuses_a_comparison_past_the_cap_next_to_launch(priced):
    svc.generate(priced, VideoGenerationParams(prompt="Earlier", resolution="480p", duration="8"), author="ann")
    at = open_page(COMPARE, priced)
    at.text_area(key="compare_prompt").input("A paper boat")
    at.multiselect(key="compare_durations").set_value(["4"])
    at.run()
    [button] = [b for b in at.button if b.key and b.key.startswith("compare_launch_")]
    button.click().run()
    assert any(
        "Your daily cap is 12 s of video; you have used 8 s today and this comparison would add 8 s" in e.value
        for e in at.error
    ), [e.value for e in at.error]
    assert svc.grids(priced) == [] and "grid" not in at.query_params
