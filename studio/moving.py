"""Moving a studio to other stores (`studio migrate`): every row of its SQLite history and every
file of its media into another history (PostgreSQL, or another SQLite file) and media store (S3,
or another folder), then both sides compared: row counts per table, each file's sha256.

A move never writes to the source. It refuses a target database that holds a row the source does
not have (another studio's history), before writing anything. Rows go over in rowid order, in
batches of one `INSERT … ON CONFLICT DO NOTHING` each, their rowids kept (pages order by them);
a row already there that the source has changed since is brought up to date. Each file is hashed
on both sides and copied only when the target lacks it or holds other bytes, then read back and
hashed again. So a run that stopped half-way (or a second run) finishes the job, copying only what
is missing. `stop_after` (items written) is the test seam for a run cut short; Ctrl-C (SIGINT)
cuts a run short the same way, and its report says what was done so far.
"""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .dialects import SQLITE_PREFIX, checked_database_url, redacted_url, sqlite_path
from .errors import MediaError, ParamsError, StoreError
from .media_store import FolderMedia, MediaStore, open_media, parse_media_url
from .migrations import known_migrations
from .settings import Settings
from .store import HistoryStore

BATCH_ROWS = 200  # rows per INSERT: x ~45 columns stays far below both dialects' parameter limits
KEY_BATCH = 500  # keys per lookup while checking what a target already holds
HASH_CHUNK = 1 << 20
ROWID = "rowid"
# The settings a target's messages name, and the flags of `studio migrate` that stand for them.
TARGET_FLAGS = {"STUDIO_DATABASE_URL": "--to-database", "STUDIO_MEDIA_URL": "--to-media"}
# Tables whose rows others name, first (no foreign key enforces it today; a target that adds one
# still loads); every other table follows in name order.
PARENTS_FIRST = ("generations", "grids", "collections", "agents")


class MoveError(StoreError):
    "A move cannot start or go on (a target that is not ours to fill); nothing in the source changed."


@dataclass
class TableCount:
    "One table after a move: rows on each side, and what this run wrote."

    source: int = 0
    target: int = 0
    copied: int = 0
    updated: int = 0


@dataclass
class FileCount:
    "The media after a move: files checked by sha256, copied by this run, and any that differ."

    checked: int = 0
    copied: int = 0
    bytes_copied: int = 0
    mismatched: list[str] = field(default_factory=list)


@dataclass
class MoveReport:
    "What a move did and found; `ok` only when every table's counts and every file's sha256 match."

    source: dict[str, str]
    target: dict[str, str]
    tables: dict[str, TableCount] = field(default_factory=dict)
    files: FileCount | None = None
    stopped: bool = False  # cut short (Ctrl-C, or the `stop_after` seam): run it again to finish
    interrupted: bool = field(default=False, repr=False)  # by Ctrl-C (SIGINT)

    @property
    def ok(self) -> bool:
        tables_match = all(t.source == t.target for t in self.tables.values())
        return not self.stopped and tables_match and not (self.files and self.files.mismatched)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ok": self.ok, "stopped": self.stopped, "source": self.source, "target": self.target}
        out["tables"] = {name: vars(count) for name, count in self.tables.items()}
        out["files"] = vars(self.files) if self.files is not None else None
        return out


class _Stopped(Exception):
    "The move wrote `stop_after` items: it ends here, as a run that was stopped would."


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _same(a: Any, b: Any) -> bool:
    "Equal as the studio reads them: SQLite's loose types against PostgreSQL's strict ones."
    if isinstance(a, bool) or isinstance(b, bool):
        return a is not None and b is not None and int(a) == int(b)
    if type(a) is not type(b) and a is not None and b is not None and (isinstance(a, str) or isinstance(b, str)):
        return str(a) == str(b)
    return bool(a == b)


