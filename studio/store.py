"""The history in SQLite: generations, job progress, the agent pool (with the POSTs whose outcome
is unknown, stray runs and agent-create intents) and comparison grids.

`HistoryStore(path)` keeps one connection per thread (sqlite3 objects must stay on the thread
that made them), runs in WAL mode with a busy timeout, and wraps every read-modify-write in
`BEGIN IMMEDIATE` so concurrent writers queue instead of failing. It knows nothing about Mosaic.
Every `sqlite3` error (locked, damaged, disk full, read-only) leaves it as a `StoreError` whose
message says what to do; no `sqlite3` exception reaches a caller.
"""

from __future__ import annotations

import errno
import json
import re
import sqlite3
import threading
import unicodedata
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, field_validator
from sqlite_utils import Database

from .budget import day_start
from .dialects import SQLITE_PREFIX, Transaction, insert_sql, redacted_url, sqlite_path
from .errors import DiskFullError, JobError, StoreError
from .migrations import migrate
from .models import (
    ACTIVE_STATUSES,
    IN_FLIGHT_STATUSES,
    RETRYABLE_STATUSES,
    Collection,
    Generation,
    Preset,
    Reference,
    VideoGenerationParams,
)

BUSY_TIMEOUT_MS = 10_000
COLLECTION_FIELDS = ("name", "description", "cover_id")  # what update_collection may change
SCHEMA_LOCK_FILE = "schema.lock"  # beside studio.db: held while a process migrates (studio.migrations)
# Read through a memory map and keep a larger page cache: at a million generations a gallery
# search reads pages scattered over a ~1 GB file, and a read() per page costs more than the query.
MMAP_BYTES = 1 << 31
CACHE_KIB = 32 * 1024
DEFAULT_PAGE_SIZE = 48
# Gallery counts stop at a multiple of this many matches ("1,000+"), the first one past the page
# shown: a count never visits every match of a common word or filter in a history of a million,
# and counting 1,000 index entries costs about what a whole history of 1,000 does.
COUNT_BOUND = 1_000
# SQLite steps a page's count may take past the page when it reads rows of the table (a search
# plus a filter, or two filters): about 8 steps per row, so about 250 rows. Reading a row at a
# random place in a large file costs 20 times an index entry, so reading thousands of them is what
# made a search plus a filter slow. A count that runs out of steps is a lower bound ("74+").
COUNT_STEPS = 2_000
MAX_AUTHORS = 500  # names the Gallery's "whose takes" lists
# A stacked count (a comparison as one item) reads each row and looks at its comparison's newer
# cells: more steps per row than a plain filter, so without a search it gets this many times the
# budget (at 100,000 generations it then reaches "1,000+" in about 5 ms). With a search each newer
# cell is looked up in the full-text index, which costs as much as reading rows: the plain budget.
STACKED_STEPS_FACTOR = 16
MAX_STEPS = 2**31 - 1  # what SQLite's progress handler takes
# Filters whose (column, created_at) index answers a count past the page without reading rows.
DATED_INDEX_COLUMNS = ("resolution", "aspect_ratio", "duration", "model", "author", "generate_audio", "starred")
ID_HEX_CHARS = 12
RECENT_RUNS = 20  # how many past runs at the same settings a time estimate looks at
RECENT_SCAN = 2_000  # ... found among this many newest runs at that resolution
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
    "Ends `HistoryStore.has_space`'s transaction: the write fitted, and is rolled back."


def utcnow() -> str:
    "Now as sortable ISO-8601 UTC text; every timestamp in the store uses this form."
    return datetime.now(UTC).isoformat(timespec="microseconds")


def new_id() -> str:
    return uuid.uuid4().hex[:ID_HEX_CHARS]


# What a job is doing, as a page shows it: waiting in our queue, accepted by Mosaic, being
# generated by the model, its video being saved, or over (done / failed / cancelled).
PHASE_QUEUED, PHASE_SUBMITTED, PHASE_GENERATING, PHASE_SAVING = "queued", "submitted", "generating", "saving"
# Statuses in which a job waits on Mosaic, so a long silence means it may be stuck.
STUCK_STATUSES = ("submitting", "running")


@dataclass(frozen=True)
class JobPhase:
    """One job's phase and how long it has been in it, for "generating for 3 min" and the time
    left (from an expected duration). Times are ISO-8601 UTC text; seconds are as of `now`."""

    generation_id: str
    status: str
    phase: str  # queued | submitted | generating | saving | done | failed | cancelled
    phase_since: str | None  # when this phase began
    phase_elapsed_s: float | None
    submitted_at: str | None  # when Mosaic accepted the run
    generating_since: str | None  # when the model was first seen working on it
    last_progress_at: str | None  # the last change of status or progress seen
    since_submitted_s: float | None  # seconds since submission (to compare with an expected duration)
    idle_s: float | None  # seconds since the last progress
    stuck: bool  # waiting on Mosaic with no progress for longer than the stuck deadline


def _age(stamp: str | None, now: datetime) -> float | None:
    if not stamp:
        return None
    when = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    return max(0.0, round((now - when).total_seconds(), 3))


@dataclass(frozen=True)
class AgentLease:
    "A pooled agent leased to one job."

    agent_id: str
    node_id: str


@dataclass(frozen=True)
class GalleryCount:
    "How many generations match a gallery query, as far as its count went."

    n: int
    exact: bool  # False: at least n (the count stopped at its bound or ran out of steps)


@dataclass(frozen=True)
class CountedPage:
    "One page of the gallery: its generations, its number (from 0, moved back if past the end), the count."

    gens: list[Generation]
    number: int
    total: GalleryCount


class GalleryQuery(BaseModel):
    "Search text and filters for the history gallery; empty fields filter nothing."

    model_config = ConfigDict(extra="forbid")
    # Where counts of a gallery query stop (pages read it here: they do not import the store).
    COUNT_BOUND: ClassVar[int] = COUNT_BOUND

    text: str = ""
    status: list[str] = []
    resolution: list[str] = []
    aspect_ratio: list[str] = []
    duration: list[str] = []
    model: list[str] = []
    author: list[str] = []
    by: list[str] = []  # whose takes (the Gallery's "mine" / a person): ANDed with `author`
    generate_audio: bool | None = None
    starred: bool | None = None
    grid_id: str | None = None
    collection: str | None = None  # a collection's id: only its takes (still newest first)
    since: str | None = None  # ISO date or timestamp, inclusive
    until: str | None = None  # ISO date or timestamp, inclusive (a date covers the whole day)
    stage: Literal["drafts", "finals"] | None = None  # drafts: takes with finals; finals: takes with a draft

    @field_validator("text")
    @classmethod
    def _strip(cls, v: str) -> str:
        # Control characters (NUL above all: SQLite's text functions stop at it) cannot be typed in a
        # search and match nothing a prompt holds (prompts refuse them); each is read as a space.
        return "".join(" " if unicodedata.category(c) == "Cc" else c for c in v).strip()


# (the launch's settings, its author, what it is: "takes", "comparison" or "retry", and today's
# takes as studio.budget reads them, through the launch's own transaction) -> None, or raises.
LaunchGuard = Callable[[Sequence[VideoGenerationParams], str, str, list[dict[str, Any]]], None]
SPEND_SQL = (
    "SELECT author, status, resolution, aspect_ratio, duration, duration_s FROM generations WHERE created_at >= ?"
)


