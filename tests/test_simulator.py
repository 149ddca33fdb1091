"""The local Mosaic simulator, driven over real HTTP with plain httpx: shapes from mosaic-api.md,
run lifecycle, media, uploads, webhooks, credits and every fault kind.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import httpx
import pytest
from sim_helpers import SMALL, VIDEO_GENERATION, WAIT_S, make_agent, start_run, wait_idle, wait_run

from studio import media
from studio.models import output_size
from studio.simulator import API_ROUTES, STORAGE_ROUTES, Faults, SimConfig, Simulator, rendering, uploads

KEY = "mk_test_key"
SECRET = "whsec_simulator_test"
RUN_KEYS = {
    "agent_id",
    "started_at",
    "status",
    "status_message",
    "needs_credits",
    "errors",
    "node_status_counts",
    "inputs",
    "outputs",
}
SUMMARY_KEYS = {
    "run_id",
    "agent_id",
    "status",
    "status_message",
    "started_at",
    "updated_at",
    "node_status_counts",
    "inputs",
    "outputs",
    "triggered_by",
}
OUTPUT_KEYS = {"id", "video_url", "thumbnail_url", "premiere_prproj_url", "completed_at", "original_node_id"}


@pytest.fixture(scope="module")
def hooked_sim():
    config = SimConfig(latency=0.2, latency_per_second=0.01, webhook_secret=SECRET)
    with Simulator(config).start() as simulator:
        yield simulator


@pytest.fixture(autouse=True)
def no_faults(hooked_sim):
    hooked_sim.set_faults(Faults())
    yield
    hooked_sim.set_faults(Faults())


@pytest.fixture
def http_client(hooked_sim):
    with httpx.Client(base_url=hooked_sim.base_url, headers={"Authorization": f"Bearer {KEY}"}, timeout=10) as c:
        yield c


# ------------------------------------------------------------------ auth and org


def test_whoami_shape(http_client):
    answer = http_client.get("/whoami")
    assert answer.status_code == 200
    assert set(answer.json()) == {
        "organization_id",
        "organization_name",
        "organization_slug",
        "created_at",
        "last_used_at",
    }
    assert answer.json()["last_used_at"].endswith("Z")


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer sk_wrong"}, {"Authorization": "Basic mk_x"}, {"Authorization": "Bearer mk_"}],
)
def test_missing_or_bad_key_is_401(hooked_sim, headers):
    answer = httpx.get(f"{hooked_sim.base_url}/whoami", headers=headers)
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_api_key" and answer.json()["detail"]


def test_unknown_path_has_the_error_body(http_client):
    answer = http_client.get("/no/such/path")
    assert answer.status_code == 404
    assert answer.json() == {"detail": "Not found", "error": "not_found"}


def test_configured_key_is_the_only_key_and_credits_run_out():
    config = SimConfig(latency=0.05, latency_per_second=0, api_key="mk_only", credits_balance=50, credits_per_second=10)
    with Simulator(config).start() as other:
        wrong = httpx.get(f"{other.base_url}/whoami", headers={"Authorization": "Bearer mk_other"})
        assert wrong.status_code == 401
        with httpx.Client(base_url=other.base_url, headers={"Authorization": "Bearer mk_only"}) as c:
            agent_id, node_id = make_agent(c)
            first = wait_run(c, start_run(c, agent_id, node_id))
            second = wait_run(c, start_run(c, agent_id, node_id))
            assert first["status"] == "completed"
            assert c.get("/credits").json()["balance"] == 10
            assert second["status"] == "failed" and second["needs_credits"] is True
            assert c.get("/credits").json()["balance"] == 10


# ------------------------------------------------------------------ agents


def test_create_agent_is_metadata_only(http_client):
    answer = http_client.post("/agent/create", json={"name": "Seedance product shot", "visibility": "private"})
    assert answer.status_code == 200
    body = answer.json()
    assert body["success"] is True and body["operations_applied"] == 0 and body["created_nodes"] == []
    rejected = http_client.post("/agent/create", json={"name": "x", "graph": {"nodes": []}})
    assert rejected.status_code == 400 and rejected.json()["error"] == "validation_error"
    assert "graph" in rejected.json()["detail"]
    assert http_client.post("/agent/create", json={"name": "x" * 121}).status_code == 400
    assert http_client.post("/agent/create", content=b"{not json").status_code == 400


def test_create_node_then_get_agent_shows_it(http_client):
    agent_id, node_id = make_agent(http_client, prompt="Saved prompt")
    agent = http_client.get(f"/agent/{agent_id}").json()
    assert set(agent) == {"agent", "agent_nodes", "connections"}
    assert agent["agent"]["id"] == agent_id and agent["agent"]["visibility"] == "private"
    [node] = agent["agent_nodes"]
    assert node["agent_node_id"] == node_id
    assert node["node_type"]["node_type_id"] == VIDEO_GENERATION
    assert node["node_type"]["node_type_name"] == "Video Generation"
    assert node["params_used"] == {**SMALL, "prompt": "Saved prompt"}
    listed = http_client.get("/agents", params={"limit": 100}).json()
    assert agent_id in [a["id"] for a in listed["agents"]]


def test_update_operations_merge_connect_and_delete(http_client):
    agent_id, node_id = make_agent(http_client)
    answer = http_client.patch(
        f"/agent/{agent_id}/update",
        json={
            "name": "renamed",
            "operations": [
                {"op": "update_node", "agent_node_id": node_id, "params_used": {"resolution": "720p"}},
                {"op": "create_node", "node_type_id": VIDEO_GENERATION, "temp_ref_id": "second"},
                {"op": "create_connection", "source_agent_node_id": node_id, "target_temp_ref_id": "second"},
            ],
        },
    ).json()
    assert answer["operations_applied"] == 3 and answer["name"] == "renamed"
    second = answer["created_nodes"][0]["agent_node_id"]
    agent = http_client.get(f"/agent/{agent_id}").json()
    params = {n["agent_node_id"]: n["params_used"] for n in agent["agent_nodes"]}
    assert params[node_id] == {**SMALL, "resolution": "720p"}
    assert agent["connections"] == [{"source_agent_node_id": node_id, "target_agent_node_id": second}]
    cycle = http_client.post(
        f"/agent/{agent_id}/update",
        json={
            "operations": [{"op": "create_connection", "source_agent_node_id": second, "target_agent_node_id": node_id}]
        },
    )
    assert cycle.status_code == 400 and "cycle" in cycle.json()["detail"]
    http_client.post(f"/agent/{agent_id}/update", json={"operations": [{"op": "delete_node", "agent_node_id": second}]})
    agent = http_client.get(f"/agent/{agent_id}").json()
    assert len(agent["agent_nodes"]) == 1 and agent["connections"] == []


def test_update_is_transactional(http_client):
    agent_id, node_id = make_agent(http_client)
    answer = http_client.post(
        f"/agent/{agent_id}/update",
        json={
            "operations": [
                {"op": "create_node", "node_type_id": VIDEO_GENERATION, "params_used": {"prompt": "ok"}},
                {"op": "update_node", "agent_node_id": node_id, "params_used": {"resolution": "4k"}},
            ]
        },
    )
    assert answer.status_code == 400
    assert answer.json()["detail"].startswith("operations[1] (update_node): Resolution must be one of")
    assert len(http_client.get(f"/agent/{agent_id}").json()["agent_nodes"]) == 1


@pytest.mark.parametrize(
    "params, words",
    [
        ({"resolution": "4k"}, "Resolution must be one of 480p, 720p, 1080p"),
        ({"fps": 24}, "Fps is not a Video Generation param"),
        ({"duration": "99"}, "Duration must be auto or a whole number"),
        ({"generate_audio": "yes"}, "Generate audio must be true or false"),
    ],
)
def test_bad_node_params_are_400_with_a_readable_detail(http_client, params, words):
    agent_id = http_client.post("/agent/create", json={}).json()["agent_id"]
    answer = http_client.post(
        f"/agent/{agent_id}/update",
        json={"operations": [{"op": "create_node", "node_type_id": VIDEO_GENERATION, "params_used": params}]},
    )
    assert answer.status_code == 400
    assert words in answer.json()["detail"]


def test_update_rejects_unknown_ops_and_ids(http_client):
    agent_id, _ = make_agent(http_client)
    for op in (
        {"op": "explode"},
        {"op": "delete_node", "agent_node_id": "nope"},
        {"op": "create_node", "node_type_id": "00000000-0000-0000-0000-000000000000"},
    ):
        assert http_client.post(f"/agent/{agent_id}/update", json={"operations": [op]}).status_code == 400
    assert http_client.post(f"/agent/{agent_id}/update", json={}).status_code == 400


def test_delete_agent_hides_it(http_client):
    agent_id, _ = make_agent(http_client)
    answer = http_client.post(f"/agent/{agent_id}/delete").json()
    assert answer == {"success": True, "agent_id": agent_id, "message": "Agent deleted successfully"}
    assert http_client.get(f"/agent/{agent_id}").status_code == 404


# ------------------------------------------------------------------ runs


def test_run_lifecycle_running_to_completed(http_client, hooked_sim):
    agent_id, node_id = make_agent(http_client)
    answer = http_client.post(f"/agent/{agent_id}/run", json={"update_params": {node_id: {"prompt": "Lifecycle"}}})
    started = answer.json()
    assert answer.status_code == 200 and started["status"] == "running"
    first = http_client.get(f"/agent_run/{started['run_id']}").json()
    assert set(first) == RUN_KEYS and first["status"] == "running" and first["outputs"] == []
    assert first["node_status_counts"] == {"completed": 0, "in_progress": 1, "failed": 0}
    run = wait_run(http_client, started["run_id"])
    assert set(run) == RUN_KEYS
    assert run["status"] == "completed" and run["needs_credits"] is False and run["errors"] == []
    assert run["node_status_counts"] == {"completed": 1, "in_progress": 0, "failed": 0}
    [output] = run["outputs"]
    assert set(output) == OUTPUT_KEYS
    assert output["original_node_id"] == node_id and output["premiere_prproj_url"] is None
    assert output["video_url"].startswith(hooked_sim.base_url) and output["completed_at"].endswith("Z")
    nodes = http_client.get(f"/agent_run/{started['run_id']}/nodes").json()
    [node] = nodes["nodes"]
    assert nodes["run_id"] == started["run_id"]
    assert node["original_node_id"] == node_id and node["agent_node_id"] != node_id
    assert node["status"] == "completed" and node["errors"] == [] and node["needs_credits"] is False
    assert node["node_type"]["node_type_id"] == VIDEO_GENERATION


def test_update_params_apply_per_run_without_mutating_the_agent(http_client, tmp_path):
    agent_id, node_id = make_agent(http_client, prompt="Saved prompt", generate_audio=True)
    overridden = start_run(http_client, agent_id, node_id, "Override", params={"generate_audio": False})
    overridden = wait_run(http_client, overridden)
    saved = http_client.post(f"/agent/{agent_id}/run", json={}).json()["run_id"]
    saved = wait_run(http_client, saved)
    agent = http_client.get(f"/agent/{agent_id}").json()
    assert agent["agent_nodes"][0]["params_used"]["prompt"] == "Saved prompt"
    assert agent["agent_nodes"][0]["params_used"]["generate_audio"] is True
    has_audio = []
    for run in (overridden, saved):
        path = tmp_path / f"{run['outputs'][0]['id']}.mp4"
        path.write_bytes(httpx.get(run["outputs"][0]["video_url"]).content)
        has_audio.append(media.probe(path).has_audio)
    assert has_audio == [False, True]


@pytest.mark.parametrize(
    "body, words",
    [
        ({"update_params": {"NODE": {"prompt": "  "}}}, "The prompt is empty"),
        ({"update_params": {"NODE": {"prompt": "x", "resolution": "4k"}}}, "Resolution must be one of"),
        ({"update_params": {"NODE": {"prompt": "x", "seed": 1}}}, "Seed is not a Video Generation param"),
        ({"update_params": {"not-a-node": {"prompt": "x"}}}, "not an agent_node_id of this agent"),
        ({"update_params": {"NODE": {"prompt": "x"}}, "callback_url": "ftp://x"}, "callback_url"),
        ({"update_params": {"NODE": {"prompt": "x"}}, "video_urls": ["https://youtu.be/x"]}, "no Video Input"),
    ],
)
def test_bad_run_requests_are_400_and_start_nothing(http_client, hooked_sim, body, words):
    agent_id, node_id = make_agent(http_client)
    body = json.loads(json.dumps(body).replace("NODE", node_id))
    answer = http_client.post(f"/agent/{agent_id}/run", json=body)
    assert answer.status_code == 400 and answer.json()["error"] == "validation_error"
    assert words in answer.json()["detail"]
    assert hooked_sim.runs_for_agent(agent_id) == 0


def test_run_of_unknown_agent_is_404(http_client):
    assert http_client.post("/agent/00000000-0000-0000-0000-000000000000/run", json={}).status_code == 404
    assert http_client.get("/agent_run/00000000-0000-0000-0000-000000000000").status_code == 404


def test_output_downloads_with_range_and_matches_the_settings(http_client, tmp_path):
    agent_id, node_id = make_agent(http_client, resolution="720p", aspect_ratio="9:16", duration="5")
    run = wait_run(http_client, start_run(http_client, agent_id, node_id, "Portrait clip"))
    output = run["outputs"][0]
    partial = httpx.get(output["video_url"], headers={"Range": "bytes=0-99"})
    assert partial.status_code == 206 and len(partial.content) == 100
    assert partial.headers["content-range"].startswith("bytes 0-99/")
    whole = httpx.get(output["video_url"])
    assert whole.status_code == 200 and whole.headers["content-type"] == "video/mp4"
    (tmp_path / "out.mp4").write_bytes(whole.content)
    facts = media.probe(tmp_path / "out.mp4")
    assert (facts.width, facts.height) == (720, 1280)
    assert facts.duration_s == pytest.approx(5, abs=0.2)
    assert facts.has_audio is False and facts.video_codec == "h264"
    thumb = httpx.get(output["thumbnail_url"])
    assert thumb.status_code == 200 and thumb.content[:3] == b"\xff\xd8\xff"


def test_auto_duration_and_aspect_are_picked_from_the_prompt_with_mono_audio(http_client, hooked_sim, tmp_path):
    agent_id, node_id = make_agent(http_client, duration="auto", aspect_ratio="auto", generate_audio=True)
    prompt = "A red fox in fresh snow"
    run = wait_run(http_client, start_run(http_client, agent_id, node_id, prompt))
    (tmp_path / "auto.mp4").write_bytes(httpx.get(run["outputs"][0]["video_url"]).content)
    facts = media.probe(tmp_path / "auto.mp4")
    seconds = rendering.pick_seconds(None, prompt)
    assert 5 <= seconds <= 10 and facts.frames == seconds * 24 + 1
    assert (facts.width, facts.height) == output_size("480p", rendering.pick_aspect_ratio("auto", prompt))
    assert facts.has_audio and facts.audio_codec == "aac" and facts.audio_channels == 1


def test_signed_urls_refuse_tampering_and_expiry(http_client, hooked_sim):
    agent_id, node_id = make_agent(http_client)
    url = wait_run(http_client, start_run(http_client, agent_id, node_id))["outputs"][0]["video_url"]
    assert httpx.get(url.replace("signature=", "signature=0")).status_code == 403
    assert httpx.get(url.split("?")[0]).status_code == 403
    path = "/" + url.split("/", 3)[3].split("?")[0]
    expired = int(time.time()) - 1
    signature = uploads.sign(hooked_sim, path, expired)
    answer = httpx.get(f"{hooked_sim.base_url}{path}?expires={expired}&signature={signature}")
    assert answer.status_code == 403
    assert int(url.split("expires=")[1].split("&")[0]) > time.time() + 6.9 * 24 * 3600


def test_list_runs_filters_and_pages_newest_first(http_client):
    agent_id, node_id = make_agent(http_client)
    run_ids = []
    for i in range(3):
        run_ids.append(start_run(http_client, agent_id, node_id, f"take {i}"))
        time.sleep(0.005)
    page = http_client.get(f"/agent/{agent_id}/runs", params={"limit": 2}).json()
    assert [r["run_id"] for r in page["runs"]] == run_ids[:0:-1]
    assert all(set(r) == SUMMARY_KEYS for r in page["runs"])
    rest = http_client.get(f"/agent/{agent_id}/runs", params={"limit": 2, "cursor": page["next_cursor"]}).json()
    assert [r["run_id"] for r in rest["runs"]] == [run_ids[0]] and rest["next_cursor"] is None
    second_started = page["runs"][1]["started_at"]
    since = http_client.get(f"/agent/{agent_id}/runs", params={"from": second_started}).json()
    assert [r["run_id"] for r in since["runs"]] == run_ids[:0:-1]
    until = http_client.get("/agent_runs", params={"agent_id": agent_id, "to": second_started}).json()
    assert [r["run_id"] for r in until["runs"]] == run_ids[1::-1]
    for run_id in run_ids:
        wait_run(http_client, run_id)
    done = http_client.get("/agent_runs", params={"agent_id": agent_id, "status": "completed,failed"}).json()
    assert len(done["runs"]) == 3
    assert http_client.get("/agent_runs", params={"status": "running", "agent_id": agent_id}).json()["runs"] == []


@pytest.mark.parametrize(
    "params, status",
    [
        ({"limit": 0}, 422),
        ({"limit": 101}, 422),
        ({"limit": "x"}, 400),
        ({"from": "yesterday"}, 400),
        ({"status": "done"}, 400),
        ({"cursor": "!!"}, 400),
    ],
)
def test_list_runs_rejects_bad_queries(http_client, params, status):
    assert http_client.get("/agent_runs", params=params).status_code == status


def test_cancel_then_resume(http_client):
    agent_id, node_id = make_agent(http_client, duration="15")
    run_id = start_run(http_client, agent_id, node_id, "cancel me")
    answer = http_client.post(f"/agent_run/{run_id}/cancel")
    assert answer.status_code == 200
    body = answer.json()
    assert body["success"] is True and body["run_id"] == run_id and body["message"]
    assert {"tasks_cancelled", "nodes_reset"} <= set(body)
    assert http_client.get(f"/agent_run/{run_id}").json()["status"] == "cancelled"
    again = http_client.post(f"/agent_run/{run_id}/cancel")
    assert again.status_code == 409 and "cancelled" in again.json()["detail"]
    resumed = http_client.post(f"/agent_run/{run_id}/resume")
    assert resumed.status_code == 200 and resumed.json()["nodes_queued"] == 1
    assert http_client.get(f"/agent_run/{run_id}").json()["status"] == "running"
    run = wait_run(http_client, run_id)
    assert run["status"] == "completed" and len(run["outputs"]) == 1
    assert http_client.post(f"/agent_run/{run_id}/cancel").status_code == 409
    late = http_client.post(f"/agent_run/{run_id}/resume")
    assert late.status_code == 409 and late.json()["detail"]


# ------------------------------------------------------------------ uploads


def _upload(http_client, kind: str, data: bytes, name: str) -> str:
    ticket = http_client.post(f"/uploads/{kind}/get_upload_url").json()
    # httpx sends data fields before files, as the signed POST policy requires.
    stored = httpx.post(ticket["upload_url"], data=ticket["upload_fields"], files={"file": (name, data)})
    assert stored.status_code == 204, stored.text
    return ticket[f"{kind}_id"]


@pytest.mark.parametrize("kind, limit", [("image", 52428800), ("audio", 524288000), ("video", 5368709120)])
def test_upload_flow_per_type(http_client, hooked_sim, kind, limit):
    ticket = http_client.post(f"/uploads/{kind}/get_upload_url").json()
    assert set(ticket) == {f"{kind}_id", "upload_url", "upload_fields", "max_file_size_bytes"}
    assert set(ticket["upload_fields"]) >= {"key", "policy", "x-goog-signature"}
    assert ticket["max_file_size_bytes"] == limit
    upload_id = ticket[f"{kind}_id"]
    early = http_client.post(f"/uploads/{kind}/finalize_upload", json={f"{kind}_id": upload_id})
    assert early.status_code == 400
    stored = httpx.post(
        ticket["upload_url"], data=ticket["upload_fields"], files={"file": (f"ref.{kind}", b"x" * 2048)}
    )
    assert stored.status_code == 204
    final = http_client.post(f"/uploads/{kind}/finalize_upload", json={f"{kind}_id": upload_id})
    assert final.status_code == 200 and final.json() == {f"{kind}_id": upload_id}
    listed = {u["id"]: u for u in httpx.get(f"{hooked_sim.base_url}/_sim/uploads").json()["uploads"]}
    assert listed[upload_id] == {
        "id": upload_id,
        "type": kind,
        "filename": f"ref.{kind}",
        "size": 2048,
        "content_type": "application/octet-stream",
        "finalized": True,
    }


def test_finalize_errors(http_client, hooked_sim):
    assert (
        http_client.post(
            "/uploads/image/finalize_upload", json={"image_id": "00000000-0000-0000-0000-000000000000"}
        ).status_code
        == 404
    )
    audio_id = _upload(http_client, "audio", b"a" * 10, "a.mp3")
    assert http_client.post("/uploads/image/finalize_upload", json={"image_id": audio_id}).status_code == 404
    assert http_client.post("/uploads/image/finalize_upload", json={}).status_code == 400
    image_id = _upload(http_client, "image", b"i" * 2000, "big.png")
    old = hooked_sim.config.upload_max_bytes["image"]
    hooked_sim.config.upload_max_bytes["image"] = 1000
    try:
        too_big = http_client.post("/uploads/image/finalize_upload", json={"image_id": image_id})
    finally:
        hooked_sim.config.upload_max_bytes["image"] = old
    assert too_big.status_code == 413 and too_big.json()["detail"]
    assert http_client.post("/uploads/gif/get_upload_url").status_code == 404


def test_storage_enforces_the_upload_policy(http_client, hooked_sim):
    ticket = http_client.post("/uploads/image/get_upload_url").json()
    fields = ticket["upload_fields"]
    bad = httpx.post(
        ticket["upload_url"], data={**fields, "x-goog-signature": "0" * 64}, files={"file": ("a.png", b"x")}
    )
    assert bad.status_code == 400
    boundary = "simboundary"
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\nxx\r\n']
    parts += [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n' for k, v in fields.items()]
    body = ("".join(parts) + f"--{boundary}--\r\n").encode()
    file_first = httpx.post(
        ticket["upload_url"], content=body, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}
    )
    assert file_first.status_code == 400 and "before the file" in file_first.json()["detail"]
    old = hooked_sim.config.upload_max_bytes["image"]
    hooked_sim.config.upload_max_bytes["image"] = 100
    try:
        small = http_client.post("/uploads/image/get_upload_url").json()
    finally:
        hooked_sim.config.upload_max_bytes["image"] = old
    over = httpx.post(small["upload_url"], data=small["upload_fields"], files={"file": ("b.png", b"x" * 101)})
    assert over.status_code == 400


def test_selected_context_must_name_finalized_uploads_of_the_right_type(http_client):
    image_id = _upload(http_client, "image", b"png" * 10, "ref.png")
    http_client.post("/uploads/image/finalize_upload", json={"image_id": image_id})
    pending = _upload(http_client, "image", b"png", "pending.png")
    audio_id = _upload(http_client, "audio", b"mp3", "ref.mp3")
    http_client.post("/uploads/audio/finalize_upload", json={"audio_id": audio_id})
    agent_id, node_id = make_agent(http_client)
    context = {"images": [image_id], "audio": [audio_id]}
    ok = start_run(http_client, agent_id, node_id, params={"selected_context": context})
    assert wait_run(http_client, ok)["status"] == "completed"
    for context, words in (
        ({"images": ["00000000-0000-0000-0000-000000000000"]}, "not an uploaded image"),
        ({"images": [pending]}, "was not finalized"),
        ({"images": [audio_id]}, "not an uploaded image"),
        ({"videos": [image_id]}, "not an uploaded video"),
    ):
        answer = http_client.post(
            f"/agent/{agent_id}/run", json={"update_params": {node_id: {"prompt": "x", "selected_context": context}}}
        )
        assert answer.status_code == 400 and words in answer.json()["detail"]


# ------------------------------------------------------------------ credits and stats


def test_credits_decrease_by_generated_seconds(http_client, hooked_sim):
    wait_idle(http_client)
    before = http_client.get("/credits").json()
    assert {"organization_id", "balance", "plan", "plan_id", "billing_cycle", "auto_topup"} <= set(before)
    agent_id, node_id = make_agent(http_client, duration="6")
    wait_run(http_client, start_run(http_client, agent_id, node_id))
    after = http_client.get("/credits").json()["balance"]
    assert before["balance"] - after == hooked_sim.config.credits_per_second * 6


def test_stats_count_runs_per_agent(http_client, hooked_sim):
    agent_id, node_id = make_agent(http_client)
    run_ids = [start_run(http_client, agent_id, node_id) for _ in range(2)]
    assert hooked_sim.runs_for_agent(agent_id) == 2
    stats = httpx.get(f"{hooked_sim.base_url}/_sim/stats").json()
    assert stats["runs_by_agent"][agent_id] == 2
    assert stats["runs_total"] == hooked_sim.stats()["runs_total"] >= 2
    assert stats["requests"]["run"] >= 2 and stats["requests"]["agent_create"] >= 1
    for run_id in run_ids:
        wait_run(http_client, run_id)
    assert hooked_sim.stats()["runs_by_status"]["completed"] >= 2


# ------------------------------------------------------------------ webhooks


class _Receiver(BaseHTTPRequestHandler):
    events: ClassVar[list[tuple[dict, dict]]] = []
    fail_first = False

    def do_POST(self):
        payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        cls = type(self)
        if cls.fail_first:
            cls.fail_first = False
            self.send_response(500)
            self.end_headers()
            return
        cls.events.append((dict(self.headers), payload))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    _Receiver.events, _Receiver.fail_first = [], True
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hooks/mosaic", _Receiver.events
    server.shutdown()
    server.server_close()


def test_webhooks_are_sent_without_polling_and_signed(http_client, hooked_sim, receiver):
    url, events = receiver
    agent_id, node_id = make_agent(http_client)
    run_id = start_run(http_client, agent_id, node_id, callback_url=url)
    deadline = time.monotonic() + WAIT_S
    while not any(p["flag"] == "RUN_FINISHED" for _, p in events):
        assert time.monotonic() < deadline, f"no RUN_FINISHED; got {[p['flag'] for _, p in events]}"
        time.sleep(0.05)
    flags = [p["flag"] for _, p in events]
    assert flags[0] == "RUN_STARTED" and flags[-1] == "RUN_FINISHED" and "RUN_PROGRESS" in flags
    assert all(h["X-Mosaic-Signature"] == SECRET for h, _ in events)
    started, finished = events[0][1], events[-1][1]
    assert set(started) == {"flag", "agent_id", "run_id", "status", "inputs", "node_status_counts", "triggered_by"}
    assert started["run_id"] == run_id and started["status"] == "running"
    assert set(finished) == {
        "flag",
        "agent_id",
        "run_id",
        "status",
        "status_message",
        "needs_credits",
        "errors",
        "node_status_counts",
        "inputs",
        "outputs",
        "triggered_by",
    }
    assert finished["status"] == "completed" and finished["outputs"][0]["original_node_id"] == node_id
    progress = [p for _, p in events if p["flag"] == "RUN_PROGRESS"]
    node_keys = {"original_node_id", "status", "status_message", "errors", "outputs"}
    assert set(progress[0]["updated_nodes"][0]) == node_keys
    assert progress[-1]["updated_nodes"][0]["status"] == "completed"
    webhooks = hooked_sim.stats()["webhooks"]
    assert webhooks["attempts"] > webhooks["delivered"]  # the first try got a 500


# ------------------------------------------------------------------ faults


def test_rate_limit_answers_429_with_retry_after_and_does_nothing(http_client, hooked_sim):
    before = len(http_client.get("/agents", params={"limit": 100}).json()["agents"])
    hooked_sim.script_fault("rate_limit", route="agent_create")
    answer = http_client.post("/agent/create", json={"name": "limited"})
    assert answer.status_code == 429
    assert answer.headers["Retry-After"] == "1"
    assert answer.json() == {"detail": "Too many requests; retry later", "error": "rate_limit"}
    assert len(http_client.get("/agents", params={"limit": 100}).json()["agents"]) == before
    assert http_client.post("/agent/create", json={"name": "fine"}).status_code == 200


def test_server_error_answers_5xx(http_client, hooked_sim):
    hooked_sim.script_fault("server_error", route="whoami", count=2)
    for _ in range(2):
        answer = http_client.get("/whoami")
        assert answer.status_code in (500, 502, 503)
        assert answer.json()["error"] == "internal_server_error"
    assert http_client.get("/whoami").status_code == 200


def test_slow_processes_the_request_but_answers_after_the_timeout(http_client, hooked_sim):
    hooked_sim.set_faults(Faults(slow_seconds=0.6))
    agent_id, node_id = make_agent(http_client)
    hooked_sim.script_fault("slow", route="run")
    with pytest.raises(httpx.ReadTimeout):
        http_client.post(f"/agent/{agent_id}/run", json={"update_params": {node_id: {"prompt": "slow"}}}, timeout=0.25)
    assert hooked_sim.runs_for_agent(agent_id) == 1
    [run] = http_client.get(f"/agent/{agent_id}/runs").json()["runs"]
    assert wait_run(http_client, run["run_id"])["status"] == "completed"


def test_drop_processes_the_request_then_cuts_the_connection(http_client, hooked_sim):
    agent_id, node_id = make_agent(http_client)
    hooked_sim.script_fault("drop", route="run")
    with pytest.raises(httpx.RemoteProtocolError):
        http_client.post(f"/agent/{agent_id}/run", json={"update_params": {node_id: {"prompt": "dropped"}}})
    assert hooked_sim.runs_for_agent(agent_id) == 1
    assert len(http_client.get(f"/agent/{agent_id}/runs").json()["runs"]) == 1
    assert hooked_sim.stats()["faults_injected"]["drop"] >= 1


@pytest.mark.parametrize(
    "kind, status, needs_credits, message",
    [
        ("run_fail", "failed", False, "Video generation failed"),
        ("run_partial", "partial_complete", False, "outputs failed"),
        ("needs_credits", "failed", True, "Insufficient credits"),
    ],
)
def test_run_outcome_faults(http_client, hooked_sim, kind, status, needs_credits, message):
    agent_id, node_id = make_agent(http_client)
    hooked_sim.script_fault(kind)
    run_id = start_run(http_client, agent_id, node_id)
    run = wait_run(http_client, run_id)
    assert run["status"] == status and run["needs_credits"] is needs_credits
    assert message in run["status_message"]
    assert run["outputs"] == [] and run["errors"][0]["original_node_id"] == node_id
    assert run["node_status_counts"]["failed"] == 1
    [node] = http_client.get(f"/agent_run/{run_id}/nodes").json()["nodes"]
    assert node["status"] == "failed" and node["needs_credits"] is needs_credits and node["errors"]
    if status == "failed":
        assert http_client.post(f"/agent_run/{run_id}/resume").status_code == 200
        assert wait_run(http_client, run_id)["status"] == "completed"


def test_needs_credits_setting_blocks_every_run_until_cleared(http_client, hooked_sim):
    hooked_sim.set_faults(Faults(needs_credits=True))
    agent_id, node_id = make_agent(http_client)
    run_id = start_run(http_client, agent_id, node_id)
    run = wait_run(http_client, run_id)
    assert run["status"] == "failed" and run["needs_credits"] is True
    nodes = http_client.get(f"/agent_run/{run_id}/nodes").json()["nodes"]
    assert nodes[0]["status_message"] == "Insufficient credits"
    hooked_sim.set_faults(Faults())
    http_client.post(f"/agent_run/{run_id}/resume")
    assert wait_run(http_client, run_id)["status"] == "completed"


def test_fault_rates_are_deterministic_per_seed_and_limited_to_routes(http_client, hooked_sim):
    def statuses():
        hooked_sim.set_faults(Faults(rate_limit=0.5, routes=frozenset({"whoami"}), seed=7))
        return [http_client.get("/whoami").status_code for _ in range(16)]

    first = statuses()
    assert first == statuses()
    assert set(first) == {200, 429}
    assert http_client.get("/credits").status_code == 200


def test_faults_skip_storage_unless_asked(http_client, hooked_sim):
    agent_id, node_id = make_agent(http_client)
    url = wait_run(http_client, start_run(http_client, agent_id, node_id))["outputs"][0]["video_url"]
    hooked_sim.set_faults(Faults(server_error=1.0))
    assert http_client.get("/whoami").status_code >= 500
    assert httpx.get(url).status_code == 200
    hooked_sim.set_faults(Faults(server_error=1.0, include_storage=True))
    assert httpx.get(url).status_code >= 500
    hooked_sim.set_faults(Faults())
    hooked_sim.script_fault("drop", route="storage_download")
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(url)
    assert httpx.get(url).status_code == 200


def test_route_names_are_the_documented_ones(hooked_sim):
    names = {route.name for route in hooked_sim.app.routes} - {"sim_health", "sim_stats", "sim_uploads", "sim_faults"}
    assert names == set(API_ROUTES + STORAGE_ROUTES)
    with pytest.raises(ValueError):
        hooked_sim.script_fault("drop", route="no_such_route")
    with pytest.raises(ValueError):
        Faults(routes=frozenset({"no_such_route"}))


def test_faults_can_be_set_over_http(http_client, hooked_sim):
    sim_url = f"{hooked_sim.base_url}/_sim/faults"
    answer = httpx.post(sim_url, json={"server_error": 1.0, "routes": ["credits"]})
    assert answer.status_code == 200 and answer.json()["faults"]["routes"] == ["credits"]
    assert http_client.get("/credits").status_code >= 500
    assert http_client.get("/whoami").status_code == 200
    httpx.post(sim_url, json={"reset": True, "script": [{"kind": "rate_limit", "route": "credits", "count": 1}]})
    assert http_client.get("/credits").status_code == 429
    assert http_client.get("/credits").status_code == 200
    assert httpx.post(sim_url, json={"explode": 1}).status_code == 400
    assert httpx.post(sim_url, json={"drop": 2}).status_code == 400
    assert httpx.post(sim_url, json={"script": [{"kind": "meteor"}]}).status_code == 400


def test_config_from_environment(monkeypatch):
    for name, value in {
        "STUDIO_SIM_LATENCY": "0.5",
        "STUDIO_SIM_API_KEY": "mk_env",
        "STUDIO_SIM_FAULTS__DROP": "0.25",
        "STUDIO_SIM_FAULTS__ROUTES": "run, run_get",
        "STUDIO_SIM_FAULTS__NEEDS_CREDITS": "1",
        "STUDIO_SIM_STATE_FILE": "/tmp/sim/state.json",
    }.items():
        monkeypatch.setenv(name, value)
    config = SimConfig()
    monkeypatch.delenv("STUDIO_SIM_STATE_FILE")
    assert config.latency == 0.5 and config.api_key == "mk_env"
    assert str(config.state_file) == "/tmp/sim/state.json" and SimConfig().state_file is None
    assert config.faults.drop == 0.25 and config.faults.needs_credits is True
    assert config.faults.routes == frozenset({"run", "run_get"})


# ------------------------------------------------------------------ durable state

RESTART_LATENCY_S = 1.5


def _iso_seconds(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def test_state_file_carries_runs_uploads_and_signatures_across_a_restart(tmp_path, receiver):
    hook_url, events = receiver
    state = tmp_path / "state.json"
    config = {
        "latency": 0.2,
        "latency_per_second": 0,
        "webhook_secret": SECRET,
        "state_file": state,
        "media_dir": tmp_path / "media",
    }
    first = Simulator(SimConfig(**config)).start()
    try:
        with httpx.Client(base_url=first.base_url, headers={"Authorization": f"Bearer {KEY}"}) as c:
            agent_id, node_id = make_agent(c)
            image_id = _upload(c, "image", b"png" * 10, "ref.png")
            assert c.post("/uploads/image/finalize_upload", json={"image_id": image_id}).status_code == 200
            old_url = wait_run(c, start_run(c, agent_id, node_id))["outputs"][0]["video_url"]
            first.config.latency = RESTART_LATENCY_S
            in_flight = start_run(c, agent_id, node_id, "Survives a restart", callback_url=hook_url)
            balance = c.get("/credits").json()["balance"]
        due_at = first.runs[in_flight].nodes[0].due_at
    finally:
        first.stop()
    assert state.stat().st_mode & 0o077 == 0  # it holds the URL signing secret
    # Lose every clip but the finished one, so the run in flight must render its clip again.
    for clip in (tmp_path / "media" / "renders").iterdir():
        if clip.name not in old_url:
            clip.unlink()

    second = Simulator(SimConfig(**config)).start()
    try:
        assert second.base_url != first.base_url
        assert second.runs[in_flight].nodes[0].due_at == due_at
        with httpx.Client(base_url=second.base_url, headers={"Authorization": f"Bearer {KEY}"}) as c:
            assert c.get(f"/agent_run/{in_flight}").json()["status"] == "running"
            assert c.get("/credits").json()["balance"] == balance
            run = wait_run(c, in_flight)
            assert run["status"] == "completed"
            [output] = run["outputs"]
            assert _iso_seconds(output["completed_at"]) - _iso_seconds(run["started_at"]) >= RESTART_LATENCY_S
            assert output["video_url"].startswith(second.base_url + "/")
            video = httpx.get(output["video_url"])
            assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
            assert c.get("/credits").json()["balance"] < balance

            rebased = old_url.replace(first.base_url, second.base_url)
            assert httpx.get(rebased).status_code == 200
            assert httpx.get(rebased.replace("signature=", "signature=0")).status_code == 403

            with_context = start_run(c, agent_id, node_id, params={"selected_context": {"images": [image_id]}})
            assert wait_run(c, with_context)["status"] == "completed"

            deadline = time.monotonic() + WAIT_S
            while not (finished := [p for _, p in events if p["flag"] == "RUN_FINISHED" and p["run_id"] == in_flight]):
                assert time.monotonic() < deadline, "no RUN_FINISHED webhook after the restart"
                time.sleep(0.05)
            assert finished[0]["outputs"][0]["video_url"].startswith(second.base_url + "/")
    finally:
        second.stop()


@pytest.mark.parametrize("content", [b"{not json", b'{"version": 1, "agents": [{"id": 3}]}', b'{"version": 99}', b"[]"])
def test_unreadable_state_file_is_moved_aside_and_the_simulator_starts_empty(tmp_path, caplog, content):
    state = tmp_path / "state.json"
    state.write_bytes(content)
    with caplog.at_level(logging.WARNING, logger="studio.simulator"):
        hooked_sim = Simulator(SimConfig(state_file=state, media_dir=tmp_path / "media")).start()
    try:
        with httpx.Client(base_url=hooked_sim.base_url, headers={"Authorization": f"Bearer {KEY}"}) as c:
            assert c.get("/agents").json()["agents"] == []
            assert c.post("/agent/create", json={"name": "fresh"}).status_code == 200
    finally:
        hooked_sim.stop()
    [aside] = tmp_path.glob("state.json.corrupt-*")
    assert aside.read_bytes() == content
    assert "moved to" in caplog.text
    assert [a["name"] for a in json.loads(state.read_text())["agents"]] == ["fresh"]
