"""The HTTP surface: the route table (names as in faults.API_ROUTES), the endpoint wrapper every
request passes through (request counts, auth, injected transport faults, error bodies), the
organisation routes (whoami, credits) and the simulator-only `/_sim/*` routes.
"""

from __future__ import annotations

import asyncio
import logging
import math
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from . import agents, faults, runs, uploads
from .faults import DEFAULT_FAULT_ROUTE, FAULT_KINDS, SERVER_ERROR_STATUSES, Faults
from .protocol import ApiFail, error_response, iso, json_body, now_ts

if TYPE_CHECKING:
    from .server import Simulator

Handler = Callable[["Simulator", Request], Awaitable[Response]]
ORGANIZATION_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, "https://api.mosaic.so/simulator"))
DROP_MESSAGE = "ASGI callable returned without completing response"
AUTH_FAULTS = {
    "unauthorized": (401, "Invalid API key (simulated: the key was revoked)"),
    "forbidden": (403, "This API key may not do this (simulated: a scope is missing)"),
}

log = logging.getLogger(__name__)


class Endpoint:
    "ASGI endpoint around one handler: counts, auth, faults, error bodies."

    def __init__(self, sim: Simulator, name: str, handler: Handler, *, kind: str = "api"):
        self.sim, self.name, self.handler, self.kind = sim, name, handler, kind

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        sim = self.sim
        request = Request(scope, receive)
        sim.count(self.name)
        if self.kind == "api":
            denied = sim.auth_error(request)
            if denied is not None:
                await denied(scope, receive, send)
                return
        fault = faults.pick_transport_fault(sim, self.name, self.kind)
        if fault == "rate_limit":
            wait = sim.config.faults.retry_after_s
            headers = {"Retry-After": str(math.ceil(wait)), "retry-after-ms": str(round(wait * 1000))}
            await error_response(429, "Too many requests; retry later", headers=headers)(scope, receive, send)
            return
        if fault == "server_error":
            with sim.lock:
                status = sim.rng.choice(SERVER_ERROR_STATUSES)
            await error_response(status, "Internal server error (simulated)")(scope, receive, send)
            return
        if fault in AUTH_FAULTS:
            status, words = AUTH_FAULTS[fault]
            await error_response(status, words)(scope, receive, send)
            return
        if fault == "late":
            await request.body()  # kept on the request: a client that gave up cannot take it back
            await asyncio.sleep(sim.config.faults.slow_seconds)
        response: Response
        try:
            response = await self.handler(sim, request)
        except ApiFail as err:
            response = err.response()
        except HTTPException as err:  # e.g. a malformed multipart body
            response = error_response(err.status_code, str(err.detail))
        except Exception:
            log.exception("simulator handler %s failed", self.name)
            response = error_response(500, "Internal server error")
        if fault == "slow":
            await asyncio.sleep(sim.config.faults.slow_seconds)
        if fault == "drop":
            await drop_connection(send)
            return
        await response(scope, receive, send)


async def drop_connection(send: Send) -> None:
    # Promise more bytes than are sent, then return: uvicorn (h11) closes the connection, so the
    # client sees the request processed but the answer cut off (httpx.RemoteProtocolError).
    "Start an answer and never finish it: the injected 'drop' fault."
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"1000")],
        }
    )
    await send({"type": "http.response.body", "body": b'{"run_id": "', "more_body": True})


class QuietDrops(logging.Filter):
    "Drops uvicorn's error line for an injected dropped connection: a fault, not a server bug."

    def filter(self, record: logging.LogRecord) -> bool:
        return DROP_MESSAGE not in str(record.msg)


QUIET_DROPS = QuietDrops()


