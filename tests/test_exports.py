"""Exports (issue 8 §4, §5): the ZIP and its metadata, the offline index.html, the contact sheet,
the comparison video (probed with PyAV), export jobs (progress, interrupted by a restart, cleanup),
the download route, and `studio export`."""

from __future__ import annotations

import csv
import fcntl
import hashlib
import io
import json
import time
import zipfile
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import av
import pytest
from PIL import Image
from starlette.applications import Starlette
from starlette.testclient import TestClient
from support import add_done, settings_for, use_sim_env

from studio import cli, exports
from studio import services as svc
from studio.errors import ParamsError
from studio.models import Generation, VideoGenerationParams
from studio.services import exports as export_jobs
from studio.store import utcnow
from studio.web import make_routes

HOSTILE_PROMPT = "A fox <script>alert('x')</script> & friends \"quoted\""
GRID_RESOLUTIONS = ["480p", "720p"]
GRID_RATIOS = ["16:9", "9:16"]
GRID_DURATIONS = ["4", "5"]


@pytest.fixture(scope="module")
def export_studio(sim, tmp_path_factory):
    """One studio for the module, holding a finished 2 × 2 × 2 comparison (two durations, so two
    tables and cells of two lengths) whose prompt tries to inject a script."""
    data = tmp_path_factory.mktemp("exports") / "data"
    services = svc.build_services(settings_for(sim, data))
    form = svc.GridForm(
        prompt=HOSTILE_PROMPT,
        resolutions=tuple(GRID_RESOLUTIONS),
        aspect_ratios=tuple(GRID_RATIOS),
        durations=tuple(GRID_DURATIONS),
    )
    plan = svc.plan_grid(services, form)
    grid_id, ids = svc.launch_grid(services, plan, launch_key="exports-module")
    gens = svc.wait_for(services, ids, timeout=120)
    assert all(g.status == "done" for g in gens), [g.error for g in gens]
    svc.set_notes(services, ids[0], '=HYPERLINK("http://evil")')
    svc.set_tags(services, ids[1], "+cmd, @sum, -minus")
    svc.set_rating(services, ids[2], 4)
    svc.set_starred(services, ids[3], True)
    yield services, grid_id
    svc.stop_export_workers()
    services.close()


def grid_selected(export_studio) -> svc.Selected:
    services, grid_id = export_studio
    return svc.resolve(services, svc.Selection("grid", grid_id))


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------------- the ZIP


def test_the_zip_holds_every_file_stored_and_complete_metadata(export_studio, tmp_path):
    services, _ = export_studio
    selected = grid_selected(export_studio)
    out = tmp_path / "grid.zip"
    exports.write_zip(selected, services.settings.media_dir, out, exported_by="Ana")
    with zipfile.ZipFile(out) as z:
        names = set(z.namelist())
        assert {"index.html", "metadata.json", "metadata.csv"} <= names
        for gen in selected.items:
            video, thumb = f"media/{gen.id}.mp4", f"media/{gen.id}-thumb.jpg"
            assert {video, thumb} <= names
            assert z.getinfo(video).compress_type == zipfile.ZIP_STORED
            assert z.getinfo(thumb).compress_type == zipfile.ZIP_STORED
            stored = services.media_path(gen.video_path)
            assert stored is not None and sha(z.read(video)) == gen.sha256 == sha(stored.read_bytes())
        assert z.getinfo("metadata.json").compress_type == zipfile.ZIP_DEFLATED
        meta = json.loads(z.read("metadata.json"))
        rows = list(csv.DictReader(io.StringIO(z.read("metadata.csv").decode("utf-8-sig"))))
    assert meta["kind"] == "grid" and meta["exported_by"] == "Ana" and meta["count"] == 8
    assert [i["id"] for i in meta["items"]] == [g.id for g in selected.items]
    assert len(meta["layout"]) == 2 and meta["layout"][0]["resolutions"] == GRID_RESOLUTIONS
    for item, gen in zip(meta["items"], selected.items, strict=True):
        # Every field of the generation, with its value as the history holds it.
        assert Generation.model_validate(item).model_dump() == gen.model_dump()
        assert item["prompt"] == HOSTILE_PROMPT and item["video_file"] == f"media/{gen.id}.mp4"
    assert len(rows) == 8 and set(rows[0]) == set(exports.csv_columns())
    assert set(Generation.model_fields) - {"selected_context"} <= set(rows[0])
    by_id = {r["id"]: r for r in rows}
    for gen in selected.items:
        row = by_id[gen.id]
        assert (row["prompt"], row["resolution"], row["aspect_ratio"], row["duration"]) == (
            gen.prompt,
            gen.resolution,
            gen.aspect_ratio,
            gen.duration,
        )
        assert (row["run_id"], row["sha256"], row["width"]) == (gen.run_id, gen.sha256, str(gen.width))
    assert services.settings.api_key is not None
    raw = out.read_bytes()
    assert services.settings.api_key.get_secret_value().encode() not in raw


