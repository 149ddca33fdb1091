"""The history on PostgreSQL (STUDIO_DATABASE_URL=postgresql://...): psycopg 3 with a connection
pool, imported only when such a URL is configured (the `[scale]` extra).

The store's portable SQL uses `?` placeholders; `to_pyformat` rewrites them to psycopg's `%s` and
doubles a literal `%`, leaving string literals, quoted names and comments alone. Writers are
serialized as SQLite's BEGIN IMMEDIATE serializes them: every `transaction()` first takes one
transaction-level advisory lock, so a read-then-write inside is atomic against every other
transaction of every studio process on the database. Every psycopg error leaves as a `StoreError`
with a plain message (the password is never in it); an unreachable server, wrong credentials,
a missing database and a newer schema are each one clear message when the store opens.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from . import pg_schema
from .dialects import REDACTED, Cursor, Transaction, redacted_url, rows_of
from .errors import DiskFullError, StoreError
from .migrations import known_migrations

CONNECT_TIMEOUT_S = 5  # a server that does not answer in this long is reported unreachable
POOL_MIN = 1
POOL_MAX = 16  # connections per store (per process): threads beyond it wait for one
POOL_WAIT_S = 15.0  # how long a query waits for a free (or newly opened) connection
# psycopg_pool retries a lost connection with a doubling delay (1, 2, 4 … 64 s) for 5 minutes, so
# after a long outage the database could be back for half a minute before the pool looked again.
# Here each run of retries gives up after POOL_RECONNECT_S and the next query starts a new one at
# once: the pool reconnects within a few seconds of the server's return.
POOL_RECONNECT_S = 4.0
# The pool logs every failed reconnect as a warning; the studio says the outage once itself (the
# job worker, /healthz), so the pool's own logger only speaks for errors.
POOL_LOGGER = "psycopg.pool"
logging.getLogger(POOL_LOGGER).setLevel(logging.ERROR)  # once, as this module loads
# A gallery count that must read rows counts at most one row per this many steps of SQLite's
# budget (COUNT_STEPS = 2,000: 250 rows), as SQLite reads about one row per 8 steps.
STEPS_PER_ROW = 8
WRITE_LOCK_KEY = 0x5354_5544_494E  # pg_advisory_xact_lock key every store transaction takes
# Columns only PostgreSQL has (the explicit rowid, the stored search vector): rows leave them out,
# as SQLite's `SELECT *` leaves out its rowid and has no such column.
HIDDEN = ("rowid", pg_schema.SEARCH_COLUMN)
# SQLSTATE classes and codes that have a message of their own.
BAD_CREDENTIALS = ("28P01", "28000")  # invalid_password, invalid_authorization_specification
NO_DATABASE = "3D000"  # invalid_catalog_name
# An unknown user ('role "x" does not exist') is a credentials problem too.
CREDENTIAL_WORDS = re.compile(r'authentication failed|no password supplied|pg_hba\.conf|role "[^"]*" does not exist')
NO_DATABASE_WORDS = re.compile(r'database "[^"]*" does not exist')
DISK_FULL = "53100"
# Search words: split where FTS5's unicode61 tokenizer splits (white space and ASCII punctuation);
# the stored vector (pg_schema.SEARCH_VECTOR) replaces the same characters by spaces before PostgreSQL's parser.
NOTHING = "'x' & !'x'"  # a tsquery no row matches (a search word with no letter or digit)
SEARCH_SPLIT = re.compile(r"[\s!-/:-@\[-`{-~]+")
# One SQL token the placeholder rewrite must skip: a string literal, a quoted name, a comment, or a
# dollar-quoted body; or one of the characters it rewrites.
SQL_TOKENS = re.compile(r"""('(?:[^']|'')*'|"(?:[^"]|"")*"|--[^\n]*|/\*.*?\*/|\$\$.*?\$\$|\?|%)""", re.S)


def to_pyformat(sql: str) -> str:
    "Portable SQL (`?` placeholders) as psycopg takes it: `%s`, every literal `%` doubled (psycopg reads them all)."
    return SQL_TOKENS.sub(lambda m: "%s" if m.group(0) == "?" else m.group(0).replace("%", "%%"), sql)


def tsquery(text: str) -> str:
    """The search box's words as a tsquery with the FTS5 store's meaning: each word plain text and a
    prefix, all required; a word with punctuation inside ("title:card") is a phrase of its parts.
    A word with no letter or digit (FTS5: an empty phrase) matches nothing, as on SQLite."""
    terms = []
    for word in (w for w in text.split(" ") if w):
        parts = [p for p in SEARCH_SPLIT.split(word) if p]
        if not parts:
            return NOTHING
        terms.append("(" + " <-> ".join([*(f"'{p}'" for p in parts[:-1]), f"'{parts[-1]}':*"]) + ")")
    return " & ".join(terms)


