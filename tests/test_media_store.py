"""The media store (studio.media_store): one contract suite run against a folder and against S3 on a
real SeaweedFS (signatures enforced); start-up refusals with one clear line and no secret; and a
studio on `s3://` that saves a generation in the bucket with its sha256 and plays it with Range."""

from __future__ import annotations

import hashlib
import html
import io
import os
import re
import signal
import subprocess
import sys
import time
import uuid
import zipfile
from pathlib import Path

import httpx
import pytest
from media_files import picture
from postgres_server import free_port
from seaweed_server import ranged_get
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient
from support import GALLERY, open_page, settings_for

from studio import cli
from studio import services as svc
from studio.errors import MediaError, SettingsError, StudioError
from studio.media_store import STALE_STAGING_S, FolderMedia, S3Media, open_media
from studio.models import VideoGenerationParams
from studio.settings import MEDIA_ROUTE, Settings, as_environment, load
from studio.web import MediaFiles, make_routes

BODY = hashlib.sha256(b"take").digest() * 2000  # 64 KB, no two ranges alike
PREFIX = "studio/media"


def fresh_bucket(seaweed) -> str:
    return seaweed.make_bucket(f"m-{uuid.uuid4().hex[:12]}")


@pytest.fixture(params=["folder", "s3"])
def media(request, tmp_path):
    if request.param == "folder":
        return FolderMedia(tmp_path / "media")
    seaweed = request.getfixturevalue("seaweed")
    return S3Media(fresh_bucket(seaweed), PREFIX, seaweed.client(), staging_dir=tmp_path / "staging")


def fetch(media, key: str, headers: dict[str, str] | None = None) -> httpx.Response:
    "GET `media.url(key)` as a browser would: through the app's /files route for a folder."
    url = media.url(key)
    if url.startswith("/"):
        app = Starlette(routes=[Mount(MEDIA_ROUTE, app=MediaFiles(directory=media.root, check_dir=False))])
        with TestClient(app) as client:
            return client.get(url, headers=headers or {})
    return httpx.get(url, headers=headers or {}, timeout=30)


def test_a_file_put_is_there_whole_and_comes_back_the_same(media, tmp_path):
    source = tmp_path / "source.mp4"
    source.write_bytes(BODY)
    media.check()
    media.put_file("abc.mp4", source)
    assert source.read_bytes() == BODY  # a file from elsewhere is copied, not taken
    assert media.exists("abc.mp4")
    assert media.size("abc.mp4") == len(BODY)
    media.get_file("abc.mp4", tmp_path / "back.mp4")
    assert (tmp_path / "back.mp4").read_bytes() == BODY
    with media.open("abc.mp4") as body:
        assert body.read() == BODY


def test_a_staged_file_is_moved_in_and_never_listed(media):
    staged = media.staging("def.mp4")
    staged.write_bytes(BODY)
    assert list(media.keys()) == []  # a file being made is not media yet
    media.put_file("def.mp4", staged)
    assert not staged.exists()
    assert list(media.keys()) == ["def.mp4"]


def test_keys_by_prefix_bytes_and_delete(media):
    media.put_bytes("references/a.png", b"png")
    media.put_bytes("exports/e1/sheet.jpg", b"jpg")
    media.put_bytes("x.mp4", b"mp4")
    assert sorted(media.keys()) == ["exports/e1/sheet.jpg", "references/a.png", "x.mp4"]
    assert list(media.keys("references/")) == ["references/a.png"]
    media.delete("x.mp4")
    media.delete("x.mp4")  # already gone: nothing happens
    assert not media.exists("x.mp4")
    assert sorted(media.keys()) == ["exports/e1/sheet.jpg", "references/a.png"]


def test_a_missing_file_or_a_bad_key_is_a_media_error(media, tmp_path):
    for read in (lambda: media.size("nope.mp4"), lambda: media.get_file("nope.mp4", tmp_path / "n")):
        with pytest.raises(MediaError):
            read()
    assert not (tmp_path / "n").exists()
    for key in ("../escape.mp4", "/abs.mp4", "", "a//b.mp4", "a\\b.mp4"):
        with pytest.raises(MediaError, match="is not the name of a saved file"):
            media.put_bytes(key, b"x")


