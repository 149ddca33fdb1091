"""The job runner end to end: the real client over HTTP against the simulator, files on disk.

Covers the promises of the engine: one API call to start a generation, files probed with the
requested size/duration/audio, lost responses and faults that never create a duplicate run,
and a restart (even a kill -9) in the middle of a grid that finishes every job exactly once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from support import TEST_KEY, settings_for

from studio import media
from studio import services as svc
from studio.errors import JobError
from studio.models import Generation, VideoGenerationParams
from studio.simulator import Faults, SimConfig, Simulator

ROOT = Path(__file__).resolve().parent.parent
SLOW_RUN_S = 6.0  # long enough that a cancel always meets the run going, even on a loaded machine


pytestmark = pytest.mark.usefixtures("clean_sim")  # every test starts with no faults scripted


def agent_runs(sim, gens) -> Counter:
    "Runs the simulator created on each agent the generations used."
    return Counter({g.agent_id: sim.runs_for_agent(g.agent_id) for g in gens})


def stored(services, gen_id: str) -> Generation:
    "The generation as the store holds it now; it must exist."
    gen = services.store.get(gen_id)
    assert gen is not None, gen_id
    return gen


def params(**kw) -> VideoGenerationParams:
    return VideoGenerationParams(prompt=kw.pop("prompt", "A paper boat on a rainy street"), **kw)


def test_generation_is_downloaded_probed_and_recorded(studio, sim):
    ids = svc.generate(studio, params(resolution="720p", aspect_ratio="9:16", duration="4"))
    [gen] = svc.wait_for(studio, ids, timeout=60)
    assert gen.status == "done", gen.error
    path = studio.media_path(gen.video_path)
    facts = media.probe(path)
    assert (facts.width, facts.height) == (720, 1280) == (gen.width, gen.height)
    assert abs(facts.duration_s - 4) < 0.3 and gen.has_audio and facts.has_audio
    assert gen.sha256 == media.sha256_file(path) and gen.file_size == path.stat().st_size
    assert studio.media_path(gen.thumb_path).read_bytes()[:2] == b"\xff\xd8"  # JPEG
    assert gen.run_id and gen.elapsed_s is not None and gen.elapsed_s > 0 and gen.finished_at
    assert not list(path.parent.glob("*.part"))


def test_no_audio_means_no_audio_track(studio):
    [gen] = svc.wait_for(
        studio,
        svc.generate(studio, params(resolution="480p", aspect_ratio="1:1", duration="4", generate_audio=False)),
        timeout=60,
    )
    assert gen.status == "done", gen.error
    assert (gen.width, gen.height, gen.has_audio) == (640, 640, False)


def test_one_api_call_starts_a_generation_on_a_warm_pool(studio, sim):
    svc.wait_for(studio, svc.generate(studio, params()), timeout=60)  # creates the pooled agent
    before = Counter(sim.stats()["requests"])
    [gen] = svc.wait_for(studio, svc.generate(studio, params(prompt="Second take")), timeout=60)
    calls = Counter(sim.stats()["requests"]) - before
    assert gen.status == "done"
    assert calls["run"] == 1
    assert calls["agent_create"] == 0 and calls["agent_update"] == 0 and calls["agent_runs"] == 0
    # Waiting is the organization's run listing ("runs"), not a GET per run.
    assert set(calls) <= {"run", "runs", "storage_download"}
    assert studio.store.agent_count() == 1


def test_three_call_flow_creates_an_agent_per_generation(sim, tmp_path):
    services = svc.build_services(settings_for(sim, tmp_path / "d", run_flow="three_call"))
    try:
        before = Counter(sim.stats()["requests"])
        gens = svc.wait_for(services, svc.generate(services, params(), takes=2), timeout=60)
        calls = Counter(sim.stats()["requests"]) - before
    finally:
        services.close()
    assert [g.status for g in gens] == ["done", "done"]
    assert (calls["agent_create"], calls["agent_update"], calls["run"]) == (2, 2, 2)
    assert len({g.agent_id for g in gens}) == 2


@pytest.mark.parametrize("fault", ["drop", "slow"])
def test_lost_run_response_is_found_not_resubmitted(sim, tmp_path, fault):
    sim.set_faults(Faults(slow_seconds=2.5))
    services = svc.build_services(settings_for(sim, tmp_path / "d", timeout=1.0))
    try:
        sim.script_fault(fault, route="run")
        [gen] = svc.wait_for(services, svc.generate(services, params()), timeout=60)
    finally:
        services.close()
    assert gen.status == "done", gen.error
    assert sim.stats()["faults_injected"].get(fault, 0) >= 1
    assert agent_runs(sim, [gen]) == {gen.agent_id: 1}


@pytest.mark.parametrize(
    "fault,route",
    [
        ("rate_limit", "run"),
        ("server_error", "run"),
        ("rate_limit", "run_get"),
        ("server_error", "run_get"),
        ("server_error", "storage_download"),
    ],
)
def test_rate_limits_and_server_errors_are_absorbed(sim, studio, fault, route):
    sim.set_faults(Faults(retry_after_s=0.2, include_storage=True))
    sim.script_fault(fault, route=route, count=2)
    [gen] = svc.wait_for(studio, svc.generate(studio, params()), timeout=60)
    assert gen.status == "done", gen.error
    assert agent_runs(sim, [gen]) == {gen.agent_id: 1}


def test_random_faults_on_a_grid_give_one_run_per_cell(sim, studio):
    sim.set_faults(
        Faults(
            rate_limit=0.15,
            server_error=0.15,
            drop=0.1,
            retry_after_s=0.1,
            seed=7,
            routes=frozenset({"run", "run_get", "agent_create", "agent_update"}),
        )
    )
    _, ids = svc.start_grid(
        studio, params(duration="4"), resolutions=["480p", "720p"], aspect_ratios=["16:9", "9:16", "1:1"]
    )
    gens = svc.wait_for(studio, ids, timeout=120)
    assert [g.status for g in gens] == ["done"] * 6, [g.error for g in gens]
    assert len({g.run_id for g in gens}) == 6
    assert sum(agent_runs(sim, gens).values()) == 6


def test_failed_run_shows_mosaics_message_and_can_be_retried(sim, studio):
    sim.script_fault("run_fail", route="run")
    [gen] = svc.wait_for(studio, svc.generate(studio, params()), timeout=60)
    assert gen.status == "failed" and "failed" in str(gen.error).lower()
    svc.retry(studio, gen.id)
    [again] = svc.wait_for(studio, [gen.id], timeout=60)
    assert again.status == "done" and again.attempt == 2 and again.run_id != gen.run_id


def test_needs_credits_is_explained(sim, studio):
    sim.script_fault("needs_credits", route="run")
    [gen] = svc.wait_for(studio, svc.generate(studio, params()), timeout=60)
    assert gen.status == "failed" and "credits" in str(gen.error).lower()


def test_api_rejection_fails_at_once_with_detail(studio):
    bad = params(selected_context={"images": ["no-such-upload"]})
    [gen] = svc.wait_for(studio, svc.generate(studio, bad), timeout=60)
    assert gen.status == "failed"
    assert gen.error and "HTTP 400" in gen.error and "no-such-upload" in gen.error


def test_cancel_queued_and_running(sim, tmp_path):
    services = svc.build_services(settings_for(sim, tmp_path / "d"), start_worker=False)
    try:
        queued = svc.generate(services, params())[0]
        svc.cancel(services, queued)
        assert stored(services, queued).status == "cancelled"
        with pytest.raises(JobError):
            svc.cancel(services, queued)
        running = svc.generate(services, params(duration="15"))[0]
        services.runner.start()
        deadline = time.monotonic() + 30
        while stored(services, running).status != "running" and time.monotonic() < deadline:
            time.sleep(0.05)
        svc.cancel(services, running)
        [gen] = svc.wait_for(services, [running], timeout=30)
    finally:
        services.close()
    assert gen.status == "cancelled"


def test_restart_mid_grid_finishes_every_job_once(sim, tmp_path):
    data = tmp_path / "d"
    first = svc.build_services(settings_for(sim, data))
    _, ids = svc.start_grid(
        first, params(duration="6"), resolutions=["480p", "720p"], aspect_ratios=["16:9", "9:16", "1:1"]
    )
    deadline = time.monotonic() + 30
    while first.store.count_status("running") < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    first.close()  # the server goes away mid-grid
    second = svc.build_services(settings_for(sim, data))
    try:
        gens = svc.wait_for(second, ids, timeout=120)
    finally:
        second.close()
    assert [g.status for g in gens] == ["done"] * 6, [g.error for g in gens]
    assert sum(agent_runs(sim, gens).values()) == 6 and len({g.run_id for g in gens}) == 6


def cli_env(sim, data: Path) -> dict[str, str]:
    "The environment of a `studio` command talking to the test simulator as if it were Mosaic."
    return {
        **os.environ,
        "STUDIO_DATA_DIR": str(data),
        "MOSAIC_API_KEY": TEST_KEY,
        "MOSAIC_BASE_URL": sim.base_url,
        "STUDIO_POLL_INTERVAL": "0.1",
        "STUDIO_MAX_POLL_INTERVAL": "0.3",  # on Mosaic's schedule the first look would wait a minute
    }


def test_kill_9_mid_grid_then_resume_submits_nothing_twice(sim, tmp_path):
    data = tmp_path / "d"
    env = cli_env(sim, data)
    before = sim.stats()["runs_total"]
    # Every run answer is lost once: the killed process dies with runs it never heard about.
    sim.script_fault("drop", route="run", count=3)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "studio.cli",
            "grid",
            "A lantern in fog",
            "--duration",
            "8",
            "--resolutions",
            "480p,720p",
            "--aspect-ratios",
            "16:9,9:16,1:1",
            "--wait",
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while sim.stats()["runs_total"] - before < 4 and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    resumed = svc.build_services(settings_for(sim, data))
    try:
        grid_id = resumed.store.page(limit=1)[0].grid_id
        assert grid_id is not None
        gens = resumed.store.grid_cells(grid_id)
        gens = svc.wait_for(resumed, [g.id for g in gens], timeout=120)
    finally:
        resumed.close()
    assert [g.status for g in gens] == ["done"] * 6, [g.error for g in gens]
    assert sim.stats()["runs_total"] - before == 6
    assert len({g.run_id for g in gens}) == 6


def test_cli_generate_prints_the_saved_result(sim, tmp_path):
    env = cli_env(sim, tmp_path / "d")
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "studio.cli",
            "generate",
            "A neon koi",
            "--resolution",
            "480p",
            "--aspect-ratio",
            "9:16",
            "--duration",
            "4",
            "--no-audio",
            "--wait",
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert (result["width"], result["height"], result["has_audio"], result["status"]) == (496, 864, False, "done")
    assert Path(result["path"]).is_file() and result["run_id"]
    assert TEST_KEY not in out.stdout + out.stderr


def test_cli_grid_exit_status_reflects_failures(sim, tmp_path):
    env = cli_env(sim, tmp_path / "d")
    sim.script_fault("run_fail", route="run")
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "studio.cli",
            "grid",
            "A red kite",
            "--duration",
            "4",
            "--resolutions",
            "480p",
            "--aspect-ratios",
            "16:9,1:1",
            "--wait",
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 1
    cells = json.loads(out.stdout.strip().splitlines()[-1])
    assert sorted(c["status"] for c in cells) == ["done", "failed"]
    assert {c["cell"] for c in cells} == {"480p · 16:9", "480p · 1:1"}


def test_the_api_key_never_reaches_the_database(studio):
    svc.wait_for(studio, svc.generate(studio, params()), timeout=60)
    for path in studio.settings.data_dir.rglob("*"):
        if path.is_file():
            assert TEST_KEY.encode() not in path.read_bytes(), path


def test_keyless_studio_resumes_runs_after_a_restart(tmp_path):
    from studio.settings import Settings

    settings = Settings(
        data_dir=tmp_path / "d", sim_latency=1.5, sim_latency_per_second=0.0, poll_interval=0.1, max_poll_interval=0.3
    )
    first = svc.build_services(settings)
    assert first.mode == "simulator"
    gen_id = svc.generate(first, params(duration="4"))[0]
    deadline = time.monotonic() + 30
    while stored(first, gen_id).status != "running" and time.monotonic() < deadline:
        time.sleep(0.05)
    run_id = stored(first, gen_id).run_id
    first.close()  # the in-process simulator stops with it, mid-run
    second = svc.build_services(settings)
    try:
        [gen] = svc.wait_for(second, [gen_id], timeout=60)
        assert second.simulator is not None and second.simulator.stats()["runs_total"] == 1
    finally:
        second.close()
    assert gen.status == "done", gen.error
    video = second.media_path(gen.video_path)
    assert gen.run_id == run_id and video is not None and video.is_file()


@pytest.fixture
def slow_runs(tmp_path):
    """A simulator whose runs take seconds, and a studio on it: a cancel sent while the worker looks
    up a lost answer must meet the run still going, however loaded the machine is."""
    config = SimConfig(latency=SLOW_RUN_S, latency_per_second=0.0, media_dir=tmp_path / "sim")
    with Simulator(config).start() as sim:
        studio = svc.build_services(settings_for(sim, tmp_path / "data"))
        try:
            yield sim, studio
        finally:
            studio.close()


def test_cancel_after_a_lost_answer_cancels_that_run_and_nobody_adopts_it(slow_runs):
    sim, studio = slow_runs
    drops = sim.stats()["faults_injected"].get("drop", 0)
    sim.script_fault("drop", route="run")
    a = svc.generate(studio, params(prompt="Take A", resolution="720p", aspect_ratio="16:9", duration="4"))[0]
    deadline = time.monotonic() + 30
    while sim.stats()["faults_injected"].get("drop", 0) == drops and time.monotonic() < deadline:
        time.sleep(0.02)
    svc.cancel(studio, a)  # while the worker does not yet know the run exists
    [took_a] = svc.wait_for(studio, [a], timeout=60)
    assert took_a.status == "cancelled" and took_a.run_id, "the run was found, followed and cancelled"
    assert studio.client.get_run(took_a.run_id).status == "cancelled"

    sim.script_fault("server_error", route="run")  # the next POST creates nothing, and says so
    b = svc.generate(studio, params(prompt="Take B", resolution="480p", aspect_ratio="9:16", duration="6"))[0]
    [took_b] = svc.wait_for(studio, [b], timeout=60)
    assert took_b.status == "done" and took_b.run_id != took_a.run_id
    assert took_b.duration_s is not None
    assert (took_b.width, took_b.height, round(took_b.duration_s)) == (496, 864, 6)
    # B's 502 left the outcome of its POST unknown, so B went on with another agent (issue 7 §1) and
    # nothing was started twice: A's agent holds A's cancelled run only, B's agent B's own.
    assert took_b.agent_id != took_a.agent_id
    assert sim.runs_for_agent(took_a.agent_id) == 1 and sim.runs_for_agent(took_b.agent_id) == 1


# ---------------------------------------------------------------- one listing for every run in flight


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> bytes:
    "A real, short MP4 for the fake storage host to serve, at a size the default params can have (720p, auto)."
    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    media.render_clip(path, width=1280, height=720, seconds=1, audio=False, text="")
    return path.read_bytes()


@pytest.fixture
def fake_studio(tmp_path):
    "A runner over the scripted fake API (httpx.MockTransport): runs stay `running` until a test ends them."
    from fakes import FakeApi

    from studio.jobs import JobRunner
    from studio.settings import Settings
    from studio.store import HistoryStore

    api = FakeApi(run_status="running")
    settings = Settings(
        api_key=TEST_KEY,
        base_url=api.base_url,
        data_dir=tmp_path / "fake",
        poll_interval=0.05,
        max_poll_interval=0.1,
    )
    store = HistoryStore(settings.db_path)
    client = api.client()
    runner = JobRunner(store, client, settings)
    yield api, store, runner
    runner.stop()
    client.close()


def _end_runs(api, clip: bytes, status: str = "completed") -> None:
    "Mosaic finishes every running run of the fake: with a real video output, or without one."
    with api._lock:
        for run_id, run in api.runs.items():
            if run["status"] != "running":
                continue
            run["status"], run["updated_at"] = status, "2026-01-01T00:05:00Z"
            if status == "completed":
                node_id = next(iter(api.agents[run["agent_id"]]["agent_nodes"]))["agent_node_id"]
                url = api.add_file(f"{run_id}.mp4", clip)
                run["outputs"] = [{"id": f"render-{run_id}", "video_url": url, "original_node_id": node_id}]


def _wait_status(store, ids, statuses, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        gens = store.many(ids)
        if all(g.status in statuses for g in gens):
            return gens
        time.sleep(0.02)
    raise AssertionError(f"not {statuses} in time: {[g.status for g in store.many(ids)]}")


def test_one_listing_follows_every_run_in_flight(fake_studio, clip):
    api, store, runner = fake_studio
    ids = store.add_generations([(params(prompt=f"Take {i}"), None) for i in range(5)])
    runner.start()
    _wait_status(store, ids, {"running"})
    time.sleep(0.5)  # several poll intervals with five runs in flight
    listings = api.calls("GET", "/agent_runs")
    assert listings, "the runs in flight were looked at"
    assert not api.calls("GET", "/agent_run/{id}"), "no run is polled on its own"
    query = listings[-1].params
    assert query["status"].split(",") == ["running", "completed", "partial_complete", "failed", "cancelled"]
    assert query["limit"] == "100" and query["from"] < min(g.submitted_at for g in store.many(ids))
    _end_runs(api, clip)
    gens = _wait_status(store, ids, {"done", "failed"})
    assert [g.status for g in gens] == ["done"] * 5, [g.error for g in gens]
    assert {g.render_id for g in gens} == {f"render-{g.run_id}" for g in gens}
    assert not api.calls("GET", "/agent_run/{id}"), "the outputs came from the listing"


def test_listing_without_outputs_costs_one_get_per_finished_run(fake_studio, clip):
    api, store, runner = fake_studio
    api.list_omits_outputs = True
    ids = store.add_generations([(params(prompt=f"Take {i}"), None) for i in range(2)])
    runner.start()
    _wait_status(store, ids, {"running"})
    _end_runs(api, clip)
    gens = _wait_status(store, ids, {"done", "failed"})
    assert [g.status for g in gens] == ["done", "done"], [g.error for g in gens]
    asked = sorted(r.path for r in api.calls("GET", "/agent_run/{id}"))
    assert asked == sorted(f"/agent_run/{g.run_id}" for g in gens)


def test_a_failed_run_is_asked_about_once_for_its_reason(fake_studio, clip):
    api, store, runner = fake_studio
    [gen_id] = store.add_generations([(params(), None)])
    runner.start()
    [gen] = _wait_status(store, [gen_id], {"running"})
    with api._lock:
        api.runs[gen.run_id].update(needs_credits=True, status_message="Insufficient credits")
    _end_runs(api, clip, status="failed")
    [gen] = _wait_status(store, [gen_id], {"failed"})
    assert "credits" in gen.error.lower()  # needs_credits is only on the run itself, not the summary
    assert len(api.calls("GET", "/agent_run/{id}")) == 1


def test_a_run_missing_from_the_listing_is_asked_about_on_its_own(fake_studio):
    api, store, runner = fake_studio
    [gen_id] = store.add_generations([(params(), None)])
    runner.start()
    [gen] = _wait_status(store, [gen_id], {"running"})
    with api._lock:
        del api.runs[gen.run_id]  # Mosaic forgot it
    [gen] = _wait_status(store, [gen_id], {"failed"})
    assert "no record" in gen.error
    assert [r.path for r in api.calls("GET", "/agent_run/{id}")] == [f"/agent_run/{gen.run_id}"]


def test_the_listing_follows_cursors_until_every_run_is_found(fake_studio, clip):
    api, store, runner = fake_studio
    with api._lock:  # the organization ran 150 other things, listed before ours
        for i in range(150):
            api.runs[f"other-{i}"] = {"run_id": f"other-{i}", "agent_id": "other", "status": "completed"}
    [gen_id] = store.add_generations([(params(), None)])
    runner.start()
    _wait_status(store, [gen_id], {"running"})
    _end_runs(api, clip)
    [gen] = _wait_status(store, [gen_id], {"done", "failed"})
    assert gen.status == "done", gen.error
    cursors = [r.params.get("cursor") for r in api.calls("GET", "/agent_runs")]
    assert "100" in cursors  # the second page was read: that is where our run was


def test_webhooks_note_progress_without_a_call_and_a_finish_brings_the_listing_forward(fake_studio):
    api, store, runner = fake_studio
    [gen_id] = store.add_generations([(params(), None)])
    runner.start()
    [gen] = _wait_status(store, [gen_id], {"running"})
    runner.stop()  # the worker is idle from here: only the webhook acts
    before = len(api.requests)
    assert not runner.schedule.poll_asked()
    runner.notify_run(gen.run_id, status="running", flag="RUN_PROGRESS")
    assert len(api.requests) == before and not runner.schedule.poll_asked()
    phase = runner.phases([gen_id])[gen_id]
    assert phase.phase == "generating" and phase.generating_since and phase.last_progress_at
    runner.notify_run(gen.run_id, status="completed", flag="RUN_FINISHED")
    time.sleep(runner.settings.poll_interval)
    assert runner.schedule.poll_asked() and len(api.requests) == before
    runner.notify_run("not-our-run", status="completed")  # someone else's run: ignored


# ---------------------------------------------------------------- poll timing


def test_poll_timing_waits_for_the_first_finish_then_backs_off_with_age():
    from studio.jobs import poll_wait

    timing = {"first": 60.0, "shortest": 2.0, "longest": 60.0}
    # A run 10 s old, never looked at: not before it is a minute old.
    assert poll_wait(10, float("inf"), **timing) == 50
    assert poll_wait(60, float("inf"), **timing) <= 0
    # Then a fifth of its age, from the last look: 2 min old -> 24 s; 10 min old -> capped at 60 s.
    assert poll_wait(120, 0, **timing) == pytest.approx(24)
    assert poll_wait(120, 24, **timing) == pytest.approx(0)
    assert poll_wait(600, 0, **timing) == 60
    # Short test intervals: the first look never waits longer than the longest interval.
    assert poll_wait(0, float("inf"), first=60, shortest=0.05, longest=0.1) == pytest.approx(0.1)


# ---------------------------------------------------------------- the schedule is shared between threads


def test_schedule_survives_page_and_worker_threads_at_once(monkeypatch):
    "Page threads note due times while workers claim jobs: each job is held by one worker only."
    import sys
    import threading

    from studio.jobs import Schedule

    monkeypatch.setattr(sys, "getswitchinterval", sys.getswitchinterval)
    sys.setswitchinterval(1e-6)  # switch threads as often as possible, so races show
    try:
        schedule = Schedule(time.monotonic)
        keys = [f"g{i}" for i in range(3000)]
        errors: list[BaseException] = []
        claimed: list[str] = []
        pages_done = threading.Event()

        def page(part: list[str]) -> None:
            for key in part:
                schedule.later(key, 0.0)
                schedule.ask_poll(0.0)

        def worker() -> None:
            try:
                while True:
                    finished = pages_done.is_set()
                    for key in schedule.waits():
                        if schedule.is_due(key) and schedule.claim(key):
                            claimed.append(key)  # held from here on: no other worker may take it
                    if finished:
                        return
            except BaseException as err:
                errors.append(err)

        workers = [threading.Thread(target=worker) for _ in range(4)]
        pages = [threading.Thread(target=page, args=(keys[i::4],)) for i in range(4)]
        for t in workers + pages:
            t.start()
        for t in pages:
            t.join()
        pages_done.set()
        for t in workers:
            t.join()
    finally:
        sys.setswitchinterval(0.005)
    assert not errors, errors
    assert len(claimed) == len(set(claimed)), "a job was held by two workers at once"
    assert sorted(claimed) == sorted(keys), "every job was taken"
    assert schedule.poll_asked()


# ---------------------------------------------------------------- phases and stuck runs


def test_phases_go_queued_submitted_generating_with_their_times(idle):
    from datetime import UTC, datetime, timedelta

    store, runner = idle.store, idle.runner
    [gen_id] = store.add_generations([(params(), None)])
    assert runner.phases([gen_id])[gen_id].phase == "queued"
    store.transition(gen_id, ("queued",), "submitting")
    assert store.record_run(gen_id, "run-1", "agent-1")
    phase = runner.phases([gen_id])[gen_id]
    assert phase.phase == "submitted" and phase.phase_since == phase.submitted_at and not phase.stuck
    store.note_progress(gen_id, generating=True)
    later = datetime.now(UTC) + timedelta(minutes=3)
    phase = store.job_phases([gen_id], stuck_after_s=runner.settings.stuck_after, now=later)[gen_id]
    assert phase.phase == "generating" and phase.phase_since == phase.generating_since
    assert 179 < phase.phase_elapsed_s < 181 and 179 < phase.since_submitted_s < 181
    assert not phase.stuck and 179 < phase.idle_s < 181


def test_a_run_is_stuck_only_after_twenty_minutes_without_progress(idle):
    from datetime import UTC, datetime, timedelta

    store, runner = idle.store, idle.runner
    assert runner.settings.stuck_after == 20 * 60  # STUDIO_STUCK_AFTER's default
    [quiet, busy] = store.add_generations([(params(prompt="Quiet"), None), (params(prompt="Busy"), None)])
    for gen_id, run_id in ((quiet, "run-q"), (busy, "run-b")):
        store.transition(gen_id, ("queued",), "submitting")
        store.record_run(gen_id, run_id, "agent-1")
    long_ago = (datetime.now(UTC) - timedelta(minutes=21)).isoformat()
    store.update_job(quiet, last_progress_at=long_ago)
    store.update_job(busy, last_progress_at=(datetime.now(UTC) - timedelta(minutes=19)).isoformat())
    assert runner.stuck() == [quiet]
    phases = runner.phases([quiet, busy])
    assert phases[quiet].stuck and not phases[busy].stuck
    runner.notify_run("run-q", status="running", flag="RUN_PROGRESS")  # news at last
    assert runner.stuck() == [] and not runner.phases([quiet])[quiet].stuck


def test_a_real_run_records_when_it_started_generating(studio):
    [gen] = svc.wait_for(studio, svc.generate(studio, params(duration="4")), timeout=60)
    assert gen.status == "done", gen.error
    job = studio.store.job(gen.id)
    assert job["last_progress_at"] and job["generating_since"]
    assert gen.submitted_at <= job["generating_since"] <= gen.finished_at


def test_job_phases_migration_adds_progress_stamps_and_drops_next_action_at(tmp_path):
    from studio.store import HistoryStore

    columns = HistoryStore(tmp_path / "s.db").db.table("jobs").columns_dict
    assert {"generating_since", "last_progress_at", "run_updated_at"} <= set(columns)
    assert "next_action_at" not in columns  # the schedule lives in memory, under a lock


def test_a_cancel_is_not_postponed_by_the_retry_delay_of_the_task_in_hand():
    "Cancel asks for a look at once; the submit task already running may not push it 2 s away."
    from studio.jobs import Schedule

    schedule = Schedule(time.monotonic)
    assert schedule.claim("g1")  # the submit task is running
    schedule.now("g1")  # a page asks to cancel
    schedule.later("g1", 2.0)  # the task ends with "try again in 2 s"
    schedule.release("g1")
    assert schedule.is_due("g1")
    assert schedule.claim("g1")  # the next task runs at once; from then on delays apply again
    schedule.later("g1", 2.0)
    assert not schedule.is_due("g1")


def test_a_downloaded_file_without_video_fails_the_take_with_a_reason(fake_studio, tmp_path):
    from media_files import tone

    api, store, runner = fake_studio
    sound = tone(tmp_path / "sound.m4a", 2).read_bytes()  # readable media, but no video stream to thumbnail
    ids = store.add_generations([(params(prompt="Take A"), None)])
    runner.start()
    _wait_status(store, ids, {"running"})
    _end_runs(api, sound)
    [gen] = _wait_status(store, ids, {"failed"})
    assert gen.error and "not playable" in gen.error and "no video frame" in gen.error
