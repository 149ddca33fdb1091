"""AppTest: the Compare page — launching a grid, its checks, the grid filling in, curation, A/B,
and reopening saved comparisons by link."""

from __future__ import annotations

import re

import pytest
from streamlit.testing.v1 import AppTest
from support import COMPARE, open_page, players, settings_for, started_ago, wait_until

from studio import services as svc
from studio import ui
from studio.models import Generation, VideoGenerationParams
from studio.simulator import Faults

SIZES = {
    ("480p", "16:9"): "864×496",
    ("480p", "9:16"): "496×864",
    ("720p", "16:9"): "1280×720",
    ("720p", "9:16"): "720×1280",
}


def take(services, gen_id) -> Generation:
    "A generation that must exist."
    found = svc.get(services, gen_id)
    assert found is not None, gen_id
    return found


def blocks(node):
    "Every block under a node, depth first."
    for child in getattr(node, "children", {}).values():
        if hasattr(child, "children"):
            yield child
            yield from blocks(child)


def flat(node):
    "Every element under a node in page order."
    for child in getattr(node, "children", {}).values():
        if hasattr(child, "children"):
            yield from flat(child)
        else:
            yield child


def cell(at: AppTest, gen_id: str, prefix: str = "grid"):
    found = [b for b in blocks(at.main) if b._block_id.endswith(f"{prefix}_cell_{gen_id}")]
    assert len(found) == 1, f"cell {gen_id} shown {len(found)} times"
    return found[0]


def launch_button(at: AppTest):
    "The Launch button: its key carries the token of this rendering, so a click is one launch."
    [button] = [b for b in at.button if b.key and b.key.startswith("compare_launch_")]
    return button


def summary(at: AppTest) -> str:
    "The line under the form: cells, what they vary, and the estimate."
    [line] = [m.value for m in at.markdown if m.value.startswith("**") and " cell" in m.value]
    return line


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def fill(
    at: AppTest,
    *,
    prompt="A paper boat on a rainy street",
    resolutions=("480p", "720p"),
    ratios=("16:9", "9:16"),
    durations=("4",),
    audio=None,
    variants=None,
) -> AppTest:
    at.text_area(key="compare_prompt").input(prompt)
    at.multiselect(key="compare_resolutions").set_value(list(resolutions))
    at.multiselect(key="compare_aspect_ratios").set_value(list(ratios))
    at.multiselect(key="compare_durations").set_value(list(durations))
    if audio is not None:
        at.radio(key="compare_audio").set_value(audio)
    if variants is not None:
        at.text_area(key="compare_variants").input(variants)
    return at.run()


@pytest.fixture
def confirming(clean_sim, tmp_path):
    "A studio whose worker is off (cells stay queued), asking to confirm above 4 cells, 2 credits/s."
    services = svc.build_services(
        settings_for(clean_sim, tmp_path / "confirming", confirm_above_cells=4, credits_per_second=2.0),
        start_worker=False,
    )
    yield services
    services.close()


def done_grid(studio, **axes):
    grid_id, ids = svc.start_grid(studio, VideoGenerationParams(prompt="A lighthouse in fog", duration="4"), **axes)
    gens = svc.wait_for(studio, ids, timeout=60)
    assert [g.status for g in gens] == ["done"] * len(ids)
    return grid_id, ids


def test_launch_fills_the_grid_in_place_with_each_cell_the_right_size(studio):
    at = open_page(COMPARE, studio)
    assert at.expander[0].proto.expanded and at.expander[0].label == "➕ New comparison"
    fill(at)
    assert summary(at).startswith("**4 cells** (2 resolutions × 2 aspect ratios) · 4 runs · 16 s of video · ")
    launch_button(at).click().run()
    assert not at.exception
    [saved] = svc.grids(studio)
    assert at.query_params["grid"] == saved["id"] and saved["cells"] == 4
    assert "Launched 4 cells" in at.success[0].value
    _, gens = svc.grid(studio, saved["id"])
    wait_until(at, lambda at: all(any("took" in c.value for c in cell(at, g.id).caption) for g in gens))
    assert "4 of 4 cells done" in [p.proto.text for p in at.get("progress")]
    for gen in gens:
        shown = cell(at, gen.id)
        settings, facts = shown.caption[0].value, shown.caption[1].value
        assert settings == f"{gen.resolution} · {gen.aspect_ratio} · 4 s · audio"
        assert facts.startswith(SIZES[(gen.resolution, gen.aspect_ratio)] + " · 4.0 s · audio")
        assert not shown.get("video")  # it plays in the grid's review player
    grid_player = players(at)["compare_player_0"]
    assert grid_player["dense"] is True
    by_id = {c["id"]: c for c in grid_player["clips"]}
    assert set(by_id) == {g.id for g in gens}
    for gen in gens:
        clip = by_id[gen.id]
        assert clip["label"] == f"{gen.resolution} · {gen.aspect_ratio}"
        assert clip["url"].endswith(f"/files/{take(studio, gen.id).video_path}") and clip["url"].startswith("http")


