"""Comparisons as services: planning a grid from the form, launching it once per launch key, the
saved grid's layout and A/B candidates, and its one winner."""

from __future__ import annotations

import pytest
from support import settings_for

from studio import cli
from studio import services as svc
from studio.errors import ParamsError
from studio.models import Generation, NodeSettings, VideoGenerationParams

FORM = svc.GridForm(prompt="A paper boat on a rainy street", resolutions=("720p", "480p"), durations=("4",))


@pytest.fixture
def quiet(clean_sim, tmp_path):
    "A studio whose worker is off (cells stay queued), asking to confirm above 4 cells, 2 credits/s."
    services = svc.build_services(
        settings_for(clean_sim, tmp_path / "quiet", confirm_above_cells=4, credits_per_second=2.0), start_worker=False
    )
    yield services
    services.close()


def take(services, gen_id) -> Generation:
    "A generation that must exist."
    found = svc.get(services, gen_id)
    assert found is not None, gen_id
    return found


def form(**changes) -> svc.GridForm:
    return svc.GridForm(**{**FORM.__dict__, **changes})


def test_grid_cells_cover_every_combination_with_labels():
    cells = svc.grid_cells(
        VideoGenerationParams(prompt="A koi pond", duration="4"),
        resolutions=["480p", "720p"],
        aspect_ratios=["16:9", "9:16", "1:1"],
        audio=[True, False],
    )
    assert len(cells) == 12
    assert len({c[1] for c in cells}) == 12
    assert ("480p", "9:16", False) in {(p.resolution, p.aspect_ratio, p.generate_audio) for p, _ in cells}
    with pytest.raises(ParamsError):
        svc.grid_cells(VideoGenerationParams(prompt="A koi pond"), prompts=["ok", "  "])


def test_a_plan_counts_and_prices_every_cell_from_settings_alone(quiet):
    plan = svc.plan_grid(quiet, form(audio="Both (compare on and off)", variants="at dawn\nat night"))
    assert plan.launchable and plan.count == 2 * 2 * 2 * 3
    assert plan.breakdown == "2 resolutions × 2 aspect ratios × audio on/off × 3 prompts"
    assert plan.prompts == ("A paper boat on a rainy street", "at dawn", "at night")
    assert len(plan.cells) == 24 and all(type(c) is NodeSettings for c in plan.cells)
    assert {(c.resolution, c.aspect_ratio, c.generate_audio) for c in plan.cells} == {
        (r, a, s) for r in ("480p", "720p") for a in ("16:9", "9:16") for s in (True, False)
    }
    assert plan.estimate is not None
    assert (plan.estimate.runs, plan.estimate.seconds, plan.estimate.credits) == (24, (96, 96), (192.0, 192.0))
    assert plan.needs_confirm and plan.confirm_above == 4
    auto = svc.plan_grid(quiet, form(durations=()))
    assert auto.estimate is not None and auto.estimate.auto_runs == 4 and {c.duration for c in auto.cells} == {"auto"}


@pytest.mark.parametrize(
    "changes,field,message",
    [
        (dict(prompt="  "), "prompt", "The prompt is empty"),
        (dict(prompt="x" * 5001), "prompt", "the limit is 5000"),
        (dict(resolutions=()), "resolutions", "Pick at least one resolution"),
        (dict(aspect_ratios=()), "aspect_ratios", "Pick at least one aspect ratio"),
        (dict(variants="one\n\ntwo"), "variants", "Line 2 is blank"),
        (dict(variants="one\none"), "variants", "Line 2 repeats line 1"),
        (dict(variants="x" * 5001), "variants", "Line 1 is 5,001 characters"),
        (
            dict(
                resolutions=("480p", "720p", "1080p"),
                aspect_ratios=("16:9", "1:1", "9:16"),
                variants="b\nc\nd\ne\nf\ng",
            ),
            "cells",
            "That is 63 cells; one comparison holds at most 60",
        ),
    ],
    ids=["blank", "long", "no-resolution", "no-ratio", "blank-line", "repeat", "long-variant", "too-many"],
)
def test_a_plan_names_the_field_that_is_wrong_and_cannot_be_launched(quiet, changes, field, message):
    plan = svc.plan_grid(quiet, form(**changes))
    assert message in plan.errors[field] and not plan.launchable
    with pytest.raises(ParamsError) as refused:
        svc.launch_grid(quiet, plan, confirmed=True)
    assert refused.value.field == field
    assert svc.grids(quiet) == []


