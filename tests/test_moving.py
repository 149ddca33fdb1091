"""Moving a studio (`studio migrate`, studio.moving): a SQLite studio with history (takes with real
videos, a comparison, a collection, votes, comments, a share link, an export) copied into other
stores, a run cut short and resumed, a second run that copies nothing, targets refused."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from typing import Any

import httpx
import pytest
from postgres_server import free_port
from support import ROOT, finish_with_clip, settings_for

from studio import cli, media, moving
from studio import services as svc
from studio.models import VideoGenerationParams
from studio.store import HistoryStore

EXPORT_WAIT_S = 60


def _history(studio) -> dict:
    "A studio with some of everything: returns what a moved studio must show the same."
    base = VideoGenerationParams(prompt="a red kite over the dunes", duration="4")
    grid_id, ids = svc.start_grid(studio, base, resolutions=["480p"], aspect_ratios=["16:9", "9:16"], author="ana")
    for gen_id, (w, h) in zip(ids, [(864, 496), (496, 864)], strict=True):
        finish_with_clip(studio, gen_id, width=w, height=h, seconds=1, text=gen_id)
        media.make_thumbnail(studio.settings.media_dir / f"{gen_id}.mp4", studio.settings.media_dir / f"{gen_id}.jpg")
        studio.store.update(gen_id, thumb_path=f"{gen_id}.jpg")
    svc.set_starred(studio, ids[0], True)
    svc.set_tags(studio, ids[1], ["kites"])
    coll = svc.create_collection(studio, "Best kites", owner="ana")
    svc.add_to_collection(studio, coll.id, ids, added_by="ana")
    svc.record_vote(studio, "bo", ids[0], ids[1], "a")
    svc.add_comment(studio, ids[0], "bo", "the dune at 0:00 is great", at_s=0.5)
    link = svc.ShareLinks(studio).create(svc.Selection("grid", grid_id), created_by="ana")
    job = svc.start_export(studio, svc.Selection("grid", grid_id), ["zip"], created_by="ana")
    deadline = time.monotonic() + EXPORT_WAIT_S
    while (found := svc.export_job(studio, job.id)) is not None and found.status not in ("done", "failed"):
        assert time.monotonic() < deadline, "the export did not finish"
        time.sleep(0.1)
    return {"grid": grid_id, "ids": ids, "collection": coll.id, "token": link.token}


def _seen(studio, made: dict) -> dict:
    "What a person sees of the history: the gallery, the comparison, the collection, the threads, the link."
    shared = svc.ShareLinks(studio).open(made["token"])
    return {
        "gallery": [g.model_dump() for g in svc.history(studio)],
        "search": [g.id for g in svc.history(studio, svc.GalleryQuery(text="kite"))],
        "collection": [g.id for g in svc.collection_items(studio, made["collection"])],
        "comments": [c.body for c in svc.comments(studio, made["ids"][0])],
        "votes": len(svc.votes(studio)),
        "shared": [g.id for g in shared.selected.items],
        "exports": [(e.id, e.status) for e in svc.recent_exports(studio)],
    }


@pytest.fixture
def old_studio(clean_sim, tmp_path):
    services = svc.build_services(settings_for(clean_sim, tmp_path / "old"), start_worker=False)
    made = _history(services)
    yield services, made
    services.close()


def _rows(store: HistoryStore, tables) -> dict:
    return {t: store.query(f'SELECT * FROM "{t}" ORDER BY rowid') for t in tables}


def test_a_move_copies_every_row_keeps_rowids_resumes_and_a_second_run_copies_nothing(old_studio, tmp_path):
    old, made = old_studio
    source = HistoryStore(old.settings.db_path)
    target = HistoryStore(tmp_path / "new" / "studio.db")
    tables = moving.Move(source, target).tables()
    assert {"generations", "collections", "collection_items", "votes", "comments", "share_links", "exports"} <= set(
        tables
    )
    assert not [t for t in tables if t.startswith(("generations_fts", "_"))]
    before = _rows(source, tables)

    stopped = moving.Move(source, target, batch_rows=2, stop_after=3).run()
    assert stopped.stopped and not stopped.ok
    assert sum(t.copied for t in stopped.tables.values()) == 3

    resumed = moving.Move(source, target, batch_rows=2).run()
    assert resumed.ok and not resumed.stopped
    total = sum(t.source for t in resumed.tables.values())
    assert sum(t.copied for t in resumed.tables.values()) == total - 3
    assert _rows(target, tables) == before == _rows(source, tables)  # rowids too; the source unchanged

    again = moving.Move(source, target).run()
    assert again.ok and sum(t.copied + t.updated for t in again.tables.values()) == 0
    assert json.loads(json.dumps(again.as_json()))["tables"]["generations"]["target"] == len(made["ids"])


def test_a_row_changed_in_the_source_since_an_earlier_move_is_brought_up_to_date(old_studio, tmp_path):
    old, made = old_studio
    source = HistoryStore(old.settings.db_path)
    target = HistoryStore(tmp_path / "new" / "studio.db")
    assert moving.Move(source, target).run().ok
    svc.set_notes(old, made["ids"][1], "windier")
    report = moving.Move(source, target).run()
    assert report.ok and report.tables["generations"].updated == 1
    assert target.query("SELECT notes FROM generations WHERE id = ?", [made["ids"][1]])[0]["notes"] == "windier"


def test_a_target_holding_another_studios_rows_is_refused_before_anything_is_written(old_studio, idle, tmp_path):
    old, _ = old_studio
    other = svc.start_grid(idle, VideoGenerationParams(prompt="someone else's"), resolutions=["480p"])[1]
    target = HistoryStore(idle.settings.db_path)
    before = target.query("SELECT COUNT(*) AS n FROM generations")[0]["n"]
    with pytest.raises(moving.MoveError, match="another studio"):
        moving.Move(HistoryStore(old.settings.db_path), target).run()
    assert target.query("SELECT COUNT(*) AS n FROM generations")[0]["n"] == before == len(other)


def _migrate(capsys, monkeypatch, studio, *args: str) -> tuple[int, Any, str]:
    "`studio migrate ARGS` run on `studio`'s data folder: (exit status, its JSON line or None, stderr)."
    monkeypatch.setenv("STUDIO_DATA_DIR", str(studio.settings.data_dir))
    code = cli.main(["migrate", *args])
    out, err = capsys.readouterr()
    lines = out.strip().splitlines()
    return code, json.loads(lines[-1]) if lines else None, err


def test_studio_migrate_moves_the_studio_and_the_moved_studio_shows_the_same(
    old_studio, clean_sim, tmp_path, capsys, monkeypatch
):
    old, made = old_studio
    seen = _seen(old, made)
    new_dir = tmp_path / "new"
    url = f"sqlite:///{new_dir / 'studio.db'}"
    media_args = ("--to-media", str(new_dir / "media"))
    code, report, err = _migrate(capsys, monkeypatch, old, "--to-database", url, *media_args)
    assert code == 0, err
    assert report["ok"] and report["tables"]["generations"] == {
        "source": 2,
        "target": 2,
        "copied": 2,
        "updated": 0,
    }
    videos = sorted(p.name for p in old.settings.media_dir.iterdir())
    assert len(videos) == 4 and report["files"] == {
        "checked": 4,
        "copied": 4,
        "bytes_copied": sum((old.settings.media_dir / n).stat().st_size for n in videos),
        "mismatched": [],
    }
    assert "STUDIO_DATABASE_URL=" in err and report["next"]["STUDIO_DATABASE_URL"] == url
    # Not a terminal: plain progress lines (no \r running them together), each one ended.
    assert "\r" not in err and err.endswith("then remove them.\n")
    assert "studio migrate: generations: 2 rows copied, 0 updated\n" in err
    moved = svc.build_services(settings_for(clean_sim, new_dir), start_worker=False)
    try:
        assert _seen(moved, made) == seen
    finally:
        moved.close()
    code, again, _ = _migrate(capsys, monkeypatch, old, "--to-database", url, *media_args)
    assert code == 0 and not any(t["copied"] or t["updated"] for t in again["tables"].values())
    assert again["files"]["checked"] == 4 and again["files"]["copied"] == 0


@pytest.mark.parametrize(
    "args,message",
    [
        ((), "--to-database URL, --to-media URL, or both"),
        (("--to-database", "sqlite:///{own}"), "this studio's own history"),
        (("--to-database", "mysql://root:pw@db/studio"), "--to-database must be unset, sqlite:///path or postgresql"),
        (("--to-media", "{media}"), "this studio's own media folder"),
        (("--to-media", "ftp://host/x"), "--to-media must be an absolute folder path (/srv/studio/media) or s3://"),
        (("--to-media", "migr/prod"), "--to-media must be an absolute folder path (/srv/studio/media) or s3://bucket"),
    ],
)
def test_bad_targets_are_one_line_and_exit_2(old_studio, capsys, monkeypatch, args, message):
    old, _ = old_studio
    args = tuple(a.format(own=old.settings.db_path, media=old.settings.media_dir) for a in args)
    code, report, err = _migrate(capsys, monkeypatch, old, *args)
    assert (code, report) == (2, None)
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err and "pw@" not in err


def test_a_folder_with_no_history_is_refused_and_left_empty(tmp_path, capsys, monkeypatch):
    empty = tmp_path / "nothing"
    empty.mkdir()
    monkeypatch.setenv("STUDIO_DATA_DIR", str(empty))
    assert cli.main(["migrate", "--to-database", f"sqlite:///{tmp_path / 't.db'}"]) == 2
    assert "There is no studio history" in capsys.readouterr().err
    assert list(empty.iterdir()) == [] and not (tmp_path / "t.db").exists()


def test_the_settings_to_use_next_never_show_a_password():
    url = "postgresql://studio:s3cret-pw@db.example:5432/studio"
    shown = moving.next_settings(url, "s3://bucket/prefix")
    assert shown == {
        "STUDIO_DATABASE_URL": "postgresql://studio:***@db.example:5432/studio",
        "STUDIO_MEDIA_URL": "s3://bucket/prefix",
    }


def test_a_target_from_a_newer_studio_is_refused(old_studio, tmp_path, capsys, monkeypatch):
    old, _ = old_studio
    newer = tmp_path / "newer.db"
    HistoryStore(newer).execute("PRAGMA user_version = 99")
    code, report, err = _migrate(capsys, monkeypatch, old, "--to-database", f"sqlite:///{newer}")
    assert (code, report) == (2, None) and "newer version of the studio" in err


def _s3_env(monkeypatch, seaweed, **overrides: str) -> None:
    for name, value in {**seaweed.environment(), **overrides}.items():
        monkeypatch.setenv(name, value)


def _sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def test_a_move_into_postgresql_and_s3_stops_part_way_resumes_and_the_moved_studio_plays_the_same_videos(
    old_studio, clean_sim, seaweed, postgres_url, tmp_path, capsys, monkeypatch
):
    old, made = old_studio
    seen = _seen(old, made)
    bucket = seaweed.make_bucket(f"move-{uuid.uuid4().hex[:8]}")
    _s3_env(monkeypatch, seaweed)
    to_db, to_media = postgres_url, f"s3://{bucket}/studio"

    source = HistoryStore(old.settings.db_path)
    rows = sum(len(source.query(f'SELECT 1 FROM "{t}"')) for t in moving.Move(source, None).tables())
    move = moving.open_move(old.settings, to_database=to_db, to_media=to_media, stop_after=rows + 2)
    stopped = move.run()
    move.close()
    assert stopped.stopped and stopped.files is not None
    assert stopped.files.copied == 2
    code, report, err = _migrate(capsys, monkeypatch, old, "--to-database", to_db, "--to-media", to_media)
    assert code == 0, err
    assert report["files"]["checked"] == 4 and report["files"]["copied"] == 2
    assert report["next"] == {"STUDIO_DATABASE_URL": to_db, "STUDIO_MEDIA_URL": to_media}
    code, again, _ = _migrate(capsys, monkeypatch, old, "--to-database", to_db, "--to-media", to_media)
    assert code == 0 and again["files"]["copied"] == 0 and again["files"]["checked"] == 4
    assert not any(t["copied"] or t["updated"] for t in again["tables"].values())  # equal across dialects too
    assert all(t["source"] == t["target"] for t in again["tables"].values())

    moved = svc.build_services(
        settings_for(clean_sim, tmp_path / "replica", database_url=to_db, media_url=to_media), start_worker=False
    )
    try:
        assert _seen(moved, made) == seen
        for gen_id in made["ids"]:
            url = moved.media.url(f"{gen_id}.mp4")
            assert url.startswith(seaweed.endpoint)
            played = httpx.get(url, timeout=10).content
            assert _sha(played) == _sha((old.settings.media_dir / f"{gen_id}.mp4").read_bytes())
    finally:
        moved.close()


@pytest.mark.parametrize(
    "case,message",
    [
        ("wrong secret", "refused the credentials"),
        ("no such bucket", "no such bucket"),
        ("unreachable", "cannot be reached"),
    ],
)
def test_a_bad_s3_target_is_one_line_without_the_secret_and_exit_2(
    old_studio, seaweed, tmp_path, capsys, monkeypatch, case, message
):
    old, _ = old_studio
    bucket = seaweed.make_bucket(f"bad-{uuid.uuid4().hex[:8]}")
    wrong = {"AWS_SECRET_ACCESS_KEY": "wrong-secret-0042"} if case == "wrong secret" else {}
    if case == "unreachable":
        wrong = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"}
    _s3_env(monkeypatch, seaweed, **wrong)
    target = f"s3://{'missing-bucket-x' if case == 'no such bucket' else bucket}/p"
    code, report, err = _migrate(capsys, monkeypatch, old, "--to-media", target)
    assert (code, report) == (2, None)
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err
    assert seaweed.secret_key not in err and "wrong-secret-0042" not in err
    assert "STUDIO_MEDIA_URL" not in err  # the flag typed, not the setting it stands for
    if case == "no such bucket":
        assert "fix the bucket in --to-media" in err


@pytest.mark.parametrize("case", ["another studio", "newer schema", "unknown role", "unreachable"])
def test_a_bad_postgresql_target_is_one_line_without_the_password_and_exit_2(
    old_studio, idle, pg_server, postgres_url, tmp_path, capsys, monkeypatch, case
):
    old, _ = old_studio
    url = postgres_url
    if case == "another studio":
        svc.start_grid(idle, VideoGenerationParams(prompt="someone else's"), resolutions=["480p"])
        other = moving.Move(HistoryStore(idle.settings.db_path), HistoryStore(url))
        assert other.run().ok
        other.close()
    elif case == "newer schema":
        store = HistoryStore(url)
        store.execute("INSERT INTO schema_migrations (name, applied_at) VALUES ('m099_future', '')")
        store.close()
    elif case == "unknown role":
        url = url.replace("postgresql://postgres@", "postgresql://nobody:pw-s3cret@")
    else:
        url = f"postgresql://postgres:pw-s3cret@127.0.0.1:{free_port()}/studio"
    database = postgres_url.rsplit("/", 1)[1]
    kept = case in ("another studio", "newer schema")
    before = pg_server.sql("SELECT COUNT(*) FROM generations", database) if kept else None
    code, report, err = _migrate(capsys, monkeypatch, old, "--to-database", url)
    assert (code, report) == (2, None) and err.count("\n") == 1 and err.startswith("error: ")
    assert "s3cret" not in err
    assert "STUDIO_DATABASE_URL" not in err  # the flag typed, not the setting it stands for
    if case in ("unknown role", "unreachable", "newer schema"):
        assert "--to-database" in err
    if kept:
        assert pg_server.sql("SELECT COUNT(*) FROM generations", database) == before


def test_a_relative_media_target_is_refused_and_nothing_is_created(old_studio, tmp_path, capsys, monkeypatch):
    old, _ = old_studio
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    code, report, err = _migrate(capsys, monkeypatch, old, "--to-media", "migr/prod")
    assert (code, report) == (2, None) and err.count("\n") == 1
    assert err.startswith("error: --to-media must be an absolute folder path") and "did you mean s3://migr/prod?" in err
    assert list(work.iterdir()) == []


MANY_FILES = 20_000  # enough that a move is still copying them when Ctrl-C comes after the first one
INTERRUPT_WAIT_S = 120


def _big_studio(folder) -> None:
    "A studio with an empty history and MANY_FILES small files in its media folder."
    HistoryStore(folder / "studio.db").close()
    (folder / "media").mkdir()
    for n in range(MANY_FILES):
        (folder / "media" / f"{n:05d}.jpg").write_bytes(n.to_bytes(4, "big") * 256)


def _command(folder, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "STUDIO_DATA_DIR": str(folder), "MOSAIC_API_KEY": ""}
    return subprocess.Popen(
        [sys.executable, "-m", "studio.cli", "migrate", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_ctrl_c_prints_what_was_done_so_far_exits_130_and_the_same_command_finishes(tmp_path):
    _big_studio(tmp_path / "old")
    args = ("--to-database", f"sqlite:///{tmp_path / 'new.db'}", "--to-media", str(tmp_path / "new-media"))
    proc = _command(tmp_path / "old", *args)
    assert proc.stderr is not None
    seen: list[str] = []
    while not any("media:" in line for line in seen):  # the first file is copied: interrupt the rest
        line = proc.stderr.readline()
        assert line, f"studio migrate ended before copying a file: {seen}"
        seen.append(line)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=INTERRUPT_WAIT_S)
    assert proc.returncode == 130, err
    report = json.loads(out)  # one JSON line, and only that, on stdout
    assert report["stopped"] is True and report["ok"] is False
    assert 0 < report["files"]["copied"] < MANY_FILES and report["files"]["mismatched"] == []
    assert set(report["tables"]) >= {"generations"} and report["next"]["STUDIO_MEDIA_URL"]
    assert err.endswith(
        "interrupted; run the same command again to finish the move (what is there is checked, not copied twice)\n"
    )
    assert "Traceback" not in err and "\r" not in "".join(seen) + err
    done = report["files"]["copied"]

    again = _command(tmp_path / "old", *args)
    out, err = again.communicate(timeout=INTERRUPT_WAIT_S)
    assert again.returncode == 0, err
    finished = json.loads(out)
    assert finished["ok"] and not finished["stopped"] and finished["files"]["checked"] == MANY_FILES
    assert finished["files"]["copied"] in (MANY_FILES - done - 1, MANY_FILES - done)  # one copied, not yet counted
    assert len(list((tmp_path / "new-media").iterdir())) == MANY_FILES


PG_PASSWORD = "m0ve/Pw+s3cret"  # a `/` and a `+`: in a URL they must be percent-encoded
ENCODED_PASSWORD = "m0ve%2FPw%2Bs3cret"


def test_a_database_url_without_the_password_uses_pgpassword_and_never_shows_it(
    old_studio, clean_sim, pg_server, tmp_path, capsys, monkeypatch
):
    "The password stays off the command line: libpq reads PGPASSWORD (or ~/.pgpass) when the URL has none."
    old, made = old_studio
    role = pg_server.password_role(PG_PASSWORD)
    url = pg_server.fresh_database("pgpw", owner=role)
    assert ":" not in url.split("//", 1)[1].split("@", 1)[0]  # no password in the URL
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "no-pgpass"))
    monkeypatch.delenv("PGPASSWORD", raising=False)
    code, report, err = _migrate(capsys, monkeypatch, old, "--to-database", url)
    assert (code, report) == (2, None) and err.startswith("error: ") and err.count("\n") == 1
    assert "refused the studio's user name or password" in err and "PGPASSWORD" in err and "--to-database" in err

    monkeypatch.setenv("PGPASSWORD", "wrong-" + PG_PASSWORD)
    code, report, err = _migrate(capsys, monkeypatch, old, "--to-database", url)
    assert (code, report) == (2, None) and "refused" in err and "wrong-" not in err and "m0ve" not in err

    monkeypatch.setenv("PGPASSWORD", PG_PASSWORD)
    code, report, err = _migrate(capsys, monkeypatch, old, "--to-database", url)
    assert code == 0, err
    assert report["ok"] and report["next"] == {"STUDIO_DATABASE_URL": url}
    assert "m0ve" not in err + json.dumps(report)

    # The studio on it: STUDIO_DATABASE_URL with no password (the pool's connections read PGPASSWORD too).
    moved = svc.build_services(settings_for(clean_sim, tmp_path / "replica", database_url=url), start_worker=False)
    try:
        assert sorted(g.id for g in svc.history(moved)) == sorted(made["ids"])
        assert "m0ve" not in moved.store.described
    finally:
        moved.close()

    # Or in the URL, percent-encoded: it works, and is shown as ***.
    monkeypatch.delenv("PGPASSWORD")
    in_url = url.replace(f"//{role}@", f"//{role}:{ENCODED_PASSWORD}@")
    code, report, err = _migrate(capsys, monkeypatch, old, "--to-database", in_url)
    assert code == 0, err
    assert report["next"]["STUDIO_DATABASE_URL"] == url.replace(f"//{role}@", f"//{role}:***@")
    assert "m0ve" not in err + json.dumps(report)
