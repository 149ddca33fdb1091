"""The history database schema, as append-only named migrations (sqlite-utils `Migrations`), and
the one runner that applies them.

A migration is never edited once it has merged; a change of schema is a new function at the
end. `HistoryStore` calls `migrate` when it opens a database. The runner holds a file lock and an
exclusive SQLite transaction for the whole pass and looks at what is applied only inside them, so
any number of processes opening a new data folder at once make the schema exactly once. The
schema version (`PRAGMA user_version`, the number of migrations applied) and the applied names
are checked first: a database from a newer studio is refused, with nothing written.
"""

from __future__ import annotations

import fcntl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import StoreError
from .sqlite_lib import Database, Migrations

migrations = Migrations("studio")

# A first open makes the whole schema in well under a second; a migration over a large history may
# take a while, so the others wait this long for it before saying so.
SCHEMA_LOCK_TIMEOUT_S = 120.0
SCHEMA_LOCK_POLL_S = 0.02


def known_migrations() -> list[str]:
    "The names of this studio's migrations, in order (what a fully migrated database has applied)."
    return [m.name for m in migrations.pending(Database(memory=True))]


@contextmanager
def _schema_lock(path: Path, timeout_s: float) -> Iterator[None]:
    """One studio process at a time in the migration pass. A file of its own beside the database:
    SQLite's own locks cannot cover `PRAGMA journal_mode=WAL`, which runs outside a transaction,
    and a lock on the database file itself would be dropped by SQLite closing its descriptors."""
    with open(path, "a+") as handle:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise StoreError(
                        f"Another studio process has been setting up the history database beside {path} for "
                        f"over {timeout_s:.0f} s; wait for it to finish (or stop it) and try again"
                    ) from None
                time.sleep(SCHEMA_LOCK_POLL_S)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _refuse_newer(db: Database, db_path: Path) -> None:
    "A database that a newer studio has migrated is not ours to change."
    known = known_migrations()
    version = db.execute("PRAGMA user_version").fetchone()[0]
    unknown = [m.name for m in migrations.applied(db) if m.name not in known]
    if version > len(known) or unknown:
        raise StoreError(
            f"The history database {db_path} was written by a newer version of the studio (schema "
            f"{max(version, len(known) + len(unknown))}; this studio knows {len(known)}); update the studio, or "
            "set STUDIO_DATA_DIR to another folder. Nothing was changed."
        )


def migrate(db: Database, db_path: Path, lock_path: Path, *, timeout_s: float = SCHEMA_LOCK_TIMEOUT_S) -> None:
    """Bring the database at `db_path` (open as `db`) to this studio's schema, once, however many
    processes open it at the same moment. Raises StoreError for a newer schema; `sqlite3` errors
    (a damaged file, say) leave as they are for the store to translate. Everything is one
    transaction: a pass that fails leaves the file as it was."""
    with _schema_lock(lock_path, timeout_s):
        conn = db.conn
        if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            conn.execute("PRAGMA journal_mode=WAL")  # cannot run inside a transaction: hence the file lock
        # EXCLUSIVE also keeps out a writer that does not take the file lock (an older studio).
        conn.execute("BEGIN EXCLUSIVE")
        try:
            _refuse_newer(db, db_path)
            migrations.apply(db)  # inside our transaction each migration is a savepoint
            version = len(known_migrations())
            if db.execute("PRAGMA user_version").fetchone()[0] != version:
                conn.execute(f"PRAGMA user_version = {version}")
        except BaseException:
            conn.rollback()
            raise
        conn.commit()


