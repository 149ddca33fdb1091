"""The studio's own routes: /healthz, the webhook receiver, media files with Range requests."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient
from support import settings_for

from studio import services as svc
from studio.models import VideoGenerationParams
from studio.web import PAGE_PATHS, make_routes


@pytest.fixture
def web(clean_sim, tmp_path):
    services = svc.build_services(settings_for(clean_sim, tmp_path / "d", webhook_secret="s3cret"))
    app = Starlette(routes=make_routes(services.settings, services=lambda: services))
    with TestClient(app) as client:
        yield client, services
    services.close()


def test_healthz_reports_worker_and_queue(web):
    client, _services = web
    body = client.get("/healthz").json()
    assert body["ok"] and body["worker_alive"] and body["mode"] == "mosaic"
    assert body["jobs"]["queued"] == 0


def test_webhook_needs_the_signature(web):
    client, _ = web
    payload = {"flag": "RUN_FINISHED", "run_id": "r1", "status": "completed"}
    assert client.post("/hooks/mosaic", json=payload).status_code == 401
    assert client.post("/hooks/mosaic", json=payload, headers={"X-Mosaic-Signature": "nope"}).status_code == 401
    assert client.post("/hooks/mosaic", json=payload, headers={"X-Mosaic-Signature": "s3cret"}).status_code == 200
    assert (
        client.post("/hooks/mosaic", content=b"not json", headers={"X-Mosaic-Signature": "s3cret"}).status_code == 400
    )


def test_media_served_from_disk_with_ranges(web):
    client, services = web
    [gen] = svc.wait_for(
        services, svc.generate(services, VideoGenerationParams(prompt="A fox", duration="4")), timeout=60
    )
    whole = client.get(f"/files/{gen.video_path}")
    assert whole.status_code == 200 and whole.headers["content-type"] == "video/mp4"
    part = client.get(f"/files/{gen.video_path}", headers={"Range": "bytes=0-99"})
    assert part.status_code == 206 and len(part.content) == 100
    assert client.get("/files/../studio.db").status_code == 404


def test_a_download_in_progress_is_never_served(web):
    client, services = web
    (services.settings.media_dir / "abc.mp4.part").write_bytes(b"\x00\x00\x00\x18ftypmp42 half a video")
    (services.settings.media_dir / "abc.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 a whole video")
    assert client.get("/files/abc.mp4.part").status_code == 404
    assert client.head("/files/abc.mp4.part").status_code == 404
    assert client.get("/files/abc.mp4.part", headers={"Range": "bytes=0-3"}).status_code == 404
    assert client.get("/files/abc.mp4").status_code == 200  # the finished file beside it is served


def test_deep_links_serve_the_app_with_its_base_url_at_the_root(web):
    client, _ = web
    page = client.get("/gallery?page=3")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "BACKEND_BASE_URL" in page.text and page.text.index("BACKEND_BASE_URL") < page.text.index("<script type")
    assert client.get("/nowhere").status_code == 404  # only the pages, not a catch-all


def test_every_page_file_has_a_deep_link_route():
    pages = {p.stem for p in (Path(__file__).resolve().parents[1] / "pages").glob("*.py")}
    assert pages == set(PAGE_PATHS)
