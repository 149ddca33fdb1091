"""The studio's own HTTP routes beside the Streamlit UI (Starlette only, no Streamlit import):
a lifespan that starts the job worker at server boot, `/healthz`, the Mosaic webhook receiver
for `callback_url`, `/files/` serving saved media from disk with Range requests, and the deep
links of the pages (`/gallery?q=...`), which get Streamlit's page told where the server is.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from . import services as svc
from .errors import StudioError
from .media import PARTIAL_SUFFIX
from .models import STATUSES
from .settings import MEDIA_ROUTE, Settings, load

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/hooks/mosaic"
# The URL paths of the pages (the file names in pages/, as st.navigation names them).
PAGE_PATHS = ("create", "compare", "gallery", "status")
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


class MediaFiles(StaticFiles):
    "Saved media from disk with Range requests; a download still in progress (`.part`) is never served."

    def lookup_path(self, path: str) -> tuple[str, os.stat_result | None]:
        if path.endswith(PARTIAL_SUFFIX):
            return "", None  # as if absent: 404
        return super().lookup_path(path)


def app_parts(load_settings: Callable[[], Settings] = load) -> dict[str, Any]:
    """The lifespan and routes of the ASGI app (`asgi_app.py`). Settings that cannot be used leave
    only Streamlit's pages, whose entry script shows a clear page naming the setting."""
    try:
        settings = load_settings()
    except StudioError as err:
        log.error("the studio cannot start: %s", err)
        return {"lifespan": None, "routes": []}
    return {"lifespan": make_lifespan(lambda: settings), "routes": make_routes(settings)}


def make_routes(settings: Settings, services: Callable[[], svc.Services] | None = None) -> list[BaseRoute]:
    "Routes for /healthz, the webhook receiver and the media files of `settings`."
    get = services or (lambda: svc.shared_services(lambda: settings))

    async def healthz(request: Request) -> Response:
        try:
            studio = get()
        except StudioError as err:
            return JSONResponse({"ok": False, "error": str(err)}, status_code=503)
        counts = {s: studio.store.count_status(s) for s in STATUSES}
        return JSONResponse(
            {
                "ok": True,
                "mode": studio.mode,
                "worker_alive": studio.runner.alive,
                "worker_leader": studio.runner.is_leader,
                "jobs": counts,
            }
        )

    async def webhook(request: Request) -> Response:
        try:
            payload = await request.json()
        except ValueError:
            return JSONResponse({"detail": "body is not JSON"}, status_code=400)
        if not isinstance(payload, dict):
            return JSONResponse({"detail": "body must be a JSON object"}, status_code=400)
        accepted = svc.handle_webhook(get(), payload, request.headers.get("x-mosaic-signature"))
        if not accepted:
            return JSONResponse({"detail": "bad signature"}, status_code=401)
        return JSONResponse({"received": True})

    index_html = streamlit_index_html()

    async def page(request: Request) -> Response:
        return HTMLResponse(index_html, headers={"Cache-Control": "no-cache"})

    with suppress(OSError):  # a data folder the studio cannot use is reported by the pages and /healthz
        settings.media_dir.mkdir(parents=True, exist_ok=True)
    return [
        Route("/healthz", healthz),
        Route(WEBHOOK_PATH, webhook, methods=["POST"]),
        Mount(MEDIA_ROUTE, app=MediaFiles(directory=settings.media_dir, check_dir=False), name="files"),
        *(Route(f"/{name}", page, methods=["GET", "HEAD"]) for name in PAGE_PATHS),
    ]