@migrations()
def m001_generations(db: Database) -> None:
    "One row per generation: every node param as a column, the outcome, the file's facts."
    db["generations"].create(
        {
            "id": str,
            "created_at": str,
            "author": str,
            "prompt": str,
            "model": str,
            "resolution": str,
            "duration": str,
            "aspect_ratio": str,
            "generate_audio": int,
            "selected_context": str,  # JSON {images, videos, audio}
            "status": str,  # queued, submitting, running, downloading, done, failed, cancelled
            "error": str,
            "grid_id": str,
            "cell_label": str,
            "agent_id": str,
            "node_id": str,
            "run_id": str,
            "render_id": str,
            "submitted_at": str,
            "finished_at": str,
            "elapsed_s": float,
            "video_path": str,
            "thumb_path": str,
            "width": int,
            "height": int,
            "duration_s": float,
            "has_audio": int,
            "file_size": int,
            "sha256": str,
            "attempt": int,
        },
        pk="id",
        not_null={"created_at", "prompt", "status"},
        defaults={"status": "queued", "attempt": 1, "author": "", "generate_audio": 1},
    )
    table = db["generations"]
    table.create_index(["created_at"])
    table.create_index(["status"])
    table.create_index(["grid_id"])
    table.create_index(["run_id"])
    table.create_index(["agent_id"])


@migrations()
def m002_jobs(db: Database) -> None:
    "Volatile progress of active jobs, kept apart so it never touches the full-text index."
    db["jobs"].create(
        {
            "generation_id": str,
            "next_action_at": float,  # epoch seconds: when the runner should look at it again
            "poll_count": int,
            "progress": float,
            "node_status": str,
            "submit_started_at": str,  # set just before POST /run; the reconcile window starts here
            "submit_attempts": int,
            "cancel_requested": int,
            "last_error": str,
            "updated_at": str,
        },
        pk="generation_id",
        defaults={"next_action_at": 0, "poll_count": 0, "progress": 0, "submit_attempts": 0, "cancel_requested": 0},
    )


@migrations()
def m003_agents(db: Database) -> None:
    "Pool of Mosaic agents holding one Video Generation node; one job leases one agent at a time."
    db["agents"].create(
        {
            "agent_id": str,
            "node_id": str,
            "scope": str,  # one-way fingerprint of (base URL, key); never the key
            "flow": str,  # reuse | three_call
            "leased_by": str,
            "leased_at": str,
            "created_at": str,
        },
        pk="agent_id",
    )
    db["agents"].create_index(["scope", "leased_by"])
    # Every run ever started on a pooled agent, kept even when its generation is deleted, so a
    # lost-response check on that agent can tell an old run from the one it is looking for.
    db["agent_runs"].create({"run_id": str, "agent_id": str, "generation_id": str, "created_at": str}, pk="run_id")
    db["agent_runs"].create_index(["agent_id"])


@migrations()
def m004_grids(db: Database) -> None:
    "A comparison: one prompt across settings; its cells are generations with this grid_id."
    db["grids"].create(
        {"id": str, "created_at": str, "author": str, "name": str, "prompt": str, "axes": str},
        pk="id",
    )
    db["grids"].create_index(["created_at"])


@migrations()
def m005_generations_fts(db: Database) -> None:
    "Full-text search on prompts; triggers fire only when the prompt itself changes."
    db.execute("CREATE VIRTUAL TABLE generations_fts USING fts5(prompt, content='generations', content_rowid='rowid')")
    db.execute("INSERT INTO generations_fts(generations_fts) VALUES ('rebuild')")
    db.execute(
        "CREATE TRIGGER generations_fts_ai AFTER INSERT ON generations BEGIN "
        "INSERT INTO generations_fts(rowid, prompt) VALUES (new.rowid, new.prompt); END"
    )
    db.execute(
        "CREATE TRIGGER generations_fts_ad AFTER DELETE ON generations BEGIN "
        "INSERT INTO generations_fts(generations_fts, rowid, prompt) "
        "VALUES ('delete', old.rowid, old.prompt); END"
    )
    db.execute(
        "CREATE TRIGGER generations_fts_au AFTER UPDATE OF prompt ON generations BEGIN "
        "INSERT INTO generations_fts(generations_fts, rowid, prompt) "
        "VALUES ('delete', old.rowid, old.prompt); "
        "INSERT INTO generations_fts(rowid, prompt) VALUES (new.rowid, new.prompt); END"
    )