def test_launch_takes_the_plan_in_the_studios_order_and_asks_for_a_yes_above_the_threshold(quiet):
    plan = svc.plan_grid(quiet, form(aspect_ratios=("9:16", "16:9", "1:1"), name="  Boat  "))
    with pytest.raises(ParamsError) as refused:
        svc.launch_grid(quiet, plan)
    assert refused.value.field == "confirm" and "tick the box" in str(refused.value)
    grid_id, ids = svc.launch_grid(quiet, plan, confirmed=True)
    saved, cells = svc.grid(quiet, grid_id)
    assert saved is not None
    assert saved["name"] == "Boat" and saved["axes"]["resolutions"] == ["480p", "720p"]
    assert saved["axes"]["aspect_ratios"] == ["16:9", "1:1", "9:16"]
    assert [c.id for c in cells] == ids and len(ids) == 6


def test_the_same_launch_key_makes_one_comparison(quiet):
    plan = svc.plan_grid(quiet, form())
    first = svc.launch_grid(quiet, plan, launch_key="click-1")
    assert svc.launch_grid(quiet, plan, launch_key="click-1") == first
    assert len(svc.grids(quiet)) == 1 and svc.count(quiet) == 4
    svc.launch_grid(quiet, plan, launch_key="click-2")
    assert len(svc.grids(quiet)) == 2


def test_a_saved_comparison_fills_the_form_back(quiet):
    original = form(durations=("4", "6"), audio="Both (compare on and off)", variants="in snow", aspect_ratios=("4:3",))
    grid_id, _ = svc.launch_grid(quiet, svc.plan_grid(quiet, original), confirmed=True)
    saved, _ = svc.grid(quiet, grid_id)
    assert saved is not None
    assert svc.form_of(saved) == form(
        resolutions=("480p", "720p"),
        durations=("4", "6"),
        audio="Both (compare on and off)",
        variants="in snow",
        aspect_ratios=("4:3",),
    )


def test_layout_puts_cells_in_tables_by_prompt_and_audio_and_ab_follows_it(quiet):
    base = VideoGenerationParams(prompt="A train", duration="4")
    grid_id, ids = svc.start_grid(
        quiet, base, resolutions=["720p", "480p"], aspect_ratios=["9:16", "16:9"], prompts=["A train", "in snow"]
    )
    _, cells = svc.grid(quiet, grid_id)
    tabs = svc.grid_layout(cells)
    assert [(t.title, t.prompt) for t in tabs] == [("Prompt 1", "A train"), ("Prompt 2", "in snow")]
    assert tabs[0].resolutions == ("480p", "720p") and tabs[0].aspect_ratios == ("16:9", "9:16")
    first = take(quiet, tabs[0].at("9:16", "480p"))
    assert (first.prompt, first.resolution, first.aspect_ratio) == ("A train", "480p", "9:16")
    names = svc.ab_candidates(cells)
    assert [n for _, n in names][:2] == ["Prompt 1 · 480p · 16:9 · 4 s · audio", "Prompt 1 · 720p · 16:9 · 4 s · audio"]
    assert sorted(i for i, _ in names) == sorted(ids)
    single = svc.grid_layout([c for c in cells if c.prompt == "A train"])
    assert [t.title for t in single] == [""] and single[0].prompt is None


