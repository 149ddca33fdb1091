"""A local Mosaic: a real HTTP server with the newest shapes of mosaic-api.md, for keyless use,
tests and benchmarks. It renders real MP4s (studio.media), advances runs from one scheduler
thread, sends webhooks, and injects faults on demand. Never imported by the app: it is reached
over HTTP only. Standalone: `python -m studio.simulator --port 8765`; every flag also reads a
SIM_* variable (SIM_LATENCY, SIM_API_KEY, SIM_FAULT_RATE_LIMIT, ...; see `--help`).
With a state file (`--state-file`) agents, runs, uploads and credits survive a restart.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import copy
import hashlib
import hmac
import json
import logging
import math
import os
import random
import re
import secrets
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from . import media
from .errors import ParamsError
from .models import VIDEO_GENERATION_NODE_TYPE_ID, VideoGenerationParams

DEFAULT_LATENCY_S = 3.0
DEFAULT_LATENCY_PER_SECOND = 0.1
DEFAULT_CREDITS_BALANCE = 10000
DEFAULT_CREDITS_PER_SECOND = 10
DEFAULT_AUTO_DURATION_S = 5
DEFAULT_PORT = 8765
DEFAULT_SLOW_SECONDS = 35.0  # past the studio's default 30 s client timeout
DEFAULT_RETRY_AFTER_S = 1.0
SERVER_ERROR_STATUSES = (500, 502, 503)

KEY_PREFIX = "mk_"
SIGNED_URL_TTL_S = 7 * 24 * 3600
UPLOAD_POLICY_TTL_S = 3600
UPLOAD_MAX_BYTES = {"video": 5 * 1024**3, "audio": 500 * 1024**2, "image": 50 * 1024**2}
UPLOAD_TYPES = tuple(UPLOAD_MAX_BYTES)
CONTEXT_UPLOAD_TYPE = {"images": "image", "videos": "video", "audio": "audio"}
NAME_MAX_CHARS = 120
DESCRIPTION_MAX_CHARS = 5000
LIST_LIMIT_DEFAULT = 25
LIST_LIMIT_MAX = 100
GRAPH_FIELDS = ("graph", "nodes", "connections", "create_video_input_node")
VIDEO_INPUT_FIELDS = ("video_inputs", "video_ids", "node_render_ids", "video_urls", "mimir_assets", "signed_urls")
RUN_STATUSES = ("running", "completed", "partial_complete", "failed", "cancelled")
TERMINAL_NODE_STATUSES = ("completed", "failed", "cancelled", "partial_complete")
RESUMABLE_NODE_STATUSES = ("not_started", "blocked", "cancelled", "failed")

TICK_S = 0.05
RENDER_WORKERS = min(8, 2 * (os.cpu_count() or 1))
WEBHOOK_LANES = 4  # one thread per lane; a run always uses the same lane, so its events stay ordered
WEBHOOK_TIMEOUT_S = 5.0
WEBHOOK_BACKOFF_S = (0.25, 1.0, 3.0)  # waits between the attempts: four attempts in all
SHUTDOWN_GRACE_S = 1
STATE_VERSION = 1
STATE_SAVE_INTERVAL_S = 0.2  # at most five state writes a second, however busy a grid is
START_TIMEOUT_S = 10.0

ORGANIZATION_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, "https://api.mosaic.so/simulator"))
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

# Error codes of mosaic-api.md's (older) table; 409 and 413 have none there.
ERROR_CODES = {
    400: "validation_error",
    401: "invalid_api_key",
    403: "forbidden",
    404: "not_found",
    409: "conflict",
    413: "file_too_large",
    422: "parameter_out_of_range",
    429: "rate_limit",
}

# Route names, as used by Faults.routes, script_fault() and the request counts of /_sim/stats.
API_ROUTES = (
    "whoami",
    "agent_create",
    "agents",
    "agent_get",
    "agent_update",
    "agent_delete",
    "run",
    "agent_runs",
    "runs",
    "run_get",
    "run_nodes",
    "run_cancel",
    "run_resume",
    "upload_url",
    "upload_finalize",
    "credits",
)
STORAGE_ROUTES = ("storage_upload", "storage_download")
TRANSPORT_FAULTS = ("rate_limit", "server_error", "slow", "drop")
OUTCOME_FAULTS = ("run_fail", "run_partial", "needs_credits")
FAULT_KINDS = TRANSPORT_FAULTS + OUTCOME_FAULTS
FAIL_MESSAGE = "Video generation failed: the model returned an error (simulated)"
CREDITS_MESSAGE = "Insufficient credits"
DROP_MESSAGE = "ASGI callable returned without completing response"

log = logging.getLogger(__name__)


# ------------------------------------------------------------------------------ configuration


@dataclass
class Faults:
    """Fault injection, all off by default; random choices come from a `random.Random(seed)`.

    Rates are probabilities per request (0..1). Transport faults (rate_limit, server_error, slow,
    drop) hit the API routes named in `routes` (None = every API route) and the storage routes only
    when `include_storage`. run_fail / run_partial / needs_credits decide how new runs end.
    """

    rate_limit: float = 0.0
    retry_after_s: float = DEFAULT_RETRY_AFTER_S
    server_error: float = 0.0
    slow: float = 0.0
    slow_seconds: float = DEFAULT_SLOW_SECONDS
    drop: float = 0.0
    run_fail: float = 0.0
    run_partial: float = 0.0
    needs_credits: bool = False
    routes: frozenset[str] | None = None
    include_storage: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("rate_limit", "server_error", "slow", "drop", "run_fail", "run_partial"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= 1:
                raise ValueError(f"fault rate {name} must be a number from 0 to 1 (got {value!r})")
        for name in ("retry_after_s", "slow_seconds"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be a number of seconds >= 0 (got {value!r})")
        for name in ("needs_credits", "include_storage"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false (got {getattr(self, name)!r})")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise ValueError(f"seed must be an integer (got {self.seed!r})")
        if self.routes is not None:
            routes = [self.routes] if isinstance(self.routes, str) else list(self.routes)
            self.routes = frozenset(str(r) for r in routes)
            known = API_ROUTES + STORAGE_ROUTES
            unknown = sorted(self.routes - set(known))
            if unknown:
                raise ValueError(f"unknown route names {', '.join(unknown)}; known: {', '.join(known)}")

    @classmethod
    def from_dict(cls, data: dict[str, Any], base: Faults | None = None) -> Faults:
        "Faults from JSON (unknown keys raise ValueError), merged over `base`."
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown fault settings: {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        merged = {**(base.to_dict() if base else {}), **data}
        return cls(**merged)

    def to_dict(self) -> dict[str, Any]:
        "JSON-ready settings."
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["routes"] = sorted(self.routes) if self.routes is not None else None
        return data


@dataclass
class SimConfig:
    "How the simulator behaves; the defaults suit interactive use without an API key."

    latency: float = DEFAULT_LATENCY_S
    latency_per_second: float = DEFAULT_LATENCY_PER_SECOND
    api_key: str | None = None
    webhook_secret: str | None = None
    credits_balance: float = DEFAULT_CREDITS_BALANCE
    credits_per_second: float = DEFAULT_CREDITS_PER_SECOND
    auto_duration: int = DEFAULT_AUTO_DURATION_S
    media_dir: Path | None = None
    faults: Faults = field(default_factory=Faults)
    # finalize_upload checks these current limits (413); the storage POST enforces the limit signed
    # into the upload policy (400). Lowering a limit after an upload is how tests provoke the 413.
    upload_max_bytes: dict[str, int] = field(default_factory=lambda: dict(UPLOAD_MAX_BYTES))
    render_workers: int = RENDER_WORKERS
    # None keeps everything in memory. With a file, media_dir defaults to a folder beside it, since
    # the renders and uploads the state points at must outlive the process too.
    state_file: Path | None = None

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> SimConfig:
        "A config from SIM_* environment variables (see `main --help`); unset ones keep defaults."
        env = os.environ if environ is None else environ
        parser = _parser(env)
        return _config_from_args(parser.parse_args([]))


# ------------------------------------------------------------------------------ helpers


class _Fail(Exception):
    "An API error answer, `{'detail': ..., 'error': ...}` with a status."

    def __init__(self, status: int, detail: str, code: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.status, self.detail, self.headers = status, detail, headers
        self.code = code or ERROR_CODES.get(status, "internal_server_error")

    def response(self) -> JSONResponse:
        return _error_response(self.status, self.detail, self.code, self.headers)


def _error_response(
    status: int, detail: str, code: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    code = code or ERROR_CODES.get(status, "internal_server_error")
    return JSONResponse({"detail": detail, "error": code}, status_code=status, headers=headers)


def _now() -> float:
    # Millisecond precision, the same as the ISO strings, so `from`/`to` filters built from a
    # returned timestamp include that run.
    return math.floor(time.time() * 1000) / 1000


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _parse_iso(name: str, text: str) -> float:
    try:
        moment = datetime.fromisoformat(text.strip().replace(" ", "+"))
    except ValueError:
        raise _Fail(400, f"{name} must be an ISO-8601 timestamp such as 2026-01-10T14:30:00Z (got {text!r})") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _new_id() -> str:
    return str(uuid.uuid4())


def _is_http_url(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


async def _json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise _Fail(400, "The request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise _Fail(400, "The request body must be a JSON object")
    return data


def _limit(request: Request) -> int:
    text = request.query_params.get("limit")
    if text is None:
        return LIST_LIMIT_DEFAULT
    try:
        value = int(text)
    except ValueError:
        raise _Fail(400, f"limit must be a whole number from 1 to {LIST_LIMIT_MAX} (got {text!r})") from None
    if not 1 <= value <= LIST_LIMIT_MAX:
        raise _Fail(422, f"limit must be from 1 to {LIST_LIMIT_MAX} (got {value})")
    return value


def _encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"before": seq}).encode()).decode().rstrip("=")


def _decode_cursor(request: Request) -> int | None:
    text = request.query_params.get("cursor")
    if not text:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        return int(data["before"])
    except (ValueError, KeyError, TypeError):
        raise _Fail(400, "cursor is not valid; pass next_cursor back verbatim") from None


def _page(items: list[Any], request: Request, seq: Callable[[Any], int]) -> tuple[list[Any], str | None]:
    "Newest-first keyset pagination: `items` must already be sorted by descending seq."
    limit, before = _limit(request), _decode_cursor(request)
    if before is not None:
        items = [i for i in items if seq(i) < before]
    page = items[:limit]
    more = len(items) > limit
    return page, _encode_cursor(seq(page[-1])) if more and page else None


def _check_node_params(node_type_id: str, params: Any) -> None:
    """Check the saved params of a node: known keys and enums only, where present.

    A Video Generation node may be saved without a prompt and get it per run (update_params), so
    the prompt is only required when a run merges the params (`_run_params`).
    """
    if not isinstance(params, dict):
        raise _Fail(400, "params_used must be an object")
    if node_type_id != VIDEO_GENERATION_NODE_TYPE_ID:
        return
    probe = dict(params)
    prompt = probe.get("prompt")
    if prompt is None or (isinstance(prompt, str) and not prompt.strip()):
        probe["prompt"] = "placeholder"
    try:
        VideoGenerationParams.parse(probe)
    except ParamsError as err:
        raise _Fail(400, str(err)) from None


def _node_type(node_type_id: str) -> dict[str, Any]:
    name, slug = NODE_TYPES.get(node_type_id, (None, None))
    return {
        "node_type_id": node_type_id,
        "node_type_name": name,
        "docs_url": DOCS_URL + slug if slug else None,
        "params_docs_url": DOCS_URL + slug + "#api-info" if slug else None,
    }


class _QuietDrops(logging.Filter):
    # A dropped connection is an injected fault, not a server bug worth an error line.
    def filter(self, record: logging.LogRecord) -> bool:
        return DROP_MESSAGE not in str(record.msg)


_QUIET_DROPS = _QuietDrops()


# ------------------------------------------------------------------------------ state


@dataclass
class _Agent:
    id: str
    seq: int
    name: str
    description: str
    visibility: str
    workspace_id: str | None
    created_at: float
    updated_at: float
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)  # agent_node_id -> node
    connections: list[tuple[str, str]] = field(default_factory=list)
    deleted: bool = False


@dataclass
class _Render:
    id: str
    video: Path
    thumbnail: Path | None
    completed_at: float
    expires: int
    original_node_id: str


@dataclass
class _RunNode:
    id: str  # runtime clone id
    original_node_id: str
    node_type_id: str
    params: dict[str, Any]
    seconds: int = 0
    size: tuple[int, int] = (0, 0)
    plan: str = "ok"  # ok | fail | credits | pass (a non-generation node: completes, no output)
    status: str = "queued"
    status_message: str | None = None
    errors: list[str] = field(default_factory=list)
    needs_credits: bool = False
    due_at: float = 0.0
    future: Future | None = None
    render: _Render | None = None


@dataclass
class _Run:
    id: str
    seq: int
    agent_id: str
    created_at: float
    updated_at: float
    nodes: list[_RunNode]
    outcome: str
    callback_url: str | None
    base_url: str
    status: str = "running"
    status_message: str | None = None
    needs_credits: bool = False
    errors: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Upload:
    id: str
    type: str
    key: str
    policy: str
    signature: str
    max_bytes: int
    expires: int
    path: Path | None = None
    filename: str | None = None
    content_type: str | None = None
    size: int | None = None
    finalized: bool = False


@dataclass
class _Scripted:
    kind: str
    route: str | None
    count: int


# ------------------------------------------------------------------------------ the server


class _Endpoint:
    "ASGI endpoint around one handler: counts, auth, faults, error bodies."

    def __init__(
        self, sim: Simulator, name: str, handler: Callable[[Request], Awaitable[Response]], *, kind: str = "api"
    ):
        self.sim, self.name, self.handler, self.kind = sim, name, handler, kind

    async def __call__(self, scope, receive, send) -> None:
        sim = self.sim
        request = Request(scope, receive)
        sim._count(self.name)
        if self.kind == "api":
            denied = sim._auth_error(request)
            if denied is not None:
                await denied(scope, receive, send)
                return
        fault = sim._pick_transport_fault(self.name, self.kind)
        if fault == "rate_limit":
            wait = sim.config.faults.retry_after_s
            headers = {"Retry-After": str(math.ceil(wait)), "retry-after-ms": str(round(wait * 1000))}
            await _error_response(429, "Too many requests; retry later", headers=headers)(scope, receive, send)
            return
        if fault == "server_error":
            with sim._lock:
                status = sim._rng.choice(SERVER_ERROR_STATUSES)
            await _error_response(status, "Internal server error (simulated)")(scope, receive, send)
            return
        try:
            response = await self.handler(request)
        except _Fail as err:
            response = err.response()
        except HTTPException as err:  # e.g. a malformed multipart body
            response = _error_response(err.status_code, str(err.detail))
        except Exception:
            log.exception("simulator handler %s failed", self.name)
            response = _error_response(500, "Internal server error")
        if fault == "slow":
            await asyncio.sleep(sim.config.faults.slow_seconds)
        if fault == "drop":
            await _drop_connection(send)
            return
        await response(scope, receive, send)


async def _drop_connection(send) -> None:
    # Promise more bytes than are sent, then return: uvicorn (h11) closes the connection, so the
    # client sees the request processed but the answer cut off (httpx.RemoteProtocolError).
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"1000")],
        }
    )
    await send({"type": "http.response.body", "body": b'{"run_id": "', "more_body": True})


class Simulator:
    "The local Mosaic. `Simulator(config).start()` serves it on a free port in a daemon thread."

    def __init__(self, config: SimConfig | None = None):
        self.config = config or SimConfig()
        self._lock = threading.RLock()
        self._rng = random.Random(self.config.faults.seed)
        self._scripted: deque[_Scripted] = deque()
        self._secret = secrets.token_bytes(32)
        self._agents: dict[str, _Agent] = {}
        self._runs: dict[str, _Run] = {}
        self._uploads: dict[str, _Upload] = {}
        self._seq = 0
        self._balance = float(self.config.credits_balance)
        self._requests: Counter[str] = Counter()
        self._runs_by_agent: Counter[str] = Counter()
        self._faults_injected: Counter[str] = Counter()
        self._webhooks: Counter[str] = Counter()
        self._state_file = Path(self.config.state_file) if self.config.state_file else None
        self._dirty = False  # set (under the lock) by every change the state file must keep
        self._save_lock = threading.Lock()
        self._save_failing = False
        media_dir = self.config.media_dir
        if media_dir is None and self._state_file is not None:
            media_dir = self._state_file.with_name(self._state_file.name + ".media")
        self._own_media_dir = media_dir is None
        self.media_dir = Path(media_dir or tempfile.mkdtemp(prefix="mosaic-sim-"))
        (self.media_dir / "renders").mkdir(parents=True, exist_ok=True)
        (self.media_dir / "uploads").mkdir(parents=True, exist_ok=True)
        self._renders = ThreadPoolExecutor(max(1, self.config.render_workers), thread_name_prefix="sim-render")
        if self._state_file is not None:
            self._load_state(self._state_file)
        self._lanes = [ThreadPoolExecutor(1, thread_name_prefix=f"sim-webhook-{i}") for i in range(WEBHOOK_LANES)]
        self._http = httpx.Client(timeout=WEBHOOK_TIMEOUT_S)
        self._stop = threading.Event()
        self._scheduler: threading.Thread | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""
        self.app = self._build_app()

    # -------------------------------------------------------------- lifecycle

    def start(self, host: str = "127.0.0.1", port: int = 0) -> Simulator:
        "Serve on host:port (0 = a free port) in a daemon thread; return once it answers."
        if self._thread is not None:
            raise RuntimeError("simulator already started")
        logging.getLogger("uvicorn.error").addFilter(_QUIET_DROPS)
        # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on such sockets, and without it
        # every answer waits ~40 ms (Nagle vs delayed ACK, as headers and body are separate writes).
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        bound_port = sock.getsockname()[1]
        shown_host = f"[{host}]" if ":" in host else host
        self.base_url = f"http://{shown_host}:{bound_port}"
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            access_log=False,
            http="h11",
            lifespan="off",
            timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="sim-uvicorn", daemon=True
        )
        self._thread.start()
        self._scheduler = threading.Thread(target=self._schedule_loop, name="sim-scheduler", daemon=True)
        self._scheduler.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if not self._thread.is_alive():
                raise RuntimeError(f"simulator failed to start on {self.base_url}")
            if self._server.started:
                try:
                    if httpx.get(f"{self.base_url}/_sim/health", timeout=1.0).status_code == 200:
                        return self
                except httpx.HTTPError:
                    pass
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"simulator did not answer on {self.base_url} within {START_TIMEOUT_S} s")

    def stop(self) -> None:
        "Stop serving, end the background threads and remove a temporary media dir."
        self._stop.set()
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=SHUTDOWN_GRACE_S + 5)
        if self._scheduler is not None:
            self._scheduler.join(timeout=2)
        self._renders.shutdown(wait=True, cancel_futures=True)
        # After the render pool: clips that finished during shutdown are kept, not rendered again.
        self._save_state(force=True)
        for lane in self._lanes:
            lane.shutdown(wait=False, cancel_futures=True)
        self._http.close()
        if self._own_media_dir:
            shutil.rmtree(self.media_dir, ignore_errors=True)

    def __enter__(self) -> Simulator:
        if self._thread is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -------------------------------------------------------------- test and bench hooks

    def stats(self) -> dict[str, Any]:
        "Request counts per route name, runs per agent and status, faults injected, webhooks."
        with self._lock:
            return {
                "requests": dict(self._requests),
                "runs_total": len(self._runs),
                "runs_by_agent": dict(self._runs_by_agent),
                "runs_by_status": dict(Counter(r.status for r in self._runs.values())),
                "faults_injected": dict(self._faults_injected),
                "webhooks": {
                    "delivered": self._webhooks["delivered"],
                    "failed": self._webhooks["failed"],
                    "attempts": self._webhooks["attempts"],
                },
                "credits_balance": self._balance,
            }

    def runs_for_agent(self, agent_id: str) -> int:
        "How many runs were created for an agent."
        with self._lock:
            return self._runs_by_agent[agent_id]

    def script_fault(self, kind: str, route: str | None = "run", count: int = 1) -> None:
        """Give the next `count` requests to `route` (None = any API route) the fault `kind`.

        Transport kinds apply to the request itself (storage routes only when named); run_fail /
        run_partial / needs_credits decide how the run started by that request ends (route "run",
        or "run_resume" for a resumed run).
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(FAULT_KINDS)}")
        if route is not None and route not in API_ROUTES + STORAGE_ROUTES:
            raise ValueError(f"unknown route {route!r}; known: {', '.join(API_ROUTES + STORAGE_ROUTES)}")
        if count < 1:
            raise ValueError("count must be at least 1")
        with self._lock:
            self._scripted.append(_Scripted(kind, route, count))

    def set_faults(self, faults: Faults, *, clear_script: bool = True) -> None:
        "Replace the fault settings (and reseed the random source); by default drop scripted faults."
        with self._lock:
            self.config.faults = faults
            self._rng = random.Random(faults.seed)
            if clear_script:
                self._scripted.clear()

    # -------------------------------------------------------------- durable state

    def _save_state(self, *, force: bool = False) -> None:
        "Write the state file if anything changed (scheduler, and once on stop); failed writes are retried."
        if self._state_file is None:
            return
        with self._save_lock:
            with self._lock:
                if not (self._dirty or force):
                    return
                # Serialized under the lock: node params and errors are shared with live objects.
                text = json.dumps(self._snapshot(), separators=(",", ":"))
                self._dirty = False
            try:
                _write_atomic(self._state_file, text)
            except OSError as err:
                with self._lock:
                    self._dirty = True
                if not self._save_failing:  # one warning per failure streak, not five a second
                    log.warning("simulator state not saved to %s: %s", self._state_file, err)
                self._save_failing = True
                return
            self._save_failing = False

    def _snapshot(self) -> dict[str, Any]:
        "Everything a restart must keep, JSON-ready (lock held). Absolute URLs are never stored."

        def render(r: _Render | None) -> dict[str, Any] | None:
            if r is None:
                return None
            return {**vars(r), "video": r.video.name, "thumbnail": r.thumbnail.name if r.thumbnail else None}

        def node(n: _RunNode) -> dict[str, Any]:
            # A clip that finished rendering before its due time is kept, so a restart needn't redo it.
            f = n.future
            waiting = n.render is None and n.status in ("queued", "running") and f is not None
            pending = f.result() if waiting and f.done() and not f.cancelled() and f.exception() is None else None
            return {
                **{k: v for k, v in vars(n).items() if k not in ("future", "render")},
                "render": render(n.render),
                "pending_render": render(pending),
            }

        def upload(u: _Upload) -> dict[str, Any]:
            path = u.path
            if path is not None and path.is_relative_to(self.media_dir):
                path = path.relative_to(self.media_dir)  # the media dir may move with the state file
            return {**vars(u), "path": str(path) if path is not None else None}

        return {
            "version": STATE_VERSION,
            "saved_at": _iso(_now()),
            "secret": self._secret.hex(),
            "seq": self._seq,
            "balance": self._balance,
            "agents": [vars(a) for a in self._agents.values()],
            "runs": [
                {
                    **{k: v for k, v in vars(r).items() if k not in ("nodes", "base_url")},
                    "nodes": [node(n) for n in r.nodes],
                }
                for r in self._runs.values()
            ],
            "uploads": [upload(u) for u in self._uploads.values()],
        }

    def _load_state(self, path: Path) -> None:
        "Restore the state file if there is one; an unreadable one is moved aside and we start empty."
        if not path.exists():
            return
        try:
            self._restore(json.loads(path.read_bytes()))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
            aside = path.with_name(f"{path.name}.corrupt-{stamp}")
            try:
                os.replace(path, aside)
            except OSError as move_err:
                log.warning(
                    "simulator state %s is unreadable (%s) and could not be moved aside (%s); "
                    "starting empty, the next save replaces it",
                    path,
                    err,
                    move_err,
                )
            else:
                log.warning("simulator state %s is unreadable (%s); moved to %s, starting empty", path, err, aside.name)

    def _restore(self, state: dict[str, Any]) -> None:
        "Adopt a saved state; raises (and changes nothing) when any part of it is malformed."
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"unknown state version {state.get('version')!r}")
        renders_dir = self.media_dir / "renders"

        def render(data: dict[str, Any] | None) -> _Render | None:
            if data is None:
                return None
            thumb = data["thumbnail"]
            return _Render(
                **{
                    **data,
                    "video": renders_dir / Path(data["video"]).name,
                    "thumbnail": renders_dir / Path(thumb).name if thumb else None,
                }
            )

        def node(data: dict[str, Any]) -> _RunNode:
            pending = render(data.pop("pending_render"))
            loaded = _RunNode(**{**data, "size": tuple(data["size"]), "render": render(data["render"])})
            if pending is not None and pending.video.is_file():
                if pending.thumbnail is not None and not pending.thumbnail.is_file():
                    pending.thumbnail = None
                loaded.future = Future()
                loaded.future.set_result(pending)
            return loaded

        def run(data: dict[str, Any]) -> _Run:
            if data["status"] not in RUN_STATUSES:
                raise ValueError(f"run {data['id']} has unknown status {data['status']!r}")
            return _Run(**{**data, "nodes": [node(n) for n in data["nodes"]], "base_url": ""})

        def upload(data: dict[str, Any]) -> _Upload:
            return _Upload(**{**data, "path": self.media_dir / data["path"] if data["path"] else None})

        secret = bytes.fromhex(state["secret"])
        if len(secret) < 16:
            raise ValueError("the signing secret is too short")
        agents = [_Agent(**{**a, "connections": [tuple(c) for c in a["connections"]]}) for a in state["agents"]]
        runs = [run(r) for r in state["runs"]]
        uploads = [upload(u) for u in state["uploads"]]
        seq, balance = int(state["seq"]), float(state["balance"])
        with self._lock:
            self._secret, self._seq, self._balance = secret, seq, balance
            self._agents = {a.id: a for a in agents}
            self._runs = {r.id: r for r in runs}
            self._uploads = {u.id: u for u in uploads}
            self._runs_by_agent = Counter(r.agent_id for r in runs)
            # Runs in flight keep their due times; a clip lost with the old process is rendered again.
            for loaded in runs:
                if loaded.status != "running":
                    continue
                for n in loaded.nodes:
                    if n.plan == "ok" and n.render is None and n.status in ("queued", "running") and n.future is None:
                        n.future = self._renders.submit(self._render, n)

    # -------------------------------------------------------------- plumbing

    def _count(self, name: str) -> None:
        with self._lock:
            self._requests[name] += 1

    def _auth_error(self, request: Request) -> Response | None:
        header = request.headers.get("authorization", "")
        scheme, _, key = header.partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            return _error_response(401, "Missing API key: send Authorization: Bearer mk_...")
        expected = self.config.api_key
        ok = (
            hmac.compare_digest(key.encode(), expected.encode())
            if expected
            else key.startswith(KEY_PREFIX) and len(key) > len(KEY_PREFIX)
        )
        return None if ok else _error_response(401, "Invalid API key")

    def _take_scripted(self, route: str, kinds: tuple[str, ...], *, any_route: bool = True) -> str | None:
        for item in self._scripted:
            if item.kind in kinds and (item.route == route or (item.route is None and any_route)):
                item.count -= 1
                if item.count <= 0:
                    self._scripted.remove(item)
                return item.kind
        return None

    def _pick_transport_fault(self, route: str, kind: str) -> str | None:
        faults = self.config.faults
        if kind == "sim":
            return None
        with self._lock:
            # A script naming a storage route applies to it; route None means any API route.
            chosen = self._take_scripted(route, TRANSPORT_FAULTS, any_route=kind == "api")
            rolls = kind == "api" or faults.include_storage
            if chosen is None and rolls and (faults.routes is None or route in faults.routes):
                for name in TRANSPORT_FAULTS:
                    rate = getattr(faults, name)
                    if rate > 0 and self._rng.random() < rate:
                        chosen = name
                        break
            if chosen:
                self._faults_injected[chosen] += 1
            return chosen

    def _pick_outcome(self, route: str) -> str:
        faults = self.config.faults
        chosen = self._take_scripted(route, OUTCOME_FAULTS)
        if chosen is None:
            if faults.needs_credits:
                chosen = "needs_credits"
            elif faults.run_fail > 0 and self._rng.random() < faults.run_fail:
                chosen = "run_fail"
            elif faults.run_partial > 0 and self._rng.random() < faults.run_partial:
                chosen = "run_partial"
        if chosen:
            self._faults_injected[chosen] += 1
        return chosen or "ok"

    def _sign(self, path: str, expires: int) -> str:
        return hmac.new(self._secret, f"{path}\n{expires}".encode(), hashlib.sha256).hexdigest()

    def _signed_url(self, base: str, path: str, expires: int) -> str:
        return f"{base}{path}?expires={expires}&signature={self._sign(path, expires)}"

    @staticmethod
    def _base(request: Request) -> str:
        return str(request.base_url).rstrip("/")

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    # -------------------------------------------------------------- app

    def _build_app(self) -> Starlette:
        def route(path: str, name: str, handler, methods: list[str], kind: str = "api") -> Route:
            return Route(path, _Endpoint(self, name, handler, kind=kind), methods=methods, name=name)

        routes = [
            route("/whoami", "whoami", self._whoami, ["GET"]),
            route("/agent/create", "agent_create", self._agent_create, ["POST"]),
            route("/agents", "agents", self._agents_list, ["GET"]),
            route("/agent/{agent_id}", "agent_get", self._agent_get, ["GET"]),
            route("/agent/{agent_id}/update", "agent_update", self._agent_update, ["POST", "PATCH"]),
            route("/agent/{agent_id}/delete", "agent_delete", self._agent_delete, ["POST", "DELETE"]),
            route("/agent/{agent_id}/run", "run", self._run_create, ["POST"]),
            route("/agent/{agent_id}/runs", "agent_runs", self._agent_runs, ["GET"]),
            route("/agent_runs", "runs", self._all_runs, ["GET"]),
            route("/agent_run/{run_id}", "run_get", self._run_get, ["GET"]),
            route("/agent_run/{run_id}/nodes", "run_nodes", self._run_nodes, ["GET"]),
            route("/agent_run/{run_id}/cancel", "run_cancel", self._run_cancel, ["POST"]),
            route("/agent_run/{run_id}/resume", "run_resume", self._run_resume, ["POST"]),
            route("/uploads/{kind}/get_upload_url", "upload_url", self._upload_url, ["POST"]),
            route("/uploads/{kind}/finalize_upload", "upload_finalize", self._upload_finalize, ["POST"]),
            route("/credits", "credits", self._credits, ["GET"]),
            route("/_storage/upload/{upload_id}", "storage_upload", self._storage_upload, ["POST"], "storage"),
            route("/_storage/renders/{name}", "storage_download", self._storage_download, ["GET"], "storage"),
            route("/_sim/health", "sim_health", self._sim_health, ["GET"], "sim"),
            route("/_sim/stats", "sim_stats", self._sim_stats, ["GET"], "sim"),
            route("/_sim/uploads", "sim_uploads", self._sim_uploads, ["GET"], "sim"),
            route("/_sim/faults", "sim_faults", self._sim_faults, ["GET", "POST"], "sim"),
        ]

        async def http_error(request: Request, exc: HTTPException) -> Response:
            code = {404: "not_found", 405: "validation_error"}.get(exc.status_code)
            detail = "Not found" if exc.status_code == 404 else str(exc.detail)
            return _error_response(exc.status_code, detail, code)

        return Starlette(routes=routes, exception_handlers={HTTPException: http_error})

    # -------------------------------------------------------------- org, credits

    async def _whoami(self, request: Request) -> Response:
        return JSONResponse(
            {
                "organization_id": ORGANIZATION_ID,
                "organization_name": "Local Mosaic simulator",
                "organization_slug": "local-simulator",
                "created_at": "2026-01-01T00:00:00.000Z",
                "last_used_at": _iso(_now()),
            }
        )

    async def _credits(self, request: Request) -> Response:
        with self._lock:
            balance = self._balance
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

    # -------------------------------------------------------------- agents

    def _agent_or_404(self, agent_id: str) -> _Agent:
        agent = self._agents.get(agent_id)
        if agent is None or agent.deleted:
            raise _Fail(404, f"Agent {agent_id} not found")
        return agent

    @staticmethod
    def _check_metadata(body: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if "name" in body:
            name = body["name"]
            if not isinstance(name, str) or not 1 <= len(name.strip()) <= NAME_MAX_CHARS:
                raise _Fail(400, f"name must be 1 to {NAME_MAX_CHARS} characters")
            out["name"] = name.strip()
        if "description" in body:
            text = body["description"]
            if text is None:
                text = ""
            if not isinstance(text, str) or len(text) > DESCRIPTION_MAX_CHARS:
                raise _Fail(400, f"description must be text of at most {DESCRIPTION_MAX_CHARS} characters")
            out["description"] = text
        if "visibility" in body:
            if body["visibility"] not in ("public", "private"):
                raise _Fail(400, "visibility must be public or private")
            out["visibility"] = body["visibility"]
        if "workspace_id" in body:
            if body["workspace_id"] is not None and not isinstance(body["workspace_id"], str):
                raise _Fail(400, "workspace_id must be a string")
            out["workspace_id"] = body["workspace_id"]
        return out

    def _agent_change(self, agent: _Agent, applied: int, created: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "success": True,
            "agent_id": agent.id,
            "operations_applied": applied,
            "created_nodes": created,
            "name": agent.name,
            "description": agent.description,
            "visibility": agent.visibility,
            "workspace_id": agent.workspace_id,
            "created_at": _iso(agent.created_at),
            "updated_at": _iso(agent.updated_at),
        }

    async def _agent_create(self, request: Request) -> Response:
        body = await _json_body(request)
        graph = [k for k in GRAPH_FIELDS if k in body]
        if graph:
            raise _Fail(
                400,
                f"Agent create takes metadata only; build the graph with /agent/{{id}}/update "
                f"operations (remove {', '.join(graph)})",
            )
        meta = self._check_metadata(body)
        now = _now()
        with self._lock:
            agent = _Agent(
                id=_new_id(),
                seq=self._next_seq(),
                name=meta.get("name", "Untitled agent"),
                description=meta.get("description", ""),
                visibility=meta.get("visibility", "private"),
                workspace_id=meta.get("workspace_id"),
                created_at=now,
                updated_at=now,
            )
            self._agents[agent.id] = agent
            self._dirty = True
            return JSONResponse(self._agent_change(agent, 0, []))

    async def _agents_list(self, request: Request) -> Response:
        with self._lock:
            agents = sorted((a for a in self._agents.values() if not a.deleted), key=lambda a: -a.seq)
            page, cursor = _page(agents, request, lambda a: a.seq)
            items = [
                {
                    "id": a.id,
                    "name": a.name,
                    "description": a.description,
                    "created_at": _iso(a.created_at),
                    "updated_at": _iso(a.updated_at),
                }
                for a in page
            ]
        return JSONResponse({"agents": items, "next_cursor": cursor})

    async def _agent_get(self, request: Request) -> Response:
        with self._lock:
            agent = self._agent_or_404(request.path_params["agent_id"])
            return JSONResponse(
                {
                    "agent": {
                        "id": agent.id,
                        "name": agent.name,
                        "description": agent.description,
                        "visibility": agent.visibility,
                        "created_at": _iso(agent.created_at),
                        "updated_at": _iso(agent.updated_at),
                    },
                    "agent_nodes": [
                        {
                            "agent_node_id": n["agent_node_id"],
                            "node_type": _node_type(n["node_type_id"]),
                            "params_used": copy.deepcopy(n["params_used"]),
                        }
                        for n in agent.nodes.values()
                    ],
                    "connections": [
                        {"source_agent_node_id": s, "target_agent_node_id": t} for s, t in agent.connections
                    ],
                }
            )

    async def _agent_update(self, request: Request) -> Response:
        body = await _json_body(request)
        graph = [k for k in GRAPH_FIELDS if k in body]
        if graph:
            raise _Fail(400, f"Graph replacement is not supported; send operations (remove {', '.join(graph)})")
        if not any(k in body for k in ("name", "description", "visibility", "operations")):
            raise _Fail(400, "Send at least one of name, description, visibility, operations")
        meta = self._check_metadata({k: v for k, v in body.items() if k != "workspace_id"})
        operations = body.get("operations", [])
        if not isinstance(operations, list):
            raise _Fail(400, "operations must be an array")
        with self._lock:
            agent = self._agent_or_404(request.path_params["agent_id"])
            nodes = copy.deepcopy(agent.nodes)
            connections = list(agent.connections)
            created: list[dict[str, Any]] = []
            temp_refs: dict[str, str] = {}
            for index, op in enumerate(operations):
                try:
                    self._apply_operation(op, nodes, connections, temp_refs, created)
                except _Fail as err:
                    kind = op.get("op") if isinstance(op, dict) else None
                    label = f"operations[{index}]" + (f" ({kind})" if isinstance(kind, str) else "")
                    raise _Fail(400, f"{label}: {err.detail}; no operation was applied") from None
            # Everything checked: apply all at once (the whole batch or nothing).
            agent.nodes, agent.connections = nodes, connections
            for key, value in meta.items():
                setattr(agent, key, value)
            agent.updated_at, self._dirty = _now(), True
            return JSONResponse(self._agent_change(agent, len(operations), created))

    def _apply_operation(
        self,
        op: Any,
        nodes: dict[str, dict[str, Any]],
        connections: list[tuple[str, str]],
        temp_refs: dict[str, str],
        created: list[dict[str, Any]],
    ) -> None:
        if not isinstance(op, dict):
            raise _Fail(400, "each operation must be an object")
        kind = op.get("op")
        if kind == "create_node":
            if "agent_node_id" in op:
                raise _Fail(400, "agent_node_id is assigned by the server; use temp_ref_id to refer to the new node")
            type_id = op.get("node_type_id")
            if not isinstance(type_id, str) or not type_id:
                raise _Fail(400, "node_type_id is required")
            if type_id not in NODE_TYPES:
                raise _Fail(400, f"unknown node_type_id {type_id}")
            params = op.get("params_used") or {}
            _check_node_params(type_id, params)
            temp = op.get("temp_ref_id")
            if temp is not None and (not isinstance(temp, str) or temp in temp_refs):
                raise _Fail(400, f"temp_ref_id {temp!r} must be a string used once per request")
            node_id = _new_id()
            nodes[node_id] = {"agent_node_id": node_id, "node_type_id": type_id, "params_used": copy.deepcopy(params)}
            if temp is not None:
                temp_refs[temp] = node_id
            created.append({"temp_ref_id": temp, "agent_node_id": node_id})
        elif kind == "update_node":
            node = nodes.get(op.get("agent_node_id"))
            if node is None:
                raise _Fail(400, f"agent_node_id {op.get('agent_node_id')!r} is not a node of this agent")
            if not isinstance(op.get("params_used"), dict):
                raise _Fail(400, "params_used (an object) is required")
            merged = {**node["params_used"], **op["params_used"]}
            _check_node_params(node["node_type_id"], merged)
            node["params_used"] = copy.deepcopy(merged)
        elif kind == "delete_node":
            node_id = op.get("agent_node_id")
            if node_id not in nodes:
                raise _Fail(400, f"agent_node_id {node_id!r} is not a node of this agent")
            del nodes[node_id]
            connections[:] = [(s, t) for s, t in connections if node_id not in (s, t)]
        elif kind in ("create_connection", "delete_connection"):
            source = self._endpoint_node(op, "source", nodes, temp_refs)
            target = self._endpoint_node(op, "target", nodes, temp_refs)
            edge = (source, target)
            if kind == "delete_connection":
                if edge not in connections:
                    raise _Fail(400, "no such connection")
                connections.remove(edge)
                return
            if source == target:
                raise _Fail(400, "a node cannot connect to itself")
            if edge in connections:
                raise _Fail(400, "the connection already exists")
            if _reaches(connections, target, source):
                raise _Fail(400, "the connection would create a cycle; the graph must stay acyclic")
            connections.append(edge)
        else:
            raise _Fail(
                400,
                f"unknown op {kind!r}; use create_node, update_node, delete_node, "
                "create_connection or delete_connection",
            )

    @staticmethod
    def _endpoint_node(op: dict[str, Any], side: str, nodes: dict[str, Any], temp_refs: dict[str, str]) -> str:
        by_id, by_temp = op.get(f"{side}_agent_node_id"), op.get(f"{side}_temp_ref_id")
        if (by_id is None) == (by_temp is None):
            raise _Fail(400, f"give exactly one of {side}_agent_node_id and {side}_temp_ref_id")
        if by_temp is not None:
            if by_temp not in temp_refs:
                raise _Fail(400, f"{side}_temp_ref_id {by_temp!r} was not created earlier in this request")
            return temp_refs[by_temp]
        if by_id not in nodes:
            raise _Fail(400, f"{side}_agent_node_id {by_id!r} is not a node of this agent")
        return by_id

    async def _agent_delete(self, request: Request) -> Response:
        with self._lock:
            agent = self._agent_or_404(request.path_params["agent_id"])
            agent.deleted = True
            agent.updated_at, self._dirty = _now(), True
        return JSONResponse({"success": True, "agent_id": agent.id, "message": "Agent deleted successfully"})

    # -------------------------------------------------------------- runs

    def _run_params(self, node: dict[str, Any], override: dict[str, Any]) -> VideoGenerationParams:
        merged = {**node["params_used"], **override}
        try:
            params = VideoGenerationParams.parse(merged)
        except ParamsError as err:
            raise _Fail(400, str(err)) from None
        for key, kind in CONTEXT_UPLOAD_TYPE.items():
            for upload_id in getattr(params.selected_context, key):
                upload = self._uploads.get(upload_id)
                if upload is None or upload.type != kind:
                    raise _Fail(400, f"selected_context.{key}: {upload_id} is not an uploaded {kind}")
                if not upload.finalized:
                    raise _Fail(400, f"selected_context.{key}: {kind} upload {upload_id} was not finalized")
        return params

    async def _run_create(self, request: Request) -> Response:
        body = await _json_body(request)
        inputs = [k for k in VIDEO_INPUT_FIELDS if body.get(k)]
        if inputs:
            raise _Fail(
                400,
                f"This agent has no Video Input tile; generation-only agents take no video inputs "
                f"(remove {', '.join(inputs)})",
            )
        callback = body.get("callback_url")
        if callback is not None and not _is_http_url(callback):
            raise _Fail(400, "callback_url must be an http(s) URL")
        overrides = body.get("update_params") or {}
        ignored = body.get("ignore_nodes") or []
        if not isinstance(overrides, dict):
            raise _Fail(400, "update_params must be an object keyed by agent_node_id")
        if not isinstance(ignored, list):
            raise _Fail(400, "ignore_nodes must be an array of agent_node_id")
        with self._lock:
            agent = self._agent_or_404(request.path_params["agent_id"])
            for node_id, patch in overrides.items():
                if node_id not in agent.nodes:
                    raise _Fail(400, f"update_params: {node_id} is not an agent_node_id of this agent")
                if not isinstance(patch, dict):
                    raise _Fail(400, f"update_params.{node_id} must be an object of params")
            for node_id in ignored:
                if not isinstance(node_id, str) or node_id not in agent.nodes:
                    raise _Fail(400, f"ignore_nodes: {node_id} is not an agent_node_id of this agent")
            template = [n for n in agent.nodes.values() if n["agent_node_id"] not in ignored]
            if not any(n["node_type_id"] == VIDEO_GENERATION_NODE_TYPE_ID for n in template):
                raise _Fail(400, "This agent has no Video Generation node to run; add one with a create_node operation")
            nodes: list[_RunNode] = []
            for node in template:
                override = overrides.get(node["agent_node_id"], {})
                run_node = _RunNode(
                    id=_new_id(),
                    original_node_id=node["agent_node_id"],
                    node_type_id=node["node_type_id"],
                    params={**node["params_used"], **override},
                )
                if node["node_type_id"] == VIDEO_GENERATION_NODE_TYPE_ID:
                    params = self._run_params(node, override)
                    run_node.params = params.to_api()
                    run_node.seconds = params.seconds or self.config.auto_duration
                    run_node.size = media.frame_size(params.resolution, params.aspect_ratio)
                else:
                    run_node.plan = "pass"
                nodes.append(run_node)
            now = _now()
            run = _Run(
                id=_new_id(),
                seq=self._next_seq(),
                agent_id=agent.id,
                created_at=now,
                updated_at=now,
                nodes=nodes,
                outcome="ok",
                callback_url=callback,
                base_url=self._base(request),
            )
            self._runs[run.id] = run
            self._runs_by_agent[agent.id] += 1
            self._start_nodes(run, nodes, self._pick_outcome("run"))
            self._dirty = True
            self._notify(run, self._event(run, "RUN_STARTED"))
            return JSONResponse({"run_id": run.id, **self._summary(run, self._base(request))})

    def _start_nodes(self, run: _Run, nodes: list[_RunNode], outcome: str) -> None:
        "Plan how `nodes` end under `outcome`, queue them and start their renders."
        run.outcome = outcome
        generators = [n for n in nodes if n.plan != "pass"]
        now = _now()
        for index, node in enumerate(generators):
            if outcome == "needs_credits":
                node.plan = "credits"
            elif outcome == "run_fail" or (outcome == "run_partial" and (index > 0 or len(generators) == 1)):
                node.plan = "fail"
            else:
                node.plan = "ok"
            node.due_at = now + self.config.latency + self.config.latency_per_second * node.seconds
            if node.plan == "ok":
                node.future = self._renders.submit(self._render, node)
        for node in nodes:
            node.status, node.status_message, node.errors, node.needs_credits = "queued", None, [], False
            if node.plan == "pass":
                node.due_at = now

    def _render(self, node: _RunNode) -> _Render:
        "Render one node's clip and thumbnail (in the render pool)."
        render_id = _new_id()
        video = self.media_dir / "renders" / f"{render_id}.mp4"
        width, height = node.size
        media.render_clip(
            video,
            width=width,
            height=height,
            seconds=node.seconds,
            audio=bool(node.params.get("generate_audio", True)),
            text=str(node.params.get("prompt", "")),
        )
        thumb: Path | None = self.media_dir / "renders" / f"{render_id}.jpg"
        try:
            media.make_thumbnail(video, thumb)
        except Exception:  # a missing thumbnail is allowed (thumbnail_url is nullable)
            log.warning("thumbnail failed for render %s", render_id, exc_info=True)
            thumb = None
        return _Render(
            id=render_id,
            video=video,
            thumbnail=thumb,
            completed_at=0.0,
            expires=0,
            original_node_id=node.original_node_id,
        )

    def _run_or_404(self, run_id: str) -> _Run:
        run = self._runs.get(run_id)
        if run is None:
            raise _Fail(404, f"Run {run_id} not found")
        return run

    def _output(self, render: _Render, base: str) -> dict[str, Any]:
        video_path = f"/_storage/renders/{render.video.name}"
        thumb = None
        if render.thumbnail is not None:
            thumb = self._signed_url(base, f"/_storage/renders/{render.thumbnail.name}", render.expires)
        return {
            "id": render.id,
            "video_url": self._signed_url(base, video_path, render.expires),
            "thumbnail_url": thumb,
            "premiere_prproj_url": None,
            "completed_at": _iso(render.completed_at),
            "original_node_id": render.original_node_id,
        }

    def _outputs(self, run: _Run, base: str) -> list[dict[str, Any]]:
        return [self._output(n.render, base) for n in run.nodes if n.render is not None]

    @staticmethod
    def _counts(run: _Run) -> dict[str, int]:
        statuses = [n.status for n in run.nodes]
        return {
            "completed": statuses.count("completed"),
            "in_progress": sum(s in ("queued", "running", "not_started") for s in statuses),
            "failed": statuses.count("failed"),
        }

    def _detail(self, run: _Run, base: str) -> dict[str, Any]:
        return {
            "agent_id": run.agent_id,
            "started_at": _iso(run.created_at),
            "status": run.status,
            "status_message": run.status_message,
            "needs_credits": run.needs_credits,
            "errors": copy.deepcopy(run.errors),
            "node_status_counts": self._counts(run),
            "inputs": [],
            "outputs": self._outputs(run, base),
        }

    def _summary(self, run: _Run, base: str) -> dict[str, Any]:
        return {
            "run_id": run.id,
            "agent_id": run.agent_id,
            "status": run.status,
            "status_message": run.status_message,
            "started_at": _iso(run.created_at),
            "updated_at": _iso(run.updated_at),
            "node_status_counts": self._counts(run),
            "inputs": [],
            "outputs": self._outputs(run, base),
            "triggered_by": None,
        }

    async def _run_get(self, request: Request) -> Response:
        with self._lock:
            run = self._run_or_404(request.path_params["run_id"])
            return JSONResponse(self._detail(run, self._base(request)))

    async def _run_nodes(self, request: Request) -> Response:
        with self._lock:
            run = self._run_or_404(request.path_params["run_id"])
            nodes = [
                {
                    "agent_node_id": n.id,
                    "original_node_id": n.original_node_id,
                    "status": n.status,
                    "status_message": n.status_message,
                    "errors": list(n.errors),
                    "node_type": _node_type(n.node_type_id),
                    "needs_credits": n.needs_credits,
                }
                for n in run.nodes
            ]
        return JSONResponse({"run_id": run.id, "nodes": nodes})

    def _list_runs(self, request: Request, agent_id: str | None) -> Response:
        query = request.query_params
        statuses = None
        if query.get("status"):
            statuses = {s.strip() for s in query["status"].split(",") if s.strip()}
            unknown = sorted(statuses - set(RUN_STATUSES))
            if unknown:
                raise _Fail(400, f"status: unknown {', '.join(unknown)}; use {', '.join(RUN_STATUSES)}")
        start = _parse_iso("from", query["from"]) if query.get("from") else None
        end = _parse_iso("to", query["to"]) if query.get("to") else None
        with self._lock:
            runs = [
                r
                for r in self._runs.values()
                if (agent_id is None or r.agent_id == agent_id)
                and (statuses is None or r.status in statuses)
                and (start is None or r.created_at >= start)
                and (end is None or r.created_at <= end)
            ]
            runs.sort(key=lambda r: -r.seq)
            page, cursor = _page(runs, request, lambda r: r.seq)
            base = self._base(request)
            return JSONResponse({"runs": [self._summary(r, base) for r in page], "next_cursor": cursor})

    async def _agent_runs(self, request: Request) -> Response:
        with self._lock:
            agent = self._agent_or_404(request.path_params["agent_id"])
        return self._list_runs(request, agent.id)

    async def _all_runs(self, request: Request) -> Response:
        return self._list_runs(request, request.query_params.get("agent_id") or None)

    async def _run_cancel(self, request: Request) -> Response:
        with self._lock:
            run = self._run_or_404(request.path_params["run_id"])
            if run.status != "running":
                raise _Fail(409, f"Run {run.id} is {run.status}; only a running run can be cancelled")
            active = [n for n in run.nodes if n.status not in TERMINAL_NODE_STATUSES]
            for node in active:
                if node.future is not None:
                    node.future.cancel()
                node.status = "cancelled"
            run.status, run.updated_at, self._dirty = "cancelled", _now(), True
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

    async def _run_resume(self, request: Request) -> Response:
        with self._lock:
            run = self._run_or_404(request.path_params["run_id"])
            if run.status not in ("failed", "cancelled"):
                raise _Fail(409, f"Run {run.id} is {run.status}; only failed or cancelled runs can be resumed")
            requeue = [n for n in run.nodes if n.status in RESUMABLE_NODE_STATUSES]
            for node in requeue:
                node.future, node.render = None, None
                if node.plan != "pass":
                    node.plan = "ok"
            run.status, run.status_message, run.needs_credits, run.errors = "running", None, False, []
            run.updated_at = _now()
            self._start_nodes(run, requeue, self._pick_outcome("run_resume"))
            self._dirty = True
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

    # -------------------------------------------------------------- scheduler and webhooks

    def _schedule_loop(self) -> None:
        next_save = 0.0
        while not self._stop.wait(TICK_S):
            try:
                self._tick()
                if self._state_file is not None and time.monotonic() >= next_save:
                    self._save_state()
                    next_save = time.monotonic() + STATE_SAVE_INTERVAL_S
            except Exception:
                log.exception("simulator scheduler tick failed")

    def _tick(self) -> None:
        "Advance every running run by the clock and the render pool; send webhooks for changes."
        now = _now()
        with self._lock:
            for run in [r for r in self._runs.values() if r.status == "running"]:
                changed = [n for n in run.nodes if self._advance(run, n, now)]
                if not changed:
                    continue
                run.updated_at, self._dirty = now, True
                finished = all(n.status in TERMINAL_NODE_STATUSES for n in run.nodes)
                if finished:
                    self._finish(run)
                self._notify(run, self._event(run, "RUN_PROGRESS", changed))
                if finished:
                    self._notify(run, self._event(run, "RUN_FINISHED"))

    def _advance(self, run: _Run, node: _RunNode, now: float) -> bool:
        if node.status == "queued":
            # A generation node counts as running once the render pool picks up its clip.
            if node.future is None or node.future.running() or node.future.done():
                node.status = "running"
                return True
            return False
        if node.status != "running" or now < node.due_at:
            return False
        if node.plan == "pass":
            node.status = "completed"
        elif node.plan == "fail":
            node.status, node.status_message = "failed", FAIL_MESSAGE
            node.errors = [FAIL_MESSAGE]
        elif node.plan == "credits":
            self._block_for_credits(node)
        elif node.future is not None and node.future.done():
            try:
                render = node.future.result()
            except Exception as err:
                node.status, node.status_message = "failed", f"Render failed: {err}"[:500]
                node.errors = [node.status_message]
                return True
            cost = self.config.credits_per_second * node.seconds
            if cost > self._balance:
                self._block_for_credits(node)
                return True
            self._balance -= cost
            render.completed_at, render.expires = now, int(now) + SIGNED_URL_TTL_S
            node.render, node.status = render, "completed"
        else:
            return False  # the clip is still rendering: never report completed before the file exists
        return True

    @staticmethod
    def _block_for_credits(node: _RunNode) -> None:
        node.status, node.status_message, node.needs_credits = "failed", CREDITS_MESSAGE, True
        node.errors = [CREDITS_MESSAGE]

    def _finish(self, run: _Run) -> None:
        generators = [n for n in run.nodes if n.plan != "pass"]
        done = [n for n in generators if n.status == "completed"]
        failed = [n for n in generators if n.status == "failed"]
        run.needs_credits = any(n.needs_credits for n in run.nodes)
        run.errors = [{"original_node_id": n.original_node_id, "message": n.status_message} for n in failed]
        if run.outcome == "run_partial" or (done and failed):
            # One generation node cannot half-succeed; a scripted partial still reports like the docs.
            run.status = "partial_complete"
            run.status_message = f"{len(failed)} of {len(generators)} outputs failed"
        elif failed:
            run.status, run.status_message = "failed", failed[0].status_message
        else:
            run.status, run.status_message = "completed", None

    def _event(self, run: _Run, flag: str, changed: list[_RunNode] | None = None) -> dict[str, Any]:
        # A run loaded from the state file has no request base: the port may have changed since.
        base = run.base_url or self.base_url
        event: dict[str, Any] = {"flag": flag, "agent_id": run.agent_id, "run_id": run.id, "status": run.status}
        if flag == "RUN_PROGRESS":
            event["node_status_counts"] = self._counts(run)
            event["updated_nodes"] = [
                {
                    "original_node_id": n.original_node_id,
                    "status": n.status,
                    "status_message": n.status_message,
                    "errors": list(n.errors),
                    "outputs": [self._output(n.render, base)] if n.render else [],
                }
                for n in changed or []
            ]
        else:
            if flag == "RUN_FINISHED":
                event.update(
                    status_message=run.status_message, needs_credits=run.needs_credits, errors=copy.deepcopy(run.errors)
                )
            event["node_status_counts"] = self._counts(run)
            event["inputs"] = []
            if flag == "RUN_FINISHED":
                event["outputs"] = self._outputs(run, base)
        event["triggered_by"] = None
        return event

    def _notify(self, run: _Run, payload: dict[str, Any]) -> None:
        if not run.callback_url:
            return
        lane = self._lanes[int(run.id.replace("-", "")[:8], 16) % WEBHOOK_LANES]
        with contextlib.suppress(RuntimeError):  # lanes are shut down while stopping
            lane.submit(self._deliver, run.callback_url, payload)

    def _deliver(self, url: str, payload: dict[str, Any]) -> None:
        "POST one webhook with a few retries (a webhook lane thread); never raises."
        headers = {"Content-Type": "application/json", "User-Agent": "mosaic-simulator"}
        if self.config.webhook_secret:
            headers["X-Mosaic-Signature"] = self.config.webhook_secret
        body = json.dumps(payload)
        for attempt in range(len(WEBHOOK_BACKOFF_S) + 1):
            if self._stop.is_set():
                return
            with self._lock:
                self._webhooks["attempts"] += 1
            try:
                response = self._http.post(url, content=body, headers=headers)
                if response.is_success:
                    with self._lock:
                        self._webhooks["delivered"] += 1
                    return
            except (httpx.HTTPError, RuntimeError):  # RuntimeError: client closed by stop()
                pass
            if attempt < len(WEBHOOK_BACKOFF_S) and self._stop.wait(WEBHOOK_BACKOFF_S[attempt]):
                return
        with self._lock:
            self._webhooks["failed"] += 1
        log.warning("webhook %s for run %s to %s failed after retries", payload.get("flag"), payload.get("run_id"), url)

    # -------------------------------------------------------------- uploads and storage

    @staticmethod
    def _upload_kind(request: Request) -> str:
        kind = request.path_params["kind"]
        if kind not in UPLOAD_TYPES:
            raise _Fail(404, f"Unknown upload type {kind!r}; use video, audio or image")
        return kind

    async def _upload_url(self, request: Request) -> Response:
        kind = self._upload_kind(request)
        upload_id = _new_id()
        max_bytes = int(self.config.upload_max_bytes[kind])
        expires = int(time.time()) + UPLOAD_POLICY_TTL_S
        key = f"uploads/{kind}/{upload_id}"
        policy_doc = {"expiration": _iso(expires), "conditions": [{"key": key}, ["content-length-range", 0, max_bytes]]}
        policy = base64.b64encode(json.dumps(policy_doc).encode()).decode()
        signature = hmac.new(self._secret, policy.encode(), hashlib.sha256).hexdigest()
        with self._lock:
            self._uploads[upload_id] = _Upload(
                id=upload_id,
                type=kind,
                key=key,
                policy=policy,
                signature=signature,
                max_bytes=max_bytes,
                expires=expires,
            )
            self._dirty = True
        return JSONResponse(
            {
                f"{kind}_id": upload_id,
                "upload_url": f"{self._base(request)}/_storage/upload/{upload_id}",
                "upload_fields": {"key": key, "policy": policy, "x-goog-signature": signature},
                "max_file_size_bytes": max_bytes,
            }
        )

    async def _upload_finalize(self, request: Request) -> Response:
        kind = self._upload_kind(request)
        body = await _json_body(request)
        upload_id = body.get(f"{kind}_id")
        if not isinstance(upload_id, str) or not upload_id:
            raise _Fail(400, f"{kind}_id is required")
        with self._lock:
            upload = self._uploads.get(upload_id)
            if upload is None or upload.type != kind:
                raise _Fail(404, f"{kind.capitalize()} upload {upload_id} not found or expired")
            if upload.size is None:
                raise _Fail(400, f"The file for {kind} upload {upload_id} has not been uploaded yet")
            limit = int(self.config.upload_max_bytes[kind])
            if upload.size > limit:
                raise _Fail(413, f"The file is {upload.size} bytes; the {kind} limit is {limit} bytes")
            upload.finalized, self._dirty = True, True
        return JSONResponse({f"{kind}_id": upload_id})

    async def _storage_upload(self, request: Request) -> Response:
        with self._lock:
            upload = self._uploads.get(request.path_params["upload_id"])
        if upload is None:
            return _error_response(404, "No such upload")
        if "multipart/form-data" not in request.headers.get("content-type", ""):
            return _error_response(400, "Upload must be multipart/form-data")
        async with request.form(max_files=1, max_fields=50) as form:
            items = form.multi_items()
            names = [name for name, _ in items]
            if "file" not in names:
                return _error_response(400, "Policy violation: no file field")
            file_at = names.index("file")
            # Like a GCS signed POST: fields after the file are ignored, so they must come first.
            before = dict(items[:file_at])
            expected = {"key": upload.key, "policy": upload.policy, "x-goog-signature": upload.signature}
            for name, value in expected.items():
                if name not in before:
                    return _error_response(400, f"Policy violation: form field {name} missing before the file")
                if not hmac.compare_digest(str(before[name]), value):
                    return _error_response(400, f"Policy violation: form field {name} does not match")
            if time.time() > upload.expires:
                return _error_response(400, "Policy violation: the upload policy expired")
            file = items[file_at][1]
            if isinstance(file, str):
                return _error_response(400, "Policy violation: file must be a file part")
            suffix = Path(file.filename or "").suffix[:10]
            dest = self.media_dir / "uploads" / f"{upload.id}{suffix}"
            size = await asyncio.to_thread(_copy_limited, file.file, dest, upload.max_bytes)
            if size is None:
                return _error_response(400, f"Policy violation: file larger than {upload.max_bytes} bytes")
        with self._lock:
            upload.path, upload.size = dest, size
            upload.filename, upload.content_type = file.filename, file.content_type
            self._dirty = True
        return Response(status_code=204)

    async def _storage_download(self, request: Request) -> Response:
        name = request.path_params["name"]
        query = request.query_params
        try:
            expires = int(query.get("expires", ""))
        except ValueError:
            return _error_response(403, "Missing or invalid signature")
        expected = self._sign(f"/_storage/renders/{name}", expires)
        if not hmac.compare_digest(query.get("signature", ""), expected) or expires < time.time():
            return _error_response(403, "The signature is invalid or the URL expired")
        path = self.media_dir / "renders" / name
        if not re.fullmatch(r"[0-9a-f-]{36}\.(mp4|jpg)", name) or not path.is_file():
            return _error_response(404, "No such object")
        return FileResponse(path, media_type="video/mp4" if name.endswith(".mp4") else "image/jpeg")

    # -------------------------------------------------------------- simulator-only routes

    async def _sim_health(self, request: Request) -> Response:
        return JSONResponse({"ok": True})

    async def _sim_stats(self, request: Request) -> Response:
        return JSONResponse(self.stats())

    async def _sim_uploads(self, request: Request) -> Response:
        with self._lock:
            items = [
                {
                    "id": u.id,
                    "type": u.type,
                    "filename": u.filename,
                    "size": u.size,
                    "content_type": u.content_type,
                    "finalized": u.finalized,
                }
                for u in self._uploads.values()
            ]
        return JSONResponse({"uploads": items})

    async def _sim_faults(self, request: Request) -> Response:
        """GET: current faults. POST: merge settings, e.g. {"rate_limit": 0.2, "routes": ["run"]};
        {"reset": true} starts from no faults; {"script": [{"kind", "route", "count"}]} queues faults."""
        if request.method == "POST":
            body = await _json_body(request)
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
                with self._lock:
                    self.set_faults(Faults.from_dict(body, None if reset else self.config.faults), clear_script=reset)
                    for item in script:
                        self.script_fault(item["kind"], item.get("route", "run"), int(item.get("count", 1)))
            except (TypeError, ValueError) as err:
                raise _Fail(400, str(err)) from None
        with self._lock:
            scripted = [{"kind": s.kind, "route": s.route, "count": s.count} for s in self._scripted]
            return JSONResponse({"faults": self.config.faults.to_dict(), "scripted": scripted})


def _reaches(connections: list[tuple[str, str]], start: str, goal: str) -> bool:
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


def _write_atomic(path: Path, text: str) -> None:
    "Replace `path` with `text` in one step: a reader sees the old file or the new one, never half."
    path.parent.mkdir(parents=True, exist_ok=True)
    # mkstemp makes the file owner-only (0600), which suits a file holding the URL signing secret.
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _copy_limited(src, dest: Path, limit: int) -> int | None:
    "Copy a file object to dest; None (and nothing kept) when it is larger than `limit` bytes."
    size = 0
    tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "wb") as out:
            for chunk in iter(lambda: src.read(1 << 20), b""):
                size += len(chunk)
                if size > limit:
                    return None
                out.write(chunk)
        os.replace(tmp, dest)
        return size
    finally:
        tmp.unlink(missing_ok=True)