@migrations()
def m006_curation(db: Database) -> None:
    "Stars, ratings, tags, notes and grid winners; search now covers notes and tags too."
    table = db["generations"]
    for column, kind in (("starred", int), ("rating", int), ("tags", str), ("notes", str), ("winner", int)):
        if column not in table.columns_dict:  # defensive: a hand-patched database may have it
            table.add_column(column, kind, not_null_default=0 if column in ("starred", "winner") else None)
    table.create_index(["starred"], if_not_exists=True)
    for name in ("generations_fts_ai", "generations_fts_ad", "generations_fts_au"):
        db.execute(f"DROP TRIGGER IF EXISTS {name}")
    db.execute("DROP TABLE IF EXISTS generations_fts")
    db.execute(
        "CREATE VIRTUAL TABLE generations_fts USING fts5("
        "prompt, notes, tags, content='generations', content_rowid='rowid')"
    )
    db.execute("INSERT INTO generations_fts(generations_fts) VALUES ('rebuild')")
    db.execute(
        "CREATE TRIGGER generations_fts_ai AFTER INSERT ON generations BEGIN "
        "INSERT INTO generations_fts(rowid, prompt, notes, tags) "
        "VALUES (new.rowid, new.prompt, new.notes, new.tags); END"
    )
    db.execute(
        "CREATE TRIGGER generations_fts_ad AFTER DELETE ON generations BEGIN "
        "INSERT INTO generations_fts(generations_fts, rowid, prompt, notes, tags) "
        "VALUES ('delete', old.rowid, old.prompt, old.notes, old.tags); END"
    )
    db.execute(
        "CREATE TRIGGER generations_fts_au AFTER UPDATE OF prompt, notes, tags ON generations BEGIN "
        "INSERT INTO generations_fts(generations_fts, rowid, prompt, notes, tags) "
        "VALUES ('delete', old.rowid, old.prompt, old.notes, old.tags); "
        "INSERT INTO generations_fts(rowid, prompt, notes, tags) "
        "VALUES (new.rowid, new.prompt, new.notes, new.tags); END"
    )


@migrations()
def m007_references(db: Database) -> None:
    "The reference library: each file uploaded once per API scope, found again by content hash."
    db["references"].create(
        {
            "scope": str,
            "sha256": str,
            "kind": str,  # image | video | audio
            "filename": str,
            "content_type": str,
            "size": int,
            "upload_id": str,
            "local_name": str,  # a copy under media/refs/ for previews
            "created_at": str,
        },
        pk=("scope", "sha256"),
    )
    db["references"].create_index(["scope", "kind", "created_at"])


@migrations()
def m008_presets(db: Database) -> None:
    "Named presets: node settings saved by a person to load again."
    db["presets"].create({"name": str, "params": str, "created_at": str, "updated_at": str}, pk="name")


@migrations()
def m009_filter_indexes(db: Database) -> None:
    "Gallery filters use an index each (with the date, for newest-first pages) instead of a scan."
    table = db["generations"]
    for column in ("resolution", "aspect_ratio", "duration", "model", "author", "generate_audio", "starred"):
        table.create_index([column, "created_at"], if_not_exists=True)


