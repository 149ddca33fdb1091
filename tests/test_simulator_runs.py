"""The simulator's runs as Seedance 2 makes them (sizes, 24 fps, N × 24 + 1 frames, mono audio,
billing by floor(frames / 24)), its listings with their filters and the listing fault, and run
progress that moves with the run's latency. Everything over real HTTP against the session
simulator (conftest `clean_sim`)."""

from __future__ import annotations

import time

import httpx
import pytest
from sim_helpers import api_client, make_agent, start_run, wait_run

from studio import media
from studio.models import output_size
from studio.simulator import Faults, SimSettings, Simulator


@pytest.fixture
def sim_api(clean_sim):
    with api_client(clean_sim.base_url) as client:
        yield client


def _download(url: str, path):
    path.write_bytes(httpx.get(url).content)
    return media.probe(path)


@pytest.mark.parametrize(
    "params",
    [
        {"resolution": "480p", "aspect_ratio": "16:9", "duration": "4", "generate_audio": True},
        {"resolution": "720p", "aspect_ratio": "21:9", "duration": "4", "generate_audio": False},
    ],
)
def test_a_take_has_seedance_2s_size_frames_and_audio(sim_api, clean_sim, tmp_path, params):
    agent_id, node_id = make_agent(sim_api, **params)
    before = sim_api.get("/credits").json()["balance"]
    run = wait_run(sim_api, start_run(sim_api, agent_id, node_id))
    facts = _download(run["outputs"][0]["video_url"], tmp_path / "take.mp4")
    assert (facts.width, facts.height) == output_size(params["resolution"], params["aspect_ratio"])
    assert (facts.fps, facts.frames) == (24.0, 4 * 24 + 1)
    assert facts.has_audio is params["generate_audio"]
    assert facts.audio_channels == (1 if params["generate_audio"] else 0)
    billed = before - sim_api.get("/credits").json()["balance"]
    assert billed == clean_sim.config.credits_per_second * (facts.frames // 24)


def test_auto_aspect_and_duration_vary_with_the_prompt_and_stay_in_range(tmp_path):
    settings = SimSettings(latency=0, latency_per_second=0, media_dir=tmp_path)
    with Simulator(settings).start() as sim, api_client(sim.base_url) as client:
        agent_id, node_id = make_agent(client, aspect_ratio="auto", duration="auto")
        runs = [start_run(client, agent_id, node_id, f"prompt number {i}") for i in range(12)]
        nodes = [sim.runs[r].nodes[0] for r in runs]
    sizes = {n.size for n in nodes}
    assert sizes <= {output_size("480p", a) for a in ("16:9", "4:3", "1:1", "3:4", "9:16", "21:9")}
    assert len(sizes) > 1  # not always the same row
    assert all(5 <= n.seconds <= 10 for n in nodes) and len({n.seconds for n in nodes}) > 1


def test_listing_filters_by_status_and_carries_outputs(sim_api, clean_sim):
    agent_id, node_id = make_agent(sim_api)
    done = start_run(sim_api, agent_id, node_id)
    finished = wait_run(sim_api, done)
    running = start_run(sim_api, agent_id, node_id, "still going")
    listed = sim_api.get(f"/agent/{agent_id}/runs", params={"status": "running,completed", "limit": 100}).json()
    assert {r["run_id"]: r["status"] for r in listed["runs"]} == {running: "running", done: "completed"}
    by_id = {r["run_id"]: r for r in listed["runs"]}
    assert by_id[done]["outputs"] == finished["outputs"]
    only_running = sim_api.get("/agent_runs", params={"agent_id": agent_id, "status": "running"}).json()["runs"]
    assert [r["run_id"] for r in only_running] == [running] and only_running[0]["outputs"] == []
    wait_run(sim_api, running)


def test_the_listing_fault_leaves_outputs_out_of_listings_only(sim_api, clean_sim):
    agent_id, node_id = make_agent(sim_api)
    run_id = start_run(sim_api, agent_id, node_id)
    assert wait_run(sim_api, run_id)["outputs"]
    clean_sim.set_faults(Faults(listing_without_outputs=True))
    before = clean_sim.stats()["requests"]
    for path, params in (("/agent_runs", {"agent_id": agent_id}), (f"/agent/{agent_id}/runs", {})):
        (summary,) = sim_api.get(path, params=params).json()["runs"]
        assert summary["status"] == "completed" and summary["outputs"] == []
    assert sim_api.get(f"/agent_run/{run_id}").json()["outputs"]  # the fallback GET still has them
    after = clean_sim.stats()
    assert after["requests"]["runs"] == before.get("runs", 0) + 1
    assert after["requests"]["agent_runs"] == before.get("agent_runs", 0) + 1
    assert after["faults_injected"]["listing_without_outputs"] >= 2


def test_progress_moves_with_the_runs_latency(tmp_path):
    settings = SimSettings(latency=1.5, latency_per_second=0, media_dir=tmp_path)
    with Simulator(settings).start() as sim, api_client(sim.base_url) as client:
        agent_id, node_id = make_agent(client)
        run_id = start_run(client, agent_id, node_id)
        first = client.get(f"/agent_run/{run_id}/progress").json()
        assert first["tiles"][0]["status"] == "queued" and first["completed_node_percent"] == 0
        seen = []
        deadline = time.monotonic() + 20
        while (run := client.get(f"/agent_run/{run_id}").json())["status"] == "running":
            assert time.monotonic() < deadline
            progress = client.get(f"/agent_run/{run_id}/progress").json()
            if progress["tiles"][0]["status"] == "running":
                assert run["node_status_counts"]["in_progress"] == 1
                seen.append(progress["tiles"][0]["progress_percent"])
            time.sleep(0.1)
        done = client.get(f"/agent_run/{run_id}/progress").json()
    assert run["status"] == "completed"
    assert len(seen) >= 5 and seen == sorted(seen) and seen[0] < 30 and 60 < seen[-1] <= 99
    assert done["completed_node_percent"] == 100 and done["tiles"][0]["progress_percent"] == 100