def _message(err: BaseException) -> str:
    "The driver's words, one line, with no password in them."
    text = " ".join(str(err).split())
    return re.sub(r"(postgres(?:ql)?://[^:/@\s]*:)[^@\s]*@", rf"\1{REDACTED}@", text)


def store_error(err: BaseException, described: str) -> StoreError:
    "A `StoreError` saying in plain words what went wrong with the PostgreSQL history."
    import psycopg
    import psycopg_pool

    code = getattr(err, "sqlstate", None)
    text = str(err)
    # A refused connection carries no SQLSTATE (libpq has only the server's words): read them.
    if code is None and CREDENTIAL_WORDS.search(text):
        code = BAD_CREDENTIALS[0]
    elif code is None and NO_DATABASE_WORDS.search(text):
        code = NO_DATABASE
    if code in BAD_CREDENTIALS:
        return StoreError(
            f"The PostgreSQL server of {described} refused the studio's user name or password; check the "
            "user in STUDIO_DATABASE_URL and the password (PGPASSWORD, ~/.pgpass, or percent-encoded in the URL)."
        )
    if code == NO_DATABASE:
        return StoreError(
            f"The history database {described} does not exist on that PostgreSQL server; create it (createdb) "
            "or fix the database name in STUDIO_DATABASE_URL."
        )
    if code == DISK_FULL:
        return DiskFullError(f"The disk of the PostgreSQL server holding {described} is full ({_message(err)}).")
    if isinstance(err, psycopg_pool.PoolTimeout) or (isinstance(err, psycopg.OperationalError) and code is None):
        return StoreError(
            f"The history database {described} cannot be reached ({_message(err)}); check that PostgreSQL runs "
            "there and that STUDIO_DATABASE_URL names the right host and port."
        )
    return StoreError(f"The history database {described} could not be read or written (PostgreSQL: {_message(err)})")


def _plain(params: Sequence[Any]) -> list[Any]:
    # SQLite stores a bool as 0/1 in an INTEGER column; PostgreSQL refuses a boolean there.
    return [int(p) if isinstance(p, bool) else p for p in params]


