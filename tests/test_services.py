"""Use-cases behind the pages: estimates, curation, drafts, snippets, presets, references (grids: test_grids.py)."""

from __future__ import annotations

import pytest
from media_files import picture, tone
from support import settings_for, started_ago

from studio import services as svc
from studio.errors import JobError, ParamsError
from studio.models import VideoGenerationParams
from studio.simulator import SimConfig, Simulator


def params(**kw) -> VideoGenerationParams:
    return VideoGenerationParams(prompt=kw.pop("prompt", "A koi pond at dawn"), **kw)


def test_estimate_counts_seconds_and_credits(clean_sim, tmp_path):
    studio = svc.build_services(settings_for(clean_sim, tmp_path / "d", credits_per_second=12.5), start_worker=False)
    try:
        est = svc.estimate(studio, [params(duration="8"), params(duration="4"), params()])
    finally:
        studio.close()
    assert (est.runs, est.seconds, est.auto_runs, est.credits) == (3, (17, 22), 1, (212.5, 275.0))
    # Seedance 2's latency model at 720p (studio.latency): the slowest cell, the 8 s or an automatic 10 s one.
    assert est.history_runs == 0 and est.time_s == pytest.approx((180 * 1.24, 360 * 1.4))


def test_estimate_without_a_rate_still_gives_the_relative_cost(idle):
    est = svc.estimate(idle, [params(duration="5", resolution="1080p")])
    assert est.credits is None and est.relative_cost == pytest.approx(2.25)
    assert svc.cost_note(params(resolution="1080p")) == "1080p costs about 2.25× 720p"


def test_credit_rates_per_resolution_are_a_setting(clean_sim, tmp_path):
    from studio.settings import Settings

    assert Settings(credits_per_second="480p=1, 720p=2,1080p=4").credits_per_second == "480p=1,720p=2,1080p=4"
    assert Settings(credits_per_second=3).credits_per_second == "3"
    with pytest.raises(ValueError, match="no rate for 1080p"):
        Settings(credits_per_second="480p=1,720p=2")
    studio = svc.build_services(
        settings_for(clean_sim, tmp_path / "r", credits_per_second="480p=1,720p=2,1080p=4"), start_worker=False
    )
    try:
        est = svc.estimate(studio, [params(duration="5", resolution="480p"), params(duration="5", resolution="1080p")])
    finally:
        studio.close()
    assert est.credits == (25.0, 25.0)


def finished(services: svc.Services, elapsed: float, *, scope: str | None = None, **kw) -> None:
    "A finished run in the history that took `elapsed` seconds upstream (through API `scope`)."
    (gen_id,) = services.store.add_generations([(params(duration="5", **kw), None)])
    agent = f"agent-{gen_id}"
    services.store.add_agent(agent, "node", scope=scope or services.runner.scope, flow="reuse", leased_by=None)
    services.store.update(gen_id, status="done", elapsed_s=elapsed, agent_id=agent)


def test_time_estimate_takes_the_median_of_recent_runs_through_the_same_api(idle):
    for elapsed in (100.0, 200.0, 300.0, 400.0):
        finished(idle, elapsed)
    finished(idle, 9999.0, scope="another-api")  # never stands in for this API's runs
    finished(idle, 5.0, resolution="1080p")  # other settings
    est = svc.estimate(idle, [params(duration="5")])
    assert (est.time_s, est.history_runs) == ((250.0, 250.0), 4)
    assert svc.estimate(idle, [params(duration="6")]).history_runs == 0  # nothing at 6 s yet


def test_a_running_jobs_time_left_follows_recent_runs_like_the_estimate(idle):
    # Ten minutes a run at 720p, 5 s: far from the latency model's 3–6 min, so only history says it.
    for elapsed in (590.0, 600.0, 610.0):
        finished(idle, elapsed)
    est = svc.estimate(idle, [params(duration="5")])
    assert (est.time_s, est.history_runs) == ((600.0, 600.0), 3)
    same, other = svc.generate(idle, params(duration="5")), svc.generate(idle, params(duration="5", resolution="1080p"))
    started_ago(idle, same[0], 120)
    started_ago(idle, other[0], 120)
    here, there = svc.waits(idle, [*same, *other])
    assert here.expected_s == est.time_s == tuple(svc.run_times(idle, [params(duration="5")])[0])
    left = here.left_s
    assert left is not None and left[0] == left[1] == pytest.approx(480, abs=2)
    # 480 s, said in whole minutes: "7–8", or "8" when the page is read within a hair of 480 s
    assert here.describe().endswith(("about 7–8 min left", "about 8 min left"))
    # No history at 1080p: the latency model, the same as the estimate before launch.
    assert there.expected_s == svc.estimate(idle, [params(duration="5", resolution="1080p")]).time_s == (240, 660)