def test_cells_in_flight_show_their_phase_elapsed_time_left_and_when_stuck(idle):
    grid_id, (waiting, working, stuck) = svc.start_grid(
        idle,
        VideoGenerationParams(prompt="A slow tide", duration="5"),
        resolutions=("720p",),
        aspect_ratios=("16:9", "9:16", "1:1"),
    )
    started_ago(idle, working, 90, generating_for=60)
    started_ago(idle, stuck, idle.settings.stuck_after + 60)
    at = open_page(COMPARE, idle, {"grid": grid_id})
    line = {gen_id: [p.proto.text for p in cell(at, gen_id).get("progress")] for gen_id in (waiting, working, stuck)}
    assert line[waiting][0].startswith("⏳ waiting to start"), line
    # 720p takes 3–6 min upstream for 5 s (studio.latency): 1.5 min in, 1.5–4.5 min are left.
    assert re.fullmatch(r"🎬 generating · 1 min( \d+ s)? · about 1–[45] min left", line[working][0]), line
    assert "no progress for 21 min: it may be stuck" in line[stuck][0]
    assert "0 of 3 cells done" in [p.proto.text for p in at.get("progress")]  # the grid's own bar stays
    # One status line per cell: the caption under a running cell gives its settings, not a second status.
    captions = [c.value for c in cell(at, working).caption]
    assert not [c for c in captions if "generating" in c or "waiting" in c or "sending" in c], captions


def test_estimate_and_confirmation_above_the_threshold(confirming):
    at = open_page(COMPARE, confirming)
    fill(at, resolutions=("480p", "720p"), ratios=("16:9",), durations=("5",))
    assert summary(at).startswith("**2 cells** (2 resolutions × 1 aspect ratio) · 2 runs · 10 s of video · ")
    assert "· ≈ 20 credits ·" in summary(at)
    assert "Per second of video: 480p costs about 0.47× 720p; 720p is the baseline cost" in " ".join(
        c.value for c in at.caption
    )
    assert not at.checkbox
    fill(at, resolutions=("480p", "720p"), ratios=("16:9", "1:1", "9:16"), durations=("5",))
    [confirm] = at.checkbox
    assert confirm.label == "Yes, run all 6 cells (30 s of video)"
    launch_button(at).click().run()
    assert any("tick the box above to confirm" in e for e in errors(at))
    assert svc.grids(confirming) == [] and svc.count(confirming) == 0
    at.checkbox(key="compare_confirm_6").check().run()
    launch_button(at).click().run()
    [saved] = svc.grids(confirming)
    assert saved["cells"] == 6 and at.query_params["grid"] == saved["id"]


def test_a_double_click_on_launch_makes_one_comparison_and_a_refresh_none(confirming):
    at = fill(open_page(COMPARE, confirming), resolutions=("480p",), ratios=("16:9", "9:16"))
    button = launch_button(at)
    button.click().run()
    # The second click of a double click lands on the same drawn button, with the same token.
    button.click().run()
    assert not at.exception
    [saved] = svc.grids(confirming)
    assert saved["cells"] == 2 and svc.count(confirming) == 2
    assert launch_button(at).key != button.key  # after a launch, a new click is a new launch
    open_page(COMPARE, confirming, {"grid": saved["id"]}).run()  # a refresh of the comparison's link
    assert len(svc.grids(confirming)) == 1 and svc.count(confirming) == 2


