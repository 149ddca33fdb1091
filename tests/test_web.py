"""The studio's own routes: /healthz, the webhook receiver, media files with Range requests."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient
from support import settings_for

from studio import services as svc
from studio.models import VideoGenerationParams
from studio.web import PAGE_PATHS, WEBHOOK_MAX_BYTES, RecentEvents, make_routes


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
    assert body["ok"] and body["worker"] == "running" and body["mode"] == "mosaic"
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


# ---------------------------------------------------------------------- hostile webhooks (issue 7 §5)


def _asgi_post(app, headers: list[tuple[bytes, bytes]], chunks) -> tuple[int, int]:
    """POST to the webhook at the ASGI level, the body handed over one chunk at a time as the app
    asks for it; returns (status, body bytes the app pulled)."""
    pulled = 0
    status: list[int] = []
    source = iter(chunks)

    async def receive():
        nonlocal pulled
        chunk = next(source, None)
        if chunk is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        pulled += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message):
        if message["type"] == "http.response.start":
            status.append(message["status"])

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/hooks/mosaic",
        "raw_path": b"/hooks/mosaic",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8501),
    }
    asyncio.run(app(scope, receive, send))
    return status[0], pulled


def _endless(chunk_size: int = 64 * 1024):
    "A body that goes on well past the cap (bounded, so a regression fails instead of eating memory)."
    for _ in range(4 * WEBHOOK_MAX_BYTES // chunk_size):
        yield b"x" * chunk_size


@pytest.fixture
def webhook_app(clean_sim, tmp_path):
    services = svc.build_services(settings_for(clean_sim, tmp_path / "d", webhook_secret="s3cret"), start_worker=False)
    yield Starlette(routes=make_routes(services.settings, services=lambda: services)), services
    services.close()


def test_an_unsigned_100_mb_post_is_refused_before_a_byte_is_read(webhook_app):
    app, _ = webhook_app
    declared = [(b"content-length", str(100 * 1024**2).encode()), (b"content-type", b"application/json")]
    assert _asgi_post(app, declared, _endless()) == (413, 0)
    # the same with the right signature: the declared size alone refuses it
    signed = [*declared, (b"x-mosaic-signature", b"s3cret")]
    assert _asgi_post(app, signed, _endless()) == (413, 0)
    # no declared size and no signature: refused on the header, the body never read
    assert _asgi_post(app, [(b"transfer-encoding", b"chunked")], _endless()) == (401, 0)


def test_a_signed_chunked_body_is_read_only_up_to_the_cap(webhook_app):
    app, _ = webhook_app
    headers = [(b"transfer-encoding", b"chunked"), (b"x-mosaic-signature", b"s3cret")]
    status, pulled = _asgi_post(app, headers, _endless())
    assert status == 413
    assert WEBHOOK_MAX_BYTES < pulled <= WEBHOOK_MAX_BYTES + 64 * 1024


def test_a_non_ascii_or_wrong_length_signature_is_a_401_not_a_500(web):
    client, _ = web
    payload = {"flag": "RUN_FINISHED", "run_id": "r1", "status": "completed"}
    for signature in ("s3crét".encode(), b"\xff\xfe", b"s3cret" * 50, b"s3cre"):
        answer = client.post("/hooks/mosaic", json=payload, headers={"X-Mosaic-Signature": signature})
        assert answer.status_code == 401, signature


def test_a_replayed_event_is_dropped(web):
    client, _ = web
    signed = {"X-Mosaic-Signature": "s3cret"}
    event = {"flag": "RUN_PROGRESS", "run_id": "r-replay", "status": "running", "node_status_counts": {"completed": 1}}
    first = client.post("/hooks/mosaic", json=event, headers=signed)
    assert first.status_code == 200 and first.json() == {"received": True}
    # the same event again, even with its keys in another order, is a replay
    again = client.post("/hooks/mosaic", content=json.dumps(dict(reversed(event.items()))), headers=signed)
    assert again.status_code == 200 and again.json() == {"received": True, "duplicate": True}
    # a new event of the same run is news
    later = {**event, "node_status_counts": {"completed": 2}}
    assert client.post("/hooks/mosaic", json=later, headers=signed).json() == {"received": True}


def test_recent_events_stay_bounded():
    seen = RecentEvents(size=3)
    events = [{"run_id": str(i)} for i in range(5)]
    assert all(seen.first_time(e) for e in events)
    assert not seen.first_time(events[-1])
    assert seen.first_time(events[0])  # forgotten: only the last three are kept


# ---------------------------------------------------------------------- Range (RFC 9110 §14.2)


@pytest.mark.parametrize(
    "header",
    ["bytes=abc", "bytes=5-2", "items=0-9", "bytes", "bytes=", "bytes=--5", "bytes=1_0-20", "bytes=+1-5", "bytes=0-x"],
)
def test_an_invalid_range_is_ignored_and_the_whole_file_served(web, header):
    client, services = web
    (services.settings.media_dir / "whole.mp4").write_bytes(bytes(range(200)))
    answer = client.get("/files/whole.mp4", headers={"Range": header})
    assert answer.status_code == 200 and answer.content == bytes(range(200))


@pytest.mark.parametrize(
    ("header", "status", "body"),
    [
        ("bytes=500-600", 416, b""),
        ("bytes=-0", 416, b""),
        ("bytes=10-19", 206, bytes(range(10, 20))),
        ("bytes=-5", 206, bytes(range(195, 200))),
        ("bytes=190-", 206, bytes(range(190, 200))),
        ("bytes=190-5000", 206, bytes(range(190, 200))),
        ("bytes=10-19, 500-600", 206, bytes(range(10, 20))),  # the satisfiable part is served
    ],
)
def test_valid_ranges_are_served_and_unsatisfiable_ones_are_416(web, header, status, body):
    client, services = web
    (services.settings.media_dir / "whole.mp4").write_bytes(bytes(range(200)))
    answer = client.get("/files/whole.mp4", headers={"Range": header})
    assert answer.status_code == status, answer.text
    if status == 416:
        assert answer.headers["content-range"] == "bytes */200"
    else:
        assert answer.content == body


@pytest.mark.parametrize("body", ["[" * 100_000 + "]" * 100_000, '{"a":' * 100_000 + "1" + "}" * 100_000])
def test_a_deeply_nested_body_is_a_400_not_a_500(web, body):
    client, _ = web
    answer = client.post("/hooks/mosaic", content=body.encode(), headers={"X-Mosaic-Signature": "s3cret"})
    assert answer.status_code == 400, answer.text


def test_no_depth_of_nesting_gives_a_500(web):
    "Past some depth the parser gives up; just short of it, parsing works but writing it out again does not."
    client, _ = web
    for depth in range(850, 1001):
        body = '{"a":' * depth + "1" + "}" * depth
        answer = client.post("/hooks/mosaic", content=body.encode(), headers={"X-Mosaic-Signature": "s3cret"})
        assert answer.status_code in (200, 400), (depth, answer.status_code, answer.text)
