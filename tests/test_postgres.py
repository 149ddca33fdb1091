"""The history on PostgreSQL: the schema stays the SQLite schema's twin, a newer schema is refused
as on SQLite, SQL reaches psycopg intact, and a database that cannot be used is one clear message
at start-up, never with the password in it. (The store's behaviour on both backends is the
contract suite: tests/test_store.py, tests/test_store_stacks.py, tests/test_database.py.)"""

from __future__ import annotations

import threading

import pytest
from postgres_server import free_port

from studio import cli
from studio.errors import StoreError
from studio.migrations import known_migrations
from studio.models import VideoGenerationParams
from studio.pg_schema import MIGRATIONS_TABLE, SEARCH_COLUMN, known_names
from studio.postgres import to_pyformat, tsquery
from studio.store import HistoryStore

# Tables only one dialect has: SQLite's full-text index and its shadow tables, and each
# dialect's record of the migrations applied.
SQLITE_ONLY = {"generations_fts", "_sqlite_migrations"}
POSTGRES_ONLY = {MIGRATIONS_TABLE}
POSTGRES_ONLY_COLUMNS = ("rowid", SEARCH_COLUMN)  # SQLite's rowid is implicit; its search is the FTS5 table


def sqlite_columns(store: HistoryStore) -> dict[str, list[str]]:
    tables = [t for t in store.db.table_names() if not t.startswith("generations_fts") and t not in SQLITE_ONLY]
    return {t: [c.name for c in store.db[t].columns] for t in tables}


def postgres_columns(store: HistoryStore) -> dict[str, list[str]]:
    rows = store.query(
        "SELECT table_name AS t, column_name AS c FROM information_schema.columns "
        "WHERE table_schema = 'public' ORDER BY table_name, ordinal_position"
    )
    out: dict[str, list[str]] = {}
    for row in rows:
        if row["t"] not in POSTGRES_ONLY and row["c"] not in POSTGRES_ONLY_COLUMNS:
            out.setdefault(row["t"], []).append(row["c"])
    return out


def test_the_postgresql_schema_has_the_sqlite_tables_and_columns(tmp_path, postgres_url, open_store):
    sqlite = sqlite_columns(open_store(tmp_path / "s.db"))
    postgres = postgres_columns(open_store(postgres_url))
    assert postgres == sqlite
    assert len(sqlite) >= 17 and "generations" in sqlite and "comments" in sqlite


def test_every_table_has_a_rowid_on_postgresql(postgres_url, open_store):
    store = open_store(postgres_url)
    tables = {
        r["t"]
        for r in store.query(
            "SELECT table_name AS t FROM information_schema.columns WHERE table_schema = 'public' "
            "AND column_name = 'rowid' AND is_identity = 'YES'"
        )
    }
    assert tables == set(postgres_columns(store))
    # Rows leave it (and the stored search vector) out, as SQLite's `SELECT *` does; aliased it is there.
    store.insert("presets", {"name": "p", "params": "{}", "created_at": "t", "updated_at": "t"})
    assert "rowid" not in store.query("SELECT * FROM presets")[0]
    assert store.query("SELECT rowid AS n FROM presets")[0]["n"] >= 1
    gen_id = store.add_generation(VideoGenerationParams(prompt="a kite"))
    [row] = store.query("SELECT * FROM generations WHERE id = ?", [gen_id])
    assert "rowid" not in row and SEARCH_COLUMN not in row and row["prompt"] == "a kite"


def test_both_dialects_know_the_same_migrations():
    assert known_names(known_migrations()) == known_migrations()


def test_a_database_from_a_newer_studio_is_refused_with_nothing_changed(postgres_url, open_store):
    store = open_store(postgres_url)
    store.execute(f"INSERT INTO {MIGRATIONS_TABLE} (name, applied_at) VALUES ('m999_future', 't')")
    store.insert("presets", {"name": "kept", "params": "{}", "created_at": "t", "updated_at": "t"})
    with pytest.raises(StoreError) as caught:
        HistoryStore(postgres_url)
    known = len(known_migrations())
    assert f"written by a newer version of the studio (schema {known + 1}; this studio knows {known})" in str(
        caught.value
    )
    assert "Nothing was changed" in str(caught.value)
    assert store.query("SELECT name FROM presets") == [{"name": "kept"}]