def test_csv_cells_that_look_like_formulas_are_quoted(export_studio, tmp_path):
    services, _ = export_studio
    selected = grid_selected(export_studio)
    meta = exports.metadata(selected, exports.members(selected, services.settings.media_dir))
    rows = list(csv.DictReader(io.StringIO(exports.metadata_csv(meta))))
    notes = [r["notes"] for r in rows if r["notes"]]
    tags = [r["tags"] for r in rows if r["tags"]]
    assert notes == ['\'=HYPERLINK("http://evil")']
    assert tags == ["'+cmd, @sum, -minus"]
    assert all(not v.startswith(("=", "+", "-", "@")) for r in rows for v in r.values() if v)
    assert exports.formula_safe("-3") == "'-3" and exports.formula_safe(3.5) == 3.5


class Refs(HTMLParser):
    "Every tag and every URL an HTML page refers to."

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.urls: list[str] = []
        self.videos: list[dict[str, str | None]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        found = dict(attrs)
        self.urls += [v for k, v in attrs if k in ("src", "href", "poster", "srcset", "data") and v]
        if tag == "video":
            self.videos.append(found)


def test_index_html_refers_only_to_files_in_the_zip_and_escapes_prompts(export_studio, tmp_path):
    services, _ = export_studio
    out = tmp_path / "grid.zip"
    exports.write_zip(grid_selected(export_studio), services.settings.media_dir, out)
    with zipfile.ZipFile(out) as z:
        page = z.read("index.html").decode()
        names = set(z.namelist())
    refs = Refs()
    refs.feed(page)
    assert "script" not in refs.tags and "link" not in refs.tags and "iframe" not in refs.tags
    local = [u for u in refs.urls if not u.startswith("#")]
    assert local and all(u in names for u in local), set(local) - names
    assert not [u for u in refs.urls if "//" in u or u.startswith("/")]
    assert len(refs.videos) == 8 and all(v["src"] in names and v["poster"] in names for v in refs.videos)
    assert "<script>alert" not in page and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert page.count("<table") == 2  # one X/Y table per duration


# ---------------------------------------------------------------------- contact sheet


def test_the_contact_sheet_is_an_xy_grid_of_thumbnails(export_studio, tmp_path):
    services, _ = export_studio
    selected = grid_selected(export_studio)
    out = tmp_path / "sheet.png"
    size = exports.write_contact_sheet(selected, services.settings.media_dir, out)
    cols, rows, tables = 2, 4, 2  # 2 resolutions across; 2 ratios × 2 durations down, in two sections
    width = 2 * exports.SHEET_MARGIN + exports.SHEET_ROW_LABEL_W + cols * (exports.SHEET_CELL + exports.SHEET_GAP)
    height = (
        2 * exports.SHEET_MARGIN
        + exports.SHEET_TITLE_H
        + tables * (exports.SHEET_SECTION_H + exports.SHEET_HEADER_H)
        + rows * (exports.SHEET_CELL + exports.SHEET_CAPTION_H + exports.SHEET_GAP)
    )
    with Image.open(out) as img:
        assert img.format == "PNG" and img.size == size == (width, height)
        sheet = img.convert("RGB")
    # The first cell (480p, 16:9) holds a thumbnail: its centre is the video's colour, not the page's.
    top = exports.SHEET_MARGIN + exports.SHEET_TITLE_H + exports.SHEET_SECTION_H + exports.SHEET_HEADER_H
    left = exports.SHEET_MARGIN + exports.SHEET_ROW_LABEL_W
    centre = sheet.getpixel((left + exports.SHEET_CELL // 2, top + exports.SHEET_CELL // 4))
    assert centre != exports.SHEET_BACKGROUND
    # Right of the last column is page.
    assert sheet.getpixel((width - 5, top + 10)) == exports.SHEET_BACKGROUND


def test_a_search_makes_a_sheet_of_labelled_tiles(export_studio, tmp_path):
    services, grid_id = export_studio
    selected = svc.resolve(services, svc.Selection.of_query(svc.GalleryQuery(grid_id=grid_id, duration=["4"])))
    size = exports.write_contact_sheet(selected, services.settings.media_dir, tmp_path / "s.png")
    assert len(selected.items) == 4
    assert size == (
        2 * exports.SHEET_MARGIN + 4 * (exports.SHEET_CELL + exports.SHEET_GAP),
        2 * exports.SHEET_MARGIN
        + exports.SHEET_TITLE_H
        + exports.SHEET_CELL
        + exports.SHEET_TILE_LINES * exports.SHEET_LINE_H
        + exports.SHEET_GAP,
    )


# ---------------------------------------------------------------------- comparison video


def test_the_comparison_video_is_one_frame_locked_mosaic(export_studio, tmp_path):
    services, _ = export_studio
    selected = grid_selected(export_studio)
    out = tmp_path / "grid.mp4"
    seen: list[float] = []
    width, height = exports.write_comparison_video(
        selected, services.settings.media_dir, out, progress=lambda f, _w: seen.append(f)
    )
    plan = exports.mosaic(selected, exports.members(selected, services.settings.media_dir))
    assert (plan.cols, plan.rows) == (2, 4) and (width, height) == plan.size
    longest = max(g.duration_s or 0 for g in selected.items)
    assert longest > 5.0 > min(g.duration_s or 0 for g in selected.items)  # cells of two lengths
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.name, stream.width, stream.height) == ("h264", width, height)
        assert stream.average_rate == 24
        assert not container.streams.audio
        frames = sum(1 for _ in container.decode(stream))
        assert container.duration is not None
        seconds = container.duration / av.time_base
    assert frames == plan.frames == round(longest * 24)
    assert abs(seconds - longest) < 0.1
    assert seen and max(seen) > 0.5
    # faststart: the index (moov) comes before the media data (mdat)
    head = out.read_bytes()[:4096]
    assert head.find(b"moov") != -1 and (head.find(b"mdat") == -1 or head.find(b"moov") < head.find(b"mdat"))


def test_a_comparison_video_needs_a_comparison_with_a_finished_cell(export_studio):
    services, grid_id = export_studio
    query = svc.resolve(services, svc.Selection.of_query(svc.GalleryQuery(grid_id=grid_id)))
    with pytest.raises(ParamsError, match="made from a comparison"):
        exports.mosaic(query, exports.members(query, services.settings.media_dir))
    with pytest.raises(ParamsError, match="not one"):
        svc.check_kinds(svc.Selection("collection", "x"), ["zip", "video"])
    with pytest.raises(ParamsError, match="Choose what to export"):
        svc.check_kinds(svc.Selection("grid", grid_id), [])


# ---------------------------------------------------------------------- export jobs


def wait_export(services, export_id: str, timeout: float = 240.0) -> list[svc.ExportJob]:
    "Poll an export until it ends; returns every state seen (ffmpeg runs under nice: slow on a busy machine)."
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = svc.export_job(services, export_id)
        assert job is not None
        seen.append(job)
        if not job.active:
            return seen
        time.sleep(0.05)
    raise AssertionError(f"export {export_id} did not end: {seen[-1]}")


def test_an_export_job_builds_in_the_background_and_shows_progress(export_studio):
    services, grid_id = export_studio
    job = svc.start_export(services, svc.Selection("grid", grid_id), ["video", "zip", "sheet"], created_by="Ana")
    assert job.status == "queued" and job.kinds == ["zip", "sheet", "video"] and job.created_by == "Ana"
    # The caller is not held: the export is still being built when start_export returns.
    seen = wait_export(services, job.id)
    final = seen[-1]
    assert final.status == "done", final.error
    assert final.progress == 1.0 and final.finished_at and final.started_at
    assert any(s.status == "running" and 0 < s.progress < 1 for s in seen), [(s.status, s.progress) for s in seen]
    assert any("Comparison video" in s.stage for s in seen)
    assert sorted(final.files) == sorted(exports.file_names("Comparison").values())
    for name in final.files:
        path = svc.export_file(services, job.id, name)
        assert path is not None and path.stat().st_size > 0
    assert final.bytes == sum((export_jobs.exports_dir(services) / job.id / n).stat().st_size for n in final.files)
    assert final.id in [j.id for j in svc.recent_exports(services)]


def test_exporting_nothing_says_so(export_studio):
    services, _ = export_studio
    empty = svc.create_collection(services, "Empty board")
    with pytest.raises(ParamsError, match="this collection is empty"):
        svc.start_export(services, svc.Selection("collection", empty.id), ["zip"])
    with pytest.raises(ParamsError, match="no take matches this search"):
        svc.start_export(services, svc.Selection.of_query(svc.GalleryQuery(text="zzqxnomatch")), ["zip"])
    with pytest.raises(ParamsError, match="no such comparison"):
        svc.start_export(services, svc.Selection("grid", "nope"), ["zip"])


def test_an_export_left_unfinished_by_a_stopped_process_is_marked_interrupted(export_studio):
    services, grid_id = export_studio
    # No worker of this process sweeps meanwhile (its own sweep would race this one); the live
    # process is played by a lock held here, as a running worker holds its own.
    svc.stop_export_workers()
    live = "d" * 32
    lock = export_jobs._lock_path(services, live)
    lock.parent.mkdir(parents=True, exist_ok=True)
    held = open(lock, "a+")  # noqa: SIM115 (closed in the finally below)
    fcntl.flock(held, fcntl.LOCK_EX)
    rows = services.store.db.table("exports")
    base = {"selection_kind": "grid", "selection_ref": grid_id, "kinds": '["zip"]', "created_at": utcnow()}
    # A process that died mid-export (its lock went with it), one that died before starting, one alive.
    rows.insert({**base, "id": "deadrunning", "status": "running", "progress": 0.4, "process": "a" * 32})
    rows.insert({**base, "id": "deadqueued", "status": "queued", "process": "b" * 32})
    rows.insert({**base, "id": "aliverunning", "status": "running", "process": live})
    rows.insert({**base, "id": "deadfollowed", "status": "running", "process": "c" * 32})
    try:
        # A page following one export sees it interrupted without waiting for a sweep.
        followed = svc.export_job(services, "deadfollowed")
        assert followed is not None and followed.status == "interrupted"
        assert export_jobs.mark_interrupted(services) == 2
        for export_id in ("deadrunning", "deadqueued"):
            job = svc.export_job(services, export_id)
            assert job is not None and job.status == "interrupted"
            assert job.describe() == export_jobs.INTERRUPTED_MESSAGE and job.finished_at
        alive = svc.export_job(services, "aliverunning")
        assert alive is not None and alive.status == "running"
    finally:
        held.close()
        services.store.db.execute("DELETE FROM exports WHERE id = 'aliverunning'")


def test_a_restart_while_building_leaves_the_export_interrupted(export_studio):
    services, grid_id = export_studio
    job = svc.start_export(services, svc.Selection("grid", grid_id), ["video"])
    deadline = time.monotonic() + 120  # a loaded machine (ffmpeg runs under nice)
    while (now := svc.export_job(services, job.id)) is not None and now.status != "running":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    svc.stop_export_workers()  # the server stops: ffmpeg is stopped, nothing half-written is kept
    ended = svc.export_job(services, job.id)
    assert ended is not None and ended.status == "interrupted" and ended.files == []
    assert not (export_jobs.exports_dir(services) / job.id).exists()
    # The next process's worker builds new exports as before.
    again = svc.start_export(services, svc.Selection("grid", grid_id), ["sheet"])
    assert wait_export(services, again.id)[-1].status == "done"


def test_old_exports_are_cleaned_away(export_studio):
    services, grid_id = export_studio
    job = svc.start_export(services, svc.Selection("grid", grid_id), ["sheet"])
    assert wait_export(services, job.id)[-1].status == "done"
    folder = export_jobs.exports_dir(services) / job.id
    assert folder.is_dir()
    export_jobs.clean_old_exports(services)  # now: a fresh export is kept
    fresh = svc.export_job(services, job.id)
    assert fresh is not None and fresh.status == "done" and folder.is_dir()
    later = datetime.now(UTC) + timedelta(days=svc.KEEP_EXPORTS_DAYS, hours=1)
    assert export_jobs.clean_old_exports(services, now=later) >= 1
    gone = svc.export_job(services, job.id)
    assert gone is not None and gone.status == "expired" and gone.files == [] and not folder.exists()
    assert svc.export_file(services, job.id, exports.file_names("Comparison")["sheet"]) is None


# ---------------------------------------------------------------------- the download route


def test_the_route_serves_only_that_exports_files(export_studio):
    services, grid_id = export_studio
    first = svc.start_export(services, svc.Selection("grid", grid_id), ["zip"])
    other = svc.start_export(services, svc.Selection.of_query(svc.GalleryQuery(grid_id=grid_id)), ["sheet"])
    a, b = wait_export(services, first.id)[-1], wait_export(services, other.id)[-1]
    assert a.status == b.status == "done"
    (export_jobs.exports_dir(services) / a.id / "stray.txt").write_text("not part of the export")
    app = Starlette(routes=make_routes(services.settings, services=lambda: services))
    with TestClient(app) as client:
        [zip_name] = a.files
        got = client.get(a.url(zip_name))
        assert got.status_code == 200 and got.headers["content-disposition"].startswith("attachment")
        assert zipfile.ZipFile(io.BytesIO(got.content)).testzip() is None
        [sheet_name] = b.files
        for path in (
            f"/exports/{a.id}/{sheet_name}",  # another export's file, under this export's id
            f"/exports/{a.id}/stray.txt",  # a file in the folder that the export did not make
            f"/exports/{a.id}/..%2F..%2Fstudio.db",
            "/exports/nope/x.zip",
            f"/exports/{a.id}/",
        ):
            assert client.get(path).status_code == 404, path
        assert client.get(b.url(sheet_name)).headers["content-type"] == "image/png"


# ---------------------------------------------------------------------- studio export


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = cli.main(["export", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_studio_export_writes_the_files_and_ends_with_one_json_line(export_studio, sim, monkeypatch, capsys, tmp_path):
    services, grid_id = export_studio
    use_sim_env(monkeypatch, sim)
    monkeypatch.setenv("STUDIO_DATA_DIR", str(services.settings.data_dir))
    code, out, err = run_cli(
        capsys,
        "--grid",
        grid_id,
        "--out",
        str(tmp_path / "g.zip"),
        "--contact-sheet",
        str(tmp_path / "g.png"),
        "--video",
        str(tmp_path / "g.mp4"),
    )
    assert code == 0, err
    [line] = out.strip().splitlines()
    result = json.loads(line)
    assert result["items"] == 8 and result["selection"] == {"kind": "grid", "ref": grid_id}
    assert result["zip"]["bytes"] == (tmp_path / "g.zip").stat().st_size
    assert (result["contact_sheet"]["width"], result["video"]["height"]) > (0, 0)
    with av.open(result["video"]["path"]) as container:
        assert container.streams.video[0].width == result["video"]["width"]
    assert "%" in err  # progress went to stderr
    code, out, err = run_cli(
        capsys, "--query", "", "--duration", "4", "--resolution", "720p", "--out", str(tmp_path / "q.zip")
    )
    assert code == 0, err
    assert json.loads(out)["items"] == 2
    with zipfile.ZipFile(tmp_path / "q.zip") as z:
        assert {i["resolution"] for i in json.loads(z.read("metadata.json"))["items"]} == {"720p"}


@pytest.mark.parametrize(
    "args,message",
    [
        (["--grid", "nope", "--out", "{tmp}/x.zip"], "no such comparison"),
        (["--collection", "nope", "--out", "{tmp}/x.zip"], "no such collection"),
        (["--query", "zzqxnomatch", "--out", "{tmp}/x.zip"], "no take matches"),
        (["--grid", "{grid}", "--out", "{tmp}/missing/x.zip"], "does not exist"),
        (["--grid", "{grid}", "--out", "{tmp}"], "is a folder"),
        (["--query", "", "--out", "{tmp}/x.zip", "--video", "{tmp}/x.mp4"], "use it with --grid"),
        (["--grid", "{grid}", "--starred", "--out", "{tmp}/x.zip"], "use it with --query"),
        (["--grid", "{grid}", "--out", "{tmp}/x.zip", "--video", "{tmp}/x.zip"], "three different files"),
        (["--out", "{tmp}/x.zip"], "one of the arguments"),
        (["--query", "", "--since", "yesterday", "--out", "{tmp}/x.zip"], "a date such as"),
    ],
)
def test_studio_export_refuses_bad_input_in_one_line(export_studio, sim, monkeypatch, capsys, tmp_path, args, message):
    services, grid_id = export_studio
    use_sim_env(monkeypatch, sim)
    monkeypatch.setenv("STUDIO_DATA_DIR", str(services.settings.data_dir))
    filled = [a.format(tmp=tmp_path, grid=grid_id) for a in args]
    try:
        code, out, err = run_cli(capsys, *filled)
    except SystemExit as stop:  # argparse's own refusals
        code, err = int(stop.code or 0), capsys.readouterr().err
        out = ""
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("error:") and message in err, err
    assert not (tmp_path / "x.zip").exists()


def test_paths_left_in_zip_names_never_leave_the_media_folder(tmp_path):
    media = tmp_path / "media"
    media.mkdir()
    (tmp_path / "secret.txt").write_text("x")
    gen = Generation(
        **VideoGenerationParams(prompt="p").model_dump(),
        id="g1",
        created_at=utcnow(),
        status="done",
        video_path="../secret.txt",
        thumb_path=None,
    )
    selected = svc.Selected(svc.Selection("generation", "g1"), title="t", owner="", created_at=None, items=[gen])
    [member] = exports.members(selected, media)
    assert member.video is None and member.video_name is None
    assert Path(exports.file_names("Neon / street: 9:16!")["zip"]).name == "neon-street-9-16.zip"


def test_m017_adds_the_exports_table_to_a_database_with_rows(tmp_path):
    import sqlite3

    from sqlite_utils import Database

    from studio.migrations import migrations
    from studio.store import HistoryStore

    path = tmp_path / "old.db"
    db = Database(sqlite3.connect(path))
    migrations.apply(db, stop_before="m017_exports")
    db.execute("INSERT INTO generations (id, created_at, prompt, status) VALUES ('old1', '2026-01-01', 'old', 'done')")
    db.execute(
        "INSERT INTO collections (id, created_at, updated_at, name) VALUES ('c1', '2026-01-01', '2026-01-01', 'Board')"
    )
    db.conn.commit()
    assert "exports" not in db.table_names()
    db.close()
    store = HistoryStore(path)
    assert migrations.pending(store.db) == []
    assert store.get("old1") is not None and store.get_collection("c1") is not None
    columns = store.db.table("exports").columns_dict
    for name in ("id", "selection_kind", "selection_ref", "kinds", "status", "progress", "error", "files"):
        assert name in columns
    for name in ("created_by", "created_at", "finished_at", "process"):
        assert name in columns
    store.db.table("exports").insert(
        {"id": "e1", "selection_kind": "collection", "selection_ref": "c1", "kinds": '["zip"]', "created_at": "x"}
    )
    [row] = store.db.query("SELECT status, progress, files FROM exports")
    assert row == {"status": "queued", "progress": 0.0, "files": "[]"}


KILLED_SCRIPT = """
import sys, time
from studio import services as svc
from studio.settings import Settings
services = svc.build_services(
    Settings(api_key=sys.argv[1], base_url=sys.argv[2], data_dir=sys.argv[3]), start_worker=False
)
job = svc.start_export(services, svc.Selection("grid", sys.argv[4]), ["video"])
while svc.export_job(services, job.id).status != "running":
    time.sleep(0.02)
print(job.id, flush=True)
time.sleep(120)
"""


def test_a_process_killed_while_exporting_leaves_the_export_interrupted(export_studio, sim):
    import subprocess
    import sys

    services, grid_id = export_studio
    assert services.settings.api_key is not None
    argv = [services.settings.api_key.get_secret_value(), sim.base_url, str(services.settings.data_dir), grid_id]
    proc = subprocess.Popen([sys.executable, "-c", KILLED_SCRIPT, *argv], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        export_id = proc.stdout.readline().strip()
        running = svc.export_job(services, export_id)
        assert running is not None and running.status == "running"  # its process is alive: left alone
    finally:
        proc.kill()  # kill -9: no clean-up of any kind
        proc.wait(30)
    job = svc.export_job(services, export_id)
    assert job is not None and job.status == "interrupted" and job.error == export_jobs.INTERRUPTED_MESSAGE
    assert not (export_jobs.exports_dir(services) / export_id).exists()


def test_a_collection_exports_as_cards_with_who_added_each(export_studio, tmp_path):
    services, grid_id = export_studio
    cells = svc.resolve(services, svc.Selection("grid", grid_id)).items
    board = svc.create_collection(services, "Client picks", description="Shortlist <for> Friday", owner="Ana")
    svc.add_to_collection(services, board.id, [cells[3].id, cells[0].id], added_by="Ben")
    selected = svc.resolve(services, svc.Selection("collection", board.id))
    out = tmp_path / "board.zip"
    exports.write_zip(selected, services.settings.media_dir, out)
    with zipfile.ZipFile(out) as z:
        page = z.read("index.html").decode()
        meta = json.loads(z.read("metadata.json"))
        names = set(z.namelist())
    assert [i["id"] for i in meta["items"]] == [cells[3].id, cells[0].id]  # the collection's order
    assert {i["added_by"] for i in meta["items"]} == {"Ben"} and meta["owner"] == "Ana"
    refs = Refs()
    refs.feed(page)
    assert len(refs.videos) == 2 and "table" not in refs.tags and all(v["src"] in names for v in refs.videos)
    assert "Shortlist &lt;for&gt; Friday" in page and "Added by" in page
    assert exports.file_names(selected.title)["zip"] == "client-picks.zip"


def test_the_comparison_video_fills_a_failed_cell_and_works_with_one_cell(export_studio, tmp_path):
    services, _ = export_studio
    full = grid_selected(export_studio)
    four = [g for g in full.items if g.duration == "4"]
    failed = [four[0].model_copy(update={"status": "failed", "error": "boom"}), *four[1:]]
    partial = svc.Selected(full.selection, title="t", owner="", created_at=None, items=failed)
    partial.layout = svc.grid_layout(failed)
    plan = exports.mosaic(partial, exports.members(partial, services.settings.media_dir))
    assert [label.endswith("failed") for m, label in plan.cells if m is None] == [True]
    size = exports.write_comparison_video(partial, services.settings.media_dir, tmp_path / "p.mp4")
    one = svc.Selected(full.selection, title="t", owner="", created_at=None, items=four[:1])
    one.layout = svc.grid_layout(four[:1])
    single = exports.write_comparison_video(one, services.settings.media_dir, tmp_path / "one.mp4")
    for path, expected in ((tmp_path / "p.mp4", size), (tmp_path / "one.mp4", single)):
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            assert (stream.width, stream.height) == expected and stream.frames == round(4.04 * 24)
    assert size == (2 * plan.box_w, 2 * (plan.box_h + plan.label_h))


@pytest.mark.usefixtures("backend")
def test_an_export_job_is_queued_claimed_finished_and_expired_on_each_backend(idle):
    gen_id = add_done(idle, "A kite over the dunes")
    idle.settings.media_dir.mkdir(parents=True, exist_ok=True)
    for name in (f"{gen_id}.mp4", f"{gen_id}.jpg"):
        (idle.settings.media_dir / name).write_bytes(b"stand-in bytes: a ZIP stores files as they are")
    try:
        job = svc.start_export(idle, svc.Selection("generation", gen_id), ["zip"], created_by="Ana")
        deadline = time.monotonic() + 60
        while (now := svc.export_job(idle, job.id)) is not None and now.active and time.monotonic() < deadline:
            time.sleep(0.1)
        assert now is not None and now.status == "done", now
        assert now.progress == 1.0 and now.files and now.created_by == "Ana"
        assert [j.id for j in svc.recent_exports(idle)] == [job.id]
        later = datetime.now(UTC) + timedelta(days=export_jobs.KEEP_EXPORTS_DAYS + 1)
        assert export_jobs.clean_old_exports(idle, now=later) == 1
        gone = svc.export_job(idle, job.id)
        assert gone is not None and gone.status == "expired" and gone.files == []
    finally:
        svc.stop_export_workers()
