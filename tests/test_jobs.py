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
from studio.models import VideoGenerationParams
from studio.simulator import Faults

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def no_faults(clean_sim):
    return clean_sim


def agent_runs(sim, gens) -> Counter:
    "Runs the simulator created on each agent the generations used."
    return Counter({g.agent_id: sim.runs_for_agent(g.agent_id) for g in gens})


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
    assert gen.run_id and gen.elapsed_s > 0 and gen.finished_at
    assert not list(path.parent.glob("*.part"))


def test_no_audio_means_no_audio_track(studio):
    [gen] = svc.wait_for(
        studio,
        svc.generate(studio, params(resolution="480p", aspect_ratio="1:1", duration="4", generate_audio=False)),
        timeout=60,
    )
    assert gen.status == "done", gen.error
    assert (gen.width, gen.height, gen.has_audio) == (480, 480, False)


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
    assert gen.status == "failed" and "failed" in gen.error.lower()
    svc.retry(studio, gen.id)
    [again] = svc.wait_for(studio, [gen.id], timeout=60)
    assert again.status == "done" and again.attempt == 2 and again.run_id != gen.run_id


def test_needs_credits_is_explained(sim, studio):
    sim.script_fault("needs_credits", route="run")
    [gen] = svc.wait_for(studio, svc.generate(studio, params()), timeout=60)
    assert gen.status == "failed" and "credits" in gen.error.lower()


def test_api_rejection_fails_at_once_with_detail(studio):
    bad = params(selected_context={"images": ["no-such-upload"]})
    [gen] = svc.wait_for(studio, svc.generate(studio, bad), timeout=60)
    assert gen.status == "failed"
    assert "HTTP 400" in gen.error and "no-such-upload" in gen.error


def test_cancel_queued_and_running(sim, tmp_path):
    services = svc.build_services(settings_for(sim, tmp_path / "d"), start_worker=False)
    try:
        queued = svc.generate(services, params())[0]
        svc.cancel(services, queued)
        assert services.store.get(queued).status == "cancelled"
        with pytest.raises(JobError):
            svc.cancel(services, queued)
        running = svc.generate(services, params(duration="15"))[0]
        services.runner.start()
        deadline = time.monotonic() + 30
        while services.store.get(running).status != "running" and time.monotonic() < deadline:
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


def test_kill_9_mid_grid_then_resume_submits_nothing_twice(sim, tmp_path):
    data = tmp_path / "d"
    env = {
        **os.environ,
        "STUDIO_DATA_DIR": str(data),
        "MOSAIC_API_KEY": TEST_KEY,
        "MOSAIC_BASE_URL": sim.base_url,
        "STUDIO_POLL_INTERVAL": "0.1",
        "STUDIO_MAX_POLL_INTERVAL": "0.3",
    }
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
        gens = resumed.store.grid_cells(resumed.store.page(limit=1)[0].grid_id)
        gens = svc.wait_for(resumed, [g.id for g in gens], timeout=120)
    finally:
        resumed.close()
    assert [g.status for g in gens] == ["done"] * 6, [g.error for g in gens]
    assert sim.stats()["runs_total"] - before == 6
    assert len({g.run_id for g in gens}) == 6


def test_cli_generate_prints_the_saved_result(sim, tmp_path):
    env = {
        **os.environ,
        "STUDIO_DATA_DIR": str(tmp_path / "d"),
        "MOSAIC_API_KEY": TEST_KEY,
        "MOSAIC_BASE_URL": sim.base_url,
        "STUDIO_POLL_INTERVAL": "0.1",
    }
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
    assert (result["width"], result["height"], result["has_audio"], result["status"]) == (480, 854, False, "done")
    assert Path(result["path"]).is_file() and result["run_id"]
    assert TEST_KEY not in out.stdout + out.stderr


def test_cli_grid_exit_status_reflects_failures(sim, tmp_path):
    env = {
        **os.environ,
        "STUDIO_DATA_DIR": str(tmp_path / "d"),
        "MOSAIC_API_KEY": TEST_KEY,
        "MOSAIC_BASE_URL": sim.base_url,
        "STUDIO_POLL_INTERVAL": "0.1",
    }
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
    while first.store.get(gen_id).status != "running" and time.monotonic() < deadline:
        time.sleep(0.05)
    run_id = first.store.get(gen_id).run_id
    first.close()  # the in-process simulator stops with it, mid-run
    second = svc.build_services(settings)
    try:
        [gen] = svc.wait_for(second, [gen_id], timeout=60)
        assert second.simulator.stats()["runs_total"] == 1
    finally:
        second.close()
    assert gen.status == "done", gen.error
    assert gen.run_id == run_id and second.media_path(gen.video_path).is_file()


def test_cancel_after_a_lost_answer_cancels_that_run_and_nobody_adopts_it(sim, studio):
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
    assert (took_b.width, took_b.height, round(took_b.duration_s)) == (480, 854, 6)
    assert took_b.agent_id == took_a.agent_id  # the pooled agent was handed on
    assert sim.runs_for_agent(took_b.agent_id) == 2  # A's (cancelled) and B's own