class PostgresDialect:
    "The history on a PostgreSQL server: a pool of autocommit connections, transactions on demand."

    name = "postgresql"
    unindexed = ""  # PostgreSQL's planner takes no such hint (and `+text` is no operator there)

    @staticmethod
    def skip_locked(alias: str) -> str:
        "A claim's row lock (studio.leases): claimers pass over the rows another has locked."
        return f" FOR UPDATE OF {alias} SKIP LOCKED"

    def __init__(self, url: str, *, on_statement: Callable[[str], None] | None = None):
        try:
            import psycopg  # the [scale] extra
            import psycopg_pool
        except ImportError:
            raise StoreError(
                "STUDIO_DATABASE_URL names PostgreSQL, but psycopg is not installed; install the studio with "
                "its scale extra: pip install -e '.[scale]'"
            ) from None
        self._psycopg = psycopg
        self._pool_class = psycopg_pool.ConnectionPool
        self.url = url
        self.where = redacted_url(url)
        self.described = f"PostgreSQL {self.where}"
        self._pool: Any = None
        self._on_statement = on_statement
        self._local = threading.local()
        # Opened once, directly (a pool would retry in the background and report only a timeout):
        # a bad host, wrong credentials or a newer schema is one clear message now.
        with (
            self.translated(),
            psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S) as conn,
            conn.transaction(),
        ):
            pg_schema.migrate(self._tx(conn).query, known_migrations(), self.where)

    @contextmanager
    def translated(self) -> Iterator[None]:
        "The boundary: a psycopg (or pool) error inside becomes a `StoreError`."
        import psycopg_pool

        try:
            yield
        except (self._psycopg.Error, psycopg_pool.PoolTimeout, psycopg_pool.PoolClosed) as err:
            raise store_error(err, self.where) from None  # `from None`: the driver's text may hold a host

    def _tx(self, conn: Any) -> Transaction:
        def run(sql: str, params: Sequence[Any]) -> Any:
            if self._on_statement is not None:
                self._on_statement(sql)
            return conn.execute(to_pyformat(sql), _plain(params))

        return Transaction(run, self._rows)

    def _rows(self, cursor: Cursor) -> list[dict[str, Any]]:
        return rows_of(cursor, hidden=HIDDEN)

    @property
    def pool(self) -> Any:
        "The connection pool, opened on first use (and again after `close`)."
        if self._pool is None:
            self._pool = self._pool_class(
                self.url,
                min_size=POOL_MIN,
                max_size=POOL_MAX,
                timeout=POOL_WAIT_S,
                # No server-side prepared statements: after five runs PostgreSQL may switch one to a
                # generic plan, blind to the search words' selectivity (a 6 s gallery search at 100,000).
                kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT_S, "prepare_threshold": None},
                check=self._pool_class.check_connection,  # a server restart leaves no dead connection behind
                reconnect_timeout=POOL_RECONNECT_S,
                open=True,
            )
        return self._pool

    def close(self) -> None:
        "Close every pooled connection (the next use opens the pool again)."
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()

    # As on SQLite, where a thread has one connection: a statement run by a thread inside its own
    # transaction runs in that transaction (another connection would wait on its lock forever).

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        if (tx := getattr(self._local, "tx", None)) is not None:
            with self.translated():
                return tx.query(sql, params)
        with self.translated(), self.pool.connection() as conn:
            return self._tx(conn).query(sql, params)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        "One write, atomic on its own and, as on SQLite, never between another transaction's read and write."
        with self.transaction() as tx:
            return tx.execute(sql, params)

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        if (current := getattr(self._local, "tx", None)) is not None:
            yield current  # the thread's open transaction: its statements join it
            return
        with self.translated(), self.pool.connection() as conn, conn.transaction():
            tx = self._tx(conn)
            tx.query("SELECT pg_advisory_xact_lock(?)", [WRITE_LOCK_KEY])
            self._local.tx = tx
            try:
                yield tx
            finally:
                self._local.tx = None

    def ping(self, wait_s: float) -> None:
        """One round trip to the server, waiting at most `wait_s` for a connection (a health check
        must not wait POOL_WAIT_S); a `StoreError` saying why when there is none."""
        with self.translated(), self.pool.connection(timeout=wait_s) as conn:
            conn.execute("SELECT 1")

    def has_space(self) -> bool:
        "The server's disk is the server's to watch: True once it answers a write again."
        try:
            with self.transaction() as tx:
                tx.execute("CREATE TEMPORARY TABLE space_probe (data TEXT) ON COMMIT DROP")
                tx.execute("INSERT INTO space_probe VALUES (repeat('x', 65536))")
        except DiskFullError:
            return False
        return True

    # -------------------------------------------------------------- SQL that differs

    def json_array_length(self, column: str, key: str) -> str:
        return f"json_array_length(({column})::json -> '{key}')"

    def match(self, text: str) -> str | None:
        return tsquery(text) if text.strip() else None

    def matches(self, alias: str) -> str:
        return f"{alias}.{pg_schema.SEARCH_COLUMN} @@ to_tsquery('simple', ?)"

    def search_only(self, after: bool) -> str:
        return f"SELECT 1 FROM generations g WHERE {self.matches('g')}" + (" AND g.rowid < ?" if after else "")

    def search_select(
        self, columns: str, clauses: list[str], params: list[Any], match: str, after: int | None, narrow: bool
    ) -> tuple[str, list[Any], str]:
        # One shape: the GIN index lists the matches (a bitmap), the filters narrow them, and the
        # newest come first by rowid (date order, as on SQLite). `narrow` changes nothing here.
        clauses = [self.matches("g"), *clauses]
        params = [match, *params]
        if after is not None:
            clauses.append("g.rowid < ?")
            params.append(after)
        return f"SELECT {columns} FROM generations g WHERE {' AND '.join(clauses)}", params, "g.rowid DESC"

    def count_rows(self, sql: str, params: Sequence[Any], *, steps: int) -> tuple[int, bool]:
        """How many rows the query yields, at most one per STEPS_PER_ROW of SQLite's `steps` budget,
        and whether it finished. PostgreSQL has no step counter, so the budget is in rows: a count
        that reaches it says "at least" that many, the same on every reload (the SQLite budget reads
        about 250 rows at COUNT_STEPS)."""
        budget = max(1, steps // STEPS_PER_ROW)
        wrapped = f"SELECT count(*) AS n FROM (SELECT 1 FROM ({sql}) AS bounded LIMIT ?) AS counted"
        found = int(self.query(wrapped, [*params, budget + 1])[0]["n"])
        return (budget, False) if found > budget else (found, True)

    def explain(self, sql: str, params: Sequence[Any]) -> list[str]:
        return [r["QUERY PLAN"] for r in self.query(f"EXPLAIN {sql}", params)]