@migrations()
def m010_fts_prefix_index(db: Database) -> None:
    "The full-text index (prompt, notes, tags) rebuilt with prefix indexes, so a search reads lazily."
    # Search treats every word as a prefix. Without a prefix index FTS5 gathers every match of a
    # prefix before handing out the first (7 ms for a word in 5% of a million prompts); with one it
    # reads them newest first and stops at a page (0.3 ms). Words longer than 8 characters still
    # gather. The index grows about 4x (36 -> 173 MB at a million generations).
    for name in ("generations_fts_ai", "generations_fts_ad", "generations_fts_au"):
        db.execute(f"DROP TRIGGER IF EXISTS {name}")
    db.execute("DROP TABLE IF EXISTS generations_fts")
    db.execute(
        "CREATE VIRTUAL TABLE generations_fts USING fts5("
        "prompt, notes, tags, content='generations', content_rowid='rowid', prefix='2 3 4 5 6 7 8')"
    )
    db.execute("INSERT INTO generations_fts(generations_fts) VALUES ('rebuild')")
    db.execute(
        "CREATE TRIGGER generations_fts_ai AFTER INSERT ON generations BEGIN "
        "INSERT INTO generations_fts(rowid, prompt, notes, tags) "
        "VALUES (new.rowid, new.prompt, new.notes, new.tags); END"
    )
    db.execute(
        "CREATE TRIGGER generations_fts_ad AFTER DELETE ON generations BEGIN "
        "INSERT INTO generations_fts(generations_fts, rowid, prompt, notes, tags) "
        "VALUES ('delete', old.rowid, old.prompt, old.notes, old.tags); END"
    )
    db.execute(
        "CREATE TRIGGER generations_fts_au AFTER UPDATE OF prompt, notes, tags ON generations BEGIN "
        "INSERT INTO generations_fts(generations_fts, rowid, prompt, notes, tags) "
        "VALUES ('delete', old.rowid, old.prompt, old.notes, old.tags); "
        "INSERT INTO generations_fts(rowid, prompt, notes, tags) "
        "VALUES (new.rowid, new.prompt, new.notes, new.tags); END"
    )


@migrations()
def m011_job_phases(db: Database) -> None:
    """Job phases and stuck runs: when the model started (`generating_since`), the last progress
    seen, and the run's own update time; the never-used `next_action_at` goes (the schedule is in
    memory, and a restart looks at every job afresh)."""
    table = db.table("jobs")
    for column in ("generating_since", "last_progress_at", "run_updated_at"):
        if column not in table.columns_dict:
            table.add_column(column, str)
    if "next_action_at" in table.columns_dict:
        table.transform(drop={"next_action_at"})


@migrations()
def m012_launches(db: Database) -> None:
    "One row per launch key: a click launches once, so the same key again returns what it made."
    db.table("launches").create(
        {
            "key": str,
            "created_at": str,
            "grid_id": str,  # NULL for takes launched outside a comparison
            "generation_ids": str,  # JSON list, in launch order
        },
        pk="key",
    )


@migrations()
def m013_run_ownership(db: Database) -> None:
    """Which runs belong to which job (issue 7 §1).

    `pending_posts`: one row per agent whose last `POST /run` has an unknown outcome (written
    before the POST, removed when the answer comes or the run is found); such an agent is leased
    to no other job. `stray_runs`: runs found on our agents that no job may follow (a late
    duplicate, an unprovable owner), with what was done about them. `agent_intents`: an agent
    create or node add about to be sent, tagged so a lost answer can be found on the account.
    """
    db["pending_posts"].create(
        {"agent_id": str, "generation_id": str, "node_id": str, "posted_at": str},
        pk="agent_id",
    )
    db["stray_runs"].create(
        {
            "run_id": str,
            "generation_id": str,
            "agent_id": str,
            "reason": str,
            "found_at": str,
            "cancelled_at": str,  # NULL until Mosaic accepted the cancel (or the run had ended)
            "outcome": str,  # what the cancel did, in words; NULL while it is still to be sent
        },
        pk="run_id",
    )
    db["stray_runs"].create_index(["found_at"])
    db["agent_intents"].create(
        {"tag": str, "scope": str, "flow": str, "generation_id": str, "agent_id": str, "created_at": str},
        pk="tag",
    )
    # A job an older studio left submitting may have POSTed with no answer: its agent waits too.
    db.execute(
        "INSERT OR IGNORE INTO pending_posts (agent_id, generation_id, node_id, posted_at) "
        "SELECT g.agent_id, g.id, g.node_id, j.submit_started_at FROM generations g "
        "JOIN jobs j ON j.generation_id = g.id WHERE g.status = 'submitting' AND g.agent_id IS NOT NULL "
        "AND j.submit_started_at IS NOT NULL"
    )


