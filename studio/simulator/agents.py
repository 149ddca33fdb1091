"""Agents (mosaic-api.md §2.2): metadata-only create, list, get, soft delete, and graph updates as
all-or-nothing batches of operations on nodes and connections (kept acyclic); one node instance
by id (§2.3), template or a run's runtime clone.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..errors import ParamsError
from ..models import VIDEO_GENERATION_NODE_TYPE_ID, VideoGenerationParams
from .protocol import ApiFail, iso, json_body, new_id, now_ts, paginate
from .state import Agent

if TYPE_CHECKING:
    from .server import Simulator

NAME_MAX_CHARS = 120
DESCRIPTION_MAX_CHARS = 5000
GRAPH_FIELDS = ("graph", "nodes", "connections", "create_video_input_node")
DOCS_URL = "https://docs.mosaic.so/tiles/"
# Node types the simulator accepts (mosaic-api.md §5.1); only Video Generation renders anything.
NODE_TYPES = {
    "9451e6ff-ac7f-4317-9055-a2f35f641b29": ("Video Input", "video-input"),
    "cdccb204-168e-4aec-aa72-480b11e74324": ("Captions", "captions"),
    "3b281fb9-9eb2-40f6-b05b-4b6f909a3da9": ("AI Music", "ai-music"),
    "bcc5cb04-76b7-48e9-a344-0e8a29c19be0": ("Clips", "clips"),
    "d898f2b1-3151-4231-a4d4-dd4d5a020b05": ("AI Content Generation", "ai-content-generation"),
    "b3b4c9e2-2a47-4fa9-8ce8-0c1fa1d7b6ef": ("AI Avatar", "ai-avatar"),
    VIDEO_GENERATION_NODE_TYPE_ID: ("Video Generation", "video-generation"),
    "14687f30-5fd0-468f-8239-2784d83df95b": ("Audio Generation", "audio-generation"),
    "18b998a0-2ea7-4676-a5d3-3ae6c8ac0b72": ("Image Generation", "image-generation"),
}


def check_node_params(node_type_id: str, params: Any) -> None:
    """Check the saved params of a node: known keys and enums only, where present.

    A Video Generation node may be saved without a prompt and get it per run (update_params), so
    the prompt is only required when a run merges the params (`_run_params`).
    """
    if not isinstance(params, dict):
        raise ApiFail(400, "params_used must be an object")
    if node_type_id != VIDEO_GENERATION_NODE_TYPE_ID:
        return
    probe = dict(params)
    prompt = probe.get("prompt")
    if prompt is None or (isinstance(prompt, str) and not prompt.strip()):
        probe["prompt"] = "placeholder"
    try:
        VideoGenerationParams.parse(probe)
    except ParamsError as err:
        raise ApiFail(400, str(err)) from None


def node_type(node_type_id: str) -> dict[str, Any]:
    "The node_type object of mosaic-api.md for a node type id."
    name, slug = NODE_TYPES.get(node_type_id, (None, None))
    return {
        "node_type_id": node_type_id,
        "node_type_name": name,
        "docs_url": DOCS_URL + slug if slug else None,
        "params_docs_url": DOCS_URL + slug + "#api-info" if slug else None,
    }


def agent_or_404(sim: Simulator, agent_id: str) -> Agent:
    "The live agent, or a 404 (deleted agents are gone)."
    agent = sim.agents.get(agent_id)
    if agent is None or agent.deleted:
        raise ApiFail(404, f"Agent {agent_id} not found")
    return agent


def check_metadata(body: dict[str, Any]) -> dict[str, Any]:
    "Checked name, description, visibility and workspace_id from a body; 400 otherwise."
    out: dict[str, Any] = {}
    if "name" in body:
        name = body["name"]
        if not isinstance(name, str) or not 1 <= len(name.strip()) <= NAME_MAX_CHARS:
            raise ApiFail(400, f"name must be 1 to {NAME_MAX_CHARS} characters")
        out["name"] = name.strip()
    if "description" in body:
        text = body["description"]
        if text is None:
            text = ""
        if not isinstance(text, str) or len(text) > DESCRIPTION_MAX_CHARS:
            raise ApiFail(400, f"description must be text of at most {DESCRIPTION_MAX_CHARS} characters")
        out["description"] = text
    if "visibility" in body:
        if body["visibility"] not in ("public", "private"):
            raise ApiFail(400, "visibility must be public or private")
        out["visibility"] = body["visibility"]
    if "workspace_id" in body:
        if body["workspace_id"] is not None and not isinstance(body["workspace_id"], str):
            raise ApiFail(400, "workspace_id must be a string")
        out["workspace_id"] = body["workspace_id"]
    return out


def agent_change(sim: Simulator, agent: Agent, applied: int, created: list[dict[str, Any]]) -> dict[str, Any]:
    "The answer of create and update."
    return {
        "success": True,
        "agent_id": agent.id,
        "operations_applied": applied,
        "created_nodes": created,
        "name": agent.name,
        "description": agent.description,
        "visibility": agent.visibility,
        "workspace_id": agent.workspace_id,
        "created_at": iso(agent.created_at),
        "updated_at": iso(agent.updated_at),
    }


async def create(sim: Simulator, request: Request) -> Response:
    "POST /agent/create: metadata only; the graph comes through update operations."
    body = await json_body(request)
    graph = [k for k in GRAPH_FIELDS if k in body]
    if graph:
        raise ApiFail(
            400,
            f"Agent create takes metadata only; build the graph with /agent/{{id}}/update "
            f"operations (remove {', '.join(graph)})",
        )
    meta = check_metadata(body)
    now = now_ts()
    with sim.lock:
        agent = Agent(
            id=new_id(),
            seq=sim.next_seq(),
            name=meta.get("name", "Untitled agent"),
            description=meta.get("description", ""),
            visibility=meta.get("visibility", "private"),
            workspace_id=meta.get("workspace_id"),
            created_at=now,
            updated_at=now,
        )
        sim.agents[agent.id] = agent
        sim.dirty = True
        return JSONResponse(agent_change(sim, agent, 0, []))


async def list_agents(sim: Simulator, request: Request) -> Response:
    "GET /agents, newest first, paged."
    with sim.lock:
        agents = sorted((a for a in sim.agents.values() if not a.deleted), key=lambda a: -a.seq)
        page, cursor = paginate(agents, request, lambda a: a.seq)
        items = [
            {
                "id": a.id,
                "name": a.name,
                "description": a.description,
                "created_at": iso(a.created_at),
                "updated_at": iso(a.updated_at),
            }
            for a in page
        ]
    return JSONResponse({"agents": items, "next_cursor": cursor})


async def get(sim: Simulator, request: Request) -> Response:
    "GET /agent/{id}: the agent, its nodes and connections."
    with sim.lock:
        agent = agent_or_404(sim, request.path_params["agent_id"])
        return JSONResponse(
            {
                "agent": {
                    "id": agent.id,
                    "name": agent.name,
                    "description": agent.description,
                    "visibility": agent.visibility,
                    "created_at": iso(agent.created_at),
                    "updated_at": iso(agent.updated_at),
                },
                "agent_nodes": [
                    {
                        "agent_node_id": n["agent_node_id"],
                        "node_type": node_type(n["node_type_id"]),
                        "params_used": copy.deepcopy(n["params_used"]),
                    }
                    for n in agent.nodes.values()
                ],
                "connections": [{"source_agent_node_id": s, "target_agent_node_id": t} for s, t in agent.connections],
            }
        )


async def get_node(sim: Simulator, request: Request) -> Response:
    """GET /agent_nodes/{id}: one node instance, a template node of a live agent or a run's runtime
    clone (whose params_used are what that run used: the saved params with update_params applied)."""
    node_id = request.path_params["agent_node_id"]
    with sim.lock:
        if sim.config.faults.legacy_api:
            raise ApiFail(404, "Not found")
        found: dict[str, Any] | None = None
        for agent in sim.agents.values():
            node = agent.nodes.get(node_id)
            if node is not None and not agent.deleted:
                found = {"agent_node_id": node_id, "node_type_id": node["node_type_id"], "params": node["params_used"]}
        if found is None:
            for run in sim.runs.values():
                for clone in run.nodes:
                    if clone.id == node_id:
                        found = {"agent_node_id": node_id, "node_type_id": clone.node_type_id, "params": clone.params}
        if found is None:
            raise ApiFail(404, f"Agent node {node_id} not found")
        return JSONResponse(
            {
                "agent_node": {
                    "agent_node_id": found["agent_node_id"],
                    "node_type": node_type(found["node_type_id"]),
                    "params_used": copy.deepcopy(found["params"]),
                }
            }
        )


async def update(sim: Simulator, request: Request) -> Response:
    "POST|PATCH /agent/{id}/update: metadata and a batch of operations, all or nothing."
    body = await json_body(request)
    graph = [k for k in GRAPH_FIELDS if k in body]
    if graph:
        raise ApiFail(400, f"Graph replacement is not supported; send operations (remove {', '.join(graph)})")
    if not any(k in body for k in ("name", "description", "visibility", "operations")):
        raise ApiFail(400, "Send at least one of name, description, visibility, operations")
    meta = check_metadata({k: v for k, v in body.items() if k != "workspace_id"})
    operations = body.get("operations", [])
    if not isinstance(operations, list):
        raise ApiFail(400, "operations must be an array")
    with sim.lock:
        agent = agent_or_404(sim, request.path_params["agent_id"])
        nodes = copy.deepcopy(agent.nodes)
        connections = list(agent.connections)
        created: list[dict[str, Any]] = []
        temp_refs: dict[str, str] = {}
        for index, op in enumerate(operations):
            try:
                apply_operation(sim, op, nodes, connections, temp_refs, created)
            except ApiFail as err:
                kind = op.get("op") if isinstance(op, dict) else None
                label = f"operations[{index}]" + (f" ({kind})" if isinstance(kind, str) else "")
                raise ApiFail(400, f"{label}: {err.detail}; no operation was applied") from None
        # Everything checked: apply all at once (the whole batch or nothing).
        agent.nodes, agent.connections = nodes, connections
        for key, value in meta.items():
            setattr(agent, key, value)
        agent.updated_at, sim.dirty = now_ts(), True
        return JSONResponse(agent_change(sim, agent, len(operations), created))


def apply_operation(
    sim: Simulator,
    op: Any,
    nodes: dict[str, dict[str, Any]],
    connections: list[tuple[str, str]],
    temp_refs: dict[str, str],
    created: list[dict[str, Any]],
) -> None:
    "Apply one graph operation to the working copies; ApiFail(400) when it is invalid."
    if not isinstance(op, dict):
        raise ApiFail(400, "each operation must be an object")
    kind = op.get("op")
    if kind == "create_node":
        if "agent_node_id" in op:
            raise ApiFail(400, "agent_node_id is assigned by the server; use temp_ref_id to refer to the new node")
        type_id = op.get("node_type_id")
        if not isinstance(type_id, str) or not type_id:
            raise ApiFail(400, "node_type_id is required")
        if type_id not in NODE_TYPES:
            raise ApiFail(400, f"unknown node_type_id {type_id}")
        params = op.get("params_used") or {}
        check_node_params(type_id, params)
        temp = op.get("temp_ref_id")
        if temp is not None and (not isinstance(temp, str) or temp in temp_refs):
            raise ApiFail(400, f"temp_ref_id {temp!r} must be a string used once per request")
        node_id = new_id()
        nodes[node_id] = {"agent_node_id": node_id, "node_type_id": type_id, "params_used": copy.deepcopy(params)}
        if temp is not None:
            temp_refs[temp] = node_id
        created.append({"temp_ref_id": temp, "agent_node_id": node_id})
    elif kind == "update_node":
        node = nodes.get(str(op.get("agent_node_id")))
        if node is None:
            raise ApiFail(400, f"agent_node_id {op.get('agent_node_id')!r} is not a node of this agent")
        if not isinstance(op.get("params_used"), dict):
            raise ApiFail(400, "params_used (an object) is required")
        merged = {**node["params_used"], **op["params_used"]}
        check_node_params(node["node_type_id"], merged)
        node["params_used"] = copy.deepcopy(merged)
    elif kind == "delete_node":
        node_id = str(op.get("agent_node_id"))
        if node_id not in nodes:
            raise ApiFail(400, f"agent_node_id {op.get('agent_node_id')!r} is not a node of this agent")
        del nodes[node_id]
        connections[:] = [(s, t) for s, t in connections if node_id not in (s, t)]
    elif kind in ("create_connection", "delete_connection"):
        source = endpoint_node(op, "source", nodes, temp_refs)
        target = endpoint_node(op, "target", nodes, temp_refs)
        edge = (source, target)
        if kind == "delete_connection":
            if edge not in connections:
                raise ApiFail(400, "no such connection")
            connections.remove(edge)
            return
        if source == target:
            raise ApiFail(400, "a node cannot connect to itself")
        if edge in connections:
            raise ApiFail(400, "the connection already exists")
        if reaches(connections, target, source):
            raise ApiFail(400, "the connection would create a cycle; the graph must stay acyclic")
        connections.append(edge)
    else:
        raise ApiFail(
            400,
            f"unknown op {kind!r}; use create_node, update_node, delete_node, create_connection or delete_connection",
        )


def endpoint_node(op: dict[str, Any], side: str, nodes: dict[str, Any], temp_refs: dict[str, str]) -> str:
    "The node id one end of a connection operation names (by id or by temp_ref_id)."
    by_id, by_temp = op.get(f"{side}_agent_node_id"), op.get(f"{side}_temp_ref_id")
    if (by_id is None) == (by_temp is None):
        raise ApiFail(400, f"give exactly one of {side}_agent_node_id and {side}_temp_ref_id")
    if by_temp is not None:
        if by_temp not in temp_refs:
            raise ApiFail(400, f"{side}_temp_ref_id {by_temp!r} was not created earlier in this request")
        return temp_refs[by_temp]
    if by_id not in nodes:
        raise ApiFail(400, f"{side}_agent_node_id {by_id!r} is not a node of this agent")
    return by_id


async def delete(sim: Simulator, request: Request) -> Response:
    "POST|DELETE /agent/{id}/delete: a soft delete."
    with sim.lock:
        agent = agent_or_404(sim, request.path_params["agent_id"])
        agent.deleted = True
        agent.updated_at, sim.dirty = now_ts(), True
    return JSONResponse({"success": True, "agent_id": agent.id, "message": "Agent deleted successfully"})


def reaches(connections: list[tuple[str, str]], start: str, goal: str) -> bool:
    "True when `goal` can be reached from `start` along the directed connections."
    seen, stack = set(), [start]
    while stack:
        node = stack.pop()
        if node == goal:
            return True
        if node not in seen:
            seen.add(node)
            stack.extend(t for s, t in connections if s == node)
    return False
