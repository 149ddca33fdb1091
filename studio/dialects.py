"""Where the history lives and how SQL reaches it: the database URL, and one small class per
dialect (SQLite, PostgreSQL) holding what differs between them.

`HistoryStore` (studio.store) keeps every piece of logic and writes portable SQL (`?` placeholders,
`INSERT ... ON CONFLICT`, COALESCE, CASE, ISO-8601 text timestamps); a dialect opens connections,
runs statements, serializes writers (`transaction()`), applies the schema and turns its driver's
errors into `StoreError`s with a plain message. The few things SQL cannot say the same way on both
(full-text search, an index hint, reaching into JSON) are small methods here.
"""

from __future__ import annotations

import errno
import re
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import unquote, urlsplit, urlunsplit

from .errors import DiskFullError, ParamsError, StoreError
from .migrations import migrate as migrate_sqlite
from .sqlite_lib import Database

if TYPE_CHECKING:
    from .postgres import PostgresDialect

SQLITE_PREFIX = "sqlite:///"
POSTGRES_SCHEMES = ("postgresql", "postgres")
REDACTED = "***"
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
ON_CONFLICT = {"": "", "ignore": " ON CONFLICT DO NOTHING"}


def checked_database_url(url: str) -> str:
    """A `sqlite:///path` or `postgresql://...` URL, as given; ParamsError (a ValueError, for the
    settings validators) otherwise. The message never repeats the URL: it may hold a password."""
    url = url.strip()
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme == "sqlite":
        if not url.startswith(SQLITE_PREFIX) or not url[len(SQLITE_PREFIX) :].strip():
            raise ParamsError("a SQLite URL is sqlite:/// and the file's path, e.g. sqlite:////srv/studio/studio.db")
        return url
    if scheme in POSTGRES_SCHEMES:
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 (a bad port raises here)
        except ValueError:
            raise ParamsError(
                "is not a valid PostgreSQL URL (postgresql://user:password@host:5432/database); check the port"
            ) from None
        if not url.startswith(f"{scheme}://") or not parts.path.strip("/"):
            raise ParamsError("a PostgreSQL URL names the database: postgresql://user:password@host:5432/database")
        return url
    shown = f"{scheme}://…" if scheme else "no scheme"
    raise ParamsError(f"must be unset, sqlite:///path or postgresql://user:password@host:5432/database (got {shown})")


def redacted_url(url: str) -> str:
    "The URL with its password (if any) replaced by ***, for messages and logs."
    try:
        parts = urlsplit(url)
    except ValueError:
        return REDACTED
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:{REDACTED}@{host}"))


def sqlite_path(url: str) -> Path:
    "The file a sqlite:/// URL names."
    return Path(unquote(url[len(SQLITE_PREFIX) :]))  # sqlite:///relative/path, sqlite:////absolute/path


def insert_sql(table: str, columns: Sequence[str], on_conflict: str = "") -> str:
    "A portable INSERT of one row (`on_conflict`: '' or 'ignore'); names are checked, values are `?`."
    for name in (table, *columns):
        if not IDENTIFIER.fullmatch(name):
            raise ParamsError(f"{name!r} is not a table or column name")
    if on_conflict not in ON_CONFLICT:
        raise ParamsError(f"on_conflict must be '' or 'ignore', not {on_conflict!r}")
    cols = ", ".join(f'"{c}"' for c in columns)
    return f'INSERT INTO "{table}" ({cols}) VALUES ({", ".join("?" * len(columns))}){ON_CONFLICT[on_conflict]}'


class Cursor(Protocol):
    @property
    def description(self) -> Any: ...

    @property
    def rowcount(self) -> int: ...

    def fetchall(self) -> list[Any]: ...


Run = Callable[[str, Sequence[Any]], Cursor]  # one statement on the transaction's connection


def rows_of(cursor: Cursor, *, hidden: Sequence[str] = ()) -> list[dict[str, Any]]:
    "A cursor's rows as dicts (none for a statement that returns no rows), without the `hidden` columns."
    if cursor.description is None:
        return []
    names = [d[0] for d in cursor.description]
    rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    for name in set(hidden) & set(names):
        for row in rows:
            del row[name]
    return rows


