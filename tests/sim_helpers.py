"""Helpers for driving the simulator over HTTP in tests: an agent with one Video Generation node,
a run of it, and waiting for runs to finish."""

from __future__ import annotations

import time

import httpx

from studio.models import VIDEO_GENERATION_NODE_TYPE_ID as VIDEO_GENERATION

WAIT_S = 20.0
SMALL = {"resolution": "480p", "duration": "4", "aspect_ratio": "16:9", "generate_audio": False}
KEY = "mk_test_key"


def api_client(base_url: str) -> httpx.Client:
    "A plain httpx client for the simulator's API."
    return httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {KEY}"}, timeout=10)


def make_agent(client, **params) -> tuple[str, str]:
    agent_id = client.post("/agent/create", json={"name": "test agent"}).json()["agent_id"]
    answer = client.post(
        f"/agent/{agent_id}/update",
        json={
            "operations": [
                {
                    "op": "create_node",
                    "node_type_id": VIDEO_GENERATION,
                    "temp_ref_id": "gen",
                    "params_used": {**SMALL, **params},
                }
            ]
        },
    )
    assert answer.status_code == 200, answer.text
    return agent_id, answer.json()["created_nodes"][0]["agent_node_id"]


def start_run(client, agent_id, node_id, prompt="A red fox in fresh snow", **extra) -> str:
    body = {"update_params": {node_id: {"prompt": prompt, **extra.pop("params", {})}}, **extra}
    answer = client.post(f"/agent/{agent_id}/run", json=body)
    assert answer.status_code == 200, answer.text
    return answer.json()["run_id"]


def wait_run(client, run_id, timeout=WAIT_S) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = client.get(f"/agent_run/{run_id}").json()
        if run["status"] != "running":
            return run
        time.sleep(0.03)
    raise AssertionError(f"run {run_id} still running after {timeout} s")


def wait_idle(client, timeout=WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while client.get("/agent_runs", params={"status": "running"}).json()["runs"]:
        assert time.monotonic() < deadline, "runs still in flight"
        time.sleep(0.03)
