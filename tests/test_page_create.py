"""AppTest: the Create page (pages/create.py) against a running studio talking to the simulator."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest
from support import CREATE, open_page, settings_for, started_ago, wait_until

from studio import services as svc
from studio.models import PROMPT_MAX_CHARS, Generation, VideoGenerationParams


def fill(at: AppTest, prompt: str = "A paper boat on a rainy street", **settings) -> AppTest:
    at.text_area(key="create_prompt").set_value(prompt)
    for name, value in settings.items():
        getattr(
            at, {"resolution": "radio", "generate_audio": "toggle", "takes": "number_input"}.get(name, "selectbox")
        )(key=f"create_{'audio' if name == 'generate_audio' else name}").set_value(value)
    return at


def run_button(at: AppTest):
    "The Run button as drawn now (its key carries this click's launch token)."
    (button,) = at.container("create_run").button
    return button


def run(at: AppTest) -> AppTest:
    run_button(at).click().run()
    assert not at.exception, at.exception
    return at


def jobs_in_url(at: AppTest) -> list[str]:
    value = at.query_params.get("jobs") or ""
    value = value[0] if isinstance(value, list) else value
    return [i for i in value.split(",") if i]


def texts(block, kind: str) -> list[str]:
    return [e.value for e in getattr(block, kind)]


def plain_texts(block, kind: str) -> list[str]:
    "Messages with ui.plain's markdown escapes taken out: what a person reads."
    return [t.replace("\\", "") for t in texts(block, kind)]


def got(services: svc.Services, gen_id: str) -> Generation:
    "A generation that must exist."
    gen = svc.get(services, gen_id)
    assert gen is not None, gen_id
    return gen


def finished(at: AppTest) -> bool:
    return not at.container("create_results").get("progress")


def png(color: tuple[int, int, int] = (200, 40, 40), size: tuple[int, int] = (400, 300)) -> bytes:
    "A real picture Seedance 2 takes as a reference (300–6000 px a side)."
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def app(studio):
    return open_page(CREATE, studio)


# ---------------------------------------------------------------------- the form


def test_form_shows_the_briefs_defaults_the_estimate_and_the_mode(app):
    assert app.text_area(key="create_prompt").value == ""
    assert app.selectbox(key="create_model").value == "seedance-2"
    assert app.radio(key="create_resolution").value == "720p"
    assert app.radio(key="create_resolution").options == ["480p", "720p", "1080p"]
    assert app.selectbox(key="create_duration").value == "auto"
    assert app.selectbox(key="create_duration").options[1:] == [f"{s} s" for s in range(4, 16)]
    assert app.selectbox(key="create_aspect_ratio").value == "auto"
    assert len(app.selectbox(key="create_aspect_ratio").options) == 7
    assert app.toggle(key="create_audio").value is True
    assert app.number_input(key="create_takes").value == 1
    assert f"0 / {PROMPT_MAX_CHARS:,} characters" in texts(app.container("create_prompt_box"), "caption")
    run_box = app.container("create_run_box")
    estimate = run_box.markdown[0].value
    assert "1 run · 5–10 s of video (1 of automatic length" in estimate
    assert "about 3–8 min" in estimate and "about 1× the cost of 720p" in estimate
    assert "credits unknown (set STUDIO_CREDITS_PER_SECOND" in estimate
    assert any("Runs on 🔑 the Mosaic API" in c for c in texts(run_box, "caption"))


def test_estimate_follows_takes_and_duration_with_credits_when_a_rate_is_set(clean_sim, tmp_path):
    rates = "480p=0.25,720p=0.5,1080p=1"
    services = svc.build_services(settings_for(clean_sim, tmp_path / "c", credits_per_second=rates), start_worker=False)
    try:
        at = open_page(CREATE, services)
        fill(at, duration="6", takes=3).run()
        estimate = at.container("create_run_box").markdown[0].value
        assert "3 runs · 18 s of video · about 1× the cost of 720p · ≈ 9 credits" in estimate
        fill(at, resolution="1080p").run()
        estimate = at.container("create_run_box").markdown[0].value
        assert "≈ 18 credits" in estimate and "about 2.25× the cost of 720p" in estimate
    finally:
        services.close()


def test_simulator_mode_is_named_next_to_run(keyless):
    at = open_page(CREATE, keyless)
    run_box = at.container("create_run_box")
    assert any("local simulator" in c for c in texts(run_box, "caption"))
    assert "no credits used" in run_box.markdown[0].value


@pytest.mark.parametrize(
    "prompt,message",
    [
        ("   ", "the prompt is empty"),
        ("x" * (PROMPT_MAX_CHARS + 1), f"the limit is {PROMPT_MAX_CHARS}"),
    ],
)
def test_bad_prompt_is_explained_next_to_the_field_and_nothing_is_submitted(app, studio, prompt, message):
    run(fill(app, prompt))
    errors = texts(app.container("create_prompt_box"), "error")
    assert len(errors) == 1 and message in errors[0].lower()
    assert svc.count(studio) == 0
    assert "jobs" not in app.query_params
    assert app.text_area(key="create_prompt").value == prompt  # what was typed is kept
    if len(prompt) > PROMPT_MAX_CHARS:
        assert any("1 over the limit" in c for c in texts(app.container("create_prompt_box"), "caption"))
    run(fill(app, "Now a real prompt"))  # fixing it clears the message and submits
    assert not app.container("create_prompt_box").error
    assert svc.count(studio) == 1


def test_form_survives_going_to_another_page_and_back(app):
    fill(app, "Keep me while I look at Status", resolution="1080p", aspect_ratio="1:1").run()
    app.switch_page("pages/status.py").run()
    assert app.title[0].value == "Status"
    app.switch_page("pages/create.py").run()
    assert app.text_area(key="create_prompt").value == "Keep me while I look at Status"
    assert app.radio(key="create_resolution").value == "1080p"
    assert app.selectbox(key="create_aspect_ratio").value == "1:1"


# ---------------------------------------------------------------------- running


def test_run_shows_progress_then_the_video_and_its_facts(app, studio):
    run(fill(app, "A lighthouse in fog", resolution="480p", aspect_ratio="9:16", duration="4"))
    ids = app.session_state["create_jobs"]
    assert len(ids) == 1 and jobs_in_url(app) == ids
    gen = got(studio, ids[0])
    assert (gen.prompt, gen.resolution, gen.aspect_ratio, gen.duration, gen.generate_audio) == (
        "A lighthouse in fog",
        "480p",
        "9:16",
        "4",
        True,
    )
    results = app.container("create_results")
    assert results.code[0].value == "A lighthouse in fog"  # the prompt, as plain text
    wait_until(app, finished)
    results = app.container("create_results")
    assert "496×864 · 4.0 s · audio" in texts(results, "caption")[0]
    url = results.get("video")[0].proto.url
    gen = got(studio, ids[0])
    assert url.startswith("http") and url.endswith(f"/files/{gen.video_path}")
    assert results.page_link[0].proto.page.endswith("gallery") or "gallery" in results.page_link[0].proto.page


def test_takes_run_the_same_settings_several_times(app, studio):
    run(fill(app, "Three takes of a dancing robot", duration="4", takes=3))
    ids = app.session_state["create_jobs"]
    gens = svc.get_many(studio, ids)
    assert [g.cell_label for g in gens] == ["take 1", "take 2", "take 3"]
    assert {g.prompt for g in gens} == {"Three takes of a dancing robot"}
    assert len(app.container("create_results").get("progress")) == 3
    wait_until(app, finished)
    assert len(app.container("create_results").get("video")) == 3
    assert [m.value.split(" · ")[0] for m in app.container("create_results").markdown] == [
        "**Take 1**",
        "**Take 2**",
        "**Take 3**",
    ]


def test_refresh_keeps_showing_the_run_from_the_url(app, studio):
    run(fill(app, "Refresh me", duration="4", resolution="1080p", aspect_ratio="9:16", takes=2))
    ids = app.session_state["create_jobs"]
    fresh = open_page(CREATE, studio, {"jobs": ",".join(ids)})  # a new browser session on the same URL
    assert fresh.session_state["create_jobs"] == ids
    assert fresh.container("create_results").code[0].value == "Refresh me"
    # ... and the form shows what that run asked for, ready to tweak and run again.
    assert fresh.text_area(key="create_prompt").value == "Refresh me"
    assert fresh.radio(key="create_resolution").value == "1080p"
    assert fresh.selectbox(key="create_aspect_ratio").value == "9:16"
    assert fresh.number_input(key="create_takes").value == 2
    wait_until(fresh, finished)
    assert len(fresh.container("create_results").get("video")) == 2


def test_a_link_to_deleted_runs_says_so(app, studio):
    fresh = open_page(CREATE, studio, {"jobs": "nope1,nope2"})
    assert any("no longer exist" in i for i in texts(fresh, "info"))
    assert "jobs" not in fresh.query_params


def test_failure_shows_the_apis_message_and_retry_runs_it_again(app, studio, clean_sim):
    clean_sim.script_fault("run_fail", route="run")
    run(fill(app, "This one fails first", duration="4"))
    gen_id = app.session_state["create_jobs"][0]
    wait_until(app, finished)
    errors = texts(app.container("create_results"), "error")
    assert errors and "Video generation failed" in errors[0]
    app.button(key=f"create_retry_{gen_id}").click().run()
    assert got(studio, gen_id).attempt == 2
    wait_until(app, lambda a: got(studio, gen_id).status == "done" and finished(a))
    assert len(app.container("create_results").get("video")) == 1
    assert not app.container("create_results").error


def test_running_jobs_can_be_cancelled_and_then_retried(idle):
    at = open_page(CREATE, idle)
    run(fill(at, "Cancel me", duration="4", takes=2))
    first, second = at.session_state["create_jobs"]
    at.button(key=f"create_cancel_{first}").click().run()
    assert [g.status for g in svc.get_many(idle, [first, second])] == ["cancelled", "queued"]
    assert any("Cancelled" in w for w in texts(at.container("create_results"), "warning"))
    at.button(key=f"create_retry_{first}").click().run()
    assert got(idle, first).status == "queued"
    assert len(at.container("create_results").get("progress")) == 2


def progress_lines(at: AppTest) -> list[str]:
    return [bar.proto.text for bar in at.container("create_results").get("progress")]


def test_a_run_in_flight_shows_its_phase_elapsed_time_left_and_when_it_is_stuck(idle):
    at = open_page(CREATE, idle)
    run(fill(at, "A slow tide", resolution="720p", duration="5", takes=3))
    _, working, stuck = at.session_state["create_jobs"]
    assert all(line.startswith("⏳ waiting to start") for line in progress_lines(at))
    started_ago(idle, working, 90, generating_for=60)
    started_ago(idle, stuck, idle.settings.stuck_after + 60)
    at.run()
    first, second, third = progress_lines(at)
    assert first.startswith("⏳ waiting to start")
    # 720p takes 3–6 min upstream for 5 s (studio.latency): 1.5 min in, 1.5–4.5 min are left.
    assert re.fullmatch(r"🎬 generating · 1 min( \d+ s)? · about 1–[45] min left", second), second
    assert "no progress for 21 min: it may be stuck" in third
    assert not any("%" in line for line in progress_lines(at))  # the old bar said "Running · 10%"
    assert at.button(key=f"create_cancel_{stuck}")  # a stuck run can still be cancelled here


# ---------------------------------------------------------------------- drafts


@pytest.mark.parametrize(
    "keep,prompt,settings",
    [
        ("all", "An old favourite", ("1080p", "1:1", "6", False)),
        ("prompt", "An old favourite", ("720p", "auto", "auto", True)),
        ("settings", "", ("1080p", "1:1", "6", False)),
    ],
)
def test_opening_a_draft_fills_the_form_once(idle, keep, prompt, settings):
    (gen_id,) = svc.generate(
        idle,
        VideoGenerationParams(
            prompt="An old favourite", resolution="1080p", aspect_ratio="1:1", duration="6", generate_audio=False
        ),
    )
    at = open_page(CREATE, idle, {"from": gen_id, "keep": keep})
    assert at.text_area(key="create_prompt").value == prompt
    assert (
        at.radio(key="create_resolution").value,
        at.selectbox(key="create_aspect_ratio").value,
        at.selectbox(key="create_duration").value,
        at.toggle(key="create_audio").value,
    ) == settings
    assert any(gen_id in s for s in texts(at, "success"))
    assert "from" not in at.query_params and "keep" not in at.query_params
    at.text_area(key="create_prompt").set_value("Edited after opening").run()  # read once: edits stay
    assert at.text_area(key="create_prompt").value == "Edited after opening"


@pytest.mark.parametrize(
    "query,message",
    [
        ({"from": "doesnotexist"}, "There is no generation with id “doesnotexist”"),
        ({"from": "GEN", "keep": "everything"}, "“everything” is not a way to open a draft"),
    ],
)
def test_a_bad_draft_link_says_why_and_starts_empty(idle, query, message):
    (gen_id,) = svc.generate(idle, VideoGenerationParams(prompt="Unused", resolution="1080p"))
    at = open_page(CREATE, idle, {k: v.replace("GEN", gen_id) for k, v in query.items()})
    assert any(message in e for e in texts(at, "error"))
    assert at.text_area(key="create_prompt").value == ""
    assert at.radio(key="create_resolution").value == "720p"


# ---------------------------------------------------------------------- presets


def test_preset_keeps_settings_only_by_default_and_loads_without_touching_the_prompt(idle):
    at = open_page(CREATE, idle)
    fill(at, "Prompt at save time", resolution="480p", aspect_ratio="9:16", duration="5")
    at.text_input(key="create_preset_name").set_value("Vertical social")
    at.button(key="create_preset_save").click().run()
    (preset,) = svc.presets(idle)
    assert preset.name == "Vertical social"
    assert preset.params == {
        "model": "seedance-2",
        "resolution": "480p",
        "duration": "5",
        "aspect_ratio": "9:16",
        "generate_audio": True,
    }
    fill(at, "A different prompt", resolution="1080p", aspect_ratio="auto", duration="auto").run()
    at.selectbox(key="create_preset_pick").set_value("Vertical social")
    at.button(key="create_preset_load").click().run()
    assert at.radio(key="create_resolution").value == "480p"
    assert at.selectbox(key="create_aspect_ratio").value == "9:16"
    assert at.selectbox(key="create_duration").value == "5"
    assert at.text_area(key="create_prompt").value == "A different prompt"
    assert any("Loaded preset “Vertical social”" in s for s in texts(at.container("create_presets_box"), "success"))


def test_preset_with_prompt_replace_asks_first_and_delete_confirms(idle):
    at = open_page(CREATE, idle)
    fill(at, "Saved prompt", resolution="1080p")
    at.text_input(key="create_preset_name").set_value("Hero")
    at.checkbox(key="create_preset_with_prompt").check()
    at.button(key="create_preset_save").click().run()
    assert svc.presets(idle)[0].params["prompt"] == "Saved prompt"

    fill(at, "Other prompt", resolution="480p")
    at.button(key="create_preset_save").click().run()  # same name: asks first
    assert any("already exists" in w for w in texts(at.container("create_presets_box"), "warning"))
    assert svc.presets(idle)[0].params["resolution"] == "1080p"
    at.button(key="create_preset_save").click().run()
    assert svc.presets(idle)[0].params["resolution"] == "480p"

    fill(at, "Typed later").run()
    at.button(key="create_preset_load").click().run()
    assert at.text_area(key="create_prompt").value == "Other prompt"

    at.button(key="create_preset_delete").click().run()
    assert svc.presets(idle)  # nothing deleted before the confirmation
    at.button(key="create_preset_delete_confirm").click().run()
    assert svc.presets(idle) == []
    assert at.selectbox(key="create_preset_pick").value is None


def test_preset_without_a_name_is_refused_next_to_it(idle):
    at = open_page(CREATE, idle)
    at.button(key="create_preset_save").click().run()
    assert texts(at.container("create_presets_box"), "error") == ["Give the preset a name"]
    assert svc.presets(idle) == []


# ---------------------------------------------------------------------- references


def uploader(at: AppTest):
    (found,) = at.container("create_refs_box").file_uploader
    return found


def test_uploaded_reference_is_previewed_selected_sent_and_kept_in_the_library(app, studio):
    uploader(app).set_value(("board.png", png(), "image/png")).run()
    (ref,) = svc.references(studio, "image")
    assert (ref.filename, ref.content_type) == ("board.png", "image/png")
    assert app.multiselect(key="create_refs_images").value == [ref.upload_id]
    box = app.container("create_refs_box")
    assert plain_texts(box, "success") == ["Added board.png to the reference library (selected)"]
    assert box.image and box.image[0].proto.imgs[0].url.endswith(f"/files/{ref.local_name}")
    assert not uploader(app).value  # the uploader empties: the file now lives in the library
    run(fill(app, "Use the board", duration="4"))
    assert not app.container("create_refs_box").success  # the upload notice is gone once Run is pressed
    gen = got(studio, app.session_state["create_jobs"][0])
    assert gen.selected_context.images == [ref.upload_id]

    later = open_page(CREATE, studio)  # a new session: pick it again from the library, no new upload
    assert later.multiselect(key="create_refs_images").options == [f"board.png ({ref.size / 1000:.1f} KB)"]
    uploader(later).set_value(("renamed.png", png(), "image/png")).run()
    assert len(svc.references(studio)) == 1
    assert later.multiselect(key="create_refs_images").value == [ref.upload_id]
    notes = plain_texts(later.container("create_refs_box"), "success")
    assert notes == ["renamed.png is already in the reference library as board.png (selected)"]


def test_a_text_file_named_png_is_refused_without_preview_and_run_waits(app, studio):
    uploader(app).set_value(("fake.png", b"just some text, not a picture\n" * 20, "image/png")).run()
    box = app.container("create_refs_box")
    (error,) = texts(box, "error")
    assert "fake.png is not an image" in error and "PNG" in error
    assert not box.image and svc.references(studio) == []
    assert app.multiselect(key="create_refs_images").value == []
    run(fill(app, "Meant to use the picture", duration="4"))
    assert svc.count(studio) == 0  # the first press says why instead of running without the file
    assert "Press Run again to go ahead without them" in texts(app.container("create_refs_box"), "error")[-1]
    run(app)
    assert svc.count(studio) == 1
    assert not app.container("create_refs_box").error


@pytest.mark.parametrize(
    "name,data,message",
    [
        ("notes.png", b"hello", "notes.png is not an image"),
        ("blank.png", b"", "blank.png is empty"),
        ("tiny.png", png(size=(8, 8)), "tiny.png is 8×8 px; each side of a reference image must be 300–6000 px"),
    ],
)
def test_bad_reference_files_are_refused_before_upload(app, studio, name, data, message):
    uploader(app).set_value([(name, data, "image/png"), ("ok.png", png(), "image/png")]).run()
    errors = texts(app.container("create_refs_box"), "error")
    assert len(errors) == 1 and message in errors[0]
    assert [r.filename for r in svc.references(studio)] == ["ok.png"]


def test_uploader_offers_the_types_seedance_takes(app):
    assert set(uploader(app).proto.type) >= {".png", ".jpg", ".mp4", ".mov", ".wav", ".mp3"}
    assert ".svg" not in uploader(app).proto.type


def test_at_most_nine_reference_images_are_selected(app, studio):
    files = [(f"img{i}.png", png((i * 20, 10, 10)), "image/png") for i in range(10)]
    uploader(app).set_value(files).run()
    assert len(svc.references(studio, "image")) == 10
    assert len(app.multiselect(key="create_refs_images").value) == 9
    errors = texts(app.container("create_refs_box"), "error")
    assert len(errors) == 1 and "Added img9.png to the reference library, but it is not selected" in errors[0]
    assert "img9.png would make 10 reference images; a generation takes at most 9" in errors[0]


# ---------------------------------------------------------------------- one launch per click


def test_a_second_click_on_the_same_run_button_launches_nothing_more(app, studio):
    fill(app, "One launch only", duration="4").run()
    button = run_button(app)
    button.click().run()  # the page is drawn again with the same button (same launch token) ...
    assert run_button(app).key == button.key
    run(app)  # ... so a second click on it, however soon, is the same launch
    assert svc.count(studio) == 1
    first = app.session_state["create_jobs"]
    assert run_button(app).key != button.key  # drawn once more: the next click is a new launch
    run(app)
    assert svc.count(studio) == 2 and app.session_state["create_jobs"] != first


def test_a_refresh_never_launches_again(app, studio):
    run(fill(app, "Refresh after run", duration="4"))
    ids = app.session_state["create_jobs"]
    for _ in range(2):
        fresh = open_page(CREATE, studio, {"jobs": ",".join(ids)})
        assert fresh.session_state["create_jobs"] == ids
    assert svc.count(studio) == 1


# ---------------------------------------------------------------------- a key Mosaic refuses


def test_a_refused_key_is_warned_about_above_run_which_waits_for_a_confirmation(clean_sim, tmp_path):
    services = svc.build_services(
        settings_for(clean_sim, tmp_path / "w", api_key="sk_not_a_mosaic_key"), start_worker=False
    )
    try:
        at = open_page(CREATE, services)
        (warning,) = texts(at.container("create_run_box"), "warning")
        assert "Mosaic did not accept the API key" in warning and "Invalid API key" in warning
        assert run_button(at).disabled
        at.checkbox(key="create_run_anyway").check().run()
        assert not run_button(at).disabled
        run(fill(at, "Try it anyway", duration="4"))
        assert svc.count(services) == 1
    finally:
        services.close()


def test_a_working_key_shows_no_warning(app):
    assert not app.container("create_run_box").warning
    assert not run_button(app).disabled


# ---------------------------------------------------------------------- layout of takes


@pytest.mark.parametrize(("aspect", "columns"), [("16:9", 2), ("21:9", 2), ("1:1", 3), ("9:16", 4), ("3:4", 4)])
def test_takes_are_laid_out_by_their_shape(idle, aspect, columns):
    ids = svc.generate(idle, VideoGenerationParams(prompt="Shape", aspect_ratio=aspect), takes=4)
    layout = svc.take_layout(svc.get_many(idle, ids))
    assert layout.columns == columns
    w, h = (int(x) for x in aspect.split(":"))
    assert layout.ratio == pytest.approx(w / h)