def source_schema_version(db_path: Path) -> int:
    """The schema version of a SQLite history, read without writing (no migration, no journal
    change): opening it as a `HistoryStore` would bring an older one up to date."""
    try:
        conn = sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            return int(conn.execute("PRAGMA user_version").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error as err:
        raise MoveError(f"The studio's history {db_path} cannot be read: {err}") from err


def source_path(settings: Settings) -> Path:
    "The configured studio's SQLite history file; MoveError when its history is not in SQLite."
    url = settings.database_url
    if url and not url.startswith(SQLITE_PREFIX):
        raise MoveError(
            f"This studio's history is already in {redacted_url(url)}; `studio migrate` moves a SQLite history "
            "(unset STUDIO_DATABASE_URL, or set it to the sqlite:/// file, to move that one)"
        )
    return sqlite_path(url) if url else settings.db_path


def check_source(db_path: Path) -> None:
    "The configured studio has a history at this studio's schema; MoveError (nothing written) otherwise."
    if not db_path.is_file():
        raise MoveError(
            f"There is no studio history at {db_path}; set STUDIO_DATA_DIR to the data folder of the studio to move"
        )
    version, known = source_schema_version(db_path), len(known_migrations())
    if version != known:
        newer = "a newer studio: update this one" if version > known else "an older studio: run it once to update it"
        raise MoveError(f"The history {db_path} is at schema {version}, not {known} ({newer}), then move it")


class Move:
    """One move from (`source`, `source_media`) to (`target`, `target_media`); with no `target` the
    history stays, with no media the files do. `run()` does it all and reports; it may be run
    again at any time."""

    def __init__(
        self,
        source: HistoryStore,
        target: HistoryStore | None,
        source_media: MediaStore | None = None,
        target_media: MediaStore | None = None,
        *,
        batch_rows: int = BATCH_ROWS,
        stop_after: int | None = None,
        progress: Callable[[str], None] | None = None,
    ):
        self.source, self.target = source, target
        self.source_media, self.target_media = source_media, target_media
        self.batch_rows = batch_rows
        # The test seam for a run cut short: stop once this many rows and files have been written.
        self.stop_after = stop_after
        self.progress = progress or (lambda line: None)
        self._written = 0

    # ------------------------------------------------------------------ the move

    def run(self) -> MoveReport:
        "Check the target, copy what it lacks, compare both sides; MoveError if the target is not ours."
        report = MoveReport(
            source=self._described(self.source, self.source_media),
            target=self._described(self.target, self.target_media),
        )
        tables = self.tables() if self.target is not None else []
        if self.target is not None:
            self._check_target(self.target, tables)
        try:
            for table in tables:
                self._copy_table(table, report.tables.setdefault(table, TableCount()))
            if self.source_media is not None and self.target_media is not None:
                report.files = FileCount()
                self._copy_files(report.files)
        except _Stopped:
            report.stopped = True
        except KeyboardInterrupt:
            report.stopped = report.interrupted = True
        try:
            for table in tables:
                count = report.tables.setdefault(table, TableCount())
                count.source = self._count(self.source, table)
                count.target = self._count(self._target, table)
        except (StoreError, KeyboardInterrupt):
            if not report.interrupted:  # after Ctrl-C the counts are what could be had
                raise
        return report

    def close(self) -> None:
        "Close both histories' connections (a PostgreSQL pool's too)."
        self.source.close()
        if self.target is not None:
            self.target.close()

    @property
    def _target(self) -> HistoryStore:
        assert self.target is not None
        return self.target

    @staticmethod
    def _described(store: HistoryStore | None, media: MediaStore | None) -> dict[str, str]:
        out = {}
        if store is not None:
            out["database"] = store.described
        if media is not None:
            out["media"] = media.described
        return out

    def _wrote(self, n: int = 1) -> None:
        self._written += n
        if self.stop_after is not None and self._written >= self.stop_after:
            raise _Stopped

    def _budget(self, wanted: int) -> int:
        "How many of `wanted` items may be written before the seam stops the run."
        return wanted if self.stop_after is None else max(0, min(wanted, self.stop_after - self._written))

    # ------------------------------------------------------------------ the schema

    def tables(self) -> list[str]:
        """The source's tables that hold history, in copy order: not the migrations' own record
        (each side keeps its own), nor full-text indexes (each dialect builds its own)."""
        rows = self.source.query("SELECT name, sql FROM sqlite_master WHERE type = 'table' ORDER BY name")
        virtual = [r["name"] for r in rows if (r["sql"] or "").upper().startswith("CREATE VIRTUAL TABLE")]
        names = [
            r["name"]
            for r in rows
            if not r["name"].startswith(("_", "sqlite_"))
            and r["name"] not in virtual
            and not any(r["name"].startswith(v + "_") for v in virtual)
        ]
        first = [t for t in PARENTS_FIRST if t in names]
        return first + [t for t in names if t not in first]

    def _columns(self, store: HistoryStore, table: str) -> list[str]:
        if store.dialect == "postgresql":
            rows = store.query(
                "SELECT column_name AS name FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position",
                [table],
            )
        else:
            rows = store.query("SELECT name FROM pragma_table_info(?) ORDER BY cid", [table])
        return [r["name"] for r in rows]

    def _key(self, table: str) -> list[str]:
        "The source table's primary key columns (every history table has one)."
        rows = self.source.query("SELECT name FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk", [table])
        if not rows:
            raise MoveError(f"The history table {table} has no primary key; it cannot be moved row by row")
        return [r["name"] for r in rows]

    # ------------------------------------------------------------------ rows

    @staticmethod
    def _count(store: HistoryStore, table: str) -> int:
        return int(store.query(f"SELECT COUNT(*) AS n FROM {_quoted(table)}")[0]["n"])

    def _check_target(self, target: HistoryStore, tables: Sequence[str]) -> None:
        """Refuse (before writing anything) a target holding a row the source does not have: it is
        another studio's history, or the source lost rows since an earlier move."""
        for table in tables:
            if not self._count(target, table):
                continue
            key = self._key(table)
            keys = ", ".join(_quoted(k) for k in key)
            after: list[Any] | None = None
            while True:
                where = f"WHERE ({keys}) > ({', '.join('?' * len(key))}) " if after else ""
                rows = target.query(
                    f"SELECT {keys} FROM {_quoted(table)} {where}ORDER BY {keys} LIMIT ?", [*(after or []), KEY_BATCH]
                )
                if not rows:
                    break
                found = {tuple(r[k] for k in key) for r in self._by_keys(self.source, table, key, rows, keys)}
                stray = [r for r in rows if tuple(r[k] for k in key) not in found]
                if stray:
                    example = ", ".join(f"{k}={stray[0][k]}" for k in key)
                    raise MoveError(
                        f"The target database holds rows this studio does not have ({table}: {example}): it is "
                        "another studio's history, or rows were deleted here since an earlier move; move into an "
                        "empty database. Nothing was copied"
                    )
                after = [rows[-1][k] for k in key]

    @staticmethod
    def _by_keys(
        store: HistoryStore, table: str, key: list[str], rows: Sequence[dict[str, Any]], what: str = "*"
    ) -> list[dict[str, Any]]:
        "The rows of `table` in `store` whose key is one of `rows`' keys."
        if len(key) == 1:
            where = f"{_quoted(key[0])} IN ({', '.join('?' * len(rows))})"
        else:
            one = f"({', '.join('?' * len(key))})"
            where = f"({', '.join(_quoted(k) for k in key)}) IN (VALUES {', '.join([one] * len(rows))})"
        params = [r[k] for r in rows for k in key]
        return store.query(f"SELECT {what} FROM {_quoted(table)} WHERE {where}", params)

    def _copy_table(self, table: str, count: TableCount) -> None:
        key = self._key(table)
        columns = self._columns(self.source, table)
        target_columns = set(self._columns(self._target, table))
        missing = [c for c in columns if c not in target_columns]
        if missing:
            raise MoveError(f"The target database's {table} table has no column {missing[0]}: another schema")
        # Keep each row's rowid where the target has one to keep (pages order by it).
        keep_rowid = self._target.dialect == "sqlite" or ROWID in target_columns
        selected = ", ".join(_quoted(c) for c in columns)
        after = 0
        while True:
            rows = self.source.query(
                f"SELECT rowid AS {ROWID}, {selected} FROM {_quoted(table)} WHERE rowid > ? ORDER BY rowid LIMIT ?",
                [after, self.batch_rows],
            )
            if not rows:
                break
            after = rows[-1][ROWID]
            there = {tuple(r[k] for k in key): r for r in self._by_keys(self._target, table, key, rows)}
            new = [r for r in rows if tuple(r[k] for k in key) not in there]
            changed = [
                r
                for r in rows
                if (t := there.get(tuple(r[k] for k in key))) and not all(_same(r[c], t[c]) for c in columns)
            ]
            new = new[: self._budget(len(new))]
            changed = changed[: self._budget(len(new) + len(changed)) - len(new)]
            if new:
                count.copied += self._insert(table, [*([ROWID] if keep_rowid else []), *columns], new)
                self._after_insert(table, keep_rowid)
            for row in changed:
                self._update(table, key, columns, row)
            count.updated += len(changed)
            self._wrote(len(new) + len(changed))
            self.progress(f"{table}: {count.copied} rows copied, {count.updated} updated")

    def _insert(self, table: str, columns: list[str], rows: list[dict[str, Any]]) -> int:
        one = f"({', '.join('?' * len(columns))})"
        sql = (
            f"INSERT INTO {_quoted(table)} ({', '.join(_quoted(c) for c in columns)}) "
            f"VALUES {', '.join([one] * len(rows))} ON CONFLICT DO NOTHING"
        )
        return self._target.execute(sql, [r[c] for r in rows for c in columns])

    def _update(self, table: str, key: list[str], columns: list[str], row: dict[str, Any]) -> None:
        sets = [c for c in columns if c not in key]
        sql = (
            f"UPDATE {_quoted(table)} SET {', '.join(f'{_quoted(c)} = ?' for c in sets)} "
            f"WHERE {' AND '.join(f'{_quoted(k)} = ?' for k in key)}"
        )
        self._target.execute(sql, [*(row[c] for c in sets), *(row[k] for k in key)])

    def _after_insert(self, table: str, gave_rowids: bool) -> None:
        "PostgreSQL's identity counter goes past the rowids given, so the studio's next row gets a new one."
        if gave_rowids and self._target.dialect == "postgresql":
            self._target.query(
                f"SELECT setval(pg_get_serial_sequence(?, ?), COALESCE(MAX({ROWID}), 0) + 1, false) AS n "
                f"FROM {_quoted(table)}",
                [_quoted(table), ROWID],
            )

    # ------------------------------------------------------------------ files

    def _copy_files(self, files: FileCount) -> None:
        assert self.source_media is not None and self.target_media is not None
        source, target = self.source_media, self.target_media
        for key in sorted(source.keys()):
            files.checked += 1
            digest = _sha256(source, key)
            if target.exists(key) and target.size(key) == source.size(key) and _sha256(target, key) == digest:
                continue
            if not self._budget(1):
                raise _Stopped
            self._put(key)
            files.copied += 1
            files.bytes_copied += source.size(key)
            if _sha256(target, key) != digest:
                files.mismatched.append(key)
            self.progress(f"media: {files.copied} files copied of {files.checked} checked")
            self._wrote()

    def _put(self, key: str) -> None:
        assert self.source_media is not None and self.target_media is not None
        local = self.source_media.local_path(key)
        if local is not None:  # a folder: straight from its file
            self.target_media.put_file(key, local)
            return
        with tempfile.TemporaryDirectory(prefix="studio-move-") as tmp:
            path = Path(tmp) / "file"
            self.source_media.get_file(key, path)
            self.target_media.put_file(key, path)


def _sha256(media: MediaStore, key: str) -> str:
    digest = hashlib.sha256()
    with media.open(key) as handle:
        for chunk in iter(lambda: handle.read(HASH_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


# ---------------------------------------------------------------------- the command's ends


def open_move(
    settings: Settings,
    *,
    to_database: str | None,
    to_media: str | None,
    progress: Callable[[str], None] | None = None,
    stop_after: int | None = None,
) -> Move:
    """The move `studio migrate` makes: from the configured studio (its SQLite history and media
    folder, left as they are) to the stores named by URL. MoveError (and the stores' own
    StoreError / MediaError) for a source or target that cannot be used, before anything is copied."""
    if not to_database and not to_media:
        raise MoveError("Name where to move: --to-database URL, --to-media URL, or both")
    db_path = source_path(settings)
    check_source(db_path)
    source_media = target_media = None
    if to_media:  # first: a bucket that cannot be used leaves the target database untouched too
        source_media, target_media = _media_ends(settings, to_media)
    source = HistoryStore(db_path)
    target = None
    if to_database:
        try:
            checked_database_url(to_database)
        except ParamsError as err:
            raise MoveError(f"--to-database {err}") from None
        if to_database.startswith(SQLITE_PREFIX) and sqlite_path(to_database).resolve() == db_path.resolve():
            raise MoveError("--to-database names this studio's own history; name another database")
        with flags_named():
            target = HistoryStore(to_database)
    return Move(source, target, source_media, target_media, progress=progress, stop_after=stop_after)


def _media_ends(settings: Settings, to_media: str) -> tuple[FolderMedia, MediaStore]:
    "The studio's media folder and the store `to_media` names, checked (reachable, ours to fill)."
    if settings.media_url and "://" in settings.media_url:
        raise MoveError(f"This studio's media is already in {settings.media_url}; `studio migrate` moves a folder")
    try:
        s3 = parse_media_url(to_media)
    except ParamsError as err:
        raise MoveError(f"--to-media {err}") from None
    source = FolderMedia(settings.media_dir)
    where = to_media.strip() if s3 else str(Path(to_media).expanduser().resolve())
    with flags_named():
        target = open_media(settings.model_copy(update={"media_url": where}))
        if isinstance(target, FolderMedia) and target.root == source.root:
            raise MoveError("--to-media names this studio's own media folder; name another place")
        target.check()
    return source, target


@contextlib.contextmanager
def flags_named() -> Iterator[None]:
    """A target's StoreError / MediaError in the words of the command typed: `--to-database` and
    `--to-media` where the stores' messages name the settings (this studio's own stay named)."""
    try:
        yield
    except (StoreError, MediaError) as err:
        text = str(err)
        for setting, flag in TARGET_FLAGS.items():
            text = text.replace(setting, flag)
        raise (MoveError(text) if isinstance(err, StoreError) else MediaError(text)) from None


def next_settings(to_database: str | None, to_media: str | None) -> dict[str, str]:
    "The variables that point a studio at the moved stores (passwords shown as ***)."
    found = {}
    if to_database:
        found["STUDIO_DATABASE_URL"] = redacted_url(to_database)
    if to_media:
        found["STUDIO_MEDIA_URL"] = redacted_url(to_media)
    return found


AFTER_MOVE = (
    "  (with the password where *** stands, the same AWS_* variables as for this move, and STUDIO_DATA_DIR as "
    "now: it keeps the simulator's state and lock files). This studio's history and media folder were not "
    "changed: keep them until the studio runs well on the new stores, then remove them."
)
INTERRUPTED = "interrupted; run the same command again to finish the move (what is there is checked, not copied twice)"