@migrations()
def m014_submitting_since(db: Database) -> None:
    """When a job first tried to reach Mosaic (`submitting_since`): a job Mosaic never accepts is
    failed `run_deadline` after it, so an unreachable API cannot keep it submitting forever."""
    table = db.table("jobs")
    if "submitting_since" not in table.columns_dict:
        table.add_column("submitting_since", str)


@migrations()
def m015_collections(db: Database) -> None:
    """Collections (boards, issue 8 §2): a named, ordered list of generations with an owner.

    An item belongs to one collection once (the primary key); `position` orders it (a reorder
    rewrites them). Deleting a generation deletes its items; deleting a collection leaves the
    generations alone. `cover_id` is the generation shown on the collection's card (NULL: the first).
    """
    db["collections"].create(
        {
            "id": str,
            "created_at": str,
            "updated_at": str,
            "owner": str,
            "name": str,
            "description": str,
            "cover_id": str,
        },
        pk="id",
        defaults={"owner": "", "description": ""},
    )
    db["collections"].create_index(["updated_at"])
    db["collection_items"].create(
        {"collection_id": str, "generation_id": str, "position": int, "added_by": str, "added_at": str},
        pk=("collection_id", "generation_id"),
        defaults={"added_by": ""},
    )
    db["collection_items"].create_index(["generation_id"])
    db["collection_items"].create_index(["collection_id", "position"])


@migrations()
def m016_share_links(db: Database) -> None:
    """Read-only share links (issue 8 §3): what a link shares (a selection: kind and ref), who made
    it and when, when it expires (NULL: never), whether downloads are allowed, when it was revoked.

    Only the SHA-256 of a link's token is kept (`token_hash`, unique), so the database cannot give a
    working link away; `hint` is the token's last characters, for telling links apart in a list.
    """
    db["share_links"].create(
        {
            "id": str,
            "token_hash": str,
            "hint": str,
            "kind": str,
            "ref": str,
            "created_by": str,
            "created_at": str,
            "expires_at": str,
            "allow_download": int,
            "revoked_at": str,
        },
        pk="id",
        not_null={"token_hash", "kind", "ref", "created_at"},
        defaults={"created_by": "", "hint": "", "allow_download": 1},
    )
    db["share_links"].create_index(["token_hash"], unique=True)
    db["share_links"].create_index(["kind", "ref"])
    db["share_links"].create_index(["created_by", "created_at"])


@migrations()
def m017_exports(db: Database) -> None:
    """Exports (issue 8 §4): one row per export asked for in the web app, built by the export
    worker of the process that took the request (`process`, a token whose lock file says whether
    that process still runs). `kinds` and `files` are JSON lists; `progress` runs from 0 to 1 with
    `stage` saying what is being done. Statuses: queued, running, done, failed, interrupted (the
    process stopped before it finished), expired (its files were cleaned away)."""
    db["exports"].create(
        {
            "id": str,
            "selection_kind": str,
            "selection_ref": str,
            "title": str,
            "kinds": str,
            "status": str,
            "progress": float,
            "stage": str,
            "error": str,
            "files": str,
            "bytes": int,
            "created_by": str,
            "created_at": str,
            "started_at": str,
            "finished_at": str,
            "process": str,
        },
        pk="id",
        defaults={"status": "queued", "progress": 0.0, "stage": "", "files": "[]", "created_by": "", "title": ""},
        not_null={"selection_kind", "selection_ref", "kinds", "status", "created_at"},
    )
    db["exports"].create_index(["created_at"])
    db["exports"].create_index(["status"])


