"""The database layer: STUDIO_DATABASE_URL, the portable calls every use-case makes (query, execute,
insert, transaction; on SQLite and PostgreSQL), and what the store says about where it is."""

from __future__ import annotations

import threading

import pytest

from studio.dialects import redacted_url
from studio.errors import ParamsError, SettingsError
from studio.settings import Settings, load
from studio.store import HistoryStore


def test_unset_database_url_keeps_the_sqlite_file_in_the_data_folder(tmp_path):
    settings = Settings(data_dir=tmp_path)
    assert settings.database_url is None
    store = HistoryStore.for_settings(settings)
    assert (store.dialect, store.path) == ("sqlite", tmp_path / "studio.db")
    assert store.described == f"SQLite {tmp_path / 'studio.db'}"


def test_a_sqlite_url_names_the_file(tmp_path):
    target = tmp_path / "elsewhere" / "h.db"
    store = HistoryStore.for_settings(Settings(data_dir=tmp_path, database_url=f"sqlite:///{target}"))
    assert store.path == target and target.is_file()


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("mysql://root:hunter2@db/studio", "must be unset, sqlite:///path or postgresql://"),
        ("hunter2", "(got no scheme)"),
        ("sqlite://relative.db", "sqlite:/// and the file's path"),
        ("postgresql://u:hunter2@db:port/studio", "check the port"),
        ("postgresql://u:hunter2@db:5432", "names the database"),
    ],
)
def test_a_bad_database_url_is_one_settings_error_without_the_password(monkeypatch, url, says):
    monkeypatch.setenv("STUDIO_DATABASE_URL", url)
    with pytest.raises(SettingsError) as caught:
        load()
    message = str(caught.value)
    assert "STUDIO_DATABASE_URL" in message and says in message
    assert "hunter2" not in message


def test_a_postgresql_url_is_accepted_as_given(tmp_path):
    url = "postgresql://studio:s3cret@db.internal:5432/studio"
    assert Settings(data_dir=tmp_path, database_url=url).database_url == url
    assert Settings(data_dir=tmp_path, database_url="  ").database_url is None


def test_redaction_hides_only_the_password():
    assert redacted_url("postgresql://studio:s3cret@db:5432/h") == "postgresql://studio:***@db:5432/h"
    assert redacted_url("postgresql://studio@db/h") == "postgresql://studio@db/h"


def test_insert_and_ignore(any_store):
    store = any_store
    row = {"name": "wide", "params": "{}", "created_at": "t", "updated_at": "t"}
    store.insert("presets", row)
    store.insert("presets", {**row, "params": '{"x": 1}'}, on_conflict="ignore")
    assert store.query("SELECT params FROM presets") == [{"params": "{}"}]
    with pytest.raises(ParamsError):
        store.insert("presets; DROP TABLE presets", row)


def test_a_transaction_commits_together_or_not_at_all(any_store):
    store = any_store
    row = {"name": "a", "params": "{}", "created_at": "t", "updated_at": "t"}
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.insert("presets", row)
        assert tx.query("SELECT count(*) AS n FROM presets") == [{"n": 1}]
        raise RuntimeError("stop")
    assert store.query("SELECT count(*) AS n FROM presets") == [{"n": 0}]
    with store.transaction() as tx:
        tx.insert("presets", row)
        assert tx.execute("UPDATE presets SET params = ? WHERE name = ?", ['{"y": 2}', "a"]) == 1
    assert store.query("SELECT params FROM presets") == [{"params": '{"y": 2}'}]


def test_transactions_serialize_read_then_write(any_store):
    "Every thread reads a counter and writes it plus one: no increment is lost."
    store = any_store
    store.insert("presets", {"name": "n", "params": "0", "created_at": "t", "updated_at": "t"})

    def bump():
        for _ in range(25):
            with store.transaction() as tx:
                [row] = tx.query("SELECT params FROM presets WHERE name = 'n'")
                tx.execute("UPDATE presets SET params = ? WHERE name = 'n'", [str(int(row["params"]) + 1)])

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.query("SELECT params FROM presets") == [{"params": "100"}]


def test_the_store_s_own_calls_inside_a_transaction_join_it(any_store):
    "As on SQLite (one connection per thread): a thread's write inside its transaction is part of it."
    store = any_store
    row = {"name": "a", "params": "{}", "created_at": "t", "updated_at": "t"}
    with pytest.raises(RuntimeError), store.transaction() as tx:
        store.insert("presets", row)
        assert store.query("SELECT count(*) AS n FROM presets") == tx.query("SELECT count(*) AS n FROM presets")
        assert tx.query("SELECT count(*) AS n FROM presets") == [{"n": 1}]
        raise RuntimeError("stop")
    assert store.query("SELECT count(*) AS n FROM presets") == [{"n": 0}]