def test_past_the_median_of_recent_runs_a_run_is_late_in_one_figure(idle):
    for elapsed in (300.0, 300.0, 300.0):
        finished(idle, elapsed)
    due_id, late_id = svc.generate(idle, params(duration="5"), takes=2)
    started_ago(idle, due_id, 360)  # past the median, as half of all runs are: nothing unusual
    started_ago(idle, late_id, 500)  # past 1.5x the usual time: late
    due, late = svc.waits(idle, [due_id, late_id])
    assert not due.overdue and due.describe().endswith("any moment now")
    assert late.overdue and "taking longer than usual (usually 5 min)" in late.describe()


def test_the_simulator_estimates_with_its_own_latency(keyless):
    latency = keyless.settings.sim_latency + keyless.settings.sim_latency_per_second * 4
    assert svc.estimate(keyless, [params(duration="4")]).time_s == (latency, latency)


def test_the_simulators_runs_wait_as_long_as_it_estimates_automatic_length_too(keyless):
    per_second = keyless.settings.sim_latency_per_second
    ids = svc.generate(keyless, params(duration="4")) + svc.generate(keyless, params(duration="auto"))
    fixed, auto = svc.waits(keyless, ids)
    assert fixed.expected_s == svc.estimate(keyless, [params(duration="4")]).time_s
    # `auto` is 5–10 s of video: the simulator's latency for 5 s to that for 10 s, not a guessed 10 s.
    low, high = (keyless.settings.sim_latency + per_second * s for s in (5, 10))
    assert auto.expected_s == svc.estimate(keyless, [params(duration="auto")]).time_s == (low, high)


def test_a_realistic_simulator_waits_its_time_scaled_profile(clean_sim, tmp_path):
    config = SimConfig(realistic=True, time_scale=0.02, media_dir=tmp_path / "sim")
    simulator = Simulator(config).start()
    studio = svc.build_services(
        settings_for(clean_sim, tmp_path / "d", api_key=None), simulator=simulator, start_worker=False
    )
    try:
        (gen_id,) = svc.generate(studio, params(duration="5"))
        (wait,) = svc.waits(studio, [gen_id])
        estimate = svc.estimate(studio, [params(duration="5")])
    finally:
        studio.close()
    # Seedance 2 at 720p, 5 s, is 3–6 min (studio.latency); at a time scale of 0.02, 3.6–7.2 s.
    assert wait.expected_s == estimate.time_s == pytest.approx((3.6, 7.2))


def test_takes_are_bounded(studio):
    with pytest.raises(ParamsError):
        svc.generate(studio, params(), takes=5)
    assert len(svc.generate(studio, params(), takes=3)) == 3


@pytest.mark.usefixtures("backend")
def test_the_same_launch_key_queues_nothing_more(idle):
    first = svc.generate(idle, params(), takes=2, launch_key="click-a")
    assert svc.generate(idle, params(), takes=2, launch_key="click-a") == first

    def launch(key: str) -> tuple[str, list[str]]:
        return svc.start_grid(idle, params(), resolutions=["480p", "720p"], aspect_ratios=["16:9"], launch_key=key)

    assert launch("click-b") == launch("click-b")
    assert svc.count(idle) == 4


@pytest.mark.usefixtures("backend")
def test_curation_round_trip_and_search(studio):
    gen_id = svc.generate(studio, params())[0]
    svc.set_starred(studio, gen_id, True)
    svc.set_rating(studio, gen_id, 4)
    assert svc.set_tags(studio, gen_id, "hero, sunset, hero ,") == ["hero", "sunset"]
    svc.set_notes(studio, gen_id, "  use for the launch  ")
    gen = svc.get(studio, gen_id)
    assert gen is not None
    assert (gen.starred, gen.rating, gen.tag_list, gen.notes) == (True, 4, ["hero", "sunset"], "use for the launch")
    assert [g.id for g in svc.history(studio, svc.GalleryQuery(text="launch"))] == [gen_id]
    assert [g.id for g in svc.history(studio, svc.GalleryQuery(text="sunset", starred=True))] == [gen_id]
    with pytest.raises(ParamsError):
        svc.set_rating(studio, gen_id, 6)