@pytest.mark.parametrize(
    "change,field_key,message",
    [
        (dict(prompt="   "), "compare_prompt", "The prompt is empty"),
        (dict(resolutions=()), "compare_resolutions", "Pick at least one resolution"),
        (dict(ratios=()), "compare_aspect_ratios", "Pick at least one aspect ratio"),
        (dict(variants="at dawn\n   \nat night"), "compare_variants", "Line 2 is blank"),
        (dict(variants="A paper boat on a rainy street"), "compare_variants", "Line 1 repeats the main prompt"),
        (
            dict(
                resolutions=("480p", "720p", "1080p"),
                ratios=("21:9", "16:9", "4:3", "1:1", "3:4", "9:16", "auto"),
                durations=("4", "5", "6"),
            ),
            None,
            "That is 63 cells; one comparison holds at most 60",
        ),
    ],
    ids=["blank-prompt", "no-resolution", "no-ratio", "blank-variant", "repeated-variant", "too-many"],
)
def test_bad_input_gets_a_message_next_to_its_field_and_launches_nothing(confirming, change, field_key, message):
    at = fill(open_page(COMPARE, confirming), **change)
    launch_button(at).click().run()
    assert not at.exception
    assert any(message in e for e in errors(at)), errors(at)
    assert svc.grids(confirming) == [] and svc.count(confirming) == 0
    if field_key:
        order = list(flat(at.main))
        widget = next(i for i, n in enumerate(order) if getattr(n, "key", None) == field_key)
        assert order[widget + 1].type == "error" and message in order[widget + 1].value
    assert at.text_area(key="compare_prompt").value == change.get("prompt", "A paper boat on a rainy street")


def test_a_prompt_pasted_over_the_limit_is_kept_and_the_problem_said_under_it(confirming):
    long_prompt = "A paper boat on a rainy street. " * 160 + "The end."
    assert len(long_prompt) == 5128
    at = open_page(COMPARE, confirming)
    assert not at.text_area(key="compare_prompt").proto.max_chars  # the browser would drop such a paste
    at = fill(at, prompt=long_prompt)
    assert at.text_area(key="compare_prompt").value == long_prompt
    order = list(flat(at.main))
    widget = next(i for i, n in enumerate(order) if getattr(n, "key", None) == "compare_prompt")
    said = order[widget + 1]
    assert said.type == "error" and "5,128 characters, 128 over the 5,000 limit" in said.value
    launch_button(at).click().run()
    assert svc.grids(confirming) == [] and at.text_area(key="compare_prompt").value == long_prompt
    assert any("the limit is 5000" in e for e in errors(at)), errors(at)
    fill(at, prompt=long_prompt[:4990])
    assert not errors(at) and "4,990 / 5,000 characters" in [c.value for c in at.caption]


def test_prompt_variants_and_audio_both_become_tabs(confirming):
    at = open_page(COMPARE, confirming)
    fill(at, resolutions=("720p",), ratios=("16:9",), audio="Both (compare on and off)", variants="at dawn\n")
    assert "**4 cells** (1 resolution × 1 aspect ratio × audio on/off × 2 prompts)" in at.markdown[0].value
    launch_button(at).click().run()
    assert [t.label for t in at.tabs] == [
        "Prompt 1 · audio on",
        "Prompt 1 · audio off",
        "Prompt 2 · audio on",
        "Prompt 2 · audio off",
    ]
    assert [t.code[0].value for t in at.tabs] == ["A paper boat on a rainy street"] * 2 + ["at dawn"] * 2
    settings = ["720p · 16:9 · 4 s · audio", "720p · 16:9 · 4 s · no audio"] * 2
    assert [t.caption[0].value for t in at.tabs] == settings


def test_saved_grid_reopens_from_its_link_after_a_restart(studio, clean_sim):
    grid_id, ids = done_grid(studio, resolutions=["480p"], aspect_ratios=["16:9", "9:16"])
    restarted = svc.build_services(settings_for(clean_sim, studio.settings.data_dir), start_worker=False)
    try:
        at = open_page(COMPARE, restarted, {"grid": grid_id})
        assert at.subheader[0].value == "Comparison · 2 cells"
        assert [cell(at, i).caption[1].value.split(" · ")[0] for i in ids] == ["864×496", "496×864"]
        assert not at.expander[0].proto.expanded  # the form folds away under a saved grid
    finally:
        restarted.close()


def test_unknown_grid_link_says_so(confirming):
    at = open_page(COMPARE, confirming, {"grid": "nope404"})
    assert any("There is no saved comparison “nope404”" in e for e in errors(at))
    assert at.expander[0].proto.expanded  # a new comparison can still be started
    odd = open_page(COMPARE, confirming, {"grid": "<b>x</b>"})
    assert any("There is no saved comparison in this link" in e for e in errors(odd))


