"""Runs (mosaic-api.md §2.4): start (one Video Generation take per run, sized and timed like
Seedance 2), get, nodes, progress, cancel, resume, and the two listings with their `status`,
`from`, `to`, `limit` and `cursor` filters. How runs advance over time lives in scheduler.py.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..errors import ParamsError
from ..models import VIDEO_GENERATION_NODE_TYPE_ID, VideoGenerationParams
from . import agents, faults, rendering, scheduler, uploads, webhooks
from .agents import node_type
from .protocol import ApiFail, is_http_url, iso, json_body, list_limit, new_id, now_ts, paginate, parse_iso
from .state import RUN_STATUSES, TERMINAL_NODE_STATUSES, Render, Run, RunNode
from .uploads import CONTEXT_UPLOAD_TYPE

if TYPE_CHECKING:
    from .server import Simulator

VIDEO_INPUT_FIELDS = ("video_inputs", "video_ids", "node_render_ids", "video_urls", "mimir_assets", "signed_urls")
RESUMABLE_NODE_STATUSES = ("not_started", "blocked", "cancelled", "failed")


def run_params(sim: Simulator, node: dict[str, Any], override: dict[str, Any]) -> VideoGenerationParams:
    "The node's params merged with the run's overrides, checked, references finalized; 400 otherwise."
    merged = {**node["params_used"], **override}
    try:
        params = VideoGenerationParams.parse(merged)
    except ParamsError as err:
        raise ApiFail(400, str(err)) from None
    for key, kind in CONTEXT_UPLOAD_TYPE.items():
        for upload_id in getattr(params.selected_context, key):
            upload = sim.uploads.get(upload_id)
            if upload is None or upload.type != kind:
                raise ApiFail(400, f"selected_context.{key}: {upload_id} is not an uploaded {kind}")
            if not upload.finalized:
                raise ApiFail(400, f"selected_context.{key}: {kind} upload {upload_id} was not finalized")
    return params


async def create(sim: Simulator, request: Request) -> Response:
    "POST /agent/{id}/run: clone the nodes, plan the take, start the clock and the render."
    body = await json_body(request)
    inputs = [k for k in VIDEO_INPUT_FIELDS if body.get(k)]
    if inputs:
        raise ApiFail(
            400,
            f"This agent has no Video Input tile; generation-only agents take no video inputs "
            f"(remove {', '.join(inputs)})",
        )
    callback = body.get("callback_url")
    if callback is not None and not is_http_url(callback):
        raise ApiFail(400, "callback_url must be an http(s) URL")
    overrides = body.get("update_params") or {}
    ignored = body.get("ignore_nodes") or []
    if not isinstance(overrides, dict):
        raise ApiFail(400, "update_params must be an object keyed by agent_node_id")
    if not isinstance(ignored, list):
        raise ApiFail(400, "ignore_nodes must be an array of agent_node_id")
    with sim.lock:
        agent = agents.agent_or_404(sim, request.path_params["agent_id"])
        for node_id, patch in overrides.items():
            if node_id not in agent.nodes:
                raise ApiFail(400, f"update_params: {node_id} is not an agent_node_id of this agent")
            if not isinstance(patch, dict):
                raise ApiFail(400, f"update_params.{node_id} must be an object of params")
        for node_id in ignored:
            if not isinstance(node_id, str) or node_id not in agent.nodes:
                raise ApiFail(400, f"ignore_nodes: {node_id} is not an agent_node_id of this agent")
        template = [n for n in agent.nodes.values() if n["agent_node_id"] not in ignored]
        if not any(n["node_type_id"] == VIDEO_GENERATION_NODE_TYPE_ID for n in template):
            raise ApiFail(400, "This agent has no Video Generation node to run; add one with a create_node operation")
        nodes: list[RunNode] = []
        for node in template:
            override = overrides.get(node["agent_node_id"], {})
            run_node = RunNode(
                id=new_id(),
                original_node_id=node["agent_node_id"],
                node_type_id=node["node_type_id"],
                params={**node["params_used"], **override},
            )
            if node["node_type_id"] == VIDEO_GENERATION_NODE_TYPE_ID:
                params = run_params(sim, node, override)
                run_node.params = params.to_api()
                prompt = str(params.prompt)
                seconds = rendering.pick_seconds(params.seconds, prompt, sim.config.auto_duration)
                run_node.seconds = rendering.reported_seconds(rendering.frame_count(seconds))
                run_node.size = rendering.frame_size(params.resolution, params.aspect_ratio, prompt)
                run_node.resolution = params.resolution
                run_node.video_reference = bool(params.selected_context.videos)
            else:
                run_node.plan = "pass"
            nodes.append(run_node)
        now = now_ts()
        run = Run(
            id=new_id(),
            seq=sim.next_seq(),
            agent_id=agent.id,
            created_at=now,
            updated_at=now,
            nodes=nodes,
            outcome="ok",
            callback_url=callback,
            base_url=sim.base(request),
        )
        sim.runs[run.id] = run
        sim.runs_by_agent[agent.id] += 1
        scheduler.start_nodes(sim, run, nodes, faults.pick_outcome(sim, "run"))
        sim.dirty = True
        webhooks.notify(sim, run, webhooks.event(sim, run, "RUN_STARTED"))
        return JSONResponse({"run_id": run.id, **summary(sim, run, sim.base(request))})


def run_or_404(sim: Simulator, run_id: str) -> Run:
    "The run, or a 404."
    run = sim.runs.get(run_id)
    if run is None:
        raise ApiFail(404, f"Run {run_id} not found")
    return run


def output(sim: Simulator, render: Render, base: str) -> dict[str, Any]:
    "One output as the API shows it, with signed URLs valid 7 days."
    video_path = f"/_storage/renders/{render.video.name}"
    thumb = None
    if render.thumbnail is not None:
        thumb = uploads.signed_url(sim, base, f"/_storage/renders/{render.thumbnail.name}", render.expires)
    return {
        "id": render.id,
        "video_url": uploads.signed_url(sim, base, video_path, render.expires),
        "thumbnail_url": thumb,
        "premiere_prproj_url": None,
        "completed_at": iso(render.completed_at),
        "original_node_id": render.original_node_id,
    }


def outputs(sim: Simulator, run: Run, base: str) -> list[dict[str, Any]]:
    "Every output of a run so far."
    if run.outcome == "no_outputs":  # the fault: a run that ends "completed" with nothing to show
        return []
    return [output(sim, n.render, base) for n in run.nodes if n.render is not None]


def counts(run: Run) -> dict[str, int]:
    "node_status_counts: completed, in progress (not_started, queued, running), failed."
    statuses = [n.status for n in run.nodes]
    return {
        "completed": statuses.count("completed"),
        "in_progress": sum(s in ("queued", "running", "not_started") for s in statuses),
        "failed": statuses.count("failed"),
    }


def detail(sim: Simulator, run: Run, base: str) -> dict[str, Any]:
    "A run as GET /agent_run/{id} shows it."
    return {
        "agent_id": run.agent_id,
        "started_at": iso(run.created_at),
        "status": run.status,
        "status_message": run.status_message,
        "needs_credits": run.needs_credits,
        "errors": copy.deepcopy(run.errors),
        "node_status_counts": counts(run),
        "inputs": [],
        "outputs": outputs(sim, run, base),
    }


def summary(sim: Simulator, run: Run, base: str, *, with_outputs: bool = True) -> dict[str, Any]:
    "A run as list endpoints show it; `with_outputs=False` is the listing_without_outputs fault."
    return {
        "run_id": run.id,
        "agent_id": run.agent_id,
        "status": run.status,
        "status_message": run.status_message,
        "started_at": iso(run.created_at),
        "updated_at": iso(run.updated_at),
        "node_status_counts": counts(run),
        "inputs": [],
        "outputs": outputs(sim, run, base) if with_outputs else [],
        "triggered_by": None,
    }


async def get(sim: Simulator, request: Request) -> Response:
    "GET /agent_run/{id}."
    with sim.lock:
        run = run_or_404(sim, request.path_params["run_id"])
        return JSONResponse(detail(sim, run, sim.base(request)))


async def nodes(sim: Simulator, request: Request) -> Response:
    "GET /agent_run/{id}/nodes."
    with sim.lock:
        run = run_or_404(sim, request.path_params["run_id"])
        nodes = [
            {
                "agent_node_id": n.id,
                "original_node_id": n.original_node_id,
                "status": n.status,
                "status_message": n.status_message,
                "errors": list(n.errors),
                "node_type": node_type(n.node_type_id),
                "needs_credits": n.needs_credits,
            }
            for n in run.nodes
        ]
    return JSONResponse({"run_id": run.id, "nodes": nodes})


def list_runs(sim: Simulator, request: Request, agent_id: str | None) -> Response:
    "The listings: status (comma list), from/to on created_at, limit 1–100 and cursor, newest first."
    query = request.query_params
    statuses = None
    if query.get("status"):
        statuses = {s.strip() for s in query["status"].split(",") if s.strip()}
        unknown = sorted(statuses - set(RUN_STATUSES))
        if unknown:
            raise ApiFail(400, f"status: unknown {', '.join(unknown)}; use {', '.join(RUN_STATUSES)}")
    start = parse_iso("from", query["from"]) if query.get("from") else None
    end = parse_iso("to", query["to"]) if query.get("to") else None
    with sim.lock:
        runs = [
            r
            for r in sim.runs.values()
            if (agent_id is None or r.agent_id == agent_id)
            and (statuses is None or r.status in statuses)
            and (start is None or r.created_at >= start)
            and (end is None or r.created_at <= end)
        ]
        runs.sort(key=lambda r: -r.seq)
        page, cursor = paginate(runs, request, lambda r: r.seq)
        base = sim.base(request)
        with_outputs = not sim.config.faults.listing_without_outputs
        if not with_outputs and any(r.status != "running" for r in page):
            sim.faults_injected["listing_without_outputs"] += 1
        items = [summary(sim, r, base, with_outputs=with_outputs) for r in page]
        return JSONResponse({"runs": items, "next_cursor": cursor})


def _tile(node: RunNode, now: float) -> dict[str, Any]:
    if node.status == "completed":
        percent = 100
    elif node.status == "running" and node.due_at > node.started_at:
        # Time-based, like the model's own progress: it never says 100 before the file exists.
        percent = min(99, int(100 * (now - node.started_at) / (node.due_at - node.started_at)))
    else:
        percent = 0
    return {
        "agent_node_id": node.id,
        "original_node_id": node.original_node_id,
        "node_type": node_type(node.node_type_id),
        "status": node.status,
        "started_at": iso(node.started_at) if node.started_at else None,
        "progress_percent": percent,
        "tasks": [{"status": node.status, "status_message": node.status_message, "errors": list(node.errors)}],
    }


async def progress(sim: Simulator, request: Request) -> Response:
    "GET /agent_run/{id}/progress: whole-run counts and completed_node_percent, one page of tiles."
    limit = list_limit(request)
    with sim.lock:
        run = run_or_404(sim, request.path_params["run_id"])
        now = now_ts()
        done = sum(n.status in TERMINAL_NODE_STATUSES for n in run.nodes)
        return JSONResponse(
            {
                "run_id": run.id,
                "status": run.status,
                "node_status_counts": counts(run),
                "completed_node_percent": round(100 * done / len(run.nodes)) if run.nodes else 100,
                "tiles": [_tile(n, now) for n in run.nodes[:limit]],
                "next_cursor": None,
            }
        )


async def agent_runs(sim: Simulator, request: Request) -> Response:
    "GET /agent/{id}/runs."
    with sim.lock:
        agent = agents.agent_or_404(sim, request.path_params["agent_id"])
    return list_runs(sim, request, agent.id)


async def all_runs(sim: Simulator, request: Request) -> Response:
    "GET /agent_runs (optionally ?agent_id=)."
    return list_runs(sim, request, request.query_params.get("agent_id") or None)


async def cancel(sim: Simulator, request: Request) -> Response:
    "POST /agent_run/{id}/cancel: only a running run; 409 otherwise."
    with sim.lock:
        run = run_or_404(sim, request.path_params["run_id"])
        if run.status != "running":
            raise ApiFail(409, f"Run {run.id} is {run.status}; only a running run can be cancelled")
        active = [n for n in run.nodes if n.status not in TERMINAL_NODE_STATUSES]
        for node in active:
            if node.future is not None:
                node.future.cancel()
            node.status = "cancelled"
        run.status, run.updated_at, sim.dirty = "cancelled", now_ts(), True
        running = sum(1 for n in active if n.future is not None)
    return JSONResponse(
        {
            "success": True,
            "run_id": run.id,
            "tasks_cancelled": running,
            "nodes_reset": len(active),
            "message": "Agent run cancelled successfully",
        }
    )


async def resume(sim: Simulator, request: Request) -> Response:
    "POST /agent_run/{id}/resume: requeue a failed or cancelled run's eligible nodes; 409 otherwise."
    with sim.lock:
        run = run_or_404(sim, request.path_params["run_id"])
        if run.status not in ("failed", "cancelled"):
            raise ApiFail(409, f"Run {run.id} is {run.status}; only failed or cancelled runs can be resumed")
        requeue = [n for n in run.nodes if n.status in RESUMABLE_NODE_STATUSES]
        for node in requeue:
            node.future, node.render = None, None
            if node.plan != "pass":
                node.plan = "ok"
        run.status, run.status_message, run.needs_credits, run.errors = "running", None, False, []
        run.updated_at = now_ts()
        scheduler.start_nodes(sim, run, requeue, faults.pick_outcome(sim, "run_resume"))
        sim.dirty = True
    return JSONResponse(
        {
            "success": True,
            "run_id": run.id,
            "agent_state_id": run.id,
            "nodes_queued": len(requeue),
            "nodes_considered": len(run.nodes),
            "requeued_nodes": len(requeue),
            "requeued_node_tasks_detached": len(requeue),
            "requeued_node_active_tasks_cancelled": 0,
            "requeued_node_active_tasks_total": 0,
        }
    )