def test_many_first_opens_at_once_make_the_schema_once(postgres_url, open_store):
    errors: list[BaseException] = []
    start = threading.Barrier(5)

    def open_it():
        start.wait()
        try:
            open_store(postgres_url)
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=open_it) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    names = open_store(postgres_url).query(f"SELECT name FROM {MIGRATIONS_TABLE} ORDER BY name")
    assert [r["name"] for r in names] == sorted(known_migrations())


@pytest.mark.parametrize(
    ("portable", "psycopg"),
    [
        ("SELECT * FROM t WHERE a = ? AND b = ?", "SELECT * FROM t WHERE a = %s AND b = %s"),
        ("SELECT '?' AS q, ? AS p", "SELECT '?' AS q, %s AS p"),
        ("SELECT 'it''s 100%' WHERE x LIKE ?", "SELECT 'it''s 100%%' WHERE x LIKE %s"),
        ('SELECT "odd?name" FROM t -- a comment?\nWHERE a = ?', 'SELECT "odd?name" FROM t -- a comment?\nWHERE a = %s'),
        ("SELECT $$ body ? $$", "SELECT $$ body ? $$"),
    ],
)
def test_placeholders_are_rewritten_outside_literals_and_percent_is_escaped(portable, psycopg):
    assert to_pyformat(portable) == psycopg


def test_a_literal_percent_and_question_mark_reach_postgresql_intact(postgres_url, open_store):
    store = open_store(postgres_url)
    assert store.query("SELECT '100%' AS a, '?' AS b, ? AS c", ["x%?"]) == [{"a": "100%", "b": "?", "c": "x%?"}]


@pytest.mark.parametrize(
    ("text", "query"),
    [
        ("zebra", "('zebra':*)"),
        ("fox harb", "('fox':*) & ('harb':*)"),
        ("title:card", "('title' <-> 'card':*)"),
        ('"unterminated', "('unterminated':*)"),
        ("it's", "('it' <-> 's':*)"),
    ],
)
def test_search_words_become_quoted_prefixes(text, query):
    assert tsquery(text) == query


# ---------------------------------------------------------------------- start-up messages

ROLE_PASSWORD = "right-horse-battery"


@pytest.fixture
def password_role(pg_server):
    "A role that must give its password (scram): the test server trusts every other login."
    return pg_server.password_role(ROLE_PASSWORD)


def _start(monkeypatch, capsys, url: str) -> tuple[int, str]:
    "What `studio generate` says when STUDIO_DATABASE_URL is `url` (it opens the history first)."
    monkeypatch.setenv("STUDIO_DATABASE_URL", url)
    code = cli.main(["generate", "A lighthouse", "--resolution", "480p"])
    return code, capsys.readouterr().err


def test_wrong_password_unknown_role_database_and_port_are_each_one_line(
    monkeypatch, capsys, pg_server, password_role, postgres_url
):
    here = f"127.0.0.1:{pg_server.port}"
    new = postgres_url.rsplit("/", 1)[1]
    secret = "wrong-secret-9"
    cases = {
        f"postgresql://{password_role}:{secret}@{here}/{new}": "refused the studio's user name or password",
        f"postgresql://ghost_{secret}:{secret}@{here}/{new}": "refused the studio's user name or password",
        f"postgresql://postgres:{secret}@{here}/missing_db": "does not exist on that PostgreSQL server",
        f"postgresql://postgres:{secret}@127.0.0.1:{free_port()}/{new}": "cannot be reached",
    }
    for url, says in cases.items():
        code, err = _start(monkeypatch, capsys, url)
        assert code == 2, err
        assert err.startswith("error: ") and err.strip().count("\n") == 0, err
        assert says in err and "STUDIO_DATABASE_URL" in err, err
        assert secret not in err.replace(f"ghost_{secret}", "ghost_"), err  # the user name may be shown
    # The right password opens it (the role may use the new database's public schema).
    pg_server.sql(f"GRANT ALL ON SCHEMA public TO {password_role}", database=new)
    store = HistoryStore(f"postgresql://{password_role}:{ROLE_PASSWORD}@{here}/{new}")
    assert store.count() == 0 and ROLE_PASSWORD not in store.described
    store.close()


def test_a_newer_schema_is_one_line_at_start_up(monkeypatch, capsys, postgres_url):
    store = HistoryStore(postgres_url)
    store.execute(f"INSERT INTO {MIGRATIONS_TABLE} (name, applied_at) VALUES ('m999_future', 't')")
    store.close()
    code, err = _start(monkeypatch, capsys, postgres_url)
    assert code == 2 and err.strip().count("\n") == 0 and "newer version of the studio" in err, err
