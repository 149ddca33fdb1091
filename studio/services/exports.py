"""Exports as background jobs: a page asks for an export (a row in `exports`), the export worker of
its process builds the files (`studio.exports`) under the data folder, and the page follows the
row's progress and links to `/exports/<id>/<file>` when it is done.

- One export worker thread per process and data folder, started on first use. It builds one export
  at a time at a lowered priority (ffmpeg under `nice`), so an export never holds up a page, the job
  worker or another person: they all go on while it works.
- Each worker holds a lock file named by its `process` token while it lives. A queued or running
  export whose process token is not locked any more belongs to a process that stopped (a restart,
  a crash): it is marked `interrupted`, saying so, the next time anyone looks.
- Files are kept KEEP_EXPORTS_DAYS, then removed (the row stays, `expired`).
- `build` is the same work done in the foreground, for `studio export`.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import threading
import time
import uuid
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from .. import exports
from ..errors import ParamsError, StoreError, StudioError
from ..media_store import FolderMedia, local_folder
from ..store import new_id, utcnow
from .app import Services
from .selections import Selected, Selection, resolve

log = logging.getLogger(__name__)

EXPORTS_DIR = "exports"  # under the data folder: exports/<id>/<files>
WORKERS_DIR = ".workers"  # exports/.workers/<process token>.lock, held while that worker lives
EXPORT_ROUTE = "/exports"  # the web app serves /exports/<id>/<filename> (studio.web)
KEEP_EXPORTS_DAYS = 7  # files of a finished export are removed after this many days
CLEANUP_EVERY_S = 3600.0
WORKER_POLL_S = 2.0  # the worker's look for queued exports when nobody woke it
PROGRESS_EVERY_S = 0.5  # progress is written at most this often (plus each stage's end)
RECENT_EXPORTS = 10
ACTIVE_EXPORT_STATUSES = ("queued", "running")
EXPORT_STATUSES = ("queued", "running", "done", "failed", "interrupted", "expired")
INTERRUPTED_MESSAGE = "Interrupted: the studio stopped (a restart?) before this export was finished. Start it again."
# Each kind's share of an export's progress bar, by the time it usually takes.
KIND_WEIGHTS = {"zip": 1.0, "sheet": 0.5, "video": 4.0}


@dataclass(frozen=True)
class ExportJob:
    "One export as the pages show it."

    id: str
    selection: Selection
    title: str
    kinds: list[str]
    status: str
    progress: float
    stage: str
    error: str | None
    files: list[str]
    bytes: int | None
    created_by: str
    created_at: str
    started_at: str | None
    finished_at: str | None
    process: str

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_EXPORT_STATUSES

    def url(self, filename: str) -> str:
        "Where the web app serves one of its files (relative to the site)."
        return f"{EXPORT_ROUTE}/{self.id}/{filename}"

    def describe(self) -> str:
        "Its state in words: 'Building: adding files to the ZIP: 3 of 12 (40 %)'."
        kinds = " + ".join(exports.KIND_NAMES[k] for k in self.kinds)
        if self.status == "queued":
            return f"Waiting to start ({kinds})"
        if self.status == "running":
            return f"Building {kinds}: {self.stage or 'starting'} ({self.progress:.0%})"
        if self.status == "done":
            return f"Ready: {kinds}"
        if self.status == "expired":
            return f"Expired: files removed after {KEEP_EXPORTS_DAYS} days"
        return self.error or self.status.capitalize()


def _job(row: dict[str, Any]) -> ExportJob:
    return ExportJob(
        id=row["id"],
        selection=Selection(row["selection_kind"], row["selection_ref"]),
        title=row.get("title") or "",
        kinds=json.loads(row["kinds"] or "[]"),
        status=row["status"],
        progress=float(row.get("progress") or 0.0),
        stage=row.get("stage") or "",
        error=row.get("error"),
        files=json.loads(row.get("files") or "[]"),
        bytes=row.get("bytes"),
        created_by=row.get("created_by") or "",
        created_at=row["created_at"],
        started_at=row.get("started_at"),
        finished_at=row.get("finished_at"),
        process=row.get("process") or "",
    )


# ---------------------------------------------------------------------- the rows


def export_job(services: Services, export_id: str) -> ExportJob | None:
    "One export; an unfinished one whose process has stopped comes back (and is saved) as interrupted."
    rows = services.store.query("SELECT * FROM exports WHERE id = ?", [export_id])
    if not rows:
        return None
    job = _job(rows[0])
    if job.active and _owner_gone(services, job.process):
        _interrupt(services, job.id)
        return export_job(services, export_id)
    return job


def recent_exports(services: Services, *, limit: int = RECENT_EXPORTS) -> list[ExportJob]:
    """The newest exports, anyone's. Those a stopped process left unfinished are marked interrupted
    first, and the files of old ones removed (also done hourly by the worker, which may not run)."""
    mark_interrupted(services)
    clean_old_exports(services)
    rows = services.store.query("SELECT * FROM exports ORDER BY created_at DESC LIMIT ?", [limit])
    return [_job(r) for r in rows]


def exports_dir(services: Services) -> Path:
    return Path(services.settings.data_dir) / EXPORTS_DIR


def export_file(services: Services, export_id: str, filename: str) -> Path | None:
    "The file `filename` of this export here, if the export is done and made it (never any other path)."
    job = _done_with(services, export_id, filename)
    if job is None or not isinstance(services.media, FolderMedia):
        return None
    path = exports_dir(services) / job.id / filename
    return path if path.is_file() else None


def export_url(services: Services, export_id: str, filename: str) -> str | None:
    "With S3 media: a presigned URL downloading `filename` of this export under its name, if it has it."
    job = _done_with(services, export_id, filename)
    if job is None or isinstance(services.media, FolderMedia):
        return None
    key = _export_key(job.id, filename)
    return services.media.url(key, download_as=filename) if services.media.exists(key) else None


def _done_with(services: Services, export_id: str, filename: str) -> ExportJob | None:
    job = export_job(services, export_id) if export_id.isalnum() else None
    return job if job is not None and job.status == "done" and filename in job.files else None


def _export_key(export_id: str, filename: str = "") -> str:
    "Where an export's files go in an S3 media store (a folder keeps them in the data folder, as before)."
    return f"{EXPORTS_DIR}/{export_id}/{filename}"


def _forget_files(services: Services, export_id: str) -> None:
    "Remove an export's files: its folder here and, with S3 media, its objects."
    shutil.rmtree(exports_dir(services) / export_id, ignore_errors=True)
    if not isinstance(services.media, FolderMedia):
        for key in list(services.media.keys(_export_key(export_id))):
            services.media.delete(key)


# ---------------------------------------------------------------------- asking for one


def check_kinds(selection: Selection, kinds: Sequence[str]) -> list[str]:
    "The kinds asked for, in order, each once; ParamsError for none, an unknown one, or a video of no comparison."
    chosen = [k for k in exports.EXPORT_KINDS if k in set(kinds)]
    unknown = sorted(set(kinds) - set(exports.EXPORT_KINDS))
    if unknown:
        raise ParamsError(f"Unknown export kind {', '.join(unknown)}", field="kinds")
    if not chosen:
        raise ParamsError("Choose what to export: the ZIP, the contact sheet or the comparison video", field="kinds")
    if "video" in chosen and selection.kind != "grid":
        raise ParamsError("A comparison video is made from a comparison; this is not one", field="kinds")
    return chosen


def checked(services: Services, selection: Selection, kinds: Sequence[str]) -> tuple[Selected, list[str]]:
    """The selection resolved and the kinds checked, before any work: ParamsError when it is gone,
    when there is nothing in it, or when a comparison video is asked of one with no finished cell."""
    chosen = check_kinds(selection, kinds)
    selected = resolve(services, selection)
    if not selected.items:
        raise ParamsError(exports.nothing_to_export(selected), field="selection")
    if "video" in chosen:
        with local_folder(services.media, _media_keys(selected), fetch=False) as media:
            exports.mosaic(selected, exports.members(selected, media))
    return selected, chosen


def start_export(services: Services, selection: Selection, kinds: Sequence[str], *, created_by: str = "") -> ExportJob:
    "Queue an export for this process's export worker; returns its row (follow it with `export_job`)."
    selected, chosen = checked(services, selection, kinds)
    worker = worker_for(services)
    export_id = new_id()
    row = {
        "id": export_id,
        "selection_kind": selection.kind,
        "selection_ref": selection.ref,
        "title": selected.title,
        "kinds": json.dumps(chosen),
        "status": "queued",
        "created_by": created_by,
        "created_at": utcnow(),
        "process": worker.token,
    }
    services.store.insert("exports", row)
    worker.wake()
    job = export_job(services, export_id)
    assert job is not None
    return job


# ---------------------------------------------------------------------- building


def build(
    services: Services,
    selected: Selected,
    outputs: dict[str, Path],
    *,
    exported_by: str = "",
    progress: exports.Progress | None = None,
) -> dict[str, dict[str, Any]]:
    """Write each asked-for kind (`zip`, `sheet`, `video`) to its path; returns per kind its path,
    bytes, seconds and, for pictures, its size. Progress runs once from 0 to 1 over all of them."""
    # S3 media: the selection's files are copied here for the build (a folder is read in place).
    with local_folder(services.media, _media_keys(selected)) as media:
        total = sum(KIND_WEIGHTS[k] for k in outputs) or 1.0
        done_weight = 0.0
        results: dict[str, dict[str, Any]] = {}
        for kind, path in outputs.items():
            weight = KIND_WEIGHTS[kind]
            base = done_weight

            def step(fraction: float, words: str, base: float = base, weight: float = weight) -> None:
                if progress:
                    progress((base + weight * fraction) / total, words)

            started = time.perf_counter()
            facts: dict[str, Any] = {"path": str(path)}
            if kind == "zip":
                exports.write_zip(selected, media, path, exported_by=exported_by, progress=step)
            elif kind == "sheet":
                facts["width"], facts["height"] = exports.write_contact_sheet(selected, media, path, progress=step)
            else:
                facts["width"], facts["height"] = exports.write_comparison_video(selected, media, path, progress=step)
            facts["bytes"] = Path(path).stat().st_size
            facts["seconds"] = round(time.perf_counter() - started, 3)
            results[kind] = facts
            done_weight += weight
            step(0.0, f"{exports.KIND_NAMES[kind]} done")
        return results


def _media_keys(selected: Selected) -> list[str | None]:
    return [name for gen in selected.items for name in (gen.video_path, gen.thumb_path)]


# ---------------------------------------------------------------------- the worker


def _lock_path(services: Services, token: str) -> Path:
    return exports_dir(services) / WORKERS_DIR / f"{token}.lock"


def _owner_gone(services: Services, token: str) -> bool:
    "True when no live worker holds this token's lock (the process that held it has stopped)."
    path = _lock_path(services, token)
    try:
        handle = open(path, "a+")  # noqa: SIM115 (closed below, after the lock is tried)
    except OSError:
        return True
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False  # its worker is alive (here or in another process)
    finally:
        handle.close()  # also lets go of a lock taken just now
    with suppress(OSError):
        path.unlink()
    return True


def mark_interrupted(services: Services) -> int:
    "Mark the unfinished exports of stopped processes as interrupted; returns how many."
    rows = services.store.query("SELECT id, process FROM exports WHERE status IN ('queued', 'running')")
    gone: dict[str, bool] = {}
    changed = 0
    for row in rows:
        token = row["process"] or ""
        if token not in gone:
            gone[token] = not token or _owner_gone(services, token)
        if gone[token]:
            changed += _interrupt(services, row["id"])
    return changed


def _interrupt(services: Services, export_id: str) -> int:
    "Mark one unfinished export interrupted and drop what its stopped process had half written."
    _forget_files(services, export_id)
    return services.store.execute(
        "UPDATE exports SET status = 'interrupted', error = ?, finished_at = ? "
        "WHERE id = ? AND status IN ('queued', 'running')",
        [INTERRUPTED_MESSAGE, utcnow(), export_id],
    )


def clean_old_exports(services: Services, *, keep_days: float = KEEP_EXPORTS_DAYS, now: datetime | None = None) -> int:
    "Remove the files of exports that finished more than `keep_days` ago (rows stay, `expired`)."
    cutoff = ((now or datetime.now(UTC)) - timedelta(days=keep_days)).isoformat(timespec="microseconds")
    rows = services.store.query(
        "SELECT id FROM exports WHERE status IN ('done', 'failed', 'interrupted') AND finished_at < ?",
        [cutoff],
    )
    for row in rows:
        _forget_files(services, row["id"])
        services.store.execute("UPDATE exports SET status = 'expired', files = '[]' WHERE id = ?", [row["id"]])
    return len(rows)


class ExportWorker:
    "The one export worker of a process (per data folder): builds queued exports one at a time."

    def __init__(self, services: Services):
        self.services = services
        self.token = uuid.uuid4().hex
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock_handle: IO[str] | None = None
        self._thread = threading.Thread(target=self._run, name="export-worker", daemon=True)
        self._cleaned_at = 0.0

    @property
    def alive(self) -> bool:
        return self._thread.is_alive() and not self._stop.is_set()

    def start(self) -> ExportWorker:
        path = _lock_path(self.services, self.token)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._lock_handle = open(path, "a+")  # noqa: SIM115 (held for the worker's life)
            fcntl.flock(self._lock_handle, fcntl.LOCK_EX)
        except OSError as err:
            raise StoreError(f"The exports folder {path.parent} cannot be used: {err.strerror or err}") from err
        self._thread.start()
        return self

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        "Stop; an export being built ends as interrupted (its ffmpeg is stopped too)."
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        if self._lock_handle is not None:
            with suppress(OSError):
                _lock_path(self.services, self.token).unlink()
            self._lock_handle.close()
            self._lock_handle = None

    def _run(self) -> None:
        with suppress(OSError):  # below the pages and the job worker (Linux: this thread only)
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), exports.NICE_LEVEL)
        while not self._stop.is_set():
            try:
                if time.monotonic() - self._cleaned_at > CLEANUP_EVERY_S:
                    self._cleaned_at = time.monotonic()
                    mark_interrupted(self.services)
                    clean_old_exports(self.services)
                job = self._claim()
                if job is not None:
                    self._build(job)
                    continue
            except StudioError as err:  # the database is away for a moment: try again later
                log.warning("export worker: %s", err)
            except Exception:  # never let one bad export end the worker
                log.exception("export worker")
            self._wake.wait(WORKER_POLL_S)
            self._wake.clear()

    def _claim(self) -> ExportJob | None:
        rows = self.services.store.query(
            "SELECT id FROM exports WHERE status = 'queued' AND process = ? ORDER BY created_at LIMIT 1",
            [self.token],
        )
        for row in rows:
            taken = self.services.store.execute(
                "UPDATE exports SET status = 'running', started_at = ?, stage = 'starting' "
                "WHERE id = ? AND status = 'queued'",
                [utcnow(), row["id"]],
            )
            if taken:
                return export_job(self.services, row["id"])
        return None

    def _build(self, job: ExportJob) -> None:
        folder = exports_dir(self.services) / job.id
        names = exports.file_names(job.title)
        outputs = {kind: folder / names[kind] for kind in job.kinds}
        last = 0.0

        def progress(fraction: float, words: str) -> None:
            nonlocal last
            if self._stop.is_set():
                raise exports.Stopped
            if time.monotonic() - last >= PROGRESS_EVERY_S:
                last = time.monotonic()
                self.services.store.execute(
                    "UPDATE exports SET progress = ?, stage = ? WHERE id = ? AND status = 'running'",
                    [round(min(1.0, fraction), 4), words, job.id],
                )

        try:
            selected = resolve(self.services, job.selection)
            if not selected.items:
                raise ParamsError(exports.nothing_to_export(selected), field="selection")
            results = build(self.services, selected, outputs, exported_by=job.created_by, progress=progress)
        except exports.Stopped:
            shutil.rmtree(folder, ignore_errors=True)
            self._finish(job.id, "interrupted", error=INTERRUPTED_MESSAGE)
            return
        except StudioError as err:
            shutil.rmtree(folder, ignore_errors=True)
            self._finish(job.id, "failed", error=str(err))
            return
        files = [Path(r["path"]).name for r in results.values()]
        size = sum(r["bytes"] for r in results.values())
        if not isinstance(self.services.media, FolderMedia):
            try:  # S3: into the bucket, so any replica serves the download
                for name in files:
                    self.services.media.put_file(_export_key(job.id, name), folder / name)
            except StudioError as err:
                _forget_files(self.services, job.id)
                self._finish(job.id, "failed", error=str(err))
                return
            shutil.rmtree(folder, ignore_errors=True)
        self._finish(job.id, "done", files=files, size=size)

    def _finish(
        self, export_id: str, status: str, *, error: str | None = None, files: list[str] | None = None, size: int = 0
    ) -> None:
        self.services.store.execute(
            "UPDATE exports SET status = ?, error = ?, files = ?, bytes = ?, finished_at = ?, "
            "progress = CASE WHEN ? = 'done' THEN 1.0 ELSE progress END, stage = '' WHERE id = ?",
            [status, error, json.dumps(files or []), size or None, utcnow(), status, export_id],
        )


_workers: dict[str, ExportWorker] = {}
_workers_lock = threading.Lock()


def worker_for(services: Services) -> ExportWorker:
    "This process's export worker for the studio's data folder, started (and a first sweep done) on first use."
    key = str(Path(services.settings.db_path).resolve())
    with _workers_lock:
        worker = _workers.get(key)
        if worker is None or not worker.alive or worker.services.store is not services.store:
            if worker is not None:
                worker.stop()
            worker = _workers[key] = ExportWorker(services).start()
        return worker


def stop_export_workers() -> None:
    "Stop every export worker of this process (tests; a server shutting down)."
    with _workers_lock:
        found = list(_workers.values())
        _workers.clear()
    for worker in found:
        worker.stop()