class Transaction:
    """Portable statements inside one transaction (`HistoryStore.transaction()`): writers are
    serialized, so what is read here is still true when it is written."""

    def __init__(self, run: Run, rows: Callable[[Cursor], list[dict[str, Any]]] = rows_of):
        self._run = run
        self._rows = rows

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        "The rows of one read, as dicts."
        return self._rows(self._run(sql, params))

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        "One write; the rows it changed."
        return int(self._run(sql, params).rowcount)

    def execute_many(self, sql: str, params: Sequence[Sequence[Any]]) -> int:
        "One write per parameter list; the rows they changed."
        return sum(self.execute(sql, p) for p in params)

    def insert(self, table: str, row: dict[str, Any], *, on_conflict: str = "") -> None:
        "Insert one row (`on_conflict='ignore'`: a row whose key exists is skipped)."
        self._run(insert_sql(table, list(row), on_conflict), list(row.values()))


# ---------------------------------------------------------------------------------------- SQLite

BUSY_TIMEOUT_MS = 10_000
SCHEMA_LOCK_FILE = "schema.lock"  # beside studio.db: held while a process migrates (studio.migrations)
# Read through a memory map and keep a larger page cache: at a million generations a gallery
# search reads pages scattered over a ~1 GB file, and a read() per page costs more than the query.
MMAP_BYTES = 1 << 31
CACHE_KIB = 32 * 1024
MAX_STEPS = 2**31 - 1  # what SQLite's progress handler takes
SQLITE_MAX_PAGE_COUNT = 0xFFFFFFFE  # SQLite's largest page count (it lowers it to its build's limit)
PROBE_BYTES = 64 * 1024  # what `has_space` writes (and rolls back): more than a page or two of growth

# What a person can do about each SQLite failure, by primary result code (sqlite.org/rescode.html).
# {path} is the database file. Anything else falls back to SQLITE_HINT_OTHER with SQLite's own words.
SQLITE_HINTS = {
    sqlite3.SQLITE_BUSY: "The history database {path} is locked by another program; close other copies of the "
    "studio (or whatever holds it) and try again.",
    sqlite3.SQLITE_LOCKED: "The history database {path} is locked by another program; close other copies of the "
    "studio (or whatever holds it) and try again.",
    sqlite3.SQLITE_READONLY: "The history database {path} is read-only; give the studio write permission on the file "
    "and its folder.",
    sqlite3.SQLITE_PERM: "The studio may not open the history database {path}; check the file's permissions.",
    sqlite3.SQLITE_CANTOPEN: "The history database {path} cannot be opened; check that its folder exists and the "
    "studio may write there.",
    sqlite3.SQLITE_CORRUPT: "The history database {path} is damaged; move it aside (the studio starts a new one) or "
    "restore a backup.",
    sqlite3.SQLITE_NOTADB: "{path} is not a history database (or is damaged); move it aside (the studio starts a new "
    "one) or restore a backup.",
    sqlite3.SQLITE_FULL: "The disk holding the history database {path} is full; free some space and try again.",
    sqlite3.SQLITE_IOERR: "The history database {path} could not be read or written (a disk error); check the disk "
    "and try again.",
}
SQLITE_HINT_OTHER = "The history database {path} could not be read or written"