def test_saved_comparisons_are_listed_and_open(confirming):
    base = VideoGenerationParams(prompt="A fox in snow", duration="4")
    first, _ = svc.start_grid(confirming, base, resolutions=["480p"], aspect_ratios=["1:1"], name="Fox square")
    second, _ = svc.start_grid(confirming, base, resolutions=["720p", "1080p"], aspect_ratios=["9:16"], name="Fox tall")
    at = open_page(COMPARE, confirming)
    assert [t.value for t in at.text][-2:] == ["Fox tall", "Fox square"]
    at.button(key=f"compare_open_{second}").click().run()
    assert at.query_params["grid"] == second and at.subheader[0].value == "Comparison · 2 cells"
    assert at.selectbox(key="compare_ab_b").value == svc.grid(confirming, second)[1][1].id
    at.button(key=f"compare_open_{first}").click().run()
    assert not at.exception
    assert at.query_params["grid"] == first and at.subheader[0].value == "Comparison · 1 cell"
    assert "Fox square" in [t.value for t in at.text]
    assert not [s for s in at.selectbox if s.key and s.key.startswith("compare_ab")]  # one cell: no A/B
    assert at.button(key=f"compare_open_{second}") and not [b for b in at.button if b.key == f"compare_open_{first}"]


def test_star_winner_clear_and_reopen_as_draft(studio):
    grid_id, (one, two) = done_grid(studio, resolutions=["480p"], aspect_ratios=["16:9", "9:16"])
    at = open_page(COMPARE, studio, {"grid": grid_id})
    cell(at, one).button(key=f"grid_star_{one}").click().run()
    assert take(studio, one).starred and not take(studio, two).starred
    assert cell(at, one).button(key=f"grid_star_{one}").label == "★ Starred"
    cell(at, two).button(key=f"grid_winner_{two}").click().run()
    assert take(studio, two).winner and not take(studio, two).starred  # a winner is not starred
    assert any("Winner" in m.value for m in cell(at, two).markdown)
    assert cell(at, two).button(key=f"grid_star_{two}").label == "☆ Star"
    cell(at, one).button(key=f"grid_winner_{one}").click().run()
    assert take(studio, one).winner and not take(studio, two).winner
    assert not any("Winner" in m.value for m in cell(at, two).markdown)
    # The winner can be un-picked: the comparison is left without one.
    cell(at, one).button(key=f"grid_unwin_{one}").click().run()
    assert not any(g.winner for g in svc.get_many(studio, [one, two]))
    assert not any("Winner" in m.value for m in cell(at, one).markdown)
    assert cell(at, one).button(key=f"grid_winner_{one}").label == "🏆 Winner"
    cell(at, two).button(key=f"grid_draft_{two}").click().run()
    assert not at.exception
    # Create reads ?from=&keep= once, fills its form and drops them from the URL (the shared convention).
    assert any(two in s.value for s in at.success), [s.value for s in at.success]
    assert not any("Compare" in t.value for t in at.title)


def test_star_and_winner_read_the_same_in_the_grid_and_the_ab_panel(studio):
    grid_id, (one, two) = done_grid(studio, resolutions=["480p"], aspect_ratios=["16:9", "9:16"])
    at = open_page(COMPARE, studio, {"grid": grid_id})
    cell(at, one).button(key=f"grid_star_{one}").click().run()
    ab_one = cell(at, one, "compare_ab_grid_A")
    assert ab_one.button(key=f"compare_ab_grid_A_star_{one}").label == "★ Starred"
    assert any("Starred" in m.value for m in ab_one.markdown)
    cell(at, two, "compare_ab_grid_B").button(key=f"compare_ab_grid_B_winner_{two}").click().run()
    assert any("Winner" in m.value for m in cell(at, two).markdown)
    assert cell(at, two).button(key=f"grid_unwin_{two}")
    # A change made elsewhere (another tab, the gallery) shows on the next draw of both panels.
    svc.set_starred(studio, one, False)
    at.run()
    assert cell(at, one).button(key=f"grid_star_{one}").label == "☆ Star"
    assert cell(at, one, "compare_ab_grid_A").button(key=f"compare_ab_grid_A_star_{one}").label == "☆ Star"


def test_ab_inside_a_grid_highlights_what_differs(studio):
    grid_id, ids = done_grid(studio, resolutions=["480p", "720p"], aspect_ratios=["16:9"])
    at = open_page(COMPARE, studio, {"grid": grid_id})
    assert [at.selectbox(key="compare_ab_a").value, at.selectbox(key="compare_ab_b").value] == ids
    table = at.table[0].value
    differs = dict(zip(table["Setting"], table["Differs"], strict=False))
    assert {k for k, v in differs.items() if v} >= {"Resolution", "Size"}
    assert not differs["Prompt"] and not differs["Aspect ratio"] and not differs["Duration"]
    assert dict(zip(table["Setting"], table["A"], strict=False))["Size"] == "864x496"
    assert dict(zip(table["Setting"], table["B"], strict=False))["Size"] == "1280x720"
    assert "#ffe08a" in at.table[0].proto.arrow_data.styler.styles  # differing rows are highlighted
    both = players(at)["compare_ab_grid_player"]  # the two takes in one review player, A then B
    assert [c["id"] for c in both["clips"]] == ids and both["dense"] is False
    assert [c["label"] for c in both["clips"]] == ["A · 480p · 16:9 · 4 s · audio", "B · 720p · 16:9 · 4 s · audio"]
    assert [c["id"] for c in players(at)["compare_player_0"]["clips"]] == ids  # and the grid's, above
    at.selectbox(key="compare_ab_b").set_value(ids[0]).run()
    assert any("Pick two different takes" in w.value for w in at.warning)


