"""The studio's own HTTP routes beside the Streamlit UI (Starlette only, no Streamlit import):
a lifespan that starts the job worker at server boot, `/healthz`, the Mosaic webhook receiver
for `callback_url` (size-capped, signature first, replays dropped), `/files/` serving saved media
from disk with Range requests (RFC 9110: a malformed Range is ignored), the read-only share pages
(`/share/<token>`, studio.share_page), and the deep links of the pages (`/gallery?q=...`), which get
Streamlit's page told where the server is.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import json
import logging
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    RangeNotSatisfiable,
    RedirectResponse,
    Response,
)
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import NotModifiedResponse, StaticFiles
from starlette.types import Scope

from . import people
from . import services as svc
from .errors import MediaError, StudioError
from .media import PARTIAL_SUFFIX
from .media_store import MediaStore
from .models import STATUSES
from .player import PLAYER_ROUTE
from .settings import MEDIA_ROUTE, Settings, load, secrets_files

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/hooks/mosaic"
# Mosaic's events are a few KB (a RUN_FINISHED with every output well under 100 KB); anything past
# this is not Mosaic's and is refused before it is read, so a stranger cannot make the studio hold it.
WEBHOOK_MAX_BYTES = 1024 * 1024
# Events remembered to drop a replay (Mosaic redelivers at least once; an attacker may resend).
# In memory and bounded: after a restart a replay only costs one listing, never a wrong state.
WEBHOOK_SEEN_MAX = 4096
# /healthz (the proxy asks every second, per replica): its answer comes within HEALTH_TIMEOUT_S
# (past it: 503), its checks run on HEALTH_THREADS threads of their own (never on the event loop,
# never starving the other routes' threads), the database ping waits HEALTH_DB_WAIT_S for a
# connection (not the pool's 15 s), and a media store check is reused for HEALTH_MEDIA_TTL_S
# (one S3 listing every few seconds per replica, not one a second).
HEALTH_TIMEOUT_S = 3.0
HEALTH_DB_WAIT_S = 2.0
HEALTH_MEDIA_TTL_S = 5.0
HEALTH_THREADS = 2
# What /healthz says of this process's job worker: off by configuration (STUDIO_RUN_WORKER=0, the
# `studio worker` processes work), running, or stopped (it should run and does not).
WORKER_ELSEWHERE, WORKER_RUNNING, WORKER_STOPPED = "elsewhere", "running", "stopped"
# The URL paths of the pages (the file names in pages/, as st.navigation names them).
PAGE_PATHS = ("create", "compare", "gallery", "status", "collections", "review", "decisions")
# On a deep link such as /gallery, Streamlit's frontend does not know whether /gallery is a page
# or the path the app is served under, so it first probes /gallery/_stcore/health and
# /gallery/_stcore/host-config (two 404s, then a retry delay) before trying the root. The page
# routes below serve Streamlit's own index.html with the backend's base URL set to the root, so
# the frontend probes the real endpoints at once. (The app is served at the root: no baseUrlPath.)
BASE_URL_SCRIPT = (
    "<script>window.__streamlit = Object.assign({}, window.__streamlit, "
    "{BACKEND_BASE_URL: window.location.origin + '/'});</script>"
)


def streamlit_index_html() -> str:
    "Streamlit's index.html with the backend base URL pinned to the site root (found, not imported)."
    spec = importlib.util.find_spec("streamlit")
    if spec is None or spec.origin is None:
        raise RuntimeError("streamlit is not installed")
    html = (Path(spec.origin).parent / "static" / "index.html").read_text(encoding="utf-8")
    head = html.index("<head>") + len("<head>")
    return html[:head] + BASE_URL_SCRIPT + html[head:]


def make_lifespan(settings_factory: Callable[[], Settings]) -> Callable[[Any], Any]:
    "A lifespan that builds the shared studio at boot (worker running, jobs resumed) and closes it."

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[dict[str, Any]]:
        try:
            services = await asyncio.to_thread(svc.shared_services, settings_factory)
        except StudioError as err:
            # The server still starts: the pages show a clear page saying why, /healthz answers 503.
            log.error("the studio cannot start: %s", err)
            yield {}
            return
        try:
            yield {"services": services}
        finally:
            await asyncio.to_thread(svc.close_shared_services)

    return lifespan


# RFC 9110 §14.1.2: range-spec = int-range / suffix-range, digits only, separated by commas.
_RANGE_SPEC = re.compile(r"(?:(\d+)-(\d*)|-(\d+))")


class MediaFileResponse(FileResponse):
    """A file with Range requests as RFC 9110 §14.2 has them: a Range header that is not valid
    (another unit, bad syntax, last before first) is ignored and the whole file is served (200);
    only a valid header none of whose ranges overlaps the file is 416."""

    @classmethod
    def _parse_range_header(cls, http_range: str, file_size: int) -> list[tuple[int, int]]:
        unit, _, spec = http_range.partition("=")
        if unit.strip().lower() != "bytes" or not spec.strip():
            return []  # ignored: the whole file
        parts = [p.strip() for p in spec.split(",")]
        if len(parts) > cls.max_ranges:
            return []
        ranges: list[tuple[int, int]] = []
        for part in parts:
            if not part:
                continue  # RFC 9110 allows empty list elements
            found = _RANGE_SPEC.fullmatch(part)
            if found is None:
                return []
            first, last, suffix = found.groups()
            if suffix is not None:
                length = int(suffix)
                if length > 0 and file_size > 0:
                    ranges.append((max(file_size - length, 0), file_size))
                continue
            start = int(first)
            if last and int(last) < start:
                return []  # invalid, so the whole header is ignored
            if start < file_size:
                ranges.append((start, min(int(last) + 1, file_size) if last else file_size))
        if not ranges:
            if any(parts):
                raise RangeNotSatisfiable(file_size)  # Starlette answers 416
            return []
        ranges.sort()
        merged = [ranges[0]]
        for start, end in ranges[1:]:
            if start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((start, end))
        return merged


class MediaFiles(StaticFiles):
    "Saved media from disk with Range requests; a download still in progress (`.part`) is never served."

    def lookup_path(self, path: str) -> tuple[str, os.stat_result | None]:
        if path.endswith(PARTIAL_SUFFIX):
            return "", None  # as if absent: 404
        return super().lookup_path(path)

    def file_response(
        self, full_path: Any, stat_result: os.stat_result, scope: Scope, status_code: int = 200
    ) -> Response:
        response = MediaFileResponse(full_path, status_code=status_code, stat_result=stat_result)
        if self.is_not_modified(response.headers, Headers(scope=scope)):
            return NotModifiedResponse(response.headers)
        return response


class RecentEvents:
    "The identities of the last `size` webhook events taken, to drop a replay (bounded, in memory)."

    def __init__(self, size: int = WEBHOOK_SEEN_MAX):
        self.size = size
        self._seen: OrderedDict[str, None] = OrderedDict()

    @staticmethod
    def identity(payload: dict[str, Any]) -> str:
        """An event is its whole content: Mosaic's retry repeats it exactly, while a new progress
        event differs in its node counts or nodes. Canonical JSON, so key order does not matter."""
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    def first_time(self, payload: dict[str, Any]) -> bool:
        "True (and remembered) the first time an event is seen; False for a replay."
        key = self.identity(payload)
        if key in self._seen:
            self._seen.move_to_end(key)
            return False
        self._seen[key] = None
        while len(self._seen) > self.size:
            self._seen.popitem(last=False)
        return True


class Health:
    """What /healthz answers, checked in a worker thread: the studio is built, the history answers a
    ping, the media store answers its start-up check (studio serve's `check()`, remembered for
    `media_ttl_s`), and the job counts. Any StudioError is the reason of a 503."""

    def __init__(
        self,
        get: Callable[[], svc.Services],
        *,
        db_wait_s: float = HEALTH_DB_WAIT_S,
        media_ttl_s: float = HEALTH_MEDIA_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._get = get
        self.db_wait_s = db_wait_s
        self.media_ttl_s = media_ttl_s
        self._clock = clock
        self._media: tuple[float, int, str | None] | None = None  # when, which store, the error
        self._lock = threading.Lock()

    def _check_media(self, media: MediaStore) -> None:
        "The media store's check, or the last one's outcome when it is younger than `media_ttl_s`."
        with self._lock:
            last = self._media
        now = self._clock()
        if last is None or last[1] != id(media) or now - last[0] >= self.media_ttl_s:
            error: str | None = None
            try:
                media.check()
            except StudioError as err:
                error = str(err)
            last = (now, id(media), error)
            with self._lock:
                self._media = last
        if last[2] is not None:
            raise MediaError(last[2])

    def answer(self, doing: list[str] | None = None) -> tuple[int, dict[str, Any]]:
        """The status code and body of /healthz (blocking: run it off the event loop); `doing` is
        told what is being checked, so an answer that never comes can name what it waits on."""
        doing = [] if doing is None else doing
        try:
            doing.append("the studio (starting)")
            studio = self._get()
            doing.append(f"the history database {studio.store.described}")
            studio.store.ping(self.db_wait_s)
            doing.append(f"the media store {studio.media.described}")
            self._check_media(studio.media)
            doing.append(f"the history database {studio.store.described}")
            counts = {s: studio.store.count_status(s) for s in STATUSES}
        except StudioError as err:
            return 503, {"ok": False, "error": " ".join(str(err).split())}
        if not studio.settings.run_worker:
            worker = WORKER_ELSEWHERE
        else:
            worker = WORKER_RUNNING if studio.runner.alive else WORKER_STOPPED
        return 200, {
            "ok": True,
            "mode": studio.mode,
            "worker": worker,
            "worker_leader": studio.runner.is_leader,
            "jobs": counts,
        }


async def _capped_body(request: Request, limit: int) -> bytes | None:
    "The request body, or None as soon as it is past `limit` (never holding more than one chunk past it)."
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


def _too_large() -> Response:
    return JSONResponse({"detail": f"body over {WEBHOOK_MAX_BYTES} bytes"}, status_code=413)


# ---------------------------------------------------------------------- who may come in (studio.people)


def login_middleware(files: Iterable[Path] | None = None) -> list[Middleware]:
    """With Streamlit's login configured ([auth] in secrets.toml), the gate that keeps everything
    but the login screen, share links, /healthz and the webhook behind it; none otherwise."""
    secret = people.login_secret(secrets_files() if files is None else files)
    if secret is None:
        return []
    pages = {f"/{name}" for name in PAGE_PATHS}
    return [
        Middleware(
            people.LoginGate,
            secret=secret,
            open_paths={"/healthz", WEBHOOK_PATH, *pages},
            # read-only share links: open to anyone with the token, with the review player they run
            open_prefixes=(svc.SHARE_ROUTE + "/", PLAYER_ROUTE + "/"),
        )
    ]


def app_parts(load_settings: Callable[[], Settings] = load, secrets: Iterable[Path] | None = None) -> dict[str, Any]:
    """The lifespan, routes and middleware of the ASGI app (`asgi_app.py`); `secrets`: the
    secrets.toml files to read the login from (by default Streamlit's). Settings that cannot be
    used leave only Streamlit's pages, whose entry script shows a clear page naming the setting."""
    try:
        settings = load_settings()
        middleware = login_middleware(secrets)
    except StudioError as err:
        log.error("the studio cannot start: %s", err)
        reason = str(err)

        async def cannot_start(request: Request) -> Response:
            # A health check, a webhook (Mosaic resends) or a media link is told why, not served
            # Streamlit's HTML with a 200.
            return JSONResponse({"ok": False, "error": reason}, status_code=503)

        routes: list[BaseRoute] = [
            Route("/healthz", cannot_start),
            Route(WEBHOOK_PATH, cannot_start, methods=["POST"]),
            Mount(MEDIA_ROUTE, app=cannot_start_app(reason)),
            Mount(svc.SHARE_ROUTE, app=cannot_start_app(reason)),  # a share link is never Streamlit's page
        ]
        return {"lifespan": None, "routes": routes}
    return {"lifespan": make_lifespan(lambda: settings), "routes": make_routes(settings), "middleware": middleware}


def cannot_start_app(reason: str) -> Callable[..., Any]:
    "An ASGI app answering every request 503 with `reason` (what the studio could not start on)."

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await JSONResponse({"ok": False, "error": reason}, status_code=503)(scope, receive, send)

    return app


def make_routes(
    settings: Settings,
    services: Callable[[], svc.Services] | None = None,
    *,
    share_now: Callable[[], Any] | None = None,
) -> list[BaseRoute]:
    "Routes for /healthz, the webhook receiver, the media files of `settings` and share links (`share_now`: a clock)."
    get = services or (lambda: svc.shared_services(lambda: settings))

    health = Health(get)
    health_threads = ThreadPoolExecutor(HEALTH_THREADS, thread_name_prefix="healthz")

    async def healthz(request: Request) -> Response:
        # Off the event loop and bounded: a check stuck on a dead server is abandoned (its thread
        # ends on the driver's own timeout) and the proxy hears 503 in time.
        doing: list[str] = []
        checking = asyncio.get_running_loop().run_in_executor(health_threads, health.answer, doing)
        try:
            status, body = await asyncio.wait_for(checking, HEALTH_TIMEOUT_S)
        except TimeoutError:
            waited = doing[-1] if doing else "a free health check thread"
            status, body = 503, {"ok": False, "error": f"{waited} did not answer within {HEALTH_TIMEOUT_S:g} s"}
        return JSONResponse(body, status_code=status)

    seen = RecentEvents()

    async def webhook(request: Request) -> Response:
        # Cheapest refusal first: the declared size, then the signature (a header), and only then
        # the body, read with a running cap (a chunked body declares no size).
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.strip().isdigit() or int(declared) > WEBHOOK_MAX_BYTES):
            return _too_large() if declared.strip().isdigit() else JSONResponse({"detail": "bad Content-Length"}, 400)
        raw_signature = request.headers.get("x-mosaic-signature")
        # Header values arrive as latin-1 text; compared as the bytes that were sent.
        signature = raw_signature.encode("latin-1") if raw_signature is not None else None
        try:
            studio = get()
        except StudioError as err:  # the studio cannot start (a bad database): Mosaic will resend
            return JSONResponse({"detail": str(err)}, status_code=503)
        if not svc.webhook_signed(studio, signature):
            return JSONResponse({"detail": "bad signature"}, status_code=401)
        body = await _capped_body(request, WEBHOOK_MAX_BYTES)
        if body is None:
            return _too_large()
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
            return JSONResponse({"detail": "body is not JSON"}, status_code=400)
        if not isinstance(payload, dict):
            return JSONResponse({"detail": "body must be a JSON object"}, status_code=400)
        try:
            first = seen.first_time(payload)
        except RecursionError:  # parsed, but too deep to write out again: no event of Mosaic's
            return JSONResponse({"detail": "body is nested too deeply"}, status_code=400)
        if not first:
            return JSONResponse({"received": True, "duplicate": True})  # 2xx: Mosaic stops resending
        svc.handle_webhook(studio, payload, signature)
        return JSONResponse({"received": True})

    async def export_download(request: Request) -> Response:
        # Exports (issue 8 §4): only a file the export made, only once it is done; as an attachment.
        try:
            studio = get()
        except StudioError as err:
            return JSONResponse({"detail": str(err)}, status_code=503)
        export_id, filename = request.path_params["export_id"], request.path_params["filename"]
        path = await asyncio.to_thread(svc.export_file, studio, export_id, filename)
        if path is None and (url := await asyncio.to_thread(svc.export_url, studio, export_id, filename)):
            return RedirectResponse(url, status_code=307)  # S3 media: a presigned download, from any replica
        if path is None:
            return Response("No such export file (it may have expired).", status_code=404, media_type="text/plain")
        return FileResponse(path, filename=filename, content_disposition_type="attachment")

    index_html = streamlit_index_html()

    async def page(request: Request) -> Response:
        return HTMLResponse(index_html, headers={"Cache-Control": "no-cache"})

    with suppress(OSError):  # a data folder the studio cannot use is reported by the pages and /healthz
        settings.media_dir.mkdir(parents=True, exist_ok=True)
    # Read-only share links (issue 8 §3). Imported here: share_page builds on MediaFileResponse above.
    from .share_page import share_routes

    return [
        *share_routes(get, MediaFileResponse, now=share_now),
        Route("/healthz", healthz),
        Route(WEBHOOK_PATH, webhook, methods=["POST"]),
        Mount(MEDIA_ROUTE, app=MediaFiles(directory=settings.media_dir, check_dir=False), name="files"),
        Route(svc.EXPORT_ROUTE + "/{export_id}/{filename}", export_download, methods=["GET", "HEAD"]),
        *(Route(f"/{name}", page, methods=["GET", "HEAD"]) for name in PAGE_PATHS),
    ]