def test_delete_removes_file_and_row_but_not_running_jobs(studio):
    [gen] = svc.wait_for(studio, svc.generate(studio, params(duration="4")), timeout=60)
    video = studio.media_path(gen.video_path)
    assert video.exists()
    svc.delete_generation(studio, gen.id)
    assert not video.exists() and svc.get(studio, gen.id) is None
    running = svc.generate(studio, params(duration="15"))[0]
    with pytest.raises(JobError):
        svc.delete_generation(studio, running)
    assert svc.get(studio, running) is not None


def test_drafts_keep_what_was_asked():
    from studio.models import Generation

    gen = Generation(id="g", created_at="2026-01-01", prompt="A koi", resolution="1080p", duration="8")
    assert svc.draft_from(gen, "prompt") == {"prompt": "A koi"}
    assert "prompt" not in svc.draft_from(gen, "settings") and svc.draft_from(gen, "settings")["resolution"] == "1080p"
    assert svc.draft_from(gen)["duration"] == "8"
    with pytest.raises(ParamsError):
        svc.draft_from(gen, "everything")


def test_compare_params_flags_what_differs():
    from studio.models import Generation

    a = Generation(id="a", created_at="x", prompt="same", resolution="480p", aspect_ratio="9:16")
    b = Generation(id="b", created_at="x", prompt="same", resolution="720p", aspect_ratio="9:16")
    rows = {label: differs for label, _, _, differs in svc.compare_params(a, b)}
    assert rows["Resolution"] and not rows["Prompt"] and not rows["Aspect ratio"]


@pytest.mark.parametrize("language", ["curl", "python"])
def test_api_request_snippet_reproduces_the_call_with_a_placeholder_key(language):
    code = svc.api_request(params(prompt='it\'s "quoted"', duration="8"), language=language)
    assert "mk_your_api_key" in code and "a2eb3ec2-da7a-4f97-94d2-a9a537548522" in code
    assert '"8"' in code or "'8'" in code
    if language == "python":
        compile(code, "snippet", "exec")


@pytest.mark.usefixtures("backend")
def test_presets_save_load_delete(studio):
    svc.save_preset(studio, "Vertical teaser", {"resolution": "1080p", "aspect_ratio": "9:16", "duration": "6"})
    svc.save_preset(studio, "Vertical teaser", {"resolution": "720p", "aspect_ratio": "9:16"})
    [preset] = svc.presets(studio)
    assert preset.params == {"resolution": "720p", "aspect_ratio": "9:16"}
    with pytest.raises(ParamsError):
        svc.save_preset(studio, "bad", {"resolution": "4k"})
    with pytest.raises(ParamsError):
        svc.save_preset(studio, "  ", {})
    svc.delete_preset(studio, "Vertical teaser")
    assert svc.presets(studio) == []
    with pytest.raises(ParamsError):
        svc.delete_preset(studio, "Vertical teaser")


def test_references_upload_once_and_are_found_by_content(studio, clean_sim, tmp_path):
    png = picture(tmp_path / "board.png").read_bytes()
    first = svc.upload_reference(studio, "board.png", png)
    assert (first.already_had, first.message()) == (False, "Added board.png to the reference library")
    uploads_before = clean_sim.stats()["requests"].get("upload_url", 0)
    again = svc.upload_reference(studio, "renamed.png", png)
    assert again.already_had and again.reference.upload_id == first.reference.upload_id
    assert again.message() == "renamed.png is already in the reference library as board.png"
    assert clean_sim.stats()["requests"].get("upload_url", 0) == uploads_before
    ref = first.reference
    assert [r.sha256 for r in svc.references(studio, "image")] == [ref.sha256]
    assert studio.media_path(ref.local_name).read_bytes() == png
    [gen] = svc.wait_for(
        studio, svc.generate(studio, params(duration="4", selected_context={"images": [ref.upload_id]})), timeout=60
    )
    assert gen.status == "done", gen.error