def test_the_url_plays_with_range_requests(media):
    media.put_bytes("clip.mp4", BODY)
    part = fetch(media, "clip.mp4", {"Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.content == BODY[100:200]
    assert part.headers["content-type"] == "video/mp4"
    assert fetch(media, "clip.mp4").content == BODY


def test_s3_start_up_sweeps_only_stale_staged_files(seaweed, tmp_path):
    media = S3Media(fresh_bucket(seaweed), PREFIX, seaweed.client(), staging_dir=tmp_path / "staging")
    stale, fresh = media.staging("old.mp4"), media.staging("new.mp4")
    stale.write_bytes(b"left by a killed worker")
    fresh.write_bytes(b"being downloaded now")
    os.utime(stale, (time.time() - 2 * STALE_STAGING_S,) * 2)
    media.check()
    assert not stale.exists() and fresh.exists()


def test_folder_urls_are_the_files_route_as_before(tmp_path):
    assert FolderMedia(tmp_path).url("abc.mp4") == "/files/abc.mp4"
    assert FolderMedia(tmp_path).url("references/r.png") == "/files/references/r.png"


# ---------------------------------------------------------------------- choosing and start-up


def s3_env(monkeypatch, seaweed, **changes: str) -> None:
    for name, value in {**seaweed.environment(), **changes}.items():
        monkeypatch.setenv(name, value)


def test_unset_is_the_data_folders_media_and_a_folder_url_is_that_folder(tmp_path):
    default = open_media(Settings(data_dir=tmp_path / "data"))
    assert isinstance(default, FolderMedia) and default.root == (tmp_path / "data" / "media").resolve()
    chosen = open_media(Settings(data_dir=tmp_path / "data", media_url=str(tmp_path / "elsewhere")))
    assert isinstance(chosen, FolderMedia) and chosen.root == (tmp_path / "elsewhere").resolve()


@pytest.mark.parametrize("url", ["http://bucket/prefix", "s3://", "s3://key:secret@bucket/p", "ftp://x"])
def test_a_bad_media_url_is_one_settings_line(monkeypatch, url):
    monkeypatch.setenv("STUDIO_MEDIA_URL", url)
    with pytest.raises(SettingsError) as caught:
        load()
    message = str(caught.value)
    assert "STUDIO_MEDIA_URL" in message and "\n" not in message
    assert "secret" not in message  # the value is never echoed: it may hold credentials


def start_message(tmp_path, url: str) -> str:
    "What starting a studio on `url` says (it must refuse)."
    with pytest.raises(StudioError) as caught:
        svc.build_services(Settings(data_dir=tmp_path / "data", media_url=url), start_worker=False)
    return str(caught.value)


def test_start_up_names_each_s3_problem_once_and_never_the_secret(monkeypatch, seaweed, tmp_path):
    bucket = fresh_bucket(seaweed)
    s3_env(monkeypatch, seaweed)
    missing = start_message(tmp_path, f"s3://no-such-{bucket}/media")
    assert "has no such bucket" in missing

    s3_env(monkeypatch, seaweed, AWS_SECRET_ACCESS_KEY="wrong" + seaweed.secret_key)
    refused = start_message(tmp_path, f"s3://{bucket}/media")
    assert "refused the credentials" in refused and "AWS_SECRET_ACCESS_KEY" in refused

    s3_env(monkeypatch, seaweed, AWS_ACCESS_KEY_ID="nobody")
    assert "refused the credentials" in start_message(tmp_path, f"s3://{bucket}/media")

    s3_env(monkeypatch, seaweed, AWS_ENDPOINT_URL=f"http://127.0.0.1:{free_port()}")
    unreachable = start_message(tmp_path, f"s3://{bucket}/media")
    assert "cannot be reached" in unreachable and "AWS_ENDPOINT_URL" in unreachable

    for message in (missing, refused, unreachable):
        assert "\n" not in message and seaweed.secret_key not in message
    assert not (tmp_path / "data" / "studio.db").exists()  # the history is not touched before media works


@pytest.mark.parametrize("command", ["status", "serve"])
def test_the_cli_refuses_a_missing_bucket_in_one_line(monkeypatch, seaweed, capsys, command):
    s3_env(monkeypatch, seaweed)

    def no_server(*args: object) -> None:  # a safety net: this test must never become a server
        raise AssertionError("studio serve went on to start the server")

    monkeypatch.setattr(cli.os, "execve", no_server)
    monkeypatch.setenv("STUDIO_MEDIA_URL", f"s3://no-such-{uuid.uuid4().hex[:8]}/media")
    assert cli.main([command, "--port", str(free_port())] if command == "serve" else [command]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and err.startswith("error: ") and "has no such bucket" in err
    assert seaweed.secret_key not in err


def test_a_studio_on_s3_saves_each_take_in_the_bucket_and_plays_it(monkeypatch, seaweed, clean_sim, tmp_path, caplog):
    bucket = fresh_bucket(seaweed)
    s3_env(monkeypatch, seaweed)
    settings = settings_for(clean_sim, tmp_path / "data", media_url=f"s3://{bucket}/{PREFIX}")
    studio = svc.build_services(settings)
    try:
        (gen_id,) = svc.generate(studio, VideoGenerationParams(prompt="A lantern on a pier", duration="4"))
        (gen,) = svc.wait_for(studio, [gen_id], timeout=60)
        assert gen.status == "done" and gen.video_path and gen.thumb_path, gen.error
        stored = seaweed.client().get_object(Bucket=bucket, Key=f"{PREFIX}/{gen.video_path}")["Body"].read()
        assert hashlib.sha256(stored).hexdigest() == gen.sha256
        assert seaweed.client().head_object(Bucket=bucket, Key=f"{PREFIX}/{gen.thumb_path}")["ContentLength"] > 0
        assert not (tmp_path / "data" / "media" / gen.video_path).exists()  # nothing kept on this replica
        assert list((tmp_path / "data" / "media-staging").iterdir()) == []

        # The page's video URL (presigned) and the share link's media route (a redirect to one).
        assert ranged_get(studio.media.url(gen.video_path), 0, 99).content == stored[:100]
        link = svc.ShareLinks(studio).create(svc.Selection("generation", gen_id))
        app = Starlette(routes=make_routes(studio.settings, services=lambda: studio))
        with TestClient(app) as client:
            page = client.get(f"{svc.SHARE_ROUTE}/{link.token}")
            moved = client.get(f"{svc.SHARE_ROUTE}/{link.token}/media/{gen_id}/video", follow_redirects=False)
        assert page.status_code == 200 and moved.status_code == 307
        assert seaweed.endpoint in page.headers["content-security-policy"]  # the player may fetch from S3
        part = ranged_get(moved.headers["location"], 10, 19)
        assert part.status_code == 206 and part.content == stored[10:20]
        everything = page.text + str(page.headers) + str(moved.headers) + caplog.text
        assert seaweed.secret_key not in everything
        assert "X-Amz-Signature" not in page.text  # the page holds share routes, never a signed URL

        # The Gallery page plays the take from the bucket: a presigned URL, and no secret on the page.
        at = open_page(GALLERY, studio)
        bodies = " ".join(h.proto.body for h in at.get("html"))
        [src] = re.findall(r'class="studio-hover" poster="[^"]*" src="([^"]+)"', bodies)
        assert src.startswith(f"{seaweed.endpoint}/{bucket}/{PREFIX}/{gen.video_path}?")
        assert ranged_get(html.unescape(src), 0, 9).status_code == 206
        assert seaweed.secret_key not in bodies

        # An export is built from the bucket's files and put back there; the route hands out a presigned download.
        job = svc.start_export(studio, svc.Selection("generation", gen_id), ["zip", "sheet"])
        done = wait_export(studio, job.id)
        assert done.status == "done", done.error
        assert not (tmp_path / "data" / "exports" / job.id).exists()
        zip_name = next(name for name in done.files if name.endswith(".zip"))
        with TestClient(app) as client:
            sent = client.get(done.url(zip_name), follow_redirects=False)
        assert sent.status_code == 307
        download = httpx.get(sent.headers["location"], timeout=30)
        assert download.status_code == 200 and download.headers["content-disposition"].startswith("attachment")
        with zipfile.ZipFile(io.BytesIO(download.content)) as archive:
            videos = [n for n in archive.namelist() if n.endswith(".mp4")]
            assert [hashlib.sha256(archive.read(n)).hexdigest() for n in videos] == [gen.sha256]
            assert not any(seaweed.secret_key.encode() in archive.read(n) for n in archive.namelist())

        # A reference is kept in the bucket too (and checked from there when a take would carry it).
        still = picture(tmp_path / "still.png", 400, 300)
        kept = svc.upload_reference(studio, "still.png", still).reference
        assert kept.local_name and not (tmp_path / "data" / "media" / kept.local_name).exists()
        with studio.media.open(kept.local_name) as body:
            assert body.read() == still.read_bytes()
        svc.check_references(studio, {"images": [kept.upload_id]})

        svc.delete_generation(studio, gen_id)
        assert not studio.media.exists(gen.video_path) and not studio.media.exists(gen.thumb_path)
    finally:
        svc.stop_export_workers()
        studio.close()


def wait_export(services, export_id: str, timeout: float = 120.0) -> svc.ExportJob:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = svc.export_job(services, export_id)
        assert job is not None
        if not job.active:
            return job
        time.sleep(0.1)
    raise AssertionError(f"export {export_id} did not end")


def test_the_default_studio_keeps_media_in_its_folder_as_before(studio):
    (gen_id,) = svc.generate(studio, VideoGenerationParams(prompt="A kite", duration="4"))
    (gen,) = svc.wait_for(studio, [gen_id], timeout=60)
    assert gen.status == "done" and gen.video_path, gen.error
    folder = Path(studio.settings.data_dir) / "media"
    assert sorted(p.name for p in folder.iterdir()) == [f"{gen_id}.jpg", f"{gen_id}.mp4"]
    assert hashlib.sha256((folder / gen.video_path).read_bytes()).hexdigest() == gen.sha256
    assert studio.media.url(gen.video_path) == f"/files/{gen_id}.mp4"


def test_browsers_get_urls_signed_for_the_public_endpoint_while_the_studio_uses_its_own(monkeypatch, seaweed, tmp_path):
    "STUDIO_MEDIA_PUBLIC_ENDPOINT: the studio writes through 127.0.0.1, browsers read through `localhost`."
    bucket = fresh_bucket(seaweed)
    s3_env(monkeypatch, seaweed)
    public = seaweed.endpoint.replace("127.0.0.1", "localhost")
    monkeypatch.setenv("STUDIO_MEDIA_PUBLIC_ENDPOINT", public + "/")
    store = open_media(load(data_dir=tmp_path / "data", media_url=f"s3://{bucket}/{PREFIX}"))
    store.put_bytes("a.mp4", b"0123456789" * 100)
    url = store.url("a.mp4")
    assert url.startswith(f"{public}/{bucket}/{PREFIX}/a.mp4?")
    answer = ranged_get(url, 10, 19)  # the signature holds for the host it was made for
    assert answer.status_code == 206 and answer.content == b"0123456789"
    assert ranged_get(url.replace("localhost", "127.0.0.1"), 10, 19).status_code == 403  # not for another


@pytest.mark.parametrize("endpoint", ["media.example.com", "ftp://media.example.com", "https://m.example.com/path"])
def test_a_bad_public_endpoint_is_one_settings_line(monkeypatch, endpoint):
    monkeypatch.setenv("STUDIO_MEDIA_PUBLIC_ENDPOINT", endpoint)
    with pytest.raises(SettingsError) as caught:
        load()
    assert "STUDIO_MEDIA_PUBLIC_ENDPOINT" in str(caught.value) and "\n" not in str(caught.value)


def test_the_status_page_and_the_worker_say_which_stores_are_in_use_without_a_secret(
    monkeypatch, seaweed, pg_server, clean_sim, tmp_path
):
    password = "st0res-pw-s3cret"
    role = pg_server.password_role(password)
    url = pg_server.fresh_database("stores", owner=role, password=password)
    bucket = fresh_bucket(seaweed)
    s3_env(monkeypatch, seaweed)
    settings = settings_for(clean_sim, tmp_path / "data", database_url=url, media_url=f"s3://{bucket}/{PREFIX}")
    studio = svc.build_services(settings, start_worker=False)
    try:
        at = open_page("pages/status.py", studio)
        shown = " ".join(c.value for c in at.caption).replace("\\", "")  # as read, markdown escapes undone
        where = url.split("@", 1)[1]
        assert f"history: PostgreSQL postgresql://{role}:***@{where}, media: s3://{bucket}/{PREFIX} at " in shown
        page = " ".join(str(e.value) for kind in (at.caption, at.markdown, at.text) for e in kind)
        assert password not in page and seaweed.secret_key not in page
    finally:
        studio.close()

    # `studio worker` says the same once at start-up (then is stopped with SIGTERM).
    env = {**os.environ, **as_environment(settings)}
    worker = subprocess.Popen(
        [sys.executable, "-m", "studio.cli", "worker"], env=env, stderr=subprocess.PIPE, text=True
    )
    assert worker.stderr is not None
    lines = [worker.stderr.readline() for _ in range(2)]
    worker.send_signal(signal.SIGTERM)
    lines.append(worker.communicate(timeout=60)[1])
    said = "".join(lines)
    assert f"history: PostgreSQL postgresql://{role}:***@{where}, media: s3://{bucket}/{PREFIX} at " in said
    assert password not in said and seaweed.secret_key not in said