# ------------------------------------------------------------------------------ standalone


def _env_float(env: dict[str, str], name: str, default: float) -> float:
    text = env.get(name)
    return float(text) if text not in (None, "") else default


def _env_flag(env: dict[str, str], name: str) -> bool:
    return env.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _parser(env: dict[str, str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m studio.simulator",
        description="Serve a local Mosaic API simulator. Every option defaults to the SIM_* "
        "environment variable named in its help.",
        epilog=f"Route names for --fault-routes: {', '.join(API_ROUTES)}; with --fault-storage also "
        f"{', '.join(STORAGE_ROUTES)}. Faults can also be changed "
        'while running: POST /_sim/faults with JSON such as {"drop": 0.1, "routes": ["run"]}.',
    )
    add = parser.add_argument
    add("--host", default=env.get("SIM_HOST", "127.0.0.1"), help="interface to bind (SIM_HOST)")
    add(
        "--port", type=int, default=int(_env_float(env, "SIM_PORT", DEFAULT_PORT)), help="port, 0 = any free (SIM_PORT)"
    )
    add(
        "--latency",
        type=float,
        default=_env_float(env, "SIM_LATENCY", DEFAULT_LATENCY_S),
        help="fixed seconds per run (SIM_LATENCY)",
    )
    add(
        "--latency-per-second",
        type=float,
        default=_env_float(env, "SIM_LATENCY_PER_SECOND", DEFAULT_LATENCY_PER_SECOND),
        help="extra seconds per second of video (SIM_LATENCY_PER_SECOND)",
    )
    add(
        "--api-key",
        default=env.get("SIM_API_KEY") or None,
        help="accept only this key; default any key starting mk_ (SIM_API_KEY)",
    )
    add(
        "--webhook-secret",
        default=env.get("SIM_WEBHOOK_SECRET") or None,
        help="send it as X-Mosaic-Signature on webhooks (SIM_WEBHOOK_SECRET)",
    )
    add(
        "--credits",
        type=float,
        default=_env_float(env, "SIM_CREDITS", DEFAULT_CREDITS_BALANCE),
        help="starting credit balance (SIM_CREDITS)",
    )
    add(
        "--credits-per-second",
        type=float,
        default=_env_float(env, "SIM_CREDITS_PER_SECOND", DEFAULT_CREDITS_PER_SECOND),
        help="credits charged per generated second (SIM_CREDITS_PER_SECOND)",
    )
    add(
        "--auto-duration",
        type=int,
        default=int(_env_float(env, "SIM_AUTO_DURATION", DEFAULT_AUTO_DURATION_S)),
        help="seconds rendered for duration auto (SIM_AUTO_DURATION)",
    )
    add(
        "--media-dir",
        default=env.get("SIM_MEDIA_DIR") or None,
        help="folder for renders and uploads; default a temp dir removed on exit, or a folder beside "
        "--state-file (SIM_MEDIA_DIR)",
    )
    add(
        "--state-file",
        default=env.get("SIM_STATE_FILE") or None,
        help="keep agents, runs, uploads and credits in this JSON file across restarts; default "
        "memory only (SIM_STATE_FILE)",
    )
    for name, help_text in (
        ("rate-limit", "per request: 429 with Retry-After"),
        ("server-error", "per request: 500/502/503"),
        ("slow", "per request: processed, answered after --fault-slow-seconds"),
        ("drop", "per request: processed, then the connection is cut"),
        ("run-fail", "per run: ends failed"),
        ("run-partial", "per run: ends partial_complete"),
    ):
        var = "SIM_FAULT_" + name.upper().replace("-", "_")
        add(
            f"--fault-{name}",
            type=float,
            default=_env_float(env, var, 0.0),
            help=f"probability 0..1 {help_text} ({var})",
        )
    add(
        "--fault-retry-after",
        type=float,
        default=_env_float(env, "SIM_FAULT_RETRY_AFTER", DEFAULT_RETRY_AFTER_S),
        help="seconds in Retry-After of injected 429s (SIM_FAULT_RETRY_AFTER)",
    )
    add(
        "--fault-slow-seconds",
        type=float,
        default=_env_float(env, "SIM_FAULT_SLOW_SECONDS", DEFAULT_SLOW_SECONDS),
        help="delay of slow answers (SIM_FAULT_SLOW_SECONDS)",
    )
    add(
        "--fault-needs-credits",
        action="store_true",
        default=_env_flag(env, "SIM_FAULT_NEEDS_CREDITS"),
        help="every run ends failed with needs_credits (SIM_FAULT_NEEDS_CREDITS=1)",
    )
    add(
        "--fault-routes",
        default=env.get("SIM_FAULT_ROUTES") or None,
        help="comma list of route names the request faults apply to, e.g. run,run_get; default all (SIM_FAULT_ROUTES)",
    )
    add(
        "--fault-storage",
        action="store_true",
        default=_env_flag(env, "SIM_FAULT_STORAGE"),
        help="also inject request faults on storage uploads/downloads (SIM_FAULT_STORAGE=1)",
    )
    add(
        "--fault-seed",
        type=int,
        default=int(_env_float(env, "SIM_FAULT_SEED", 0)),
        help="seed of the fault dice (SIM_FAULT_SEED)",
    )
    return parser


def _config_from_args(args: argparse.Namespace) -> SimConfig:
    routes = frozenset(r.strip() for r in args.fault_routes.split(",") if r.strip()) if args.fault_routes else None
    faults = Faults(
        rate_limit=args.fault_rate_limit,
        retry_after_s=args.fault_retry_after,
        server_error=args.fault_server_error,
        slow=args.fault_slow,
        slow_seconds=args.fault_slow_seconds,
        drop=args.fault_drop,
        run_fail=args.fault_run_fail,
        run_partial=args.fault_run_partial,
        needs_credits=args.fault_needs_credits,
        routes=routes,
        include_storage=args.fault_storage,
        seed=args.fault_seed,
    )
    return SimConfig(
        latency=args.latency,
        latency_per_second=args.latency_per_second,
        api_key=args.api_key,
        webhook_secret=args.webhook_secret,
        credits_balance=args.credits,
        credits_per_second=args.credits_per_second,
        auto_duration=args.auto_duration,
        media_dir=Path(args.media_dir) if args.media_dir else None,
        faults=faults,
        state_file=Path(args.state_file) if args.state_file else None,
    )


def serve(host: str = "127.0.0.1", port: int = DEFAULT_PORT, config: SimConfig | None = None) -> None:
    "Serve the simulator until Ctrl-C or SIGTERM (blocks)."
    sim = Simulator(config or SimConfig.from_env())
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    sim.start(host=host, port=port)
    print(f"Mosaic simulator listening on {sim.base_url} (media in {sim.media_dir})", flush=True)
    try:
        while sim._thread is not None and sim._thread.is_alive():
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()


def main(argv: list[str] | None = None) -> int:
    "Command line: `python -m studio.simulator --port 8765 --latency 1`."
    args = _parser(os.environ).parse_args(argv)
    try:
        config = _config_from_args(args)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    serve(args.host, args.port, config)
    return 0


if __name__ == "__main__":
    sys.exit(main())