def test_shared_grid_only_for_two_cells_of_one_comparison(quiet):
    base = VideoGenerationParams(prompt="A fox", duration="4")
    grid_id, (a, b) = svc.start_grid(quiet, base, resolutions=["480p"], aspect_ratios=["16:9", "1:1"])
    _, (c,) = svc.start_grid(quiet, base, resolutions=["480p"], aspect_ratios=["1:1"])
    [loose] = svc.generate(quiet, base)
    assert svc.shared_grid(quiet, a, b) == grid_id
    assert svc.shared_grid(quiet, a, c) is None and svc.shared_grid(quiet, loose, a) is None
    assert svc.shared_grid(quiet, a, "gone") is None


def test_one_winner_that_is_not_starred_and_can_be_cleared(quiet):
    base = VideoGenerationParams(prompt="A fox", duration="4")
    grid_id, (a, b) = svc.start_grid(quiet, base, resolutions=["480p"], aspect_ratios=["16:9", "1:1"])
    svc.mark_winner(quiet, a)
    svc.mark_winner(quiet, b)
    assert [(g.winner, g.starred) for g in svc.get_many(quiet, [a, b])] == [(False, False), (True, False)]
    svc.clear_winner(quiet, grid_id)
    assert not any(g.winner for g in svc.get_many(quiet, [a, b]))
    with pytest.raises(ParamsError):
        svc.clear_winner(quiet, "nope")
    with pytest.raises(ParamsError):
        svc.mark_winner(quiet, svc.generate(quiet, base)[0])


# ---------------------------------------------------------------------- repeated values (issue 7 §6)


@pytest.mark.parametrize(
    ("axes", "field", "words"),
    [
        ({"aspect_ratios": ["16:9", "16:9"]}, "aspect_ratios", "The aspect ratio '16:9' is listed twice"),
        ({"resolutions": ["480p", "720p", "480p"]}, "resolutions", "The resolution '480p' is listed twice"),
        ({"durations": ["4", "4"]}, "durations", "The duration '4' is listed twice"),
        ({"audio": [False, False]}, "audio", "The audio setting off is listed twice"),
        ({"prompts": ["A fox", " A fox "]}, "prompts", "The prompt ' A fox ' is listed twice"),
        ({"resolutions": []}, "resolutions", "Pick at least one resolution"),
        ({"prompts": [f"take {i}" for i in range(61)]}, "cells", "That is 61 cells; one comparison holds at most 60"),
    ],
)
def test_start_grid_refuses_a_repeated_value_before_saving_anything(quiet, axes, field, words):
    base = VideoGenerationParams(prompt="A fox", duration="4")
    with pytest.raises(ParamsError) as refused:
        svc.start_grid(quiet, base, **{"resolutions": ["480p"], "aspect_ratios": ["16:9"], **axes})
    assert refused.value.field == field and str(refused.value).startswith(words)
    assert svc.history(quiet) == [] and svc.grids(quiet) == []


def test_a_plan_with_a_repeated_or_unknown_value_says_so_at_the_field(quiet):
    plan = svc.plan_grid(quiet, form(resolutions=("720p", "720p"), aspect_ratios=("16:9", "21:10")))
    assert not plan.launchable
    assert plan.errors["resolutions"].startswith("The resolution '720p' is listed twice")
    assert plan.errors["aspect_ratios"].startswith("There is no aspect ratio '21:10'")
    with pytest.raises(ParamsError) as refused:
        svc.launch_grid(quiet, plan, confirmed=True)
    assert refused.value.field == "resolutions"
    assert svc.history(quiet) == []


def test_the_cli_refuses_a_repeated_aspect_ratio_in_one_line(clean_sim, monkeypatch, capsys):
    monkeypatch.setenv("MOSAIC_BASE_URL", clean_sim.base_url)
    with pytest.raises(SystemExit) as stopped:
        cli.main(["grid", "A fox", "--resolutions", "480p", "--aspect-ratios", "16:9,1:1,16:9"])
    err = capsys.readouterr().err
    assert stopped.value.code == 2
    assert err.strip().splitlines() == [
        "error: studio grid: argument --aspect-ratios: 16:9 is listed twice; each makes its own cells, so list it once"
    ]
