"""The durable job runner: generations are rows, one worker thread moves them along.

queued -> submitting -> running -> downloading -> done, or failed / cancelled. Every step is
written to SQLite before the next network call, so after a crash or kill `start()` resumes
each unfinished job, and a run whose POST answer was lost is looked up on its agent (leased to
that one job) before anything is sent again: no run is lost and none is submitted twice.
The worker never calls Streamlit; pages read the rows. One runner per data folder does the
work (a file lock); another process's runner waits on standby until the lock frees.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

from . import media
from .errors import ApiError, ApiStatusError, JobError, NotFoundError, RateLimitError, ServerError
from .models import ACTIVE_STATUSES, CANCELLABLE_STATUSES, FINAL_STATUSES, Generation
from .mosaic import MosaicClient
from .settings import Settings
from .store import HistoryStore, utcnow

log = logging.getLogger(__name__)

TICK_S = 0.5  # how often the worker looks at the queue when nothing wakes it
WORKER_THREADS = 8  # submits, polls and downloads in flight inside this process
RECONCILE_DELAY_S = 2.0  # after an unknown outcome, give the server time before asking what it did
CLOCK_SKEW_ALLOWANCE = timedelta(minutes=2)  # our clock against Mosaic's, when looking up a lost run
STANDBY_RETRY_S = 2.0
MAX_DOWNLOAD_ATTEMPTS = 5
POLL_BACKOFF = 1.5
AGENT_NAME = "Mosaic Prompt Studio"


def _parse_time(text: str) -> datetime:
    stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def _transient(err: ApiStatusError) -> bool:
    "Statuses after which trying again later can succeed; any other status error ends the job."
    return isinstance(err, (ServerError, RateLimitError)) or err.status_code == 408


class JobRunner:
    "Submits, follows and finishes generations; start() resumes whatever an earlier process left."

    def __init__(
        self,
        store: HistoryStore,
        client: MosaicClient,
        settings: Settings,
        *,
        scope: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.store = store
        self.client = client
        self.settings = settings
        self.media_dir = Path(settings.media_dir)
        self.scope = scope or settings.api_scope(str(client.base_url))
        self._clock = clock
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._in_hand: set[str] = set()
        self._due: dict[str, float] = {}  # gen id -> monotonic time of its next poll / retry
        self._poll_wait: dict[str, float] = {}
        self._download_failures: dict[str, int] = {}
        self._cancel_sent: set[str] = set()
        self._pool: ThreadPoolExecutor | None = None
        self._thread: threading.Thread | None = None
        self._lock_file: IO[str] | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> JobRunner:
        "Start the worker thread (idempotent)."
        if self._thread and self._thread.is_alive():
            return self
        self.media_dir.mkdir(parents=True, exist_ok=True)
        self._stop.clear()
        self._pool = ThreadPoolExecutor(WORKER_THREADS, thread_name_prefix="job")
        self._thread = threading.Thread(target=self._loop, name="job-worker", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        "Stop taking new work, let tasks in hand finish, release the lock."
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout)
        if self._pool:
            self._pool.shutdown(wait=True, cancel_futures=True)
        self._release_lock()

    @property
    def alive(self) -> bool:
        return bool(self._thread and self._thread.is_alive())

    @property
    def is_leader(self) -> bool:
        "True while this runner holds the data folder's lock and does the work."
        return self._lock_file is not None

    def wake(self) -> None:
        "Look at the queue now (a job was added, a webhook arrived)."
        self._wake.set()

    def notify_run(self, run_id: str) -> None:
        "A webhook said this run changed: poll it now."
        for gen in self.store.with_status("running"):
            if gen.run_id == run_id:
                self._due[gen.id] = 0.0
        self.wake()

    def _acquire_lock(self) -> bool:
        if self._lock_file:
            return True
        path = Path(self.settings.data_dir) / "worker.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(path, "a+")  # noqa: SIM115 (held open for the worker's life: the flock lives on it)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self._lock_file = handle
        return True

    def _release_lock(self) -> None:
        if self._lock_file:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)
            self._lock_file.close()
            self._lock_file = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            if not self._acquire_lock():
                self._stop.wait(STANDBY_RETRY_S)
                continue
            try:
                self.tick()
            except Exception:  # the worker must outlive any one bad pass
                log.exception("job worker pass failed")
            self._wake.wait(TICK_S)
            self._wake.clear()

    # ------------------------------------------------------------------ one pass

    def tick(self) -> None:
        "One pass: claim queued jobs up to the in-flight limit and schedule work for active ones."
        free = self.settings.max_in_flight - self.store.in_flight_count()
        for gen in self.store.claim_queued(free):
            self._schedule(gen, self._submit)
        now = self._clock()
        for gen in self.store.with_status("submitting", "running", "downloading"):
            if self._due.get(gen.id, 0.0) > now:
                continue
            task = {"submitting": self._submit, "running": self._poll, "downloading": self._fetch}[gen.status]
            self._schedule(gen, task)

    def _schedule(self, gen: Generation, task: Callable[[Generation], None]) -> None:
        with self._lock:
            if gen.id in self._in_hand or self._pool is None:
                return
            self._in_hand.add(gen.id)

        def run() -> None:
            try:
                fresh = self.store.get(gen.id)
                if fresh and fresh.status == gen.status:
                    task(fresh)
            except Exception as err:
                log.exception("job %s: %s failed", gen.id, task.__name__)
                self.store.update_job(gen.id, last_error=str(err))
                self._later(gen.id, self.settings.max_poll_interval)
            finally:
                with self._lock:
                    self._in_hand.discard(gen.id)
                self.wake()

        try:
            self._pool.submit(run)
        except RuntimeError:  # pool shut down while stopping
            with self._lock:
                self._in_hand.discard(gen.id)

    def _later(self, gen_id: str, seconds: float) -> None:
        self._due[gen_id] = self._clock() + seconds

    # ------------------------------------------------------------------ submit

    def _submit(self, gen: Generation) -> None:
        job = self.store.job(gen.id)
        if gen.agent_id and job.get("submit_started_at"):
            # A POST /run may have reached Mosaic before we lost track: ask the agent first, so
            # a run that exists is followed (and cancelled, when that was asked), never forgotten.
            try:
                run_id = self._find_lost_run(gen, job["submit_started_at"])
            except ApiError as err:
                self._retry_later(gen, err, self.settings.max_poll_interval)
                return
            if run_id:
                self._record_run(gen, run_id, gen.agent_id)
                return
        if job.get("cancel_requested"):
            self._finish(gen, "cancelled", error="Cancelled before it started")
            return
        agent_id, node_id = gen.agent_id, gen.node_id
        if not agent_id:
            try:
                agent_id, node_id = self._acquire_agent(gen)
            except ApiError as err:
                if isinstance(err, ApiStatusError) and not _transient(err):
                    self._finish(gen, "failed", error=str(err))
                else:
                    self._retry_later(gen, err, self.settings.max_poll_interval)
                return
            self.store.update(gen.id, agent_id=agent_id, node_id=node_id)
        self.store.update_job(
            gen.id, submit_started_at=utcnow(), submit_attempts=int(job.get("submit_attempts") or 0) + 1, progress=0.05
        )
        update_params = {node_id: gen.params.to_api()} if self.settings.run_flow == "reuse" else None
        try:
            started = self.client.run_agent(agent_id, update_params=update_params, callback_url=self._callback_url())
        except ApiStatusError as err:
            if not _transient(err):
                self._finish(gen, "failed", error=str(err))
                return
            self._retry_later(gen, err, max(RECONCILE_DELAY_S, err.retry_after or 0))
            return
        except ApiError as err:
            # No answer, or one we cannot read: the run may exist. Keep the agent, and look the
            # run up on it before anything is sent again.
            self._retry_later(gen, err, RECONCILE_DELAY_S)
            return
        self._record_run(gen, started.run_id, agent_id)

    def _retry_later(self, gen: Generation, err: Exception, seconds: float) -> None:
        log.warning("job %s: will try again in %.1f s: %s", gen.id, seconds, err)
        self.store.update_job(gen.id, last_error=str(err))
        self._later(gen.id, seconds)

    def _find_lost_run(self, gen: Generation, started_at: str) -> str | None:
        "The run this job's lost POST started: on its leased agent, after the POST, not yet known."
        since = datetime.fromisoformat(started_at) - CLOCK_SKEW_ALLOWANCE
        known = self.store.known_run_ids(gen.agent_id)
        for run in self.client.iter_runs(gen.agent_id, since=since):
            if not run.run_id or run.run_id in known:
                continue
            if run.started_at and _parse_time(run.started_at) < since:
                continue  # the server ignored `from`: an older run is not ours
            log.info("job %s: found run %s whose answer was lost", gen.id, run.run_id)
            return run.run_id
        return None

    def _acquire_agent(self, gen: Generation) -> tuple[str, str]:
        flow = self.settings.run_flow
        lease = self.store.lease_agent(self.scope, flow, gen.id)
        if lease:
            return lease.agent_id, lease.node_id
        # The brief's flow, and the first use of each pooled agent: create it and add the node.
        name = f"{AGENT_NAME} · {gen.prompt[:60]}" if flow == "three_call" else f"{AGENT_NAME} pool"
        agent_id = self.client.create_agent(name[:120], description="Created by Mosaic Prompt Studio").agent_id
        node_id = self.client.add_video_node(agent_id, gen.params)
        self.store.add_agent(agent_id, node_id, scope=self.scope, flow=flow, leased_by=gen.id)
        return agent_id, node_id

    def _record_run(self, gen: Generation, run_id: str, agent_id: str) -> None:
        if not self.store.record_run(gen.id, run_id, agent_id):
            return
        self.store.release_agent(gen.id)
        self.store.update_job(gen.id, progress=0.1, node_status="running", poll_count=0)
        self._poll_wait[gen.id] = self.settings.poll_interval
        self._later(gen.id, self.settings.poll_interval)

    def _callback_url(self) -> str | None:
        base = self.settings.public_url
        return f"{base.rstrip('/')}/hooks/mosaic" if base else None

    # ------------------------------------------------------------------ poll

    def _poll(self, gen: Generation) -> None:
        job = self.store.job(gen.id)
        if job.get("cancel_requested") and gen.id not in self._cancel_sent:
            try:
                self.client.cancel_run(gen.run_id)
                self._cancel_sent.add(gen.id)
            except ApiStatusError as err:  # already finished: take whatever it ended as
                log.info("job %s: cancel refused: %s", gen.id, err)
                self._cancel_sent.add(gen.id)
        try:
            run = self.client.get_run(gen.run_id)
        except NotFoundError:
            self._finish(gen, "failed", error=f"Mosaic has no record of run {gen.run_id}")
            return
        except ApiError as err:
            self.store.update_job(gen.id, last_error=str(err))
            self._later(gen.id, self.settings.max_poll_interval)
            return
        if not run.is_terminal:
            counts = run.node_status_counts
            total = (counts.completed + counts.in_progress + counts.failed) if counts else 0
            done = (counts.completed / total) if counts and total else 0.0
            self.store.update_job(
                gen.id,
                poll_count=int(job.get("poll_count") or 0) + 1,
                progress=round(0.1 + 0.8 * done, 3),
                node_status=run.status,
            )
            wait = self._poll_wait.get(gen.id, self.settings.poll_interval)
            self._later(gen.id, wait)
            self._poll_wait[gen.id] = min(wait * POLL_BACKOFF, self.settings.max_poll_interval)
            return
        output = run.output_for(gen.node_id)
        if run.status in ("completed", "partial_complete") and output is not None:
            if self.store.transition(gen.id, ("running",), "downloading", render_id=output.id):
                self.store.update_job(gen.id, progress=0.9, node_status=run.status)
                self._download(gen, output.video_url)
            return
        status = "cancelled" if run.status == "cancelled" else "failed"
        self._finish(gen, status, error=run.error_text())

    # ------------------------------------------------------------------ download

    def _fetch(self, gen: Generation) -> None:
        "Resume a download: signed URLs expire, so ask the run for a fresh one."
        try:
            run = self.client.get_run(gen.run_id)
        except ApiError as err:
            self._download_failed(gen, err)
            return
        output = run.output_for(gen.node_id)
        if output is None:
            self._finish(gen, "failed", error=run.error_text())
            return
        self._download(gen, output.video_url)

    def _download(self, gen: Generation, url: str) -> None:
        dest = self.media_dir / f"{gen.id}.mp4"
        part = dest.with_name(dest.name + ".part")
        try:
            size, sha256 = self.client.download(url, part)
            os.replace(part, dest)  # a file under the final name is always complete
            facts = media.probe(dest)
            thumb = dest.with_suffix(".jpg")
            media.make_thumbnail(dest, thumb)
        except ApiError as err:
            part.unlink(missing_ok=True)
            self._download_failed(gen, err)
            return
        except (RuntimeError, OSError, ValueError) as err:  # not a playable file
            self._finish(
                gen,
                "failed",
                error=f"The downloaded file is not a playable video: {err}",
                from_statuses=("downloading",),
            )
            return
        self._finish(
            gen,
            "done",
            from_statuses=("downloading",),
            video_path=dest.name,
            thumb_path=thumb.name,
            width=facts.width,
            height=facts.height,
            duration_s=round(facts.duration_s, 3),
            has_audio=int(facts.has_audio),
            file_size=size,
            sha256=sha256,
        )

    def _download_failed(self, gen: Generation, err: ApiError) -> None:
        failures = self._download_failures[gen.id] = self._download_failures.get(gen.id, 0) + 1
        if failures >= MAX_DOWNLOAD_ATTEMPTS:
            self._finish(
                gen, "failed", error=f"The video could not be downloaded: {err}", from_statuses=("downloading",)
            )
        else:
            self._retry_later(gen, err, self.settings.poll_interval * failures)

    # ------------------------------------------------------------------ endings

    def _finish(
        self,
        gen: Generation,
        status: str,
        *,
        error: str | None = None,
        from_statuses: Sequence[str] = ACTIVE_STATUSES,
        **fields: object,
    ) -> None:
        finished = utcnow()
        elapsed = None
        current = self.store.get(gen.id)
        if current and current.submitted_at:
            elapsed = round(
                (datetime.fromisoformat(finished) - datetime.fromisoformat(current.submitted_at)).total_seconds(), 3
            )
        if self.store.transition(
            gen.id, from_statuses, status, error=error, finished_at=finished, elapsed_s=elapsed, **fields
        ):
            self.store.update_job(gen.id, progress=1.0 if status == "done" else 0.0, node_status=status)
        self.store.release_agent(gen.id)
        for pending in (self._due, self._poll_wait, self._download_failures):
            pending.pop(gen.id, None)
        self._cancel_sent.discard(gen.id)

    # ------------------------------------------------------------------ user actions

    def cancel(self, gen_id: str) -> None:
        "Cancel a job: at once while queued, otherwise on Mosaic at the worker's next look."
        gen = self.store.get(gen_id)
        if gen is None:
            raise JobError(f"No generation {gen_id}")
        if gen.status not in CANCELLABLE_STATUSES:
            done = "rendered; its video is being saved" if gen.status == "downloading" else "finished"
            raise JobError(f"This generation has already {done}; there is nothing to cancel")
        if gen.status == "queued" and self.store.transition(
            gen_id, ("queued",), "cancelled", error="Cancelled before it started", finished_at=utcnow()
        ):
            return
        self.store.update_job(gen_id, cancel_requested=1)
        self._due[gen_id] = 0.0
        self.wake()

    def retry(self, gen_id: str) -> None:
        "Queue a failed or cancelled generation again, as a new attempt with a new run."
        if not self.store.reset_for_retry(gen_id):
            raise JobError("Only a failed or cancelled generation can be retried")
        self.wake()

    def wait(
        self,
        ids: Sequence[str],
        *,
        timeout: float = 600.0,
        on_progress: Callable[[list[Generation]], None] | None = None,
        interval: float = 0.25,
    ) -> list[Generation]:
        "Block until every generation in `ids` has finished (or the timeout); returns them."
        deadline = time.monotonic() + timeout
        while True:
            gens = self.store.many(ids)
            if on_progress:
                on_progress(gens)
            if all(g.status in FINAL_STATUSES for g in gens) or time.monotonic() >= deadline:
                return gens
            self.wake()
            time.sleep(interval)
