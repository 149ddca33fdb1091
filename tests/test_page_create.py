"""AppTest: the Create page (pages/create.py) against a running studio talking to the simulator."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest
from support import CREATE, open_page, settings_for, wait_until

from studio import services as svc
from studio.models import PROMPT_MAX_CHARS, VideoGenerationParams


def fill(at: AppTest, prompt: str = "A paper boat on a rainy street", **settings) -> AppTest:
    at.text_area(key="create_prompt").set_value(prompt)
    for name, value in settings.items():
        getattr(
            at, {"resolution": "radio", "generate_audio": "toggle", "takes": "number_input"}.get(name, "selectbox")
        )(key=f"create_{'audio' if name == 'generate_audio' else name}").set_value(value)
    return at


def run(at: AppTest) -> AppTest:
    at.button(key="create_run").click().run()
    assert not at.exception, at.exception
    return at


def jobs_in_url(at: AppTest) -> list[str]:
    value = at.query_params.get("jobs") or ""
    value = value[0] if isinstance(value, list) else value
    return [i for i in value.split(",") if i]


def texts(block, kind: str) -> list[str]:
    return [e.value for e in getattr(block, kind)]


def finished(at: AppTest) -> bool:
    return not at.container("create_results").get("progress")


def png(color: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), color).save(buf, format="PNG")
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
    assert "1 run · length chosen by the model" in run_box.markdown[0].value
    assert any("Runs on 🔑 the Mosaic API" in c for c in texts(run_box, "caption"))


def test_estimate_follows_takes_and_duration_with_credits_when_a_rate_is_set(clean_sim, tmp_path):
    services = svc.build_services(settings_for(clean_sim, tmp_path / "c", credits_per_second=0.5), start_worker=False)
    try:
        at = open_page(CREATE, services)
        fill(at, duration="6", takes=3).run()
        assert "3 runs · 18 s of video · ≈ 9 credits" in at.container("create_run_box").markdown[0].value
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
    gen = svc.get(studio, ids[0])
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
    assert "480×854 · 4.0 s · audio" in texts(results, "caption")[0]
    url = results.get("video")[0].proto.url
    gen = svc.get(studio, ids[0])
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
    assert svc.get(studio, gen_id).attempt == 2
    wait_until(app, lambda a: svc.get(studio, gen_id).status == "done" and finished(a))
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
    assert svc.get(idle, first).status == "queued"
    assert len(at.container("create_results").get("progress")) == 2


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
    uploader(app).set_value(("logo.png", png(), "image/png")).run()
    (ref,) = svc.references(studio, "image")
    assert ref.filename == "logo.png"
    assert app.multiselect(key="create_refs_images").value == [ref.upload_id]
    box = app.container("create_refs_box")
    assert box.image and box.image[0].proto.imgs[0].url.endswith(f"/files/{ref.local_name}")
    assert not uploader(app).value  # the uploader empties: the file now lives in the library
    run(fill(app, "Use the logo", duration="4"))
    gen = svc.get(studio, app.session_state["create_jobs"][0])
    assert gen.selected_context.images == [ref.upload_id]

    later = open_page(CREATE, studio)  # a new session: pick it again from the library, no new upload
    assert later.multiselect(key="create_refs_images").options == ["logo.png (0.1 KB)"]
    uploader(later).set_value(("logo-again.png", png(), "image/png")).run()
    assert len(svc.references(studio)) == 1
    assert later.multiselect(key="create_refs_images").value == [ref.upload_id]


@pytest.mark.parametrize(
    "name,data,message",
    [
        ("notes.txt", b"hello", "this file type can't be a reference"),
        ("blank.png", b"", "blank.png is empty"),
        ("huge.png", b"\0" * (50 * 1024**2 + 1), "Mosaic accepts image files up to 50 MB"),
    ],
)
def test_bad_reference_files_are_refused_before_upload(app, studio, name, data, message):
    uploader(app).set_value([(name, data, "application/octet-stream"), ("ok.png", png(), "image/png")]).run()
    errors = texts(app.container("create_refs_box"), "error")
    assert len(errors) == 1 and message in errors[0]
    assert [r.filename for r in svc.references(studio)] == ["ok.png"]


def test_at_most_nine_reference_images_are_selected(app, studio):
    files = [(f"img{i}.png", png((i * 20, 10, 10)), "image/png") for i in range(10)]
    uploader(app).set_value(files).run()
    assert len(svc.references(studio, "image")) == 10
    assert len(app.multiselect(key="create_refs_images").value) == 9
    errors = texts(app.container("create_refs_box"), "error")
    assert len(errors) == 1 and "img9.png is in the library but not selected" in errors[0]
    assert "At most 9 reference images" in errors[0]
