"""`FakeApi`: a tiny in-memory Mosaic (API + signed storage) served through `httpx.MockTransport`.

It answers the common routes with the documented JSON shapes, serves scripted answers first
(`enqueue`), and records every request so tests can assert on paths, headers and bodies.
No mocks: the client under test runs its real httpx code path.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

FAKE_BASE_URL = "https://api.mosaic.test"
FAKE_STORAGE_URL = "https://storage.mosaic.test"
FAKE_KEY = "mk_test_4f1c9b0e_secret_key"


@dataclass(frozen=True)
class Recorded:
    "One request the fake received."

    method: str
    url: httpx.URL
    path: str  # below the base URL's own path, so "/whoami" however the fake is mounted
    headers: httpx.Headers
    body: bytes
    timeout: dict[str, float | None] | None

    @property
    def host(self) -> str:
        return self.url.host

    @property
    def params(self) -> dict[str, str]:
        return dict(self.url.params)

    @property
    def json(self) -> Any:
        if not self.body or "json" not in self.headers.get("content-type", ""):
            return None
        return json.loads(self.body)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


@dataclass
class _Scripted:
    method: str
    pattern: re.Pattern[str]
    status: int
    json: Any
    content: bytes | None
    headers: dict[str, str]
    exc: Exception | None
    body_error: Exception | None
    times: int


class _BrokenStream(httpx.SyncByteStream):
    "A body that sends some bytes, then fails the way a dropped connection does."

    def __init__(self, content: bytes, error: Exception):
        self._content, self._error = content, error

    def __iter__(self) -> Iterator[bytes]:
        if self._content:
            yield self._content
        raise self._error


def _compile(path: str) -> re.Pattern[str]:
    # "{anything}" in a scripted path matches one path segment.
    parts = re.split(r"\{[^}/]*\}", path)
    return re.compile("[^/]+".join(re.escape(p) for p in parts))


@dataclass
class FakeApi:
    "A scripted, stateful stand-in for api.mosaic.so and its storage host."

    base_url: str = FAKE_BASE_URL
    storage_url: str = FAKE_STORAGE_URL
    key: str | None = field(default=FAKE_KEY, repr=False)
    run_status: str = "completed"
    list_omits_outputs: bool = False  # GET /agent_runs summaries come without outputs
    max_upload_bytes: int = 50 * 1000 * 1000
    requests: list[Recorded] = field(default_factory=list, repr=False)
    sleeps: list[float] = field(default_factory=list, repr=False)
    agents: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)
    runs: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)
    uploads: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)
    files: dict[str, bytes] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._scripted: list[_Scripted] = []
        self._lock = threading.RLock()
        self._ids = itertools.count(1)

    # ------------------------------------------------------------ scripting

    def enqueue(
        self,
        method: str,
        path: str,
        status: int = 200,
        *,
        json: Any = None,
        text: str | None = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        exc: Exception | None = None,
        body_error: Exception | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next `times` matching requests with this (before any default route).
        `path` may use "{name}" for one segment; `exc` is raised instead of answering;
        `body_error` is raised after `content` has been streamed."""
        if text is not None:
            content = text.encode()
        with self._lock:
            self._scripted.append(
                _Scripted(
                    method.upper(), _compile(path), status, json, content, dict(headers or {}), exc, body_error, times
                )
            )

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)

    def client(self, **kw: Any) -> Any:
        "A real MosaicClient wired to this fake; sleeps are recorded, jitter is off."
        from studio.mosaic import MosaicClient

        options: dict[str, Any] = {
            "transport": self.transport(),
            "sleep": self.sleeps.append,
            "random": lambda: 0.0,
            "storage_hosts": [httpx.URL(self.storage_url).host],  # the fake's storage host is allowed
        }
        options.update(kw)
        return MosaicClient(self.base_url, self.key or FAKE_KEY, **options)

    def calls(self, method: str | None = None, path: str | None = None) -> list[Recorded]:
        "Recorded requests, optionally filtered by method and path pattern."
        pattern = _compile(path) if path else None
        return [
            r
            for r in self.requests
            if (method is None or r.method == method.upper()) and (pattern is None or pattern.fullmatch(r.path))
        ]

    def paths(self) -> list[str]:
        return [str(r) for r in self.requests]

    def add_file(self, name: str, content: bytes) -> str:
        "Put a file on the fake storage host; returns its signed-looking URL."
        self.files[f"/media/{name}"] = content
        return f"{self.storage_url}/media/{name}?X-Goog-Signature=abc123"

    def new_id(self) -> str:
        with self._lock:
            return f"00000000-0000-4000-8000-{next(self._ids):012d}"

    # ------------------------------------------------------------ serving

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        on_storage = request.url.host == httpx.URL(self.storage_url).host
        path = request.url.path
        prefix = httpx.URL(self.base_url).path.rstrip("/")
        if not on_storage and prefix and path.startswith(prefix + "/"):
            path = path[len(prefix) :]
        with self._lock:
            self.requests.append(
                Recorded(request.method, request.url, path, request.headers, body, request.extensions.get("timeout"))
            )
            scripted = self._take(request.method, path)
        if scripted is not None:
            return self._scripted_response(scripted)
        if on_storage:
            return self._storage(request, body)
        if self.key is not None and request.headers.get("authorization") != f"Bearer {self.key}":
            return _json(401, {"detail": "Invalid API key", "error": "invalid_api_key"})
        for method, pattern, handler in self._routes():
            match = pattern.fullmatch(path)
            if method == request.method and match:
                payload = json.loads(body) if body else {}
                with self._lock:
                    return handler(request, payload, **match.groupdict())
        return _json(404, {"detail": "Not Found"})

    def _take(self, method: str, path: str) -> _Scripted | None:
        for item in self._scripted:
            if item.method == method and item.pattern.fullmatch(path) and item.times > 0:
                item.times -= 1
                return item
        return None

    @staticmethod
    def _scripted_response(item: _Scripted) -> httpx.Response:
        if item.exc is not None:
            raise item.exc
        if item.body_error is not None:
            return httpx.Response(
                item.status, headers=item.headers, stream=_BrokenStream(item.content or b"", item.body_error)
            )
        if item.content is not None:
            return httpx.Response(item.status, headers=item.headers, content=item.content)
        if item.json is not None:
            return httpx.Response(item.status, headers=item.headers, json=item.json)
        return httpx.Response(item.status, headers=item.headers)

    def _routes(self) -> list[tuple[str, re.Pattern[str], Callable[..., httpx.Response]]]:
        seg = r"(?P<{}>[^/]+)"
        kind = r"(?P<kind>image|video|audio)"
        table: list[tuple[str, str, Callable[..., httpx.Response]]] = [
            ("GET", "/whoami", self._whoami),
            ("GET", "/credits", self._credits),
            ("POST", "/agent/create", self._create_agent),
            ("POST", f"/agent/{seg.format('agent_id')}/update", self._update_agent),
            ("GET", f"/agent/{seg.format('agent_id')}", self._get_agent),
            ("POST", f"/agent/{seg.format('agent_id')}/run", self._run_agent),
            ("GET", f"/agent/{seg.format('agent_id')}/runs", self._list_runs),
            ("GET", "/agent_runs", self._list_all_runs),
            ("GET", f"/agent_run/{seg.format('run_id')}", self._get_run),
            ("GET", f"/agent_run/{seg.format('run_id')}/nodes", self._get_run_nodes),
            ("POST", f"/agent_run/{seg.format('run_id')}/cancel", self._cancel_run),
            ("POST", f"/agent_run/{seg.format('run_id')}/resume", self._resume_run),
            ("POST", f"/uploads/{kind}/get_upload_url", self._get_upload_url),
            ("POST", f"/uploads/{kind}/finalize_upload", self._finalize_upload),
        ]
        return [(m, re.compile(p), h) for m, p, h in table]

    # ------------------------------------------------------------ default API routes

    def _whoami(self, request: httpx.Request, body: Any) -> httpx.Response:
        return _json(
            200,
            {
                "organization_id": "org-1",
                "organization_name": "Test Org",
                "organization_slug": "test-org",
                "created_at": "2026-01-01T00:00:00Z",
                "last_used_at": None,
            },
        )

    def _credits(self, request: httpx.Request, body: Any) -> httpx.Response:
        return _json(200, {"organization_id": "org-1", "balance": 1840, "plan": "creator"})

    def _create_agent(self, request: httpx.Request, body: Any) -> httpx.Response:
        agent_id = self.new_id()
        self.agents[agent_id] = {
            "agent": {
                "id": agent_id,
                "name": body.get("name"),
                "description": body.get("description", ""),
                "visibility": body.get("visibility", "private"),
            },
            "agent_nodes": [],
            "connections": [],
        }
        return _json(200, {"success": True, "agent_id": agent_id, "operations_applied": 0, "created_nodes": []})

    def _update_agent(self, request: httpx.Request, body: Any, agent_id: str) -> httpx.Response:
        agent = self.agents.get(agent_id)
        if agent is None:
            return _json(404, {"detail": "Agent not found"})
        nodes = {n["agent_node_id"]: n for n in agent["agent_nodes"]}
        created = []
        for op in body.get("operations", []):
            if op.get("op") == "create_node":
                node_id = self.new_id()
                nodes[node_id] = {
                    "agent_node_id": node_id,
                    "node_type": {"node_type_id": op["node_type_id"]},
                    "params_used": dict(op.get("params_used") or {}),
                }
                created.append({"temp_ref_id": op.get("temp_ref_id"), "agent_node_id": node_id})
            elif op.get("op") in ("update_node", "delete_node") and op.get("agent_node_id") not in nodes:
                return _json(400, {"detail": f"Unknown agent_node_id {op.get('agent_node_id')}"})
            elif op.get("op") == "update_node":
                nodes[op["agent_node_id"]]["params_used"].update(op.get("params_used") or {})
            elif op.get("op") == "delete_node":
                del nodes[op["agent_node_id"]]
            else:
                return _json(400, {"detail": f"Unsupported operation {op.get('op')!r}"})
        agent["agent_nodes"] = list(nodes.values())
        for key in ("name", "description", "visibility"):
            if key in body:
                agent["agent"][key] = body[key]
        return _json(
            200,
            {
                "success": True,
                "agent_id": agent_id,
                "operations_applied": len(body.get("operations", [])),
                "created_nodes": created,
            },
        )

    def _get_agent(self, request: httpx.Request, body: Any, agent_id: str) -> httpx.Response:
        agent = self.agents.get(agent_id)
        return _json(200, agent) if agent else _json(404, {"detail": "Agent not found"})

    def _run_agent(self, request: httpx.Request, body: Any, agent_id: str) -> httpx.Response:
        agent = self.agents.get(agent_id)
        if agent is None:
            return _json(404, {"detail": "Agent not found"})
        node_ids = {n["agent_node_id"] for n in agent["agent_nodes"]}
        bad = [k for k in body.get("update_params") or {} if k not in node_ids]
        if bad:
            return _json(400, {"detail": f"update_params key is not a node of this agent: {bad[0]}"})
        run_id = self.new_id()
        node_id = next(iter(sorted(node_ids)), None)
        run: dict[str, Any] = {
            "run_id": run_id,
            "agent_id": agent_id,
            "status": self.run_status,
            "status_message": None,
            "needs_credits": False,
            "errors": [],
            "started_at": "2026-01-01T00:00:00Z",
            "node_status_counts": {"completed": 0, "in_progress": 1, "failed": 0},
            "outputs": [],
            "_request": body,
        }
        if self.run_status == "completed":
            url = self.add_file(f"{run_id}.mp4", b"\x00\x00\x00\x18ftypmp42" + run_id.encode())
            run["node_status_counts"] = {"completed": 1, "in_progress": 0, "failed": 0}
            run["outputs"] = [
                {
                    "id": self.new_id(),
                    "video_url": url,
                    "thumbnail_url": None,
                    "completed_at": "2026-01-01T00:01:00Z",
                    "original_node_id": node_id,
                }
            ]
        elif self.run_status == "failed":
            run["status_message"] = "Generation failed"
            run["node_status_counts"] = {"completed": 0, "in_progress": 0, "failed": 1}
        self.runs[run_id] = run
        return _json(200, {"run_id": run_id})

    def _public_run(self, run: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in run.items() if not k.startswith("_")}

    def _get_run(self, request: httpx.Request, body: Any, run_id: str) -> httpx.Response:
        run = self.runs.get(run_id)
        if run is None:
            return _json(404, {"detail": "Run not found"})
        # Like Mosaic, the poll body carries no run_id (it is in the path).
        return _json(200, {k: v for k, v in self._public_run(run).items() if k != "run_id"})

    def _get_run_nodes(self, request: httpx.Request, body: Any, run_id: str) -> httpx.Response:
        run = self.runs.get(run_id)
        if run is None:
            return _json(404, {"detail": "Run not found"})
        return _json(
            200,
            {
                "run_id": run_id,
                "nodes": [
                    {
                        "agent_node_id": self.new_id(),
                        "original_node_id": None,
                        "status": run["status"],
                        "status_message": run["status_message"],
                        "errors": [],
                        "needs_credits": False,
                    }
                ],
            },
        )

    def _list_runs(self, request: httpx.Request, body: Any, agent_id: str | None = None) -> httpx.Response:
        params = request.url.params
        wanted = set(filter(None, params.get("status", "").split(",")))
        agent_id = agent_id or params.get("agent_id") or None
        runs = [
            self._public_run(r)
            for r in self.runs.values()
            if (agent_id is None or r["agent_id"] == agent_id) and (not wanted or r["status"] in wanted)
        ]
        # Summaries never carry needs_credits (mosaic-api.md §2.4).
        runs = [{k: v for k, v in r.items() if k != "needs_credits"} for r in runs]
        if agent_id is None and self.list_omits_outputs:
            runs = [{**r, "outputs": []} for r in runs]
        cursor, limit = params.get("cursor") or "0", params.get("limit") or "25"
        if not cursor.isdigit() or not limit.isdigit():
            return _json(400, {"detail": "Invalid cursor or limit"})
        start, limit = int(cursor), int(limit)
        page = runs[start : start + limit]
        more = start + limit < len(runs)
        return _json(200, {"runs": page, "next_cursor": str(start + limit) if more else None})

    def _list_all_runs(self, request: httpx.Request, body: Any) -> httpx.Response:
        return self._list_runs(request, body)

    def _cancel_run(self, request: httpx.Request, body: Any, run_id: str) -> httpx.Response:
        run = self.runs.get(run_id)
        if run is None:
            return _json(404, {"detail": "Run not found"})
        if run["status"] != "running":
            return _json(409, {"detail": f"Run is {run['status']}; only running runs can be cancelled"})
        run["status"] = "cancelled"
        return _json(
            200,
            {
                "success": True,
                "run_id": run_id,
                "tasks_cancelled": 1,
                "nodes_reset": 1,
                "message": "Agent run cancelled successfully",
            },
        )

    def _resume_run(self, request: httpx.Request, body: Any, run_id: str) -> httpx.Response:
        run = self.runs.get(run_id)
        if run is None:
            return _json(404, {"detail": "Run not found"})
        if run["status"] not in ("failed", "cancelled"):
            return _json(409, {"detail": f"Run is {run['status']}; only failed or cancelled runs resume"})
        run["status"] = "running"
        return _json(200, {"success": True, "run_id": run_id, "agent_state_id": run_id, "nodes_queued": 1})

    def _get_upload_url(self, request: httpx.Request, body: Any, kind: str) -> httpx.Response:
        upload_id = self.new_id()
        key = f"uploads/{kind}/{upload_id}"
        self.uploads[upload_id] = {"kind": kind, "key": key, "file": None, "finalized": False}
        return _json(
            200,
            {
                f"{kind}_id": upload_id,
                "upload_url": f"{self.storage_url}/upload",
                "upload_fields": {"key": key, "policy": "eyJwb2xpY3kiOnt9fQ==", "x-goog-signature": "deadbeef"},
                "max_file_size_bytes": self.max_upload_bytes,
            },
        )

    def _finalize_upload(self, request: httpx.Request, body: Any, kind: str) -> httpx.Response:
        upload_id = body.get(f"{kind}_id")
        upload = self.uploads.get(upload_id or "")
        if upload is None or upload["kind"] != kind:
            return _json(404, {"detail": "Upload not found or expired"})
        if upload["file"] is None:
            return _json(400, {"detail": "The file was not uploaded yet"})
        upload["finalized"] = True
        return _json(200, {f"{kind}_id": upload_id})

    # ------------------------------------------------------------ default storage routes

    def _storage(self, request: httpx.Request, body: bytes) -> httpx.Response:
        # GCS refuses an Authorization header next to a signed URL or policy; so does the fake.
        if "authorization" in request.headers:
            return _xml(400, "InvalidArgument", "Authorization header not allowed with a signed request")
        if request.method == "POST" and request.url.path == "/upload":
            return self._store_upload(request, body)
        if request.method == "GET" and request.url.path in self.files:
            return httpx.Response(200, content=self.files[request.url.path], headers={"content-type": "video/mp4"})
        return _xml(404, "NoSuchKey", "The specified key does not exist.")

    def _store_upload(self, request: httpx.Request, body: bytes) -> httpx.Response:
        boundary = request.headers.get("content-type", "").partition("boundary=")[2].encode()
        parts = {}
        for chunk in body.split(b"--" + boundary)[1:-1]:
            head, _, value = chunk.strip(b"\r\n").partition(b"\r\n\r\n")
            name = re.search(rb'name="([^"]+)"', head)
            if name:
                parts[name.group(1).decode()] = value
        upload = next((u for u in self.uploads.values() if u["key"].encode() == parts.get("key")), None)
        if upload is None:
            return _xml(403, "AccessDenied", "Invalid policy")
        if len(parts.get("file", b"")) > self.max_upload_bytes:
            return _xml(400, "EntityTooLarge", "Your proposed upload is larger than the maximum object size.")
        upload["file"] = parts.get("file")
        return httpx.Response(204)


def _json(status: int, payload: Any) -> httpx.Response:
    return httpx.Response(status, json=payload)


def _xml(status: int, code: str, message: str) -> httpx.Response:
    text = f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code><Message>{message}</Message></Error>"
    return httpx.Response(status, text=text, headers={"content-type": "application/xml"})
