"""The studio's own HTTP routes beside the Streamlit UI (Starlette only, no Streamlit import):
a lifespan that starts the job worker at server boot, `/healthz`, the Mosaic webhook receiver
for `callback_url`, and `/files/` serving saved media from disk with Range requests.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from . import services as svc
from .models import STATUSES
from .settings import MEDIA_ROUTE, Settings

WEBHOOK_PATH = "/hooks/mosaic"


def make_lifespan(settings_factory: Callable[[], Settings]) -> Callable[[Any], Any]:
    "A lifespan that builds the shared studio at boot (worker running, jobs resumed) and closes it."

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[dict[str, Any]]:
        services = await asyncio.to_thread(svc.shared_services, settings_factory)
        try:
            yield {"services": services}
        finally:
            await asyncio.to_thread(svc.close_shared_services)

    return lifespan


def make_routes(settings: Settings, services: Callable[[], svc.Services] | None = None) -> list[BaseRoute]:
    "Routes for /healthz, the webhook receiver and the media files of `settings`."
    get = services or (lambda: svc.shared_services(lambda: settings))

    async def healthz(request: Request) -> Response:
        studio = get()
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

    settings.media_dir.mkdir(parents=True, exist_ok=True)
    return [
        Route("/healthz", healthz),
        Route(WEBHOOK_PATH, webhook, methods=["POST"]),
        Mount(MEDIA_ROUTE, app=StaticFiles(directory=settings.media_dir, check_dir=False), name="files"),
    ]