def test_ab_link_from_the_gallery(studio):
    red, blue = "A **red** kite [link](http://evil.example)", "A blue kite"
    a, b = (
        svc.generate(studio, VideoGenerationParams(prompt=p, resolution=r, duration="4"))[0]
        for p, r in ((red, "480p"), (blue, "720p"))
    )
    svc.wait_for(studio, [a, b], timeout=60)
    at = open_page(COMPARE, studio, {"a": a, "b": b})
    assert [c.value for c in at.code] == [red, blue]  # prompts as plain text
    # st.table renders markdown: the prompt cell is escaped so it reads exactly as written.
    prompt_a = dict(zip(at.table[0].value["Setting"], at.table[0].value["A"], strict=False))["Prompt"]
    assert prompt_a == "A \\*\\*red\\*\\* kite \\[link\\]\\(http\\://evil.example\\)"
    table = at.table[0].value
    assert set(table.loc[table["Differs"] != "", "Setting"]) >= {"Prompt", "Resolution", "Size"}
    assert not at.expander[0].proto.expanded
    missing = open_page(COMPARE, studio, {"a": a, "b": "gone123"})
    assert any("Take B of this A/B link was not found" in e for e in errors(missing))


def test_use_these_settings_refills_the_form(confirming):
    base = VideoGenerationParams(prompt="A train at night", generate_audio=True)
    grid_id, _ = svc.start_grid(
        confirming,
        base,
        resolutions=["480p", "1080p"],
        aspect_ratios=["4:3"],
        durations=["4", "6"],
        audio=[True, False],
        prompts=["A train at night", "in snow"],
    )
    at = open_page(COMPARE, confirming, {"grid": grid_id})
    at.button(key="compare_reuse").click().run()
    assert not at.exception and "grid" not in at.query_params
    assert at.text_area(key="compare_prompt").value == "A train at night"
    assert at.multiselect(key="compare_resolutions").value == ["480p", "1080p"]
    assert at.multiselect(key="compare_aspect_ratios").value == ["4:3"]
    assert at.multiselect(key="compare_durations").value == ["4", "6"]
    assert at.radio(key="compare_audio").value == "Both (compare on and off)"
    assert at.text_area(key="compare_variants").value == "in snow"
    assert "**16 cells**" in at.markdown[0].value


def test_failed_cell_shows_why_and_can_be_retried(studio, clean_sim):
    clean_sim.set_faults(Faults(run_fail=1.0))
    grid_id, [gen_id] = svc.start_grid(
        studio, VideoGenerationParams(prompt="A storm", duration="4"), resolutions=["480p"], aspect_ratios=["1:1"]
    )
    assert svc.wait_for(studio, [gen_id], timeout=60)[0].status == "failed"
    clean_sim.set_faults(Faults())
    at = open_page(COMPARE, studio, {"grid": grid_id})
    assert cell(at, gen_id).error, "the failure is shown in the cell"
    cell(at, gen_id).button(key=f"grid_retry_{gen_id}").click().run()
    assert take(studio, gen_id).status != "failed"
    wait_until(at, lambda at: any("took" in c.value for c in cell(at, gen_id).caption))
    assert cell(at, gen_id).caption[1].value.startswith("640×640")


def test_a_comparison_in_flight_is_watched_once_not_again_by_its_a_b(idle):
    "The A/B under a running comparison shows two of its cells; their ending is the comparison's news, said once."
    grid_id, ids = svc.start_grid(
        idle,
        VideoGenerationParams(prompt="A slow tide", duration="5"),
        resolutions=("720p",),
        aspect_ratios=("16:9", "9:16", "1:1"),
    )
    at = open_page(COMPARE, idle, {"grid": grid_id})
    assert not at.exception
    assert at.session_state[ui.WATCHING_KEY] == {"compare_grid_live": ids}