def build_app(sim: Simulator) -> Starlette:
    "The Starlette app: every route wrapped in an Endpoint (counts, auth, faults, error bodies)."

    def route(path: str, name: str, handler: Handler, methods: list[str], kind: str = "api") -> Route:
        return Route(path, Endpoint(sim, name, handler, kind=kind), methods=methods, name=name)

    routes = [
        route("/whoami", "whoami", whoami, ["GET"]),
        route("/agent/create", "agent_create", agents.create, ["POST"]),
        route("/agents", "agents", agents.list_agents, ["GET"]),
        route("/agent/{agent_id}", "agent_get", agents.get, ["GET"]),
        route("/agent/{agent_id}/update", "agent_update", agents.update, ["POST", "PATCH"]),
        route("/agent/{agent_id}/delete", "agent_delete", agents.delete, ["POST", "DELETE"]),
        route("/agent/{agent_id}/run", "run", runs.create, ["POST"]),
        route("/agent/{agent_id}/runs", "agent_runs", runs.agent_runs, ["GET"]),
        route("/agent_runs", "runs", runs.all_runs, ["GET"]),
        route("/agent_run/{run_id}", "run_get", runs.get, ["GET"]),
        route("/agent_run/{run_id}/nodes", "run_nodes", runs.nodes, ["GET"]),
        route("/agent_run/{run_id}/progress", "run_progress", runs.progress, ["GET"]),
        route("/agent_run/{run_id}/cancel", "run_cancel", runs.cancel, ["POST"]),
        route("/agent_run/{run_id}/resume", "run_resume", runs.resume, ["POST"]),
        route("/uploads/{kind}/get_upload_url", "upload_url", uploads.upload_url, ["POST"]),
        route("/uploads/{kind}/finalize_upload", "upload_finalize", uploads.upload_finalize, ["POST"]),
        route("/credits", "credits", credits, ["GET"]),
        route("/agent_nodes/{agent_node_id}", "agent_node", agents.get_node, ["GET"]),
        route("/_storage/upload/{upload_id}", "storage_upload", uploads.storage_upload, ["POST"], "storage"),
        route("/_storage/renders/{name}", "storage_download", uploads.storage_download, ["GET"], "storage"),
        route("/_sim/health", "sim_health", sim_health, ["GET"], "sim"),
        route("/_sim/stats", "sim_stats", sim_stats, ["GET"], "sim"),
        route("/_sim/uploads", "sim_uploads", sim_uploads, ["GET"], "sim"),
        route("/_sim/faults", "sim_faults", sim_faults, ["GET", "POST"], "sim"),
    ]

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)  # registered for HTTPException only
        code = {404: "not_found", 405: "validation_error"}.get(exc.status_code)
        detail = "Not found" if exc.status_code == 404 else str(exc.detail)
        return error_response(exc.status_code, detail, code)

    return Starlette(routes=routes, exception_handlers={HTTPException: http_error})


async def whoami(sim: Simulator, request: Request) -> Response:
    "GET /whoami."
    return JSONResponse(
        {
            "organization_id": ORGANIZATION_ID,
            "organization_name": "Local Mosaic simulator",
            "organization_slug": "local-simulator",
            "created_at": "2026-01-01T00:00:00.000Z",
            "last_used_at": iso(now_ts()),
        }
    )


async def credits(sim: Simulator, request: Request) -> Response:
    "GET /credits: the balance runs are billed from."
    with sim.lock:
        balance = sim.balance
    return JSONResponse(
        {
            "organization_id": ORGANIZATION_ID,
            "balance": balance,
            "plan": "professional",
            "plan_id": "professional",
            "billing_cycle": {
                "current_period_start": "2026-01-01T00:00:00.000Z",
                "current_period_end": "2027-01-01T00:00:00.000Z",
            },
            "auto_topup": {"eligible": True, "enabled": False, "threshold": 0, "quantity": 0},
        }
    )


async def sim_health(sim: Simulator, request: Request) -> Response:
    "GET /_sim/health: answers once the server is up."
    return JSONResponse({"ok": True})


async def sim_stats(sim: Simulator, request: Request) -> Response:
    "GET /_sim/stats: Simulator.stats() over HTTP."
    return JSONResponse(sim.stats())


async def sim_uploads(sim: Simulator, request: Request) -> Response:
    "GET /_sim/uploads: every upload and its state."
    with sim.lock:
        items = [
            {
                "id": u.id,
                "type": u.type,
                "filename": u.filename,
                "size": u.size,
                "content_type": u.content_type,
                "finalized": u.finalized,
            }
            for u in sim.uploads.values()
        ]
    return JSONResponse({"uploads": items})


async def sim_faults(sim: Simulator, request: Request) -> Response:
    """GET: current faults. POST: merge settings, e.g. {"rate_limit": 0.2, "routes": ["run"]};
    {"reset": true} starts from no faults; {"script": [{"kind", "route", "count"}]} queues faults."""
    if request.method == "POST":
        body = await json_body(request)
        script = body.pop("script", [])
        reset = bool(body.pop("reset", False))
        try:
            if not isinstance(script, list) or not all(isinstance(i, dict) for i in script):
                raise ValueError("script must be an array of {kind, route, count}")
            for item in script:
                if item.get("kind") not in FAULT_KINDS:
                    raise ValueError(f"unknown fault kind {item.get('kind')!r}; known: {', '.join(FAULT_KINDS)}")
                if int(item.get("count", 1)) < 1:
                    raise ValueError("count must be at least 1")
            with sim.lock:
                sim.set_faults(Faults.from_dict(body, None if reset else sim.config.faults), clear_script=reset)
                for item in script:
                    route = item.get("route", DEFAULT_FAULT_ROUTE.get(item["kind"], "run"))
                    sim.script_fault(item["kind"], route, int(item.get("count", 1)))
        except (TypeError, ValueError) as err:
            raise ApiFail(400, str(err)) from None
    with sim.lock:
        scripted = [{"kind": s.kind, "route": s.route, "count": s.count} for s in sim.scripted]
        return JSONResponse({"faults": sim.config.faults.to_dict(), "scripted": scripted})
