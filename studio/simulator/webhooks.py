"""Webhooks: the RUN_STARTED / RUN_PROGRESS / RUN_FINISHED payloads of mosaic-api.md §3 and their
delivery, a few retries each, on lanes of one thread so that one run's events stay in order.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
from typing import TYPE_CHECKING, Any

import httpx

from . import runs
from .state import Run, RunNode

if TYPE_CHECKING:
    from .server import Simulator

WEBHOOK_LANES = 4  # one thread per lane; a run always uses the same lane, so its events stay ordered
WEBHOOK_TIMEOUT_S = 5.0
WEBHOOK_BACKOFF_S = (0.25, 1.0, 3.0)  # waits between the attempts: four attempts in all

log = logging.getLogger(__name__)


def event(sim: Simulator, run: Run, flag: str, changed: list[RunNode] | None = None) -> dict[str, Any]:
    # A run loaded from the state file has no request base: the port may have changed since.
    "The webhook payload of `flag` for a run (RUN_PROGRESS carries the changed nodes)."
    base = run.base_url or sim.base_url
    payload: dict[str, Any] = {"flag": flag, "agent_id": run.agent_id, "run_id": run.id, "status": run.status}
    if flag == "RUN_PROGRESS":
        payload["node_status_counts"] = runs.counts(run)
        payload["updated_nodes"] = [
            {
                "original_node_id": n.original_node_id,
                "status": n.status,
                "status_message": n.status_message,
                "errors": list(n.errors),
                "outputs": [runs.output(sim, n.render, base)] if n.render else [],
            }
            for n in changed or []
        ]
    else:
        if flag == "RUN_FINISHED":
            payload.update(
                status_message=run.status_message, needs_credits=run.needs_credits, errors=copy.deepcopy(run.errors)
            )
        payload["node_status_counts"] = runs.counts(run)
        payload["inputs"] = []
        if flag == "RUN_FINISHED":
            payload["outputs"] = runs.outputs(sim, run, base)
    payload["triggered_by"] = None
    return payload


def notify(sim: Simulator, run: Run, payload: dict[str, Any]) -> None:
    "Queue a webhook on the run's lane, if the run has a callback_url."
    if not run.callback_url:
        return
    lane = sim.webhook_lanes[int(run.id.replace("-", "")[:8], 16) % WEBHOOK_LANES]
    with contextlib.suppress(RuntimeError):  # lanes are shut down while stopping
        lane.submit(deliver, sim, run.callback_url, payload)


def deliver(sim: Simulator, url: str, payload: dict[str, Any]) -> None:
    "POST one webhook with a few retries (a webhook lane thread); never raises."
    headers = {"Content-Type": "application/json", "User-Agent": "mosaic-simulator"}
    if sim.config.webhook_secret:
        headers["X-Mosaic-Signature"] = sim.config.webhook_secret
    body = json.dumps(payload)
    for attempt in range(len(WEBHOOK_BACKOFF_S) + 1):
        if sim.stopping.is_set():
            return
        with sim.lock:
            sim.webhook_counts["attempts"] += 1
        try:
            response = sim.webhook_http.post(url, content=body, headers=headers)
            if response.is_success:
                with sim.lock:
                    sim.webhook_counts["delivered"] += 1
                return
        except (httpx.HTTPError, RuntimeError):  # RuntimeError: client closed by stop()
            pass
        if attempt < len(WEBHOOK_BACKOFF_S) and sim.stopping.wait(WEBHOOK_BACKOFF_S[attempt]):
            return
    with sim.lock:
        sim.webhook_counts["failed"] += 1
    log.warning("webhook %s for run %s to %s failed after retries", payload.get("flag"), payload.get("run_id"), url)