@migrations()
def m018_votes(db: Database) -> None:
    """Blind votes (issue 9 §2): one row per person per pair of takes (`pair_key`: the two ids
    sorted, joined by "|"). `choice` is "a", "b" or "none"; `winner_id` the winning take (NULL for
    no preference). The prompt and the settings that differed (`differed`, JSON
    {setting: [value of A, value of B]}) are kept with the vote, so it still counts after a take
    is deleted; no foreign key ties a vote to its takes. `scope`: what the queue was restricted to
    ("collection:<id>", "comparison:<id>", "tag:<name>"; NULL for everything)."""
    db.execute(
        "CREATE TABLE votes (id TEXT PRIMARY KEY, voter TEXT NOT NULL, a_id TEXT NOT NULL, b_id TEXT NOT NULL, "
        "pair_key TEXT NOT NULL, choice TEXT NOT NULL, winner_id TEXT, prompt TEXT NOT NULL, "
        "differed TEXT NOT NULL, scope TEXT, created_at TEXT NOT NULL, UNIQUE(voter, pair_key))"
    )
    for column in ("voter", "created_at", "a_id", "b_id"):
        db["votes"].create_index([column])


@migrations()
def m019_comments(db: Database) -> None:
    """Comments on a take (issue 9 §3), in threads: `parent_id` is the comment a reply answers (NULL
    for a thread's first comment); `at_s` the moment of the video it is pinned to, in seconds (NULL:
    not pinned); `edited_at` NULL until its author edits it. A take's comments go with the take (the
    trigger, so every way of deleting a take does it); a reply outlives a deleted parent (the thread
    shows a placeholder), so no foreign key ties it to the parent."""
    db["comments"].create(
        {
            "id": str,
            "gen_id": str,
            "parent_id": str,
            "author": str,
            "body": str,
            "at_s": float,
            "created_at": str,
            "edited_at": str,
        },
        pk="id",
        not_null={"gen_id", "author", "body", "created_at"},
    )
    db["comments"].create_index(["gen_id"])
    db["comments"].create_index(["parent_id"])
    db.execute(
        "CREATE TRIGGER comments_of_deleted_generation AFTER DELETE ON generations BEGIN "
        "DELETE FROM comments WHERE gen_id = old.id; END"
    )


@migrations()
def m020_lineage(db: Database) -> None:
    """Draft → final (issue 9 §4): a final's `draft_id` names the take it was promoted from (NULL
    for every other take). It is not a foreign key: a final keeps it after its draft is deleted, so
    the chain can say "a deleted take" where the draft was. Indexed, to find a draft's finals.

    Keep it after m018_votes and m019_comments: migrations run in the order they are defined here."""
    if "draft_id" not in db["generations"].columns_dict:  # defensive, as llm's migrations are
        db["generations"].add_column("draft_id", str)
    db["generations"].create_index(["draft_id"], if_not_exists=True)


@migrations()
def m021_worker_leases(db: Database) -> None:
    """Many workers, each job held by one (issue 10 §2): `jobs.worker` is the worker that holds the
    job and `jobs.lease_until` (ISO-8601 UTC) until when; a job whose lease has lapsed is taken
    over by another worker, which resumes it as a restarted runner does. `jobs.news_at`: a webhook
    said the job's run changed (any process may receive it; the holder lists runs soon after).
    `workers`: one row per running worker, renewed with its leases (the Status page lists the live
    ones). `worker_tasks`: a lease row per piece of housekeeping that one worker at a time does."""
    table = db.table("jobs")
    for column in ("worker", "lease_until", "news_at"):
        if column not in table.columns_dict:
            table.add_column(column, str)
    table.create_index(["worker", "lease_until"], if_not_exists=True)
    db.execute(
        "CREATE TABLE IF NOT EXISTS workers (id TEXT PRIMARY KEY, host TEXT NOT NULL, pid INTEGER NOT NULL, "
        "host_key TEXT, started_at TEXT NOT NULL, seen_at TEXT NOT NULL, lease_until TEXT NOT NULL, paused TEXT)"
    )
    db.execute(
        "CREATE TABLE IF NOT EXISTS worker_tasks (name TEXT PRIMARY KEY, worker TEXT NOT NULL, "
        "lease_until TEXT NOT NULL)"
    )


@migrations()
def m022_change_feed(db: Database) -> None:
    """The change feed (studio.changes). SQLite needs nothing: `PRAGMA data_version` moves on any
    commit. On PostgreSQL the same name adds NOTIFY triggers (studio.pg_schema)."""
