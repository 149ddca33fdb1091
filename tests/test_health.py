"""/healthz during outages (issue 10 follow-up): a real PostgreSQL and a real SeaweedFS of the
test's own, stopped and started again while the studio's routes are called through httpx."""

from __future__ import annotations

import asyncio
import time

import httpx
from seaweed_server import SeaweedServer
from starlette.applications import Starlette
from support import settings_for

from studio import services as svc
from studio.web import HEALTH_TIMEOUT_S, make_routes

# The longest the test waits for one answer: well past HEALTH_TIMEOUT_S, well short of the pool's
# 15 s wait that used to hold the whole server.
ANSWER_DEADLINE_S = HEALTH_TIMEOUT_S + 5
CHANGE_DEADLINE_S = 30  # how long a state change (server down, back up) may take to show


def app_for(studio: svc.Services) -> Starlette:
    return Starlette(routes=make_routes(studio.settings, services=lambda: studio))


async def health_and_page(client: httpx.AsyncClient) -> tuple[httpx.Response, httpx.Response]:
    "/healthz and a page route at the same time, both within ANSWER_DEADLINE_S."
    both = asyncio.gather(client.get("/healthz"), client.get("/gallery"))
    return await asyncio.wait_for(both, ANSWER_DEADLINE_S)


async def health_until(client: httpx.AsyncClient, wanted: int) -> httpx.Response:
    "Ask /healthz until it answers `wanted` (each answer within ANSWER_DEADLINE_S)."
    deadline = time.monotonic() + CHANGE_DEADLINE_S
    while True:
        health = await asyncio.wait_for(client.get("/healthz"), ANSWER_DEADLINE_S)
        if health.status_code == wanted or time.monotonic() > deadline:
            return health
        await asyncio.sleep(0.5)


def test_healthz_answers_503_while_the_database_is_down_and_200_when_it_is_back(own_postgres, clean_sim, tmp_path):
    url = own_postgres.fresh_database()
    studio = svc.build_services(settings_for(clean_sim, tmp_path / "d", database_url=url), start_worker=False)

    async def scenario() -> None:
        transport = httpx.ASGITransport(app=app_for(studio))
        async with httpx.AsyncClient(transport=transport, base_url="http://studio") as client:
            health, page = await health_and_page(client)
            assert health.status_code == 200, health.text
            body = health.json()
            assert body["ok"] and body["jobs"]["queued"] == 0 and body["worker"] == "stopped"

            own_postgres.stop()
            health, page = await health_and_page(client)  # the other routes answer meanwhile
            assert page.status_code == 200
            health = await health_until(client, 503)
            body = health.json()
            assert health.status_code == 503 and body["ok"] is False, health.text
            assert "history database" in body["error"] and "\n" not in body["error"]

            own_postgres.start()
            health = await health_until(client, 200)
            assert health.status_code == 200 and health.json()["ok"], health.text

    try:
        asyncio.run(scenario())
    finally:
        studio.close()


def test_healthz_names_the_media_store_when_s3_is_down(monkeypatch, clean_sim, tmp_path):
    with SeaweedServer(tmp_path / "s3") as s3:
        for name, value in s3.environment().items():
            monkeypatch.setenv(name, value)
        bucket = s3.make_bucket("health")
        settings = settings_for(clean_sim, tmp_path / "d", media_url=f"s3://{bucket}/media", run_worker=False)
        studio = svc.build_services(settings)

        async def scenario() -> None:
            transport = httpx.ASGITransport(app=app_for(studio))
            async with httpx.AsyncClient(transport=transport, base_url="http://studio") as client:
                health = await health_until(client, 200)
                assert health.status_code == 200 and health.json()["worker"] == "elsewhere", health.text
                s3.stop()
                health = await health_until(client, 503)
                body = health.json()
                assert health.status_code == 503 and "media store" in body["error"], health.text
                assert s3.secret_key not in health.text and s3.access_key not in health.text

        try:
            asyncio.run(scenario())
        finally:
            studio.close()