def store_error(err: sqlite3.Error | OSError, path: Path) -> StoreError:
    """A `StoreError` that says, in words a person understands, what went wrong with the database file;
    a `DiskFullError` when the disk is full, so the worker can wait for space instead of failing jobs."""
    if isinstance(err, OSError):
        cls = DiskFullError if err.errno == errno.ENOSPC else StoreError
        return cls(f"The history database's folder {path.parent} cannot be used: {err.strerror or err}")
    code = getattr(err, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None  # extended codes keep it low
    hint = SQLITE_HINTS.get(primary) if primary is not None else None
    if hint is None:
        return StoreError(f"{SQLITE_HINT_OTHER.format(path=path)}: {err}")
    cls = DiskFullError if primary == sqlite3.SQLITE_FULL else StoreError
    return cls(f"{hint.format(path=path)} (SQLite: {err})")


class _Probed(Exception):
    "Ends `has_space`'s transaction: the write fitted, and is rolled back."


def fts_words(text: str) -> list[str]:
    "The search box's words as SQLite's FTS5 reads them: split at white space (each then a quoted prefix)."
    return [word for word in text.split(" ") if word]


class SqliteDialect:
    """The history in one SQLite file: one connection per thread (sqlite3 objects must stay on the
    thread that made them), WAL mode with a busy timeout, and every read-modify-write in `BEGIN
    IMMEDIATE` so concurrent writers queue instead of failing. Every `sqlite3` error leaves as a
    `StoreError` whose message says what to do."""

    name = "sqlite"
    # A unary + on a column keeps SQLite's planner off that column's index (the gallery's hints).
    unindexed = "+"

    @staticmethod
    def skip_locked(alias: str) -> str:
        "A claim's row lock (studio.leases): none, the IMMEDIATE transaction is the only writer."
        return ""

    def __init__(
        self,
        path: Path,
        *,
        busy_timeout_ms: int,
        page_cap: Callable[[], int | None],
        on_statement: Callable[[str], None] | None = None,
    ):
        self.path = path
        self._on_statement = on_statement
        self.busy_timeout_ms = busy_timeout_ms
        # The test seam for a full disk (HistoryStore.max_page_count), read on every use.
        self._page_cap = page_cap
        self._local = threading.local()
        with self.translated():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self.path.exists() and not self.path.is_file():
                raise StoreError(
                    f"{self.path} is a folder (or another kind of file), not a history database; move it aside "
                    "and the studio starts a new database there, or set STUDIO_DATA_DIR to another folder"
                )
            migrate_sqlite(self.db, self.path, self.path.parent / SCHEMA_LOCK_FILE)

    @property
    def described(self) -> str:
        return f"SQLite {self.path}"

    @contextmanager
    def translated(self) -> Iterator[None]:
        "The boundary: a `sqlite3` (or folder) error inside becomes a `StoreError`."
        try:
            yield
        except (sqlite3.Error, OSError) as err:
            raise store_error(err, self.path) from err

    @property
    def db(self) -> Database:
        "This thread's connection, opened on first use."
        db = getattr(self._local, "db", None)
        if db is None:
            with self.translated():
                conn = sqlite3.connect(str(self.path), timeout=self.busy_timeout_ms / 1000)
                conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout_ms)}")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
                conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
                conn.set_trace_callback(self._on_statement)
            db = self._local.db = Database(conn)
            self._local.page_cap = None
        cap = self._page_cap()
        if self._local.page_cap != cap:  # the seam moved: tell this connection
            with self.translated():
                db.conn.execute(f"PRAGMA max_page_count={int(cap or SQLITE_MAX_PAGE_COUNT)}")
            self._local.page_cap = cap
        return db

    def close(self) -> None:
        "Close this thread's connection (others close when their threads end)."
        db = getattr(self._local, "db", None)
        if db is not None:
            self._local.db = None
            with self.translated():
                db.close()

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self.translated():
            return list(self.db.query(sql, params))

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self.translated():
            return int(self.db.execute(sql, params).rowcount)

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        # BEGIN IMMEDIATE takes the write lock up front: a deferred read-then-write fails at once
        # with "database is locked" when another thread writes (streamlit-notes.md §6).
        conn = self.db.conn
        with self.translated():
            conn.execute("BEGIN IMMEDIATE")
        try:
            yield Transaction(conn.execute)
        except BaseException as err:
            with suppress(sqlite3.Error):  # the error that stopped the work is the one to report
                conn.rollback()
            if isinstance(err, sqlite3.Error):
                raise store_error(err, self.path) from err
            raise
        else:
            with self.translated():
                conn.commit()

    def ping(self, wait_s: float) -> None:
        "Read the file's schema (a file that cannot be read is a `StoreError`); `wait_s` is PostgreSQL's."
        self.query("SELECT count(*) AS n FROM sqlite_master")

    def has_space(self) -> bool:
        """True when the database can grow again: a write of PROBE_BYTES in a transaction that is
        rolled back (nothing is kept). False on SQLITE_FULL; other errors raise `StoreError`."""
        try:
            with self.transaction() as tx:
                tx.execute("CREATE TABLE space_probe (data BLOB)")
                tx.execute("INSERT INTO space_probe VALUES (zeroblob(?))", [PROBE_BYTES])
                raise _Probed
        except _Probed:
            return True
        except DiskFullError:
            return False

    # -------------------------------------------------------------- SQL that differs

    def json_array_length(self, column: str, key: str) -> str:
        "SQL for the length of the JSON list under `key` in a TEXT column (NULL when absent)."
        return f"json_array_length({column}, '$.{key}')"

    def match(self, text: str) -> str | None:
        "The FTS5 expression for the search box: every word quoted (plain text), each a prefix."
        quoted = " ".join(f"{tok}*" for tok in self.db.quote_fts(text).split(" ") if tok)
        return quoted or None

    def matches(self, alias: str) -> str:
        "A clause true when row `alias` of generations matches the search (one `?`: the match)."
        return f"EXISTS (SELECT 1 FROM generations_fts WHERE generations_fts MATCH ? AND rowid = {alias}.rowid)"

    def search_only(self, after: bool) -> str:
        "One row per match of the search alone (one `?`, then the rowid to start after when `after`)."
        return "SELECT 1 FROM generations_fts WHERE generations_fts MATCH ?" + (" AND rowid < ?" if after else "")

    def search_select(
        self, columns: str, clauses: list[str], params: list[Any], match: str, after: int | None, narrow: bool
    ) -> tuple[str, list[Any], str]:
        """SELECT ... for a search plus WHERE `clauses` (on alias g), its parameters and its newest-first
        order. `narrow`: the filters name a few dozen rows (a comparison, a collection)."""
        if narrow:
            if after is not None:
                clauses = [*clauses, "g.rowid < ?"]
                params = [*params, after]
            # A comparison (or a collection) has a few dozen takes: start from them and look each up in the match list
            # (the `+` stops SQLite from walking the list and probing the grid index per match).
            sql = (
                f"SELECT {columns} FROM generations g WHERE "
                "+g.rowid IN (SELECT rowid FROM generations_fts WHERE generations_fts MATCH ?) AND "
                + " AND ".join(clauses)
            )
            return sql, [match, *params], "g.rowid DESC"
        # CROSS JOIN keeps the full-text index as the outer loop, read in rowid order, so SQLite
        # neither lists every match nor sorts them; the filters are checked on each row read.
        if after is not None:
            # On `f`, not `g`: the full-text index then starts past the page instead of at its start.
            clauses = [*clauses, "f.rowid < ?"]
            params = [*params, after]
        sql = (
            f"SELECT {columns} FROM generations_fts f CROSS JOIN generations g ON g.rowid = f.rowid "
            f"WHERE generations_fts MATCH ?{''.join(' AND ' + c for c in clauses)}"
        )
        return sql, [match, *params], "f.rowid DESC"

    def count_rows(self, sql: str, params: Sequence[Any], *, steps: int) -> tuple[int, bool]:
        """How many rows the query yields within `steps` SQLite steps, and whether it finished.

        SQLite calls the progress handler every `steps` steps; answering 1 interrupts the query.
        The rows are counted here as they come, so an interrupted count keeps what it found.
        """
        conn = self.db.conn
        found = 0
        conn.set_progress_handler(lambda: 1, min(steps, MAX_STEPS))
        try:
            for _row in conn.execute(sql, params):
                found += 1
        except sqlite3.Error as err:
            if getattr(err, "sqlite_errorcode", None) != sqlite3.SQLITE_INTERRUPT:
                raise store_error(err, self.path) from err
            return found, False
        finally:
            conn.set_progress_handler(None, 0)
        return found, True

    def explain(self, sql: str, params: Sequence[Any]) -> list[str]:
        "The query's plan, one line per step (read-only)."
        with self.translated():
            return [r[3] for r in self.db.execute(f"EXPLAIN QUERY PLAN {sql}", params)]


def open_dialect(
    where: str | Path,
    *,
    busy_timeout_ms: int,
    page_cap: Callable[[], int | None],
    on_statement: Callable[[str], None] | None = None,
) -> SqliteDialect | PostgresDialect:
    "The dialect for a file, a sqlite:/// URL or a postgresql:// URL (`on_statement`: told every statement)."
    if isinstance(where, str) and where.split(":", 1)[0].lower() in POSTGRES_SCHEMES and "://" in where:
        from .postgres import PostgresDialect

        return PostgresDialect(where, on_statement=on_statement)
    if isinstance(where, str) and where.startswith(SQLITE_PREFIX):
        where = sqlite_path(where)
    elif isinstance(where, str) and "://" in where:
        raise StoreError(f"The history database {redacted_url(where)} is not a file, sqlite:/// or postgresql:// URL")
    return SqliteDialect(Path(where), busy_timeout_ms=busy_timeout_ms, page_cap=page_cap, on_statement=on_statement)
