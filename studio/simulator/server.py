"""The local Mosaic: a real HTTP server (uvicorn in a daemon thread) with the newest shapes of
mosaic-api.md, for keyless use, tests and benchmarks. `Simulator` owns the live state (agents,
runs, uploads, counters) under one lock and the threads around it; the modules beside it (routes,
agents, runs, uploads, scheduler, webhooks, faults, rendering, state) act on that state. It is
never imported by the app's pages or services except the wiring: the studio reaches it over HTTP.
"""

from __future__ import annotations

import hmac
import logging
import random
import secrets
import shutil
import socket
import tempfile
import threading
import time
from collections import Counter, deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from starlette.requests import Request
from starlette.responses import Response

from . import routes, scheduler, state
from .faults import API_ROUTES, FAULT_KINDS, STORAGE_ROUTES, Faults, Scripted
from .protocol import error_response
from .routes import QUIET_DROPS
from .settings import SimSettings
from .state import Agent, Run, Upload
from .webhooks import WEBHOOK_LANES, WEBHOOK_TIMEOUT_S

KEY_PREFIX = "mk_"
SHUTDOWN_GRACE_S = 1
START_TIMEOUT_S = 10.0


class Simulator:
    "The local Mosaic. `Simulator(settings).start()` serves it on a free port in a daemon thread."

    def __init__(self, config: SimSettings | None = None):
        "A simulator configured by `config` (default: SimSettings(), i.e. the STUDIO_SIM_* environment)."
        self.config = config or SimSettings()
        self.lock = threading.RLock()
        self.rng = random.Random(self.config.faults.seed)
        self.latency_rng = random.Random(self.config.latency_seed)
        self.scripted: deque[Scripted] = deque()
        self.secret = secrets.token_bytes(32)
        self.agents: dict[str, Agent] = {}
        self.runs: dict[str, Run] = {}
        self.uploads: dict[str, Upload] = {}
        self.seq = 0
        self.balance = float(self.config.credits_balance)
        self.request_counts: Counter[str] = Counter()
        self.runs_by_agent: Counter[str] = Counter()
        self.faults_injected: Counter[str] = Counter()
        self.webhook_counts: Counter[str] = Counter()
        self.state_file = Path(self.config.state_file) if self.config.state_file else None
        self.dirty = False  # set (under the lock) by every change the state file must keep
        self.save_lock = threading.Lock()
        self.save_failing = False
        media_dir = self.config.media_dir
        if media_dir is None and self.state_file is not None:
            media_dir = self.state_file.with_name(self.state_file.name + ".media")
        self._own_media_dir = media_dir is None
        self.media_dir = Path(media_dir or tempfile.mkdtemp(prefix="mosaic-sim-"))
        (self.media_dir / "renders").mkdir(parents=True, exist_ok=True)
        (self.media_dir / "uploads").mkdir(parents=True, exist_ok=True)
        self.render_pool = ThreadPoolExecutor(max(1, self.config.render_workers), thread_name_prefix="sim-render")
        if self.state_file is not None:
            state.load_state(self, self.state_file)
        self.webhook_lanes = [
            ThreadPoolExecutor(1, thread_name_prefix=f"sim-webhook-{i}") for i in range(WEBHOOK_LANES)
        ]
        self.webhook_http = httpx.Client(timeout=WEBHOOK_TIMEOUT_S)
        self.stopping = threading.Event()
        self._scheduler: threading.Thread | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""
        self.app = routes.build_app(self)

    def start(self, host: str = "127.0.0.1", port: int = 0) -> Simulator:
        "Serve on host:port (0 = a free port) in a daemon thread; return once it answers."
        if self._thread is not None:
            raise RuntimeError("simulator already started")
        logging.getLogger("uvicorn.error").addFilter(QUIET_DROPS)
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
        self._scheduler = threading.Thread(
            target=scheduler.schedule_loop, args=(self,), name="sim-scheduler", daemon=True
        )
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
        self.stopping.set()
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=SHUTDOWN_GRACE_S + 5)
        if self._scheduler is not None:
            self._scheduler.join(timeout=2)
        self.render_pool.shutdown(wait=True, cancel_futures=True)
        # After the render pool: clips that finished during shutdown are kept, not rendered again.
        state.save_state(self, force=True)
        for lane in self.webhook_lanes:
            lane.shutdown(wait=False, cancel_futures=True)
        self.webhook_http.close()
        if self._own_media_dir:
            shutil.rmtree(self.media_dir, ignore_errors=True)

    def __enter__(self) -> Simulator:
        if self._thread is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def serving(self) -> bool:
        "True while the server thread runs."
        return self._thread is not None and self._thread.is_alive()

    def stats(self) -> dict[str, Any]:
        "Request counts per route name, runs per agent and status, faults injected, webhooks."
        with self.lock:
            return {
                "requests": dict(self.request_counts),
                "runs_total": len(self.runs),
                "runs_by_agent": dict(self.runs_by_agent),
                "runs_by_status": dict(Counter(r.status for r in self.runs.values())),
                "faults_injected": dict(self.faults_injected),
                "webhooks": {
                    "delivered": self.webhook_counts["delivered"],
                    "failed": self.webhook_counts["failed"],
                    "attempts": self.webhook_counts["attempts"],
                },
                "credits_balance": self.balance,
            }

    def runs_for_agent(self, agent_id: str) -> int:
        "How many runs were created for an agent."
        with self.lock:
            return self.runs_by_agent[agent_id]

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
        with self.lock:
            self.scripted.append(Scripted(kind, route, count))

    def set_faults(self, faults: Faults, *, clear_script: bool = True) -> None:
        "Replace the fault settings (and reseed the random source); by default drop scripted faults."
        with self.lock:
            self.config.faults = faults
            self.rng = random.Random(faults.seed)
            if clear_script:
                self.scripted.clear()

    def count(self, name: str) -> None:
        with self.lock:
            self.request_counts[name] += 1

    def auth_error(self, request: Request) -> Response | None:
        header = request.headers.get("authorization", "")
        scheme, _, key = header.partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            return error_response(401, "Missing API key: send Authorization: Bearer mk_...")
        expected = self.config.api_key
        ok = (
            hmac.compare_digest(key.encode(), expected.encode())
            if expected
            else key.startswith(KEY_PREFIX) and len(key) > len(KEY_PREFIX)
        )
        return None if ok else error_response(401, "Invalid API key")

    @staticmethod
    def base(request: Request) -> str:
        return str(request.base_url).rstrip("/")

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq
