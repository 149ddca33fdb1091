"""The history in SQLite: generations, job progress, the agent pool and comparison grids.

`HistoryStore(path)` keeps one connection per thread (sqlite3 objects must stay on the thread
that made them), runs in WAL mode with a busy timeout, and wraps every read-modify-write in
`BEGIN IMMEDIATE` so concurrent writers queue instead of failing. It knows nothing about Mosaic.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, field_validator
from sqlite_utils import Database

from .errors import StoreError
from .migrations import migrations
from .models import ACTIVE_STATUSES, IN_FLIGHT_STATUSES, Generation, Preset, Reference, VideoGenerationParams

BUSY_TIMEOUT_MS = 10_000
# Read through a memory map and keep a larger page cache: at a million generations a gallery
# search reads pages scattered over a ~1 GB file, and a read() per page costs more than the query.
MMAP_BYTES = 1 << 31
CACHE_KIB = 32 * 1024
DEFAULT_PAGE_SIZE = 48
# Gallery counts stop after this many matches and the gallery says "10,000+": a count no longer
# visits every match of a common word or filter in a history of a million.
COUNT_BOUND = 10_000
ID_HEX_CHARS = 12


def utcnow() -> str:
    "Now as sortable ISO-8601 UTC text; every timestamp in the store uses this form."
    return datetime.now(UTC).isoformat(timespec="microseconds")


def new_id() -> str:
    return uuid.uuid4().hex[:ID_HEX_CHARS]


@dataclass(frozen=True)
class AgentLease:
    "A pooled agent leased to one job."

    agent_id: str
    node_id: str


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
    generate_audio: bool | None = None
    starred: bool | None = None
    grid_id: str | None = None
    since: str | None = None  # ISO date or timestamp, inclusive
    until: str | None = None  # ISO date or timestamp, inclusive (a date covers the whole day)

    @field_validator("text")
    @classmethod
    def _strip(cls, v: str) -> str:
        return v.strip()


class HistoryStore:
    "The studio's SQLite history. Safe to share between threads; each thread gets its own connection."

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        db = self.db
        db.execute("PRAGMA journal_mode=WAL")
        migrations.apply(db)

    # ------------------------------------------------------------------ connections

    @property
    def db(self) -> Database:
        "This thread's connection, opened on first use."
        db = getattr(self._local, "db", None)
        if db is None:
            conn = sqlite3.connect(str(self.path), timeout=BUSY_TIMEOUT_MS / 1000)
            conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
            conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
            db = self._local.db = Database(conn)
        return db

    def close(self) -> None:
        "Close this thread's connection (others close when their threads end)."
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    @contextmanager
    def _immediate(self) -> Iterator[sqlite3.Connection]:
        # BEGIN IMMEDIATE takes the write lock up front: a deferred read-then-write fails at once
        # with "database is locked" when another thread writes (streamlit-notes.md §6).
        conn = self.db.conn
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as err:
            raise StoreError(f"The history database is busy or unreadable: {err}") from err
        try:
            yield conn
        except BaseException:
            conn.rollback()
            raise
        else:
            conn.commit()

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        return list(self.db.query(sql, params))

    # ------------------------------------------------------------------ generations

    def add_generations(
        self, cells: Sequence[tuple[VideoGenerationParams, str | None]], *, author: str = "", grid_id: str | None = None
    ) -> list[str]:
        "Queue generations (params, cell label) in one transaction; returns their ids in order."
        ids = []
        now = utcnow()
        with self._immediate() as conn:
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
            conn.execute("DELETE FROM generations WHERE id = ?", [gen_id])

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

    def reset_for_retry(self, gen_id: str) -> bool:
        "Put a failed or cancelled generation back in the queue as a new attempt."
        with self._immediate() as conn:
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
                row = conn.execute(
                    "SELECT agent_id, node_id FROM agents WHERE scope = ? AND flow = ? AND leased_by IS NULL "
                    "ORDER BY created_at LIMIT 1",
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

    def record_run(self, gen_id: str, run_id: str, agent_id: str, **fields: Any) -> bool:
        "Atomically: the run belongs to this generation, which moves from submitting to running."
        now = utcnow()
        fields = {"status": "running", "run_id": run_id, "submitted_at": now, **fields}
        sets = ", ".join(f"{k} = ?" for k in fields)
        with self._immediate() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO agent_runs (run_id, agent_id, generation_id, created_at) VALUES (?,?,?,?)",
                [run_id, agent_id, gen_id, now],
            )
            cur = conn.execute(
                f"UPDATE generations SET {sets} WHERE id = ? AND status = 'submitting'", [*fields.values(), gen_id]
            )
            return cur.rowcount == 1

    def known_run_ids(self, agent_id: str) -> set[str]:
        "Every run id ever recorded on this agent."
        return {r["run_id"] for r in self._rows("SELECT run_id FROM agent_runs WHERE agent_id = ?", [agent_id])}

    # ------------------------------------------------------------------ grids

    def add_grid(
        self,
        *,
        prompt: str,
        axes: dict[str, Any],
        cells: Sequence[tuple[VideoGenerationParams, str]],
        author: str = "",
        name: str = "",
    ) -> tuple[str, list[str]]:
        "Save a comparison and queue all its cells together; returns (grid id, generation ids)."
        grid_id = new_id()
        with self._immediate() as conn:
            conn.execute(
                "INSERT INTO grids (id, created_at, author, name, prompt, axes) VALUES (?,?,?,?,?,?)",
                [grid_id, utcnow(), author, name, prompt, json.dumps(axes)],
            )
        ids = self.add_generations(cells, author=author, grid_id=grid_id)
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

    # ------------------------------------------------------------------ gallery
    #
    # The gallery's cost must not grow with the history. A page without search walks the date
    # index (or a filter's (column, created_at) index). A page with search walks the full-text
    # index newest first: FTS5 hands out rowids in descending order without sorting, and rowid
    # order is date order because created_at is stamped as the row is inserted. Each match's row
    # is then read by rowid, so a page reads about as many rows as it shows (divided by the
    # filters' share) instead of listing every match first. Counts stop at COUNT_BOUND.

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
        return clauses, params

    def _select(self, q: GalleryQuery, columns: str) -> tuple[str, list[Any], str]:
        "SELECT ... FROM ... WHERE for a gallery query, its parameters, and its newest-first order."
        clauses, params = self._filters(q)
        match = self._match(q.text) if q.text else None
        if match is None:
            where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
            return f"SELECT {columns} FROM generations g{where}", params, "g.created_at DESC, g.rowid DESC"
        if q.grid_id:
            # A comparison has a few dozen cells: start from them and look each up in the match list
            # (the `+` stops SQLite from walking the list and probing the grid index per match).
            sql = (
                f"SELECT {columns} FROM generations g WHERE "
                "+g.rowid IN (SELECT rowid FROM generations_fts WHERE generations_fts MATCH ?) AND "
                + " AND ".join(clauses)
            )
            return sql, [match, *params], "g.rowid DESC"
        # CROSS JOIN keeps the full-text index as the outer loop, read in rowid order, so SQLite
        # neither lists every match nor sorts them; the filters are checked on each row read.
        sql = (
            f"SELECT {columns} FROM generations_fts f CROSS JOIN generations g ON g.rowid = f.rowid "
            f"WHERE generations_fts MATCH ?{''.join(' AND ' + c for c in clauses)}"
        )
        return sql, [match, *params], "f.rowid DESC"

    def _page_sql(self, q: GalleryQuery, limit: int, offset: int) -> tuple[str, list[Any]]:
        sql, params, order = self._select(q, "g.*")
        return f"{sql} ORDER BY {order} LIMIT ? OFFSET ?", [*params, limit, offset]

    def _count_sql(self, q: GalleryQuery, bound: int | None) -> tuple[str, list[Any]]:
        if q.text and q == GalleryQuery(text=q.text) and (match := self._match(q.text)):
            # A search alone is counted on the full-text index without reading any row.
            sql, params = "SELECT 1 FROM generations_fts WHERE generations_fts MATCH ?", [match]
        else:
            sql, params, _order = self._select(q, "1")
        if bound is None:
            return f"SELECT count(*) AS n FROM ({sql})", params
        return f"SELECT count(*) AS n FROM ({sql} LIMIT ?)", [*params, bound + 1]

    def page(
        self, query: GalleryQuery | None = None, *, limit: int = DEFAULT_PAGE_SIZE, offset: int = 0
    ) -> list[Generation]:
        "One page of the history, newest first."
        sql, params = self._page_sql(query or GalleryQuery(), limit, offset)
        return [Generation.model_validate(r) for r in self._rows(sql, params)]

    def count(self, query: GalleryQuery | None = None, *, bound: int | None = COUNT_BOUND) -> int:
        """How many generations match, exact up to `bound`; past it, `bound + 1` (shown as "10,000+").

        The bound keeps a count's cost flat however large the history; `bound=None` counts all.
        """
        sql, params = self._count_sql(query or GalleryQuery(), bound)
        return int(self._rows(sql, params)[0]["n"])

    def query_plans(self, query: GalleryQuery, *, limit: int = DEFAULT_PAGE_SIZE) -> dict[str, list[str]]:
        "The page and count queries for this gallery query: the SQL, then its EXPLAIN QUERY PLAN (read-only)."
        out = {}
        for name, (sql, params) in (
            ("page", self._page_sql(query, limit, 0)),
            ("count", self._count_sql(query, COUNT_BOUND)),
        ):
            out[name] = [sql, *(r[3] for r in self.db.execute(f"EXPLAIN QUERY PLAN {sql}", params))]
        return out
