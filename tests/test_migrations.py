"""Schema: migrations from an empty file, and from the previous schema with rows in it."""

from __future__ import annotations

import sqlite3

import pytest
from sqlite_utils import Database

from studio.migrations import migrations
from studio.models import VideoGenerationParams
from studio.store import GalleryQuery, HistoryStore

EXPECTED_TABLES = {"generations", "jobs", "agents", "agent_runs", "grids", "generations_fts", "references", "presets"}


def test_blank_database_gets_every_table(tmp_path):
    store = HistoryStore(tmp_path / "s.db")
    names = set(store.db.table_names())
    assert names >= EXPECTED_TABLES
    columns = store.db["generations"].columns_dict
    for column in (
        "prompt",
        "model",
        "resolution",
        "duration",
        "aspect_ratio",
        "generate_audio",
        "selected_context",
        "status",
        "error",
        "agent_id",
        "run_id",
        "render_id",
        "video_path",
        "thumb_path",
        "width",
        "height",
        "duration_s",
        "has_audio",
        "sha256",
        "author",
        "created_at",
        "finished_at",
        "grid_id",
        "cell_label",
    ):
        assert column in columns
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert migrations.pending(store.db) == []


def test_applying_twice_changes_nothing(tmp_path):
    HistoryStore(tmp_path / "s.db")
    db = Database(tmp_path / "s.db")
    before = db.execute("SELECT count(*) FROM _sqlite_migrations").fetchone()[0]
    migrations.apply(db)
    assert db.execute("SELECT count(*) FROM _sqlite_migrations").fetchone()[0] == before


# Every step since search existed: an old database upgrades with its rows and stays searchable.
UPGRADE_POINTS = [m.name for m in migrations._migrations if m.name > "m005"]


@pytest.mark.parametrize("stop_before", UPGRADE_POINTS)
def test_upgrade_from_previous_schema_keeps_rows(tmp_path, stop_before):
    path = tmp_path / "old.db"
    db = Database(sqlite3.connect(path))
    migrations.apply(db, stop_before=stop_before)
    db.execute(
        "INSERT INTO generations (id, created_at, prompt, status) "
        "VALUES ('old1', '2026-01-01T00:00:00+00:00', 'an old neon street', 'done')"
    )
    db.conn.commit()
    db.close()

    store = HistoryStore(path)
    assert migrations.pending(store.db) == []
    old = store.get("old1")
    assert old is not None and old.prompt == "an old neon street"
    assert [g.id for g in store.page(GalleryQuery(text="neon"))] == ["old1"]
    new_id = store.add_generation(VideoGenerationParams(prompt="a new neon sign"))
    assert {g.id for g in store.page(GalleryQuery(text="neon"))} == {"old1", new_id}