def test_the_content_decides_the_kind_and_type(idle, tmp_path):
    jpeg = picture(tmp_path / "photo.jpg").read_bytes()
    result = svc.upload_reference(idle, "photo.png", jpeg)  # a JPEG with the wrong name
    assert (result.reference.kind, result.reference.content_type) == ("image", "image/jpeg")
    assert str(result.reference.local_name).endswith(".jpeg")
    with pytest.raises(ParamsError, match=r"fake\.png is not an image"):
        svc.upload_reference(idle, "fake.png", b"plain text\n" * 50)


def test_adding_references_selects_them_and_says_why_not(idle, tmp_path):
    board = picture(tmp_path / "board.png").read_bytes()
    voice = tone(tmp_path / "voice.wav", 3).read_bytes()
    alone = svc.add_references(idle, [("voice.wav", voice)], {})
    assert alone.selected["audio"] == [] and len(alone.errors) == 1
    assert "needs at least one reference image or video beside it" in alone.errors[0]
    both = svc.add_references(idle, [("board.png", board), ("voice.wav", voice), ("bad.png", b"x" * 40)], {})
    assert [len(both.selected[k]) for k in ("images", "videos", "audio")] == [1, 0, 1]
    assert both.notes[0] == "Added board.png to the reference library (selected)"
    assert both.notes[1] == "voice.wav is already in the reference library (selected)"
    assert len(both.errors) == 1 and "bad.png is not an image" in both.errors[0]
    with pytest.raises(ParamsError, match="needs at least one reference image or video"):  # checked at launch too
        svc.generate(idle, params(selected_context={"audio": both.selected["audio"]}))


def test_keyless_reference_library_and_agents_survive_a_restart(tmp_path):
    from studio.settings import Settings

    settings = Settings(data_dir=tmp_path / "d", sim_latency=0.2, poll_interval=0.1, max_poll_interval=0.3)
    first = svc.build_services(settings)
    try:
        ref = svc.upload_reference(first, "board.png", picture(tmp_path / "board.png").read_bytes()).reference
        svc.wait_for(first, svc.generate(first, params(duration="4")), timeout=60)
    finally:
        first.close()
    second = svc.build_services(settings)  # the simulator comes back on another port
    try:
        assert [r.upload_id for r in svc.references(second, "image")] == [ref.upload_id]
        [gen] = svc.wait_for(
            second, svc.generate(second, params(duration="4", selected_context={"images": [ref.upload_id]})), timeout=60
        )
        assert gen.status == "done", gen.error
        assert second.store.agent_count() == 1  # the pooled agent was reused, not recreated
    finally:
        second.close()


def test_status_check_is_one_quick_try_and_is_remembered(studio, clean_sim, monkeypatch):
    from studio.simulator import Faults

    monkeypatch.setattr(svc.account, "STATUS_TIMEOUT_S", 0.5)
    clean_sim.set_faults(Faults(slow_seconds=2.0))
    clean_sim.script_fault("slow", route="whoami")
    before = clean_sim.stats()["requests"].get("whoami", 0)
    status = svc.api_status(studio, refresh=True)
    assert status["key_ok"] is False and "did not answer in time" in status["error"]
    assert clean_sim.stats()["requests"]["whoami"] - before == 1  # no retries
    assert svc.api_status(studio) is status  # remembered: the next rerun asks nothing
    assert svc.api_status(studio, refresh=True)["key_ok"] is True


def test_browser_upload_limit_matches_the_server_config():
    import tomllib
    from pathlib import Path

    config = tomllib.loads((Path(__file__).resolve().parent.parent / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] == svc.BROWSER_UPLOAD_MAX_MB


def test_keyless_studio_polls_on_the_simulators_schedule_not_mosaics(tmp_path):
    from studio.settings import Settings

    # Mosaic's defaults: no look at a run before a minute, then up to a minute between looks.
    settings = Settings(data_dir=tmp_path / "d", sim_latency=0.3, sim_latency_per_second=0.0)
    assert settings.first_poll_after >= 60 and settings.max_poll_interval >= 60
    studio = svc.build_services(settings)
    try:
        assert studio.runner.settings.first_poll_after <= settings.sim_latency
        assert studio.runner.settings.max_poll_interval <= 1.0
        [gen] = svc.wait_for(studio, svc.generate(studio, params(duration="4")), timeout=30)
        assert gen.status == "done", gen.error  # on Mosaic's schedule it would still be waiting
    finally:
        studio.close()