class HistoryStore:
    "The studio's SQLite history. Safe to share between threads; each thread gets its own connection."

    def __init__(
        self,
        path: str | Path,  # a file, or a sqlite:/// URL
        *,
        count_bound: int = COUNT_BOUND,
        count_steps: int = COUNT_STEPS,
        busy_timeout_ms: int = BUSY_TIMEOUT_MS,
        max_page_count: int | None = None,
        on_statement: Callable[[str], None] | None = None,
    ):
        if isinstance(path, str) and path.startswith(SQLITE_PREFIX):
            path = sqlite_path(path)
        elif isinstance(path, str) and "://" in path:
            raise StoreError(f"The history database {redacted_url(path)} is not a file or a sqlite:/// URL")
        self.path = Path(path)
        # Called with every statement the store runs (tests count the queries a page makes).
        self.on_statement = on_statement
        # The test seam for a full disk: SQLite answers SQLITE_FULL once the file would grow past
        # this many pages (None: SQLite's own limit). Read on every use, so a test can lower it and
        # raise it again (space returns) while connections are open.
        self.max_page_count = max_page_count
        # How long a write waits for another program's lock before giving up (tests make it short).
        self.busy_timeout_ms = busy_timeout_ms
        # Where the pager's counts stop, in matches and in SQLite steps (tests make them small).
        self.count_bound = count_bound
        self.count_steps = count_steps
        self._local = threading.local()
        # The daily-cap check (studio.budget, set by services.app when a cap is configured), run in
        # every launch's transaction before anything is written: the one place all launches pass.
        self.launch_guard: LaunchGuard | None = None
        with self._translated():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self.path.exists() and not self.path.is_file():
                raise StoreError(
                    f"{self.path} is a folder (or another kind of file), not a history database; move it aside "
                    "and the studio starts a new database there, or set STUDIO_DATA_DIR to another folder"
                )
            migrate(self.db, self.path, self.path.parent / SCHEMA_LOCK_FILE)

    @classmethod
    def for_settings(cls, settings: Any) -> HistoryStore:
        "The history the settings name: STUDIO_DATABASE_URL when set, else the SQLite file in the data folder."
        return cls(settings.database_url or settings.db_path)

    dialect: ClassVar[str] = "sqlite"

    @property
    def described(self) -> str:
        "Where the history is, for messages and logs (never a password)."
        return f"SQLite {self.path}"

    @contextmanager
    def _translated(self) -> Iterator[None]:
        "The boundary: a `sqlite3` (or folder) error inside becomes a `StoreError`."
        try:
            yield
        except (sqlite3.Error, OSError) as err:
            raise store_error(err, self.path) from err

    # ------------------------------------------------------------------ connections

    @property
    def db(self) -> Database:
        "This thread's connection, opened on first use."
        db = getattr(self._local, "db", None)
        if db is None:
            with self._translated():
                conn = sqlite3.connect(str(self.path), timeout=self.busy_timeout_ms / 1000)
                conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout_ms)}")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
                conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
                conn.set_trace_callback(self.on_statement)
            db = self._local.db = Database(conn)
            self._local.page_cap = None
        if self._local.page_cap != self.max_page_count:  # the seam moved: tell this connection
            with self._translated():
                db.conn.execute(f"PRAGMA max_page_count={int(self.max_page_count or SQLITE_MAX_PAGE_COUNT)}")
            self._local.page_cap = self.max_page_count
        return db

    def close(self) -> None:
        "Close this thread's connection (others close when their threads end)."
        db = getattr(self._local, "db", None)
        if db is not None:
            self._local.db = None
            with self._translated():
                db.close()

    @contextmanager
    def _immediate(self) -> Iterator[sqlite3.Connection]:
        # BEGIN IMMEDIATE takes the write lock up front: a deferred read-then-write fails at once
        # with "database is locked" when another thread writes (streamlit-notes.md §6).
        conn = self.db.conn
        with self._translated():
            conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException as err:
            with suppress(sqlite3.Error):  # the error that stopped the work is the one to report
                conn.rollback()
            if isinstance(err, sqlite3.Error):
                raise store_error(err, self.path) from err
            raise
        else:
            with self._translated():
                conn.commit()

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self._translated():
            return list(self.db.query(sql, params))

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        "The rows of one read-only query, any `sqlite3` error a StoreError (for a table a use-case owns)."
        return self._rows(sql, params)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """One write statement (autocommitted: atomic on its own) on a table a use-case owns; the rows
        it changed. Any `sqlite3` error is a StoreError."""
        with self._translated():
            return self.db.execute(sql, params).rowcount

    def insert(self, table: str, row: dict[str, Any], *, on_conflict: str = "") -> None:
        "Insert one row, autocommitted (`on_conflict='ignore'`: a row whose key exists is skipped)."
        sql = insert_sql(table, list(row), on_conflict)
        with self._translated():
            self.db.execute(sql, list(row.values()))

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """One transaction for a use-case's read-then-write: writers are serialized (SQLite:
        BEGIN IMMEDIATE), it commits when the block ends and rolls back when it raises."""
        with self._immediate() as conn:
            yield Transaction(conn.execute)

    # ------------------------------------------------------------------ generations

    def add_generations(
        self,
        cells: Sequence[tuple[VideoGenerationParams, str | None]],
        *,
        author: str = "",
        grid_id: str | None = None,
        launch_key: str | None = None,
    ) -> list[str]:
        """Queue generations (params, cell label) in one transaction; returns their ids in order.

        With a `launch_key` already recorded, nothing is queued and the ids recorded with it are
        returned: a second click, a retried request or a refresh launches nothing more.
        """
        with self._immediate() as conn:
            recorded = self._launch(conn, launch_key)
            if recorded is not None:
                return recorded[1]
            ids = self._insert_generations(conn, cells, author=author, grid_id=grid_id)
            self._record_launch(conn, launch_key, grid_id, ids)
        return ids

    def _insert_generations(
        self,
        conn: sqlite3.Connection,
        cells: Sequence[tuple[VideoGenerationParams, str | None]],
        *,
        author: str,
        grid_id: str | None,
    ) -> list[str]:
        self._guard(conn, [params for params, _ in cells], author, "comparison" if grid_id else "takes")
        ids = []
        now = utcnow()
        for params, label in cells:
            gen_id = new_id()
            ids.append(gen_id)
            conn.execute(
                "INSERT INTO generations (id, created_at, author, prompt, model, resolution, "
                "duration, aspect_ratio, generate_audio, selected_context, status, grid_id, "
                "cell_label, attempt) VALUES (?,?,?,?,?,?,?,?,?,?,'queued',?,?,1)",
                (
                    gen_id,
                    now,
                    author,
                    params.prompt,
                    params.model,
                    params.resolution,
                    params.duration,
                    params.aspect_ratio,
                    int(params.generate_audio),
                    params.selected_context.model_dump_json(),
                    grid_id,
                    label,
                ),
            )
            conn.execute("INSERT INTO jobs (generation_id, updated_at) VALUES (?, ?)", (gen_id, now))
        return ids

    def _guard(self, conn: sqlite3.Connection, launch: Sequence[VideoGenerationParams], author: str, what: str) -> None:
        if self.launch_guard is not None:
            self.launch_guard(launch, author, what, self._spend_rows(conn))

    @staticmethod
    def _spend_rows(conn: sqlite3.Connection, since: str | None = None) -> list[dict[str, Any]]:
        "Today's takes (since midnight UTC, or `since`), as studio.budget counts them."
        cur = conn.execute(SPEND_SQL, [since or day_start().isoformat()])
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def spend_rows(self, since: str | None = None) -> list[dict[str, Any]]:
        "Takes queued since `since` (ISO; default: today's UTC midnight), for studio.budget."
        with self._translated():
            return self._spend_rows(self.db.conn, since)

    @staticmethod
    def _launch(conn: sqlite3.Connection, key: str | None) -> tuple[str | None, list[str]] | None:
        "What an earlier launch with this key made: (grid id, generation ids), or None."
        if key is None:
            return None
        row = conn.execute("SELECT grid_id, generation_ids FROM launches WHERE key = ?", [key]).fetchone()
        return (row[0], json.loads(row[1])) if row else None

    @staticmethod
    def _record_launch(conn: sqlite3.Connection, key: str | None, grid_id: str | None, ids: list[str]) -> None:
        if key is not None:
            conn.execute(
                "INSERT INTO launches (key, created_at, grid_id, generation_ids) VALUES (?,?,?,?)",
                [key, utcnow(), grid_id, json.dumps(ids)],
            )

    def add_generation(
        self,
        params: VideoGenerationParams,
        *,
        author: str = "",
        grid_id: str | None = None,
        cell_label: str | None = None,
    ) -> str:
        "Queue one generation; returns its id."
        return self.add_generations([(params, cell_label)], author=author, grid_id=grid_id)[0]

    def get(self, gen_id: str) -> Generation | None:
        rows = self._rows("SELECT * FROM generations WHERE id = ?", [gen_id])
        return Generation.model_validate(rows[0]) if rows else None

    def many(self, ids: Sequence[str]) -> list[Generation]:
        "Generations by id, in the order given (missing ids are skipped)."
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        found = {r["id"]: r for r in self._rows(f"SELECT * FROM generations WHERE id IN ({marks})", ids)}
        return [Generation.model_validate(found[i]) for i in ids if i in found]

    def update(self, gen_id: str, **fields: Any) -> None:
        "Set columns of one generation."
        if not fields:
            return
        sets = ", ".join(f"{k} = ?" for k in fields)
        with self._immediate() as conn:
            conn.execute(f"UPDATE generations SET {sets} WHERE id = ?", [*fields.values(), gen_id])

    def transition(self, gen_id: str, from_statuses: Sequence[str], to_status: str, **fields: Any) -> bool:
        "Atomically move a generation to `to_status` if it is in one of `from_statuses`."
        fields = {"status": to_status, **fields}
        sets = ", ".join(f"{k} = ?" for k in fields)
        marks = ",".join("?" * len(from_statuses))
        with self._immediate() as conn:
            cur = conn.execute(
                f"UPDATE generations SET {sets} WHERE id = ? AND status IN ({marks})",
                [*fields.values(), gen_id, *from_statuses],
            )
            return cur.rowcount == 1

    def claim_queued(self, limit: int) -> list[Generation]:
        "Atomically move up to `limit` of the oldest queued generations to `submitting`."
        if limit <= 0:
            return []
        with self._immediate() as conn:
            cur = conn.execute(
                "SELECT * FROM generations WHERE status = 'queued' ORDER BY created_at, rowid LIMIT ?", [limit]
            )
            names = [d[0] for d in cur.description]
            rows = [dict(zip(names, r, strict=False)) for r in cur.fetchall()]
            for row in rows:
                conn.execute("UPDATE generations SET status = 'submitting' WHERE id = ?", [row["id"]])
                row["status"] = "submitting"
        return [Generation.model_validate(r) for r in rows]

    def recent_elapsed(
        self, scope: str, *, resolution: str, duration: str, with_video: bool, limit: int = RECENT_RUNS
    ) -> list[float]:
        """Seconds upstream of the newest finished runs at these settings, made through API `scope`
        (so simulator runs never stand in for Mosaic's), newest first."""
        rows = self._rows(
            # Only the newest RECENT_SCAN rows at this resolution are looked at, so a history of a
            # million runs from another API costs the same as an empty one.
            "SELECT g.elapsed_s AS s FROM (SELECT * FROM generations WHERE resolution = ? "
            "ORDER BY created_at DESC LIMIT ?) g JOIN agents a ON a.agent_id = g.agent_id "
            "WHERE a.scope = ? AND g.status = 'done' AND g.duration = ? AND g.elapsed_s IS NOT NULL "
            "AND (coalesce(json_array_length(g.selected_context, '$.videos'), 0) > 0) = ? "
            "ORDER BY g.created_at DESC LIMIT ?",
            [resolution, RECENT_SCAN, scope, duration, int(with_video), limit],
        )
        return [float(r["s"]) for r in rows]

    def with_status(self, *statuses: str) -> list[Generation]:
        marks = ",".join("?" * len(statuses))
        return [
            Generation.model_validate(r)
            for r in self._rows(
                # `+created_at`: stay on the status index; ordering by the date index scans the history.
                f"SELECT * FROM generations WHERE status IN ({marks}) ORDER BY +created_at, rowid",
                statuses,
            )
        ]

    def authors(self, limit: int = MAX_AUTHORS) -> list[str]:
        "The names generations are signed with (none empty), in alphabetical order, at most `limit`."
        rows = self._rows("SELECT DISTINCT author FROM generations WHERE author != '' ORDER BY author LIMIT ?", [limit])
        return [r["author"] for r in rows]

    def count_status(self, *statuses: str) -> int:
        marks = ",".join("?" * len(statuses))
        return self._rows(f"SELECT count(*) AS n FROM generations WHERE status IN ({marks})", statuses)[0]["n"]

    def active(self) -> list[Generation]:
        "Every generation not yet finished, oldest first."
        return self.with_status(*ACTIVE_STATUSES)

    def in_flight_count(self) -> int:
        return self.count_status(*IN_FLIGHT_STATUSES)

    def delete(self, gen_id: str) -> None:
        "Remove a generation and its job row (files are the caller's to remove)."
        with self._immediate() as conn:
            conn.execute("DELETE FROM jobs WHERE generation_id = ?", [gen_id])
            conn.execute("DELETE FROM collection_items WHERE generation_id = ?", [gen_id])
            conn.execute("UPDATE collections SET cover_id = NULL WHERE cover_id = ?", [gen_id])
            conn.execute("DELETE FROM generations WHERE id = ?", [gen_id])

    # ------------------------------------------------------------------ many at once (the Gallery's bulk bar)

    def set_many(self, gen_ids: Sequence[str], **fields: Any) -> int:
        "Set the same columns on several generations in one transaction; returns how many exist."
        ids = list(dict.fromkeys(gen_ids))
        if not ids or not fields:
            return 0
        sets = ", ".join(f"{k} = ?" for k in fields)
        with self._immediate() as conn:
            cur = conn.execute(
                f"UPDATE generations SET {sets} WHERE id IN ({','.join('?' * len(ids))})", [*fields.values(), *ids]
            )
            return cur.rowcount

    def edit_tags(self, gen_ids: Sequence[str], change: Callable[[str | None], str | None]) -> int:
        """Rewrite the tags of several generations in one transaction (`change` maps old text to new:
        no other writer slips between the read and the write). Returns how many changed."""
        ids = list(dict.fromkeys(gen_ids))
        if not ids:
            return 0
        with self._immediate() as conn:
            rows = conn.execute(f"SELECT id, tags FROM generations WHERE id IN ({','.join('?' * len(ids))})", ids)
            updates = [(new, gen_id) for gen_id, old in rows.fetchall() if (new := change(old)) != old]
            conn.executemany("UPDATE generations SET tags = ? WHERE id = ?", updates)
            return len(updates)

    def delete_many(self, gen_ids: Sequence[str]) -> list[Generation]:
        """Remove the finished ones of these generations (and their job rows, collection places and
        covers) in one transaction; returns those removed (their files are the caller's to remove).
        One still in flight is left as it is."""
        ids = list(dict.fromkeys(gen_ids))
        if not ids:
            return []
        active = ",".join("?" * len(ACTIVE_STATUSES))
        with self._immediate() as conn:
            cur = conn.execute(
                f"SELECT * FROM generations WHERE id IN ({','.join('?' * len(ids))}) AND status NOT IN ({active})",
                [*ids, *ACTIVE_STATUSES],
            )
            names = [d[0] for d in cur.description]
            gone = [Generation.model_validate(dict(zip(names, r, strict=True))) for r in cur.fetchall()]
            for gen in gone:
                conn.execute("DELETE FROM jobs WHERE generation_id = ?", [gen.id])
                conn.execute("DELETE FROM collection_items WHERE generation_id = ?", [gen.id])
                conn.execute("UPDATE collections SET cover_id = NULL WHERE cover_id = ?", [gen.id])
                conn.execute("DELETE FROM generations WHERE id = ?", [gen.id])
        return gone

    # ------------------------------------------------------------------ job progress

    def job(self, gen_id: str) -> dict[str, Any]:
        rows = self._rows("SELECT * FROM jobs WHERE generation_id = ?", [gen_id])
        return rows[0] if rows else {}

    def jobs(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        "Job rows for several generations, keyed by generation id."
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        return {r["generation_id"]: r for r in self._rows(f"SELECT * FROM jobs WHERE generation_id IN ({marks})", ids)}

    def update_job(self, gen_id: str, **fields: Any) -> None:
        fields["updated_at"] = utcnow()
        sets = ", ".join(f"{k} = ?" for k in fields)
        with self._immediate() as conn:
            cur = conn.execute(f"UPDATE jobs SET {sets} WHERE generation_id = ?", [*fields.values(), gen_id])
            if cur.rowcount == 0:
                cols = ["generation_id", *fields]
                conn.execute(
                    f"INSERT INTO jobs ({', '.join(cols)}) VALUES ({','.join('?' * len(cols))})",
                    [gen_id, *fields.values()],
                )

    def by_run_id(self, run_id: str) -> Generation | None:
        "The generation following this Mosaic run, if any."
        rows = self._rows("SELECT * FROM generations WHERE run_id = ? LIMIT 1", [run_id])
        return Generation.model_validate(rows[0]) if rows else None

    def note_progress(self, gen_id: str, *, generating: bool = False) -> None:
        "Progress was seen (a webhook): stamp it, and the start of generating when that is news."
        now = utcnow()
        with self._immediate() as conn:
            conn.execute(
                "UPDATE jobs SET last_progress_at = ?, updated_at = ?, "
                "generating_since = CASE WHEN ? AND generating_since IS NULL THEN ? ELSE generating_since END "
                "WHERE generation_id = ?",
                [now, now, int(generating), now, gen_id],
            )

    def job_phases(
        self, ids: Sequence[str], *, stuck_after_s: float, now: datetime | None = None
    ) -> dict[str, JobPhase]:
        "Phase, times and the stuck flag of each generation in `ids` (missing ids are skipped)."
        now = now or datetime.now(UTC)
        gens = self.many(ids)
        jobs = self.jobs([g.id for g in gens])
        out: dict[str, JobPhase] = {}
        for gen in gens:
            job = jobs.get(gen.id, {})
            generating: str | None = job.get("generating_since")
            since: str | None
            progress_at = job.get("last_progress_at") or gen.submitted_at or job.get("submit_started_at")
            if gen.status in ("queued", "submitting"):
                phase, since = PHASE_QUEUED, gen.created_at
            elif gen.status == "running":
                phase, since = (PHASE_GENERATING, generating) if generating else (PHASE_SUBMITTED, gen.submitted_at)
            elif gen.status == "downloading":
                phase, since = PHASE_SAVING, job.get("last_progress_at")
            else:
                phase, since = gen.status, gen.finished_at
            idle = _age(progress_at, now) if gen.status in STUCK_STATUSES else None
            out[gen.id] = JobPhase(
                generation_id=gen.id,
                status=gen.status,
                phase=phase,
                phase_since=since,
                phase_elapsed_s=_age(since, now) if gen.is_active else None,
                submitted_at=gen.submitted_at,
                generating_since=generating,
                last_progress_at=job.get("last_progress_at"),
                since_submitted_s=_age(gen.submitted_at, now) if gen.is_active else gen.elapsed_s,
                idle_s=idle,
                stuck=idle is not None and idle > stuck_after_s,
            )
        return out

    def stuck_jobs(self, stuck_after_s: float, *, now: datetime | None = None) -> list[str]:
        "Ids of generations waiting on Mosaic with no progress seen for more than `stuck_after_s`, oldest first."
        now = now or datetime.now(UTC)
        cutoff = (now - timedelta(seconds=stuck_after_s)).isoformat(timespec="microseconds")
        marks = ",".join("?" * len(STUCK_STATUSES))
        rows = self._rows(
            f"SELECT g.id FROM generations g JOIN jobs j ON j.generation_id = g.id WHERE g.status IN ({marks}) "
            "AND coalesce(j.last_progress_at, g.submitted_at, j.submit_started_at, g.created_at) < ? "
            "ORDER BY +g.created_at, g.rowid",
            [*STUCK_STATUSES, cutoff],
        )
        return [r["id"] for r in rows]

    def has_space(self) -> bool:
        """True when the database can grow again: a write of PROBE_BYTES in a transaction that is
        rolled back (nothing is kept). False on SQLITE_FULL; other errors raise `StoreError`."""
        try:
            with self._immediate() as conn:
                conn.execute("CREATE TABLE space_probe (data BLOB)")
                conn.execute("INSERT INTO space_probe VALUES (zeroblob(?))", [PROBE_BYTES])
                raise _Probed
        except _Probed:
            return True
        except DiskFullError:
            return False

    def reset_for_retry(self, gen_id: str) -> bool:
        "Put a failed or cancelled generation back in the queue as a new attempt."
        with self._immediate() as conn:
            if self.launch_guard is not None:
                cur = conn.execute("SELECT * FROM generations WHERE id = ?", [gen_id])
                names = [d[0] for d in cur.description]
                rows = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
                if rows and rows[0]["status"] in RETRYABLE_STATUSES:
                    gen = Generation.model_validate(rows[0])
                    self._guard(conn, [gen.params], gen.author, "retry")
            cur = conn.execute(
                "UPDATE generations SET status = 'queued', error = NULL, agent_id = NULL, node_id = NULL, "
                "run_id = NULL, render_id = NULL, submitted_at = NULL, finished_at = NULL, elapsed_s = NULL, "
                "attempt = attempt + 1 WHERE id = ? AND status IN ('failed', 'cancelled')",
                [gen_id],
            )
            if cur.rowcount != 1:
                return False
            conn.execute("DELETE FROM jobs WHERE generation_id = ?", [gen_id])
            conn.execute("INSERT INTO jobs (generation_id, updated_at) VALUES (?, ?)", [gen_id, utcnow()])
        return True

    # ------------------------------------------------------------------ agent pool

    def lease_agent(self, scope: str, flow: str, job_id: str) -> AgentLease | None:
        "The agent this job already holds, else a free pooled agent now leased to it, else None."
        with self._immediate() as conn:
            row = conn.execute(
                "SELECT agent_id, node_id FROM agents WHERE scope = ? AND flow = ? AND leased_by = ?",
                [scope, flow, job_id],
            ).fetchone()
            if row is None and flow == "reuse":
                # An agent whose last POST has an unknown outcome waits until that outcome is known.
                row = conn.execute(
                    "SELECT agent_id, node_id FROM agents WHERE scope = ? AND flow = ? AND leased_by IS NULL "
                    "AND agent_id NOT IN (SELECT agent_id FROM pending_posts) ORDER BY created_at LIMIT 1",
                    [scope, flow],
                ).fetchone()
                if row is not None:
                    conn.execute(
                        "UPDATE agents SET leased_by = ?, leased_at = ? WHERE agent_id = ?", [job_id, utcnow(), row[0]]
                    )
        return AgentLease(*row) if row else None

    def add_agent(self, agent_id: str, node_id: str, *, scope: str, flow: str, leased_by: str | None) -> None:
        "Record a new agent, leased to `leased_by` (or free when None)."
        now = utcnow()
        with self._immediate() as conn:
            conn.execute(
                "INSERT INTO agents (agent_id, node_id, scope, flow, leased_by, leased_at, created_at) "
                "VALUES (?,?,?,?,?,?,?)",
                [agent_id, node_id, scope, flow, leased_by, now if leased_by else None, now],
            )

    def release_agent(self, job_id: str) -> None:
        "Give back whatever agent this job holds (three_call agents are single-use and stay retired)."
        with self._immediate() as conn:
            conn.execute(
                "UPDATE agents SET leased_by = NULL, leased_at = NULL WHERE leased_by = ? AND flow = 'reuse'", [job_id]
            )
            conn.execute("UPDATE agents SET leased_by = 'retired' WHERE leased_by = ? AND flow != 'reuse'", [job_id])

    def agent_count(self, scope: str | None = None) -> int:
        if scope is None:
            return self._rows("SELECT count(*) AS n FROM agents")[0]["n"]
        return self._rows("SELECT count(*) AS n FROM agents WHERE scope = ?", [scope])[0]["n"]

    def record_run(self, gen_id: str, run_id: str, agent_id: str, *, stray_reason: str = "", **fields: Any) -> bool:
        """Atomically: the run a POST answered with belongs to this generation, which moves from
        submitting to running. When the generation has no use for it (it follows another run, or has
        ended), the run is recorded as a stray with `stray_reason` instead (the caller cancels it)
        and False is returned."""
        now = utcnow()
        fields = {"status": "running", "run_id": run_id, "submitted_at": now, **fields}
        sets = ", ".join(f"{k} = ?" for k in fields)
        with self._immediate() as conn:
            conn.execute("DELETE FROM pending_posts WHERE agent_id = ?", [agent_id])  # the POST was answered
            cur = conn.execute(
                f"UPDATE generations SET {sets} WHERE id = ? AND status = 'submitting'", [*fields.values(), gen_id]
            )
            owned = cur.rowcount == 1
            known = conn.execute("SELECT generation_id FROM agent_runs WHERE run_id = ?", [run_id]).fetchone()
            if known is None:
                conn.execute(
                    "INSERT INTO agent_runs (run_id, agent_id, generation_id, created_at) VALUES (?,?,?,?)",
                    [run_id, agent_id, gen_id, now],
                )
                if not owned:
                    conn.execute(
                        "INSERT INTO stray_runs (run_id, generation_id, agent_id, reason, found_at) VALUES (?,?,?,?,?)",
                        [run_id, gen_id, agent_id, stray_reason or "the job had no use for it", now],
                    )
            return owned

    def known_run_ids(self, agent_id: str) -> set[str]:
        "Every run id ever recorded on this agent."
        return {r["run_id"] for r in self._rows("SELECT run_id FROM agent_runs WHERE agent_id = ?", [agent_id])}

    def agent_ids(self, scope: str | None = None) -> list[str]:
        "Every agent this studio made (in `scope`, when given), oldest first."
        sql, args = "SELECT agent_id FROM agents", []
        if scope is not None:
            sql, args = sql + " WHERE scope = ?", [scope]
        return [r["agent_id"] for r in self._rows(sql + " ORDER BY created_at", args)]

    # ------------------------------------------------------------------ unknown outcomes and strays

    def begin_post(self, agent_id: str, gen_id: str, node_id: str) -> str:
        "Note, before `POST /run`, that this agent's outcome is unknown until the answer; returns the time."
        now = utcnow()
        with self._immediate() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO pending_posts (agent_id, generation_id, node_id, posted_at) VALUES (?,?,?,?)",
                [agent_id, gen_id, node_id, now],
            )
        return now

    def end_post(self, agent_id: str) -> None:
        "The outcome of this agent's last POST is known: it may be leased again."
        with self._immediate() as conn:
            conn.execute("DELETE FROM pending_posts WHERE agent_id = ?", [agent_id])

    def pending_posts(self, gen_id: str | None = None) -> list[dict[str, Any]]:
        "POSTs whose outcome is unknown (of one generation, when given), oldest first."
        sql, args = "SELECT * FROM pending_posts", []
        if gen_id is not None:
            sql, args = sql + " WHERE generation_id = ?", [gen_id]
        return self._rows(sql + " ORDER BY posted_at", args)

    def adopt_run(self, gen_id: str, run_id: str, agent_id: str, node_id: str) -> bool:
        """Atomically: a run nobody has claimed becomes this submitting generation's run. False when
        the run is already claimed (adopted or recorded as a stray) or the generation is not submitting."""
        now = utcnow()
        with self._immediate() as conn:
            if conn.execute("SELECT 1 FROM agent_runs WHERE run_id = ?", [run_id]).fetchone():
                return False
            cur = conn.execute(
                "UPDATE generations SET status = 'running', run_id = ?, agent_id = ?, node_id = ?, submitted_at = ? "
                "WHERE id = ? AND status = 'submitting'",
                [run_id, agent_id, node_id, now, gen_id],
            )
            if cur.rowcount != 1:
                return False
            conn.execute(
                "INSERT INTO agent_runs (run_id, agent_id, generation_id, created_at) VALUES (?,?,?,?)",
                [run_id, agent_id, gen_id, now],
            )
            conn.execute("DELETE FROM pending_posts WHERE agent_id = ?", [agent_id])
        return True

    def claim_stray(self, run_id: str, gen_id: str | None, agent_id: str, reason: str) -> bool:
        """Atomically record a run no job may follow; False when the run is already claimed (a job
        adopted it, or it is recorded already). The caller then cancels it and says how that went."""
        now = utcnow()
        with self._immediate() as conn:
            if conn.execute("SELECT 1 FROM agent_runs WHERE run_id = ?", [run_id]).fetchone():
                return False
            conn.execute(
                "INSERT INTO agent_runs (run_id, agent_id, generation_id, created_at) VALUES (?,?,?,?)",
                [run_id, agent_id, gen_id, now],
            )
            conn.execute(
                "INSERT INTO stray_runs (run_id, generation_id, agent_id, reason, found_at) VALUES (?,?,?,?,?)",
                [run_id, gen_id, agent_id, reason, now],
            )
        return True

    def stray_cancelled(self, run_id: str, outcome: str, *, ended: bool) -> None:
        "What cancelling a stray run did; `ended`: it bills no more (cancelled, or had already ended)."
        with self._immediate() as conn:
            conn.execute(
                "UPDATE stray_runs SET outcome = ?, cancelled_at = CASE WHEN ? THEN ? ELSE cancelled_at END "
                "WHERE run_id = ?",
                [outcome, int(ended), utcnow(), run_id],
            )

    def stray_runs(self, *, limit: int = 100, uncancelled: bool = False) -> list[dict[str, Any]]:
        "Recorded stray runs, newest first (only those still to cancel, with `uncancelled`)."
        where = " WHERE cancelled_at IS NULL" if uncancelled else ""
        return self._rows(f"SELECT * FROM stray_runs{where} ORDER BY found_at DESC LIMIT ?", [limit])

    def count_strays(self) -> int:
        return int(self._rows("SELECT count(*) AS n FROM stray_runs")[0]["n"])

    # ------------------------------------------------------------------ agent create intents

    def add_agent_intent(self, tag: str, *, scope: str, flow: str, gen_id: str) -> None:
        "Before `POST /agent/create`: the tag its name carries, so a lost answer can be found by it."
        with self._immediate() as conn:
            conn.execute(
                "INSERT INTO agent_intents (tag, scope, flow, generation_id, created_at) VALUES (?,?,?,?,?)",
                [tag, scope, flow, gen_id, utcnow()],
            )

    def set_intent_agent(self, tag: str, agent_id: str) -> None:
        "The agent a create intent made (its node is still to be added)."
        with self._immediate() as conn:
            conn.execute("UPDATE agent_intents SET agent_id = ? WHERE tag = ?", [agent_id, tag])

    def end_agent_intent(self, tag: str) -> None:
        with self._immediate() as conn:
            conn.execute("DELETE FROM agent_intents WHERE tag = ?", [tag])

    def agent_intents(self, scope: str, flow: str) -> list[dict[str, Any]]:
        "Agent creates whose outcome is not settled yet, oldest first."
        return self._rows("SELECT * FROM agent_intents WHERE scope = ? AND flow = ? ORDER BY created_at", [scope, flow])

    # ------------------------------------------------------------------ grids

    def add_grid(
        self,
        *,
        prompt: str,
        axes: dict[str, Any],
        cells: Sequence[tuple[VideoGenerationParams, str]],
        author: str = "",
        name: str = "",
        launch_key: str | None = None,
    ) -> tuple[str, list[str]]:
        """Save a comparison and queue all its cells in one transaction; returns (grid id, generation ids).

        With a `launch_key` already recorded, nothing is saved and the recorded grid is returned.
        """
        grid_id = new_id()
        with self._immediate() as conn:
            recorded = self._launch(conn, launch_key)
            if recorded is not None:
                if recorded[0] is None:
                    # A caller's mix-up, not a database failure: the click already launched takes.
                    raise JobError("This click already launched takes, not a comparison; press Run again.")
                return recorded[0], recorded[1]
            conn.execute(
                "INSERT INTO grids (id, created_at, author, name, prompt, axes) VALUES (?,?,?,?,?,?)",
                [grid_id, utcnow(), author, name, prompt, json.dumps(axes)],
            )
            ids = self._insert_generations(conn, cells, author=author, grid_id=grid_id)
            self._record_launch(conn, launch_key, grid_id, ids)
        return grid_id, ids

    def get_grid(self, grid_id: str) -> dict[str, Any] | None:
        rows = self._rows("SELECT * FROM grids WHERE id = ?", [grid_id])
        if not rows:
            return None
        grid = rows[0]
        grid["axes"] = json.loads(grid["axes"] or "{}")
        return grid

    def grid_cells(self, grid_id: str) -> list[Generation]:
        return [
            Generation.model_validate(r)
            for r in self._rows("SELECT * FROM generations WHERE grid_id = ? ORDER BY rowid", [grid_id])
        ]

    def grids(self, *, limit: int = 20, offset: int = 0) -> list[dict[str, Any]]:
        "Saved comparisons, newest first, with their cell counts."
        rows = self._rows(
            "SELECT g.*, (SELECT count(*) FROM generations c WHERE c.grid_id = g.id) AS cells, "
            "(SELECT count(*) FROM generations c WHERE c.grid_id = g.id AND c.status = 'done') AS done "
            "FROM grids g ORDER BY g.created_at DESC LIMIT ? OFFSET ?",
            [limit, offset],
        )
        for row in rows:
            row["axes"] = json.loads(row["axes"] or "{}")
        return rows

    def set_winner(self, grid_id: str, gen_id: str | None) -> None:
        "Mark one cell as the grid's winner (None clears it)."
        with self._immediate() as conn:
            conn.execute("UPDATE generations SET winner = 0 WHERE grid_id = ? AND winner = 1", [grid_id])
            if gen_id:
                conn.execute("UPDATE generations SET winner = 1 WHERE grid_id = ? AND id = ?", [grid_id, gen_id])

    # ------------------------------------------------------------------ share links (only token hashes)

    def add_share_link(self, row: dict[str, Any], *, replacing: str | None = None) -> bool:
        """Insert a share link row (its `token_hash` is unique). With `replacing`, that live link is
        revoked in the same transaction, and nothing is inserted (False) when it is not live."""
        with self._immediate() as conn:
            if replacing is not None:
                cur = conn.execute(
                    "UPDATE share_links SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                    [row["created_at"], replacing],
                )
                if cur.rowcount != 1:
                    return False
            conn.execute(
                f"INSERT INTO share_links ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", list(row.values())
            )
            return True

    def share_link(self, *, link_id: str | None = None, token_hash: str | None = None) -> dict[str, Any] | None:
        "One share link by its id or by its token's hash."
        column, value = ("id", link_id) if link_id is not None else ("token_hash", token_hash)
        rows = self._rows(f"SELECT * FROM share_links WHERE {column} = ?", [value])
        return rows[0] if rows else None

    def share_links(
        self, *, kind: str | None = None, ref: str | None = None, created_by: str | None = None, limit: int = 500
    ) -> list[dict[str, Any]]:
        "Share links, newest first, narrowed to a selection and/or a creator when given."
        where = [(c, v) for c, v in (("kind", kind), ("ref", ref), ("created_by", created_by)) if v is not None]
        sql = "SELECT * FROM share_links" + (" WHERE " + " AND ".join(f"{c} = ?" for c, _ in where) if where else "")
        return self._rows(sql + " ORDER BY created_at DESC, rowid DESC LIMIT ?", [*(v for _, v in where), limit])

    def revoke_share_link(self, link_id: str, at: str) -> bool:
        "Mark a live link revoked; False when there is no such link or it was already revoked."
        with self._immediate() as conn:
            cur = conn.execute(
                "UPDATE share_links SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", [at, link_id]
            )
            return cur.rowcount == 1

    # ------------------------------------------------------------------ collections

    def add_collection(self, *, name: str, description: str = "", owner: str = "") -> Collection:
        coll_id, now = new_id(), utcnow()
        with self._immediate() as conn:
            conn.execute(
                "INSERT INTO collections (id, created_at, updated_at, owner, name, description) VALUES (?,?,?,?,?,?)",
                [coll_id, now, now, owner, name, description],
            )
        return Collection(id=coll_id, name=name, description=description, owner=owner, created_at=now, updated_at=now)

    _COLLECTION_SQL = (
        "SELECT c.*, (SELECT count(*) FROM collection_items i WHERE i.collection_id = c.id) AS items FROM collections c"
    )

    def get_collection(self, coll_id: str) -> Collection | None:
        rows = self._rows(self._COLLECTION_SQL + " WHERE c.id = ?", [coll_id])
        return Collection.model_validate(rows[0]) if rows else None

    def collections(self, *, limit: int = 200, offset: int = 0, containing: str | None = None) -> list[Collection]:
        "Collections, the most recently changed first (only those holding `containing`, if given)."
        sql, params = self._COLLECTION_SQL, []
        if containing:
            sql += " WHERE c.id IN (SELECT collection_id FROM collection_items WHERE generation_id = ?)"
            params.append(containing)
        rows = self._rows(sql + " ORDER BY c.updated_at DESC, c.rowid DESC LIMIT ? OFFSET ?", [*params, limit, offset])
        return [Collection.model_validate(r) for r in rows]

    def update_collection(self, coll_id: str, **fields: str | None) -> bool:
        "Change name, description or cover_id (other keys are ignored); False when there is no such collection."
        fields = {k: v for k, v in fields.items() if k in COLLECTION_FIELDS}
        sets = ", ".join(f"{k} = ?" for k in fields)
        with self._immediate() as conn:
            cur = conn.execute(
                f"UPDATE collections SET {sets}, updated_at = ? WHERE id = ?", [*fields.values(), utcnow(), coll_id]
            )
            return cur.rowcount == 1

    def delete_collection(self, coll_id: str) -> bool:
        "Remove a collection and its item list; the generations stay."
        with self._immediate() as conn:
            conn.execute("DELETE FROM collection_items WHERE collection_id = ?", [coll_id])
            return conn.execute("DELETE FROM collections WHERE id = ?", [coll_id]).rowcount == 1

    def add_to_collection(self, coll_id: str, gen_ids: Sequence[str], *, added_by: str = "") -> int:
        """Append generations to a collection, in the order given; one already in it stays where it
        is (adding twice is not an error). Ids of no generation are skipped. Returns how many were added."""
        now = utcnow()
        with self._immediate() as conn:
            if conn.execute("SELECT 1 FROM collections WHERE id = ?", [coll_id]).fetchone() is None:
                return 0
            (last,) = conn.execute(
                "SELECT coalesce(max(position), -1) FROM collection_items WHERE collection_id = ?", [coll_id]
            ).fetchone()
            added = 0
            for gen_id in dict.fromkeys(gen_ids):
                cur = conn.execute(
                    "INSERT OR IGNORE INTO collection_items (collection_id, generation_id, position, added_by, "
                    "added_at) SELECT ?, id, ?, ?, ? FROM generations WHERE id = ?",
                    [coll_id, last + 1 + added, added_by, now, gen_id],
                )
                added += cur.rowcount
            if added:
                conn.execute("UPDATE collections SET updated_at = ? WHERE id = ?", [now, coll_id])
            return added

    def remove_from_collection(self, coll_id: str, gen_ids: Sequence[str]) -> int:
        with self._immediate() as conn:
            removed = sum(
                conn.execute(
                    "DELETE FROM collection_items WHERE collection_id = ? AND generation_id = ?", [coll_id, gen_id]
                ).rowcount
                for gen_id in dict.fromkeys(gen_ids)
            )
            if removed:
                conn.execute(
                    "UPDATE collections SET updated_at = ?, cover_id = CASE WHEN cover_id IN "
                    f"({','.join('?' * len(gen_ids))}) THEN NULL ELSE cover_id END WHERE id = ?",
                    [utcnow(), *gen_ids, coll_id],
                )
            return removed

    def reorder_collection(self, coll_id: str, gen_ids: Sequence[str]) -> None:
        "Put the given items first, in this order; the others follow in their old order."
        with self._immediate() as conn:
            current = [
                r[0]
                for r in conn.execute(
                    "SELECT generation_id FROM collection_items WHERE collection_id = ? ORDER BY position", [coll_id]
                )
            ]
            wanted = [g for g in dict.fromkeys(gen_ids) if g in set(current)]
            order = wanted + [g for g in current if g not in set(wanted)]
            conn.executemany(
                "UPDATE collection_items SET position = ? WHERE collection_id = ? AND generation_id = ?",
                [(i, coll_id, g) for i, g in enumerate(order)],
            )
            conn.execute("UPDATE collections SET updated_at = ? WHERE id = ?", [utcnow(), coll_id])

    def collection_items(self, coll_id: str) -> list[Generation]:
        "The collection's generations, in its order."
        rows = self._rows(
            "SELECT g.* FROM collection_items i JOIN generations g ON g.id = i.generation_id "
            "WHERE i.collection_id = ? ORDER BY i.position",
            [coll_id],
        )
        return [Generation.model_validate(r) for r in rows]

    def collection_item_authors(self, coll_id: str) -> dict[str, str]:
        "Who added each item: generation id -> name."
        rows = self._rows("SELECT generation_id, added_by FROM collection_items WHERE collection_id = ?", [coll_id])
        return {r["generation_id"]: r["added_by"] or "" for r in rows}

    # ------------------------------------------------------------------ reference library

    def find_reference(self, scope: str, sha256: str) -> Reference | None:
        rows = self._rows('SELECT * FROM "references" WHERE scope = ? AND sha256 = ?', [scope, sha256])
        return Reference.model_validate(rows[0]) if rows else None

    def add_reference(self, ref: Reference) -> None:
        with self._immediate() as conn:
            conn.execute(
                'INSERT OR REPLACE INTO "references" (scope, sha256, kind, filename, content_type, size, '
                "upload_id, local_name, created_at) VALUES (?,?,?,?,?,?,?,?,?)",
                [
                    ref.scope,
                    ref.sha256,
                    ref.kind,
                    ref.filename,
                    ref.content_type,
                    ref.size,
                    ref.upload_id,
                    ref.local_name,
                    ref.created_at,
                ],
            )

    def references(self, scope: str, kind: str | None = None) -> list[Reference]:
        "The library for one API scope, newest first."
        sql, params = 'SELECT * FROM "references" WHERE scope = ?', [scope]
        if kind:
            sql += " AND kind = ?"
            params.append(kind)
        return [Reference.model_validate(r) for r in self._rows(sql + " ORDER BY created_at DESC", params)]

    # ------------------------------------------------------------------ presets

    def save_preset(self, name: str, params: dict[str, Any]) -> None:
        now = utcnow()
        with self._immediate() as conn:
            conn.execute(
                "INSERT INTO presets (name, params, created_at, updated_at) VALUES (?,?,?,?) "
                "ON CONFLICT(name) DO UPDATE SET params = excluded.params, updated_at = excluded.updated_at",
                [name, json.dumps(params), now, now],
            )

    def presets(self) -> list[Preset]:
        return [Preset.model_validate(r) for r in self._rows("SELECT * FROM presets ORDER BY name")]

    def delete_preset(self, name: str) -> bool:
        with self._immediate() as conn:
            return conn.execute("DELETE FROM presets WHERE name = ?", [name]).rowcount == 1

    # ------------------------------------------------------------------ lineage (draft → final, issue 9 §4)

    def set_draft(self, gen_id: str, draft_id: str) -> None:
        "Record that `gen_id` is a final promoted from `draft_id`."
        self.update(gen_id, draft_id=draft_id)

    def finals(self, draft_ids: Sequence[str]) -> list[Generation]:
        "The takes promoted from any of these drafts, oldest first (the draft_id index)."
        if not draft_ids:
            return []
        marks = ",".join("?" * len(draft_ids))
        sql = f"SELECT * FROM generations WHERE draft_id IN ({marks}) ORDER BY created_at, rowid"
        return [Generation.model_validate(r) for r in self._rows(sql, list(draft_ids))]

    def launched_with_prefix(self, prefix: str) -> list[str]:
        "The generation ids of every launch whose key starts with `prefix`, oldest first (the key index)."
        rows = self._rows(
            "SELECT generation_ids FROM launches WHERE key >= ? AND key < ? ORDER BY created_at",
            [prefix, prefix + "\uffff"],
        )
        return [gen_id for row in rows for gen_id in json.loads(row["generation_ids"])]

    # ------------------------------------------------------------------ gallery
    #
    # The gallery's cost must not grow with the history. A page without search walks the date
    # index (or a filter's (column, created_at) index). A page with search walks the full-text
    # index newest first: FTS5 hands out rowids in descending order without sorting, and rowid
    # order is date order because created_at is stamped as the row is inserted. Each match's row
    # is then read by rowid, so a page reads about as many rows as it shows (divided by the
    # filters' share) instead of listing every match first. The pager's count starts after the
    # page's last row and stops at a bound or a step budget (`page_with_count`), so its work is
    # the same at a thousand generations and at a million, and on page 1 or page 400.

    def _match(self, text: str) -> str | None:
        "The FTS5 expression for the search box: every word quoted (plain text), each a prefix."
        quoted = " ".join(f"{tok}*" for tok in self.db.quote_fts(text).split(" ") if tok)
        return quoted or None

    @staticmethod
    def _filters(q: GalleryQuery) -> tuple[list[str], list[Any]]:
        "WHERE clauses (on alias g) and their parameters for everything but the search text."
        clauses: list[str] = []
        params: list[Any] = []
        for column in ("status", "resolution", "aspect_ratio", "duration", "model", "author"):
            values = getattr(q, column)
            if values:
                clauses.append(f"g.{column} IN ({','.join('?' * len(values))})")
                params.extend(values)
        if q.by:
            clauses.append(f"g.author IN ({','.join('?' * len(q.by))})")
            params.extend(q.by)
        if q.generate_audio is not None:
            clauses.append("g.generate_audio = ?")
            params.append(int(q.generate_audio))
        if q.starred is not None:
            clauses.append("g.starred = ?")
            params.append(int(q.starred))
        if q.grid_id:
            clauses.append("g.grid_id = ?")
            params.append(q.grid_id)
        if q.since:
            clauses.append("g.created_at >= ?")
            params.append(q.since)
        if q.until:
            clauses.append("g.created_at < ?")
            # A bare date covers that whole day.
            params.append(q.until + "\uffff" if len(q.until) <= 10 else q.until)
        if q.stage == "finals":
            clauses.append("g.draft_id IS NOT NULL")
        elif q.stage == "drafts":  # the draft_id index answers for each row
            clauses.append("EXISTS (SELECT 1 FROM generations fin WHERE fin.draft_id = g.id)")
        if q.collection:
            # A collection holds a few dozen takes: start from them. The `+` stops SQLite from walking
            # another filter's index instead and probing the collection for every row it meets.
            clauses = ["+" + c for c in clauses]
            clauses.append("g.id IN (SELECT generation_id FROM collection_items WHERE collection_id = ?)")
            params.append(q.collection)
        return clauses, params

    def _select(
        self, q: GalleryQuery, columns: str, after: tuple[int, str] | None = None, *, stacked: bool = False
    ) -> tuple[str, list[Any], str]:
        """SELECT ... FROM ... WHERE for a gallery query, its parameters, and its newest-first order.

        `after` is the (rowid, created_at) of a row: only rows after it in that order are selected.
        `stacked`: one row per comparison (its newest matching cell) or per generation outside one.
        """
        clauses, params = self._filters(q)
        match = self._match(q.text) if q.text else None
        if stacked:
            clause, extra = self._newest_of_its_grid(q, match)
            clauses.append(clause)
            params.extend(extra)
        if match is None:
            if after is not None:
                # A row value: the date index (or a filter's (column, created_at) index) seeks to it.
                clauses.append("(g.created_at, g.rowid) < (?, ?)")
                params.extend([after[1], after[0]])
            where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
            return f"SELECT {columns} FROM generations g{where}", params, "g.created_at DESC, g.rowid DESC"
        if q.grid_id or q.collection:
            if after is not None:
                clauses.append("g.rowid < ?")
                params.append(after[0])
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
            clauses.append("f.rowid < ?")
            params.append(after[0])
        sql = (
            f"SELECT {columns} FROM generations_fts f CROSS JOIN generations g ON g.rowid = f.rowid "
            f"WHERE generations_fts MATCH ?{''.join(' AND ' + c for c in clauses)}"
        )
        return sql, [match, *params], "f.rowid DESC"

    def _page_sql(
        self, q: GalleryQuery, limit: int, offset: int, columns: str = "g.*", *, stacked: bool = False
    ) -> tuple[str, list[Any]]:
        sql, params, order = self._select(q, columns, stacked=stacked)
        return f"{sql} ORDER BY {order} LIMIT ? OFFSET ?", [*params, limit, offset]

    def _count_sql(
        self, q: GalleryQuery, bound: int | None, after: tuple[int, str] | None = None, *, stacked: bool = False
    ) -> tuple[str, list[Any]]:
        "A query with one row per match (after `after`), at most `bound + 1` of them."
        if not stacked and q.text and q == GalleryQuery(text=q.text) and (match := self._match(q.text)):
            # A search alone is counted on the full-text index without reading any row.
            sql = "SELECT 1 FROM generations_fts WHERE generations_fts MATCH ?"
            params: list[Any] = [match]
            if after is not None:
                sql += " AND rowid < ?"
                params.append(after[0])
        else:
            sql, params, _order = self._select(q, "1", after, stacked=stacked)
        if bound is None:
            return sql, params
        return f"{sql} LIMIT ?", [*params, bound + 1]

    def page(
        self,
        query: GalleryQuery | None = None,
        *,
        limit: int = DEFAULT_PAGE_SIZE,
        offset: int = 0,
        stacked: bool = False,
    ) -> list[Generation]:
        "One page of the history, newest first (`stacked`: a comparison as its newest matching cell)."
        sql, params = self._page_sql(query or GalleryQuery(), limit, offset, stacked=stacked)
        return [Generation.model_validate(r) for r in self._rows(sql, params)]

    def count(
        self, query: GalleryQuery | None = None, *, bound: int | None = COUNT_BOUND, stacked: bool = False
    ) -> int:
        """How many generations match (`stacked`: comparisons and generations outside one), exact up
        to `bound`; past it, `bound + 1` ("1,000+").

        For a yes/no or a small number; the gallery's pager uses `page_with_count`, whose work is bounded.
        `bound=None` counts all.
        """
        sql, params = self._count_sql(query or GalleryQuery(), bound, stacked=stacked)
        return int(self._rows(f"SELECT count(*) AS n FROM ({sql})", params)[0]["n"])

    def page_with_count(
        self,
        query: GalleryQuery | None = None,
        *,
        number: int = 0,
        size: int = DEFAULT_PAGE_SIZE,
        stacked: bool = False,
    ) -> CountedPage:
        """Page `number` (from 0) of a gallery query, newest first, and how many generations match.

        The count is exact below the first multiple of `count_bound` past the page, and "at least"
        that many at it. Past the page it reads at most `count_bound` index entries, or, when it
        must read rows, at most `count_steps` SQLite steps (it is then "at least" what it found):
        its work is the same in a history of a thousand or a million, at any depth. A page that
        comes back short ends the history, so it is counted with no more work; a page past the end
        (an old link) gives the last page. `stacked` pages and counts a comparison as one item.
        """
        q = query or GalleryQuery()
        number = max(0, number)
        offset = number * size
        sql, params = self._page_sql(q, size, offset, "g.rowid AS rowid_, g.*", stacked=stacked)
        rows = self._rows(sql, params)
        if not rows and number > 0:
            # Every match lies before `offset`, so a count bounded there is exact.
            n = self.count(q, bound=offset, stacked=stacked)
            last = max(0, -(-n // size) - 1)
            page = self.page(q, limit=size, offset=last * size, stacked=stacked)
            return CountedPage(page, last, GalleryCount(n, exact=True))
        gens = [Generation.model_validate(r) for r in rows]
        if len(rows) < size:
            return CountedPage(gens, number, GalleryCount(offset + len(rows), exact=True))
        bound = ((offset + size) // self.count_bound + 1) * self.count_bound
        ahead = bound - offset - size
        after = (int(rows[-1]["rowid_"]), str(rows[-1]["created_at"]))
        sql, params = self._count_sql(q, ahead, after=after, stacked=stacked)
        if stacked:  # whether a row is its comparison's newest cell is read from the row
            steps = min(self.count_steps * (1 if q.text else STACKED_STEPS_FACTOR), MAX_STEPS)
            found, finished = self._count_rows(sql, params, steps=steps)
        elif self._count_reads_rows(q):
            found, finished = self._count_rows(sql, params, steps=self.count_steps)
        else:  # index entries only, at most `ahead` of them: counted in SQLite, no budget needed
            found, finished = int(self._rows(f"SELECT count(*) AS n FROM ({sql})", params)[0]["n"]), True
        if found > ahead:
            return CountedPage(gens, number, GalleryCount(bound, exact=False))
        return CountedPage(gens, number, GalleryCount(offset + size + found, exact=finished))

    def _newest_of_its_grid(self, q: GalleryQuery, match: str | None) -> tuple[str, list[Any]]:
        """A WHERE clause (on alias g) true for a generation outside any comparison, or for the
        newest of its comparison's cells that match `q`: so a comparison takes one place in the
        gallery, where its newest matching cell stands, and paging and counts stay exact. It looks
        only at that comparison's cells (the grid_id index), never at the rest of the history."""
        clauses, params = self._filters(q)
        # The same filters on the other cells (alias c): `g.` is the only alias _filters writes.
        inner = [re.sub(r"\bg\.", "c.", clause) for clause in clauses]
        # Newer by rowid, which is date order (created_at is stamped as the row is inserted): the
        # grid_id index holds (grid_id, rowid), so the newest cell seeks past itself and reads nothing.
        inner.append("c.rowid > g.rowid")
        if match is not None:
            inner.append("EXISTS (SELECT 1 FROM generations_fts WHERE generations_fts MATCH ? AND rowid = c.rowid)")
            params.append(match)
        newer = "SELECT 1 FROM generations c WHERE c.grid_id = g.grid_id AND " + " AND ".join(inner)
        return f"(g.grid_id IS NULL OR NOT EXISTS ({newer}))", params

    def grid_stacks(self, grid_ids: Sequence[str], query: GalleryQuery | None = None) -> dict[str, dict[str, Any]]:
        """For comparisons shown as one stacked card: by grid id, its name, prompt and axes, its
        cells' ids in order, how many there are, how many are done, and how many match `query`."""
        if not grid_ids:
            return {}
        q = query or GalleryQuery()
        marks = ",".join("?" * len(grid_ids))
        out: dict[str, dict[str, Any]] = {}
        for row in self._rows(f"SELECT id, name, prompt, axes FROM grids WHERE id IN ({marks})", grid_ids):
            out[row["id"]] = {**row, "axes": json.loads(row["axes"] or "{}"), "cells": [], "done": 0, "matching": 0}
        for row in self._rows(
            f"SELECT id, grid_id, status FROM generations WHERE grid_id IN ({marks}) ORDER BY rowid", grid_ids
        ):
            if row["grid_id"] in out:
                out[row["grid_id"]]["cells"].append(row["id"])
                out[row["grid_id"]]["done"] += row["status"] == "done"
        clauses, params = self._filters(q)
        if q.text and (match := self._match(q.text)):
            clauses.append("EXISTS (SELECT 1 FROM generations_fts WHERE generations_fts MATCH ? AND rowid = g.rowid)")
            params.append(match)
        where = "".join(f" AND {c}" for c in clauses)
        for row in self._rows(
            f"SELECT g.grid_id, count(*) AS n FROM generations g WHERE g.grid_id IN ({marks}){where} "
            "GROUP BY g.grid_id",
            [*grid_ids, *params],
        ):
            if row["grid_id"] in out:
                out[row["grid_id"]]["matching"] = row["n"]
        return out

    @staticmethod
    def _count_reads_rows(q: GalleryQuery) -> bool:
        "Whether counting past a page reads rows of the table, not only an index."
        if q.text:
            return q != GalleryQuery(text=q.text)  # a search alone is counted on the full-text index
        # No filter, a date range, or one filter with its (column, created_at) index (with or
        # without a date range): the index alone answers. Anything else checks rows.
        filters = set(q.model_dump(exclude_defaults=True)) - {"since", "until"}
        return len(filters) > 1 or not filters <= set(DATED_INDEX_COLUMNS)

    def _count_rows(self, sql: str, params: Sequence[Any], *, steps: int) -> tuple[int, bool]:
        """How many rows the query yields within `steps` SQLite steps, and whether it finished.

        SQLite calls the progress handler every `steps` steps; answering 1 interrupts the query.
        The rows are counted here as they come, so an interrupted count keeps what it found.
        """
        conn = self.db.conn
        found = 0
        conn.set_progress_handler(lambda: 1, steps)
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

    def query_plans(self, query: GalleryQuery, *, limit: int = DEFAULT_PAGE_SIZE) -> dict[str, list[str]]:
        """The page query and the count past its first page for this gallery query: the SQL, then its
        EXPLAIN QUERY PLAN (read-only)."""
        after = (1 << 62, "9999")  # a key after which every row lies: the plan's shape, not its rows
        out = {}
        for name, (sql, params) in (
            ("page", self._page_sql(query, limit, 0)),
            ("count", self._count_sql(query, COUNT_BOUND - limit, after=after)),
        ):
            with self._translated():
                out[name] = [sql, *(r[3] for r in self.db.execute(f"EXPLAIN QUERY PLAN {sql}", params))]
        return out
