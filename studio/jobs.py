"""The durable job runner: generations are rows, worker threads move them along.

queued -> submitting -> running -> downloading -> done, or failed / cancelled. Every step is
written to the history before the next network call, so after a crash or kill each unfinished
job is resumed.

Many workers (issue 10 §2): a runner is one worker (in a web server, or `studio worker`), and
works only on the jobs it holds under a lease (`studio.leases`): it claims queued ones up to its
share of the in-flight limit, renews its leases every third of `worker_lease_s`, and takes over
any unfinished job whose lease lapsed (its worker died), resuming it as a restarted runner does.
Each step checks the job is still its own first. On a clean stop it gives its jobs back.

Runs and their owners (issue 7 §1): before `POST /run` the agent's outcome is recorded as unknown
(`pending_posts`); until it is known no other job leases that agent. After no answer (timeout,
dropped line, 5xx) the job looks on that agent once, RECONCILE_DELAY_S later, and adopts a run
only with proof it is its own (the run's clone of the node ran with the job's settings:
`GET /agent_run/{id}/nodes` + `GET /agent_nodes/{clone}`), never by time window alone. Finding
nothing, it submits again on another agent. The waiting agents are looked at again each pass
while there are any (`_check_unknown_outcomes`, soon after the POST, then less often); a run that
turns up for a job that has one, has ended, or cannot be proven to be its own is cancelled and
recorded in `stray_runs`; after `unknown_outcome_horizon` with nothing, the agent returns to the
pool. Agent creates carry a tag in the agent's name, recorded first (`agent_intents`), so an
agent whose create or node-add answer was lost is found on the account and kept or deleted.
The worker never calls Streamlit; pages read the rows. With the built-in simulator (one per
process) only one process's runner works (a file lock in the data folder); the others wait on
standby until it frees. The checks that are no one job's (unknown outcomes of jobs that moved
on, strays, lost agent creates) are done by one worker at a time, under a lease row.

Every run ends: a key refused (401/403) while following runs, or a run Mosaic does not know (404),
ends the job with Mosaic's words; a run still going `run_deadline` after Mosaic accepted it is
cancelled there and failed. A full disk (SQLITE_FULL, ENOSPC) fails no job: the worker pauses,
says so (in memory, in its note file for other processes, in its `workers` row when it can),
looks for space every `disk_retry_interval` and resumes; the job whose write failed is simply
done again.

Waiting costs few calls: one listing per worker (`GET /agent_runs`, filtered by status and by the
oldest run in flight) follows every run it holds at once, no sooner than a run can finish, less often the
longer the runs have taken; a webhook makes it look at once. The in-memory schedule (`Schedule`)
is shared by page threads and worker threads and guarded by one lock; it is not persisted: after
a restart every job is looked at afresh, which the lost-answer lookup makes safe.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

from . import format as fmt
from . import media
from .errors import (
    ApiError,
    ApiStatusError,
    AuthError,
    ConflictError,
    DiskFullError,
    JobError,
    MediaError,
    NotFoundError,
    ParamsError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    StoreError,
    StudioError,
    WrongVideoError,
)
from .leases import HOUSEKEEPING, Leases
from .media_store import MediaStore, open_media
from .models import (
    ACTIVE_STATUSES,
    CANCELLABLE_STATUSES,
    FINAL_STATUSES,
    RUN_TERMINAL_STATUSES,
    VIDEO_GENERATION_NODE_TYPE_ID,
    Generation,
    Run,
    VideoGenerationParams,
)
from .mosaic import DownloadLimits, MosaicClient
from .settings import Settings
from .store import HistoryStore, JobPhase, new_id, utcnow

log = logging.getLogger(__name__)

TICK_S = 0.5  # how often the worker looks at the queue when nothing wakes it
WORKER_THREADS = 8  # submits, polls and downloads in flight inside this process
RECONCILE_DELAY_S = 2.0  # after an unknown outcome, give the server time before asking what it did
CLOCK_SKEW_ALLOWANCE = timedelta(minutes=2)  # our clock against Mosaic's, when looking up a lost run
STANDBY_RETRY_S = 2.0
MIN_PAUSE_S = 0.01  # the worker never spins: at most this often when a listing is due soon
# While the history database cannot be reached the worker only pings it: every OUTAGE_RETRY_S,
# each ping waiting at most OUTAGE_PING_WAIT_S for a connection (not the pool's 15 s), so the
# leases are renewed within a few seconds of the database's return.
OUTAGE_RETRY_S = 1.0
OUTAGE_PING_WAIT_S = 2.0
MAX_DOWNLOAD_ATTEMPTS = 5
# The wait before looking at runs again is this share of the youngest run's age (between the
# shortest and longest poll intervals): news of a finish comes at most ~20 % of a run's time late,
# and a grid of minutes-long runs costs a handful of listings instead of one poll per run per tick.
POLL_AGE_FRACTION = 0.2
# Statuses the listing asks for: every status Mosaic documents for a run. A run in flight that is
# missing from the listing (another status, or the listing is behind) is asked about on its own.
LISTED_RUN_STATUSES = ("running", *RUN_TERMINAL_STATUSES)
POLL_KEY = "\0poll"  # the listing's entry in the schedule; never a generation id
AGENT_NAME = "Mosaic Prompt Studio"
AGENT_NAME_MAX_CHARS = 120  # Mosaic's limit on an agent's name
OUTCOMES_KEY = "\0outcomes"  # the schedule's entry for looking again at unknown outcomes; never a generation id
LOCK_FILE = "worker.lock"  # with the built-in simulator: the one process whose runner works holds it
NOTES_DIR = "workers"  # data folder/workers/<worker id>.lock: each live worker's note, locked by it
# A worker's state is published inside its note file, padded to this size once when it is opened:
# later notes overwrite those bytes in place, so saying "disk full" needs no new disk space.
STATE_RECORD_BYTES = 1024
SPACE_PROBE_FILE = ".space-probe"  # written (then removed) in the data folder to see whether space returned
SPACE_PROBE_BYTES = 64 * 1024
# A key refused (401) or a scope missing (403) does not heal by asking again: the runs in flight
# cannot be followed, so their jobs end with Mosaic's words instead of polling forever.
UNRECOVERABLE_POLL_ERRORS = (AuthError, PermissionDeniedError)


def _parse_time(text: str) -> datetime:
    stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def _seconds_between(start: str | None, end: datetime) -> float | None:
    return (end - _parse_time(start)).total_seconds() if start else None


def poll_wait(age_s: float, since_poll_s: float, *, first: float, shortest: float, longest: float) -> float:
    """Seconds until a run `age_s` old, last looked at `since_poll_s` ago, needs looking at again
    (0 or less: now). Never before the run is `first` seconds old (no run finishes sooner), then
    after POLL_AGE_FRACTION of its age, kept between `shortest` and `longest`."""
    first = min(first, longest)  # however slow the first finish, never wait longer than `longest`
    wait = min(max(POLL_AGE_FRACTION * age_s, shortest), longest)
    return max(first - age_s, wait - since_poll_s)


class Schedule:
    """The runner's in-memory schedule: when each job may be looked at next, which jobs a worker
    holds, when the next listing is asked for, and small per-job notes. Page threads (cancel,
    retry, webhooks) and worker threads share it, so every read and write holds one lock."""

    def __init__(self, clock: Callable[[], float]):
        self._clock = clock
        self._lock = threading.Lock()
        self._due: dict[str, float] = {}  # gen id (or POLL_KEY) -> monotonic time it may run again
        self._in_hand: set[str] = set()
        self._urgent: set[str] = set()  # asked for `now` after their running task began
        self._last_poll = -math.inf
        self._poll_asked = math.inf  # a webhook or a cancel asked for a listing by then
        self._download_failures: dict[str, int] = {}
        self._cancel_sent: set[str] = set()
        self._urls: dict[str, str] = {}  # a video URL the listing handed over for the download task
        self._download_started: dict[str, float] = {}  # when a job's first download attempt began

    def later(self, key: str, seconds: float) -> None:
        "Not before `seconds` from now; unless `now` was asked since the job's task began."
        with self._lock:
            if key not in self._urgent:
                self._due[key] = self._clock() + seconds

    def now(self, key: str) -> None:
        "Look at this job at once (a cancel): a task already running cannot postpone it."
        with self._lock:
            self._due[key] = -math.inf
            self._urgent.add(key)

    def is_due(self, key: str) -> bool:
        with self._lock:
            return self._due.get(key, -math.inf) <= self._clock()

    def claim(self, key: str) -> bool:
        "Hold `key` for one worker; False when another already holds it."
        with self._lock:
            if key in self._in_hand:
                return False
            self._in_hand.add(key)
            self._urgent.discard(key)
            return True

    def release(self, key: str) -> None:
        with self._lock:
            self._in_hand.discard(key)

    def holds(self, key: str) -> bool:
        with self._lock:
            return key in self._in_hand

    def waits(self) -> dict[str, float]:
        "Seconds until each scheduled job may run again (0: now), read consistently."
        with self._lock:
            now = self._clock()
            return {key: max(0.0, due - now) for key, due in self._due.items()}

    def forget(self, key: str) -> None:
        "Drop everything noted about a job that has ended."
        with self._lock:
            self._due.pop(key, None)
            self._urgent.discard(key)
            self._download_failures.pop(key, None)
            self._cancel_sent.discard(key)
            self._urls.pop(key, None)
            self._download_started.pop(key, None)

    # listing
    def ask_poll(self, within: float) -> None:
        "Ask for a listing within `within` seconds (earlier asks stand)."
        with self._lock:
            self._poll_asked = min(self._poll_asked, self._clock() + within)

    def polled(self) -> None:
        with self._lock:
            self._last_poll = self._clock()
            self._poll_asked = math.inf

    def since_poll(self) -> float:
        with self._lock:
            return self._clock() - self._last_poll

    def poll_asked(self) -> bool:
        with self._lock:
            return self._poll_asked <= self._clock()

    # per-job notes
    def download_failed(self, key: str) -> int:
        with self._lock:
            count = self._download_failures[key] = self._download_failures.get(key, 0) + 1
            return count

    def download_began(self, key: str) -> float:
        "When this job's first download attempt began (now, on the first ask); its deadline counts from it."
        with self._lock:
            return self._download_started.setdefault(key, self._clock())

    def download_waited(self, key: str) -> None:
        "The disk was full: the download's deadline counts afresh from its next attempt (the wait was not its own)."
        with self._lock:
            self._download_started.pop(key, None)

    def note_cancel_sent(self, key: str) -> None:
        with self._lock:
            self._cancel_sent.add(key)

    def cancel_was_sent(self, key: str) -> bool:
        with self._lock:
            return key in self._cancel_sent

    def hand_url(self, key: str, url: str) -> None:
        with self._lock:
            self._urls[key] = url

    def take_url(self, key: str) -> str | None:
        with self._lock:
            return self._urls.pop(key, None)


def _run_of(gen: Generation) -> str:
    "The Mosaic run a job in `running` or later follows."
    if not gen.run_id:
        raise JobError(f"Generation {gen.id} has no run to follow")
    return gen.run_id


def _same_params(used: dict[str, object], sent: VideoGenerationParams) -> bool:
    "Whether the params a run's node ran with are the ones a job sent (read as the node reads them)."
    try:
        return VideoGenerationParams.parse(used).to_api() == sent.to_api()
    except ParamsError:
        return False


def _stray_reason(gen: Generation | None) -> str:
    "Why a run that is this job's cannot be followed by it."
    if gen is None:
        return "its generation was deleted"
    if gen.run_id:
        return f"a late duplicate: the job already follows run {gen.run_id}"
    if gen.status != "submitting":
        return f"the job had already ended ({gen.status})"
    return "the job had no use for it"


def _no_video(run: Run) -> str:
    "Why a run that says it finished well gave the job nothing to download."
    said = "completed" if run.status == "completed" else f"partly completed ({run.status})"
    message = f"Mosaic says the run {said} but returned no video for this node"
    details = run.error_text()
    return message if details == f"Run {run.status}" else f"{message}: {details}"


def _expected_take(gen: Generation) -> tuple[frozenset[tuple[int, int]], float | None]:
    "The frame sizes and seconds a job's take may have (empty / None: not known, not checked)."
    try:
        sizes = media.take_sizes(gen.resolution, gen.aspect_ratio)
    except ParamsError:
        sizes = frozenset()
    seconds = None if gen.duration == "auto" or not gen.duration.isdigit() else float(gen.duration)
    return sizes, seconds


def _discard(*paths: Path) -> None:
    "Delete what a failed download left (the .part, a final file, its thumbnail); never served."
    for path in paths:
        try:
            path.unlink(missing_ok=True)
        except OSError as err:  # nothing more to do: the job fails or retries either way
            log.warning("could not delete %s: %s", path.name, err.strerror or err)


def _transient(err: ApiStatusError) -> bool:
    "Statuses after which trying again later can succeed; any other status error ends the job."
    return isinstance(err, (ServerError, RateLimitError)) or err.status_code == 408


def disk_full(err: BaseException | None) -> bool:
    "True when `err`, or an error it was raised from, says the disk is full (SQLITE_FULL or ENOSPC)."
    for _ in range(8):  # causes chain a few deep at most; never loop on a strange chain
        if err is None:
            return False
        if isinstance(err, DiskFullError) or (isinstance(err, OSError) and err.errno == errno.ENOSPC):
            return True
        err = err.__cause__ or err.__context__
    return False


def worker_paused(data_dir: Path) -> str | None:
    """Why a worker using `data_dir` is paused (the note in its locked note file), or None when none
    is paused. A note file nobody locks is a dead worker's: stale, and removed."""
    try:
        paths = sorted((Path(data_dir) / NOTES_DIR).glob("*.lock"))
    except OSError:
        return None
    for path in paths:
        paused = _live_note(path)
        if paused:
            return paused
    return None


def _live_note(path: Path) -> str | None:
    "The `paused` of one worker's note while the worker lives (holds its lock)."
    try:
        handle = open(path, "rb")  # noqa: SIM115 (the lock is tried on this handle)
    except OSError:
        return None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:  # its worker holds it: the note is current
            try:
                note = json.loads(handle.read(STATE_RECORD_BYTES).decode().strip() or "{}")
            except (OSError, ValueError):
                return None
            paused = note.get("paused") if isinstance(note, dict) else None
            return paused if isinstance(paused, str) else None
        with suppress(OSError):
            path.unlink()
        fcntl.flock(handle, fcntl.LOCK_UN)
        return None


def _cannot_follow(gen: Generation, err: ApiStatusError) -> str:
    "The ending of a job whose run Mosaic will not show us: its words, and that the run may go on."
    return f"Run {gen.run_id} can no longer be followed: {err}. It may still be going on Mosaic."


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
        space_probe: Path | None = None,
        exclusive: bool = False,
        worker_id: str | None = None,
        media: MediaStore | None = None,
    ):
        self.store = store
        self.client = client
        self.settings = settings
        self.media = media or open_media(settings)  # where finished videos and thumbnails go
        self.media_dir = Path(settings.media_dir)
        self.scope = scope or settings.api_scope(str(client.base_url))
        self._clock = clock
        self._wake = threading.Event()
        self._stop = threading.Event()
        self.schedule = Schedule(clock)
        self._pool: ThreadPoolExecutor | None = None
        self._thread: threading.Thread | None = None
        self._lock_file: IO[str] | None = None  # the data folder's lock, held when `exclusive`
        self._note_file: IO[str] | None = None  # this worker's note, for other processes
        # With the built-in simulator (one per process, its runs its own) one process's runner works.
        self.exclusive = exclusive
        self.leases = Leases(store, settings.worker_lease_s, worker_id=worker_id)
        self._renew_at = -math.inf  # monotonic time the leases are next renewed
        self._news_seen = ""  # the newest webhook news already acted on (jobs.news_at)
        self._intents_lock = threading.Lock()
        self._paused: str | None = None  # why the worker waits (the disk is full), or None
        self._outage: float | None = None  # monotonic time the history database went away, or None
        self._outage_lock = threading.Lock()
        self._pause_lock = threading.Lock()
        # Written to see whether the disk has space again (a constructor argument: the test seam).
        self.space_probe = space_probe or Path(settings.data_dir) / SPACE_PROBE_FILE

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> JobRunner:
        "Start the worker thread (idempotent)."
        if self._thread and self._thread.is_alive():
            return self
        try:
            self.media.check()
        except MediaError as err:
            raise StoreError(str(err)) from err
        self._stop.clear()
        self._pool = ThreadPoolExecutor(WORKER_THREADS, thread_name_prefix="job")
        self._thread = threading.Thread(target=self._loop, name="job-worker", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0, *, release: bool = True) -> None:
        """Stop taking new work, let tasks in hand finish, give the jobs back (other workers resume
        them at once) and release the lock. `release=False` keeps the leases until they lapse, as a
        worker that died would (the test seam for a lost worker)."""
        was_working = self.is_leader
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout)
        if self._pool:
            self._pool.shutdown(wait=True, cancel_futures=True)
        if release and was_working:
            try:
                self.leases.release_all()
            except StoreError as err:  # they lapse by themselves after worker_lease_s
                log.warning("could not give this worker's jobs back: %s", err)
        self._release_lock()

    @property
    def alive(self) -> bool:
        return bool(self._thread and self._thread.is_alive())

    @property
    def is_leader(self) -> bool:
        "True while this runner works (it is a live worker, and holds the data folder's lock when `exclusive`)."
        return self._note_file is not None and (self._lock_file is not None or not self.exclusive)

    def wake(self) -> None:
        "Look at the queue now (a job was added, a webhook arrived)."
        self._wake.set()

    def look_for_late_runs(self) -> None:
        "Look again at once for the runs of unanswered run requests (and strays to cancel)."
        self.schedule.now(OUTCOMES_KEY)
        self.wake()

    def notify_run(self, run_id: str, *, status: str | None = None, flag: str | None = None) -> None:
        """A webhook said this run changed. A run still going is noted as progress without a call;
        a finish (or news we cannot read) makes the worker list runs within one poll interval,
        so a burst of finishes costs one listing."""
        gen = self.store.by_run_id(run_id)
        if gen is None or gen.status != "running":
            return
        if status == "running" and flag != "RUN_FINISHED":
            self.store.note_progress(gen.id, generating=flag == "RUN_PROGRESS")
            return
        self.leases.note_news(gen.id)  # the worker holding the job may be another process
        self.schedule.ask_poll(self.settings.poll_interval)
        self.wake()

    def _acquire_lock(self) -> bool:
        "Become a working worker: the data folder's lock when `exclusive`, then this worker's note file."
        data = Path(self.settings.data_dir)
        if self.exclusive and self._lock_file is None:
            data.mkdir(parents=True, exist_ok=True)
            handle = open(data / LOCK_FILE, "a")  # noqa: SIM115 (held for the worker's life)
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                return False
            self._lock_file = handle
        if self._note_file is None:
            path = data / NOTES_DIR / f"{self.leases.id}.lock"
            path.parent.mkdir(parents=True, exist_ok=True)
            # Read-write without truncating (not "a+": appends ignore the offset the note is written at).
            handle = open(os.open(path, os.O_RDWR | os.O_CREAT, 0o644), "r+")  # noqa: SIM115 (held for the worker's life)
            fcntl.flock(handle, fcntl.LOCK_EX)  # its own new file: nobody else locks it
            self._note_file = handle
            self._publish()
        return True

    def _release_lock(self) -> None:
        if self._note_file:
            with suppress(OSError):
                (Path(self.settings.data_dir) / NOTES_DIR / f"{self.leases.id}.lock").unlink()
            fcntl.flock(self._note_file, fcntl.LOCK_UN)
            self._note_file.close()
            self._note_file = None
        if self._lock_file:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)
            self._lock_file.close()
            self._lock_file = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                working = self._acquire_lock()
            except OSError as err:
                log.warning("job worker cannot start in %s: %s", self.settings.data_dir, err.strerror or err)
                working = False
            if not working:
                self._stop.wait(STANDBY_RETRY_S)
                continue
            if self._outage is not None and not self._database_returned():
                self._stop.wait(OUTAGE_RETRY_S)
                continue
            self._keep_leases()
            if self._paused is not None and not self._space_returned():
                # Calm: a webhook does not hurry it; the leases are still renewed while it can.
                self._stop.wait(min(self.settings.disk_retry_interval, self.leases.renew_every))
                continue
            pause = TICK_S
            try:
                pause = min(pause, max(self.tick(), MIN_PAUSE_S))
            except Exception as err:  # the worker must outlive any one bad pass
                if disk_full(err):
                    self._pause_for_disk(err)
                    continue
                if self._database_lost(err):
                    continue
                log.exception("job worker pass failed")
            self._wake.wait(min(pause, max(self._renew_at - time.monotonic(), MIN_PAUSE_S)))
            self._wake.clear()

    def _keep_leases(self) -> None:
        "Renew this worker's leases (and its `workers` row) when a third of the lease has passed."
        now = time.monotonic()
        if now < self._renew_at:
            return
        try:
            self.leases.renew()
        except StoreError as err:
            if disk_full(err):
                self._pause_for_disk(err)
            elif not self._database_lost(err):
                log.warning("could not renew this worker's leases (they last %.0f s): %s", self.leases.lease_s, err)
            self._renew_at = now + min(self.leases.renew_every, TICK_S)
            return
        self._renew_at = now + self.leases.renew_every

    # ------------------------------------------------------------------ the database away

    @property
    def database_away(self) -> bool:
        "True while the worker waits for the history database to answer again."
        return self._outage is not None

    def _database_lost(self, err: BaseException) -> bool:
        """Whether `err` is the history database being away (a StoreError, and a ping fails too):
        then the worker waits for it, with one log line when the outage starts, none per try."""
        if not isinstance(err, StoreError):
            return False
        if self._outage is None:
            try:
                self.store.ping(OUTAGE_PING_WAIT_S)
            except StoreError as ping_err:
                err = ping_err
            else:
                return False  # the database answers: another kind of error, for the caller to report
        with self._outage_lock:
            if self._outage is not None:
                return True
            self._outage = time.monotonic()
        log.warning("job worker waiting for the history database (pinging every %.0f s): %s", OUTAGE_RETRY_S, err)
        return True

    def _database_returned(self) -> bool:
        "Whether the history database answers again; if so, one log line and the leases are renewed now."
        try:
            self.store.ping(OUTAGE_PING_WAIT_S)
        except StoreError:
            return False
        with self._outage_lock:
            began, self._outage = self._outage, None
        away = time.monotonic() - began if began is not None else 0.0
        log.warning("job worker resumed: the history database answers again (away %.0f s)", away)
        self._renew_at = -math.inf  # renew at once: the leases may be close to lapsing
        self.wake()
        return True

    # ------------------------------------------------------------------ disk full

    @property
    def paused(self) -> str | None:
        """Why a worker on this data folder is paused ("disk full: …"), or None: this runner's own
        state, else the note another worker (maybe another process) published."""
        return self._paused or worker_paused(Path(self.settings.data_dir))

    def _pause_for_disk(self, err: BaseException) -> None:
        "Stop taking work until space returns; one log line when the state changes, none per try."
        with self._pause_lock:
            if self._paused is not None:
                return
            self._paused = f"disk full: {err}"
        log.warning("job worker paused, the disk is full (retrying every %.0f s): %s", self._retry_s, err)
        self._publish()
        with suppress(StoreError):  # the database may be the full disk: the note file says it anyway
            self.leases.note_paused(self._paused)

    @property
    def _retry_s(self) -> float:
        return self.settings.disk_retry_interval

    def _space_returned(self) -> bool:
        "Whether the database and the media folder can grow again; if so, the worker resumes."
        try:
            if not self.store.has_space():
                return False
            with open(self.space_probe, "wb") as probe:  # a partial probe on failure is removed next time
                probe.write(bytes(SPACE_PROBE_BYTES))
                probe.flush()
                os.fsync(probe.fileno())
            self.space_probe.unlink(missing_ok=True)
        except (OSError, StoreError):  # still full, or the disk is unwell: keep waiting, quietly
            return False
        with self._pause_lock:
            self._paused = None
        log.warning("job worker resumed: the disk has space again")
        self._publish()
        with suppress(StoreError):
            self.leases.note_paused(None)
        return True

    def _publish(self) -> None:
        "Write this worker's state into its lock file, in place, for pages and commands in other processes."
        with self._pause_lock:  # the loop and pool threads both publish: one note at a time, the latest
            handle = self._note_file
            if handle is None:
                return
            paused = self._paused[: STATE_RECORD_BYTES // 2] if self._paused else None
            record = json.dumps({"paused": paused, "pid": os.getpid(), "worker": self.leases.id})  # ASCII
            try:
                handle.seek(0)
                handle.write(record.ljust(STATE_RECORD_BYTES))
                handle.flush()
            except OSError as err:  # the note is a courtesy: this process still knows its own state
                log.debug("could not publish the worker's state: %s", err)

    # ------------------------------------------------------------------ one pass

    def tick(self) -> float:
        """One pass: claim queued jobs up to this worker's share of the in-flight limit and take over
        lapsed ones, schedule work on the jobs it holds, list their runs when due. Returns the
        seconds until the next listing is due (TICK_S when nothing is in flight)."""
        self._check_unknown_outcomes()
        self.leases.claim(self.settings.max_in_flight)
        running: list[Generation] = []
        active = self.leases.held()
        # The hard limit covers the submitting phase too: a job Mosaic has not accepted within
        # run_deadline of its first attempt (an unreachable API, a POST never answered) is failed.
        # Its pending POSTs stay: a run that turns up later is a stray the outcome checker cancels.
        submitting = [g.id for g in active if g.status == "submitting"]
        since = {k: j.get("submitting_since") for k, j in self.store.jobs(submitting).items()} if submitting else {}
        for gen in active:
            if gen.status != "submitting":
                pass
            elif not since.get(gen.id):
                self.store.update_job(gen.id, submitting_since=utcnow())
            elif (_seconds_between(since[gen.id], datetime.now(UTC)) or 0.0) > self.settings.run_deadline:
                self._schedule(gen, self._end_not_accepted)
                continue
            if gen.status == "running":
                running.append(gen)
            elif self.schedule.is_due(gen.id):
                self._schedule(gen, self._submit if gen.status == "submitting" else self._fetch)
        if not running:
            return TICK_S
        jobs = self.store.jobs([g.id for g in running])
        news = max((str(j.get("news_at") or "") for j in jobs.values()), default="")
        if news > self._news_seen:  # a webhook (maybe to another process) said a run of ours finished
            self._news_seen = news
            self.schedule.ask_poll(self.settings.poll_interval)
        now = datetime.now(UTC)
        for gen in running:
            wants_cancel = jobs.get(gen.id, {}).get("cancel_requested")
            if wants_cancel and not self.schedule.cancel_was_sent(gen.id) and self.schedule.is_due(gen.id):
                self._schedule(gen, self._send_cancel)
            elif self._past_deadline(gen, now) and self.schedule.is_due(gen.id):
                self._schedule(gen, self._end_overdue)
        if self.schedule.holds(POLL_KEY):
            return TICK_S  # the listing in hand wakes the worker when it is done
        wait = self._poll_wait(running)
        if wait <= 0:
            self._run_task(POLL_KEY, self._poll_all)
            return TICK_S
        return wait

    def _poll_wait(self, running: Sequence[Generation]) -> float:
        "Seconds until a listing is due (0 or less: now): asked for, or a run in flight needs a look."
        if self.schedule.poll_asked():
            return 0.0
        soonest = math.inf
        since_poll = self.schedule.since_poll()
        now = datetime.now(UTC)
        longest = self.settings.max_poll_interval
        if self.settings.public_url:  # webhooks bring the news; timed listings only catch lost ones
            longest = max(longest, self.settings.webhook_poll_interval)
        for gen in running:
            age = _seconds_between(gen.submitted_at, now)
            age = math.inf if age is None else age
            wait = poll_wait(
                age,
                since_poll,
                first=self.settings.first_poll_after,
                shortest=self.settings.poll_interval,
                longest=longest,
            )
            soonest = min(soonest, wait)
        return soonest

    def _schedule(self, gen: Generation, task: Callable[[Generation], None]) -> None:
        "Run `task` for this job on the pool, unless a worker already holds the job."

        def step() -> None:
            fresh = self.store.get(gen.id)
            # Still this worker's: a worker that stalled past its lease finds the job taken over.
            if fresh and fresh.status == gen.status and self.leases.holds(gen.id):
                task(fresh)

        def failed(err: Exception) -> None:
            self.store.update_job(gen.id, last_error=str(err))
            self.schedule.later(gen.id, self.settings.max_poll_interval)

        self._run_task(gen.id, step, failed)

    def _run_task(self, key: str, step: Callable[[], None], failed: Callable[[Exception], None] | None = None) -> None:
        if self._pool is None or not self.schedule.claim(key):
            return

        def run() -> None:
            try:
                step()
            except Exception as err:
                if disk_full(err):  # not the job's fault: nothing is written, the job waits for space
                    self._pause_for_disk(err)
                    self.schedule.download_waited(key)
                    self.schedule.later(key, self.settings.disk_retry_interval)
                    return
                if self._database_lost(err):  # not the job's fault either: it is taken up again after
                    self.schedule.later(key, self.settings.max_poll_interval)
                    return
                log.exception("job task %s failed", key)
                if failed:
                    failed(err)
            finally:
                self.schedule.release(key)
                self.wake()

        try:
            self._pool.submit(run)
        except RuntimeError:  # pool shut down while stopping
            self.schedule.release(key)

    def _later(self, gen_id: str, seconds: float) -> None:
        self.schedule.later(gen_id, seconds)

    # ------------------------------------------------------------------ submit

    def _submit(self, gen: Generation) -> None:
        job = self.store.job(gen.id)
        posts = self.store.pending_posts(gen.id)
        # A POST /run of this job may have reached Mosaic without an answer: look its run up first,
        # so a run that exists (and provably is this job's) is followed, and cancelled when that was
        # asked, never submitted twice.
        for post in posts:
            try:
                if self._settle_post(post):
                    return
            except ApiError as err:
                self._retry_later(gen, err, self.settings.max_poll_interval)
                return
        current = self.store.get(gen.id)
        if current is None or current.status != "submitting":
            return
        if posts:
            # Nothing of this job's yet (one look, RECONCILE_DELAY_S after the lost answer): go on
            # with another agent. The agents asked stay out of the pool until their outcome is
            # known; a run that turns up there later is adopted if the job still has none, else
            # cancelled and recorded (`_check_unknown_outcomes`).
            self.store.release_agent(gen.id)
            self.store.update(gen.id, agent_id=None, node_id=None)
            gen = current.model_copy(update={"agent_id": None, "node_id": None})
        if job.get("cancel_requested"):
            self._finish(gen, "cancelled", error="Cancelled before it started")
            return
        agent_id, node_id = gen.agent_id, gen.node_id
        if not agent_id or not node_id:
            try:
                agent_id, node_id = self._acquire_agent(gen)
            except ApiError as err:
                if isinstance(err, ApiStatusError) and not _transient(err):
                    self._finish(gen, "failed", error=str(err))
                else:
                    self._retry_later(gen, err, self.settings.max_poll_interval)
                return
            self.store.update(gen.id, agent_id=agent_id, node_id=node_id)
        # Written before the POST: after no answer (or a crash) the agent is not lent to another
        # job, and this job looks for its run there before it sends anything again.
        now = self.store.begin_post(agent_id, gen.id, node_id)
        self.store.update_job(
            gen.id,
            submit_started_at=now,
            submit_attempts=int(job.get("submit_attempts") or 0) + 1,
            progress=0.05,
            last_progress_at=now,
        )
        update_params = {node_id: gen.params.to_api()} if self.settings.run_flow == "reuse" else None
        try:
            started = self.client.run_agent(agent_id, update_params=update_params, callback_url=self._callback_url())
        except ApiStatusError as err:
            if isinstance(err, RateLimitError) or not _transient(err):
                self.store.end_post(agent_id)  # refused: nothing was started
            if not _transient(err):
                self._finish(gen, "failed", error=str(err))
                return
            # A 5xx or 408 may come after Mosaic started the run: an unknown outcome, like no answer.
            self._retry_later(gen, err, max(RECONCILE_DELAY_S, err.retry_after or 0))
            return
        except ApiError as err:
            # No answer, or one we cannot read: the run may exist. Look for it before anything else.
            self._retry_later(gen, err, RECONCILE_DELAY_S)
            return
        self._record_run(gen, started.run_id, agent_id)

    def _retry_later(self, gen: Generation, err: Exception, seconds: float) -> None:
        log.warning("job %s: will try again in %.1f s: %s", gen.id, seconds, err)
        self.store.update_job(gen.id, last_error=str(err))
        self._later(gen.id, seconds)

    # ------------------------------------------------------------------ unknown outcomes

    def _settle_post(self, post: dict[str, object]) -> bool:
        """Look on the agent of a POST with no answer for the run it started. A run proven to be
        the job's (the settings it ran with are the job's) is adopted while the job still submits;
        one the job cannot use (it follows another run, has ended, or the proof cannot be had) is
        cancelled and recorded. Once a run is found, or the horizon has passed with none, the
        outcome is known and the agent returns to the pool. True when the job adopted a run."""
        agent_id, gen_id, node_id = str(post["agent_id"]), str(post["generation_id"]), str(post["node_id"])
        posted = _parse_time(str(post["posted_at"]))
        since = posted - CLOCK_SKEW_ALLOWANCE
        gen = self.store.get(gen_id)
        known = self.store.known_run_ids(agent_id)
        settled = adopted = False
        for run in self.client.iter_runs(agent_id, since=since):
            if not run.run_id or run.run_id in known:
                continue
            if run.started_at and _parse_time(run.started_at) < since:
                continue  # the server ignored `from`: an older run is not ours
            proof, why = self._owns(run.run_id, node_id, gen)
            if proof is False:
                log.warning("run %s on agent %s is not job %s's (%s); left alone", run.run_id, agent_id, gen_id, why)
                continue
            settled = True
            if proof and gen is not None and self.store.adopt_run(gen.id, run.run_id, agent_id, node_id):
                log.info("job %s: found run %s whose answer was lost", gen.id, run.run_id)
                self._adopted(gen.id)
                adopted = True
                continue
            if proof is None and gen is not None:
                self.store.update_job(gen.id, last_error=f"Run {run.run_id} was not adopted: {why}")
            self._stray(run.run_id, gen_id, agent_id, why if proof is None else _stray_reason(self.store.get(gen_id)))
        expired = (datetime.now(UTC) - posted).total_seconds() > self.settings.unknown_outcome_horizon
        if settled or expired:
            if not settled:
                log.info("agent %s: no run came of job %s's unanswered POST; back to the pool", agent_id, gen_id)
            self.store.end_post(agent_id)
        return adopted

    def _owns(self, run_id: str, node_id: str, gen: Generation | None) -> tuple[bool | None, str]:
        """Whether this run provably is this job's: its runtime clone of the job's node ran with the
        job's settings (`GET /agent_run/{id}/nodes`, then `GET /agent_nodes/{clone}`). None (with
        why) when the proof cannot be had; never a guess from timing."""
        if gen is None:
            return None, "its generation was deleted"
        try:
            clones = self.client.get_run_nodes(run_id).nodes
            clone = next((n for n in clones if n.original_node_id == node_id and n.agent_node_id), None)
            if clone is None or clone.agent_node_id is None:
                return None, f"Mosaic lists no copy of node {node_id} in run {run_id}, so whose run it is is unknown"
            used = self.client.get_agent_node(clone.agent_node_id).params_used
        except ApiStatusError as err:
            if _transient(err):
                raise
            return None, f"Mosaic does not say which settings run {run_id} used ({err}), so whose run it is is unknown"
        if _same_params(used, gen.params):
            return True, ""
        return False, "it ran with other settings than this job's"

    def _adopted(self, gen_id: str) -> None:
        "A job now follows a run: its agent goes back to the pool, its progress starts."
        self.store.release_agent(gen_id)
        self.store.update_job(gen_id, progress=0.1, node_status="running", poll_count=0, last_progress_at=utcnow())
        self.wake()  # the listing's timing now counts this run

    def _stray(self, run_id: str, gen_id: str | None, agent_id: str, reason: str) -> None:
        "Record a run no job may follow, then cancel it (a run nobody follows must not bill on)."
        if not self.store.claim_stray(run_id, gen_id, agent_id, reason):
            return  # claimed already: adopted by its job, or recorded by another look
        log.warning("run %s on agent %s is a stray (%s); cancelling it", run_id, agent_id, reason)
        self._cancel_stray(run_id)

    def _cancel_stray(self, run_id: str) -> None:
        try:
            self.client.cancel_run(run_id)
        except NotFoundError as err:
            self.store.stray_cancelled(run_id, f"Mosaic has no such run: {err}", ended=True)
        except ApiStatusError as err:
            if _transient(err):
                self.store.stray_cancelled(run_id, f"cancel not yet accepted: {err}", ended=False)
            else:  # e.g. 409: it had already ended (and billed what it billed)
                self.store.stray_cancelled(run_id, f"it had already ended: {err}", ended=True)
        except ApiError as err:
            self.store.stray_cancelled(run_id, f"cancel not yet accepted: {err}", ended=False)
        else:
            self.store.stray_cancelled(run_id, "cancelled", ended=True)

    def _check_unknown_outcomes(self) -> None:
        """Called each pass: while some agent's POST has an unknown outcome (of a job no longer
        submitting: a submitting job looks for itself), a stray is still to cancel, or an agent
        create's answer was lost, look again now and then (soon after the POST, then less often)."""
        if self.schedule.holds(OUTCOMES_KEY) or not self.schedule.is_due(OUTCOMES_KEY):
            return
        busy = self.store.pending_posts() or self.store.stray_runs(uncancelled=True, limit=1)
        if not busy and not self.store.agent_intents(self.scope, self.settings.run_flow):
            return
        if not self.leases.hold_task(HOUSEKEEPING):  # another worker does these checks now
            self.schedule.later(OUTCOMES_KEY, self.settings.poll_interval)
            return
        self._run_task(OUTCOMES_KEY, self._look_again)

    def _look_again(self) -> None:
        youngest = math.inf
        now = datetime.now(UTC)
        for post in self.store.pending_posts():
            youngest = min(youngest, (now - _parse_time(str(post["posted_at"]))).total_seconds())
            gen_id = str(post["generation_id"])
            gen = self.store.get(gen_id)
            if gen is not None and gen.status == "submitting":
                continue  # the job's own task looks (and may adopt)
            try:
                self._settle_post(post)
            except ApiError as err:
                log.warning("looking for the run of job %s's unanswered POST failed: %s", gen_id, err)
        for stray in self.store.stray_runs(uncancelled=True):
            self._cancel_stray(str(stray["run_id"]))
        try:
            self._settle_intents(None)
        except ApiError as err:
            log.warning("looking for agents whose create answer was lost failed: %s", err)
        wait = min(max(POLL_AGE_FRACTION * youngest, self.settings.poll_interval), self.settings.max_poll_interval)
        self.schedule.later(OUTCOMES_KEY, wait)

    # ------------------------------------------------------------------ agents

    def _acquire_agent(self, gen: Generation) -> tuple[str, str]:
        flow = self.settings.run_flow
        lease = self.store.lease_agent(self.scope, flow, gen.id)
        if lease:
            return lease.agent_id, lease.node_id
        # An agent an earlier create left (its answer lost) is used before another is made.
        found = self._settle_intents(gen)
        if found:
            return found
        lease = self.store.lease_agent(self.scope, flow, gen.id)
        if lease:
            return lease.agent_id, lease.node_id
        return self._create_agent(gen)

    def _create_agent(self, gen: Generation) -> tuple[str, str]:
        """The brief's flow, and the first use of each pooled agent: create it and add the node.
        The intent is written first with a tag the agent's name carries, so an agent whose create
        or node-add answer is lost is found on the account later (`_settle_intents`)."""
        flow = self.settings.run_flow
        tag = f"#{new_id()}"
        prefix = f"{AGENT_NAME} · {gen.prompt[:60]}" if flow == "three_call" else f"{AGENT_NAME} pool"
        name = f"{prefix[: AGENT_NAME_MAX_CHARS - len(tag) - 1]} {tag}"
        self.store.add_agent_intent(tag, scope=self.scope, flow=flow, gen_id=gen.id)
        try:
            agent_id = self.client.create_agent(name, description="Created by Mosaic Prompt Studio").agent_id
        except ApiStatusError as err:
            if isinstance(err, RateLimitError) or not _transient(err):
                self.store.end_agent_intent(tag)  # refused: nothing was created
            raise
        self.store.set_intent_agent(tag, agent_id)
        node_id = self.client.add_video_node(agent_id, self._template_params(gen))
        self.store.add_agent(agent_id, node_id, scope=self.scope, flow=flow, leased_by=gen.id)
        self.store.end_agent_intent(tag)
        return agent_id, node_id

    def _template_params(self, gen: Generation) -> dict[str, object]:
        """A new agent's node params. A pooled node keeps no references: a run's update_params
        only adds keys, so saved references would reach every later run that has none."""
        params = gen.params.to_api()
        if self.settings.run_flow == "reuse":
            params.pop("selected_context", None)
        return params

    def _settle_intents(self, gen: Generation | None) -> tuple[str, str] | None:
        """Agent creates whose answer (or whose node-add answer) was lost: find each agent on the
        account by its tag (`GET /agents`). One with exactly one Video Generation node is whole:
        it joins the pool (in the brief's flow, only the job that made it uses it). One without
        is deleted, as is one with more (a late node-add must never make a run render twice).
        A job settles its own intents; the periodic look those of jobs no worker holds. Returns an
        agent leased to `gen`."""
        with self._intents_lock:  # one thread at a time: two must never add a node to the same agent
            return self._settle_intents_locked(gen)

    def _settle_intents_locked(self, gen: Generation | None) -> tuple[str, str] | None:
        flow = self.settings.run_flow
        intents = self.store.agent_intents(self.scope, flow)
        if gen is not None:
            intents = [i for i in intents if i["generation_id"] == gen.id]
        elif intents:  # the periodic look: those of jobs that ended, or that this worker holds but has not in hand
            jobs = {g.id: g for g in self.store.many([str(i["generation_id"]) for i in intents])}
            held = {g.id for g in self.leases.held()}
            intents = [
                i
                for i in intents
                if (job := jobs.get(str(i["generation_id"]))) is None
                or job.status not in ACTIVE_STATUSES
                or (job.id in held and not self.schedule.holds(job.id))
            ]
        if not intents:
            return None
        listed: dict[str, str] | None = None  # tag -> agent id, read once
        mine: tuple[str, str] | None = None
        for intent in intents:
            tag, maker = str(intent["tag"]), str(intent["generation_id"])
            agent_id = intent["agent_id"]
            if not agent_id:
                if listed is None:
                    listed = self._agents_by_tag()
                agent_id = listed.get(tag)
            if not agent_id:
                age = (datetime.now(UTC) - _parse_time(str(intent["created_at"]))).total_seconds()
                if age > self.settings.unknown_outcome_horizon:
                    self.store.end_agent_intent(tag)  # the create never happened
                continue
            agent_id = str(agent_id)
            own = gen is not None and maker == gen.id
            nodes: list[str] = []
            if flow == "reuse" or own:  # a brief's-flow agent holds its own job's settings: no one else's
                nodes = self._video_nodes(agent_id)
                if intent["agent_id"] is None and not nodes:
                    # Only the create's answer was lost: no node-add was ever sent, so adding one is safe.
                    owner = gen if own else self.store.get(maker)
                    template = self._template_params(owner) if owner else {}
                    nodes = [self.client.add_video_node(agent_id, template)]
            if len(nodes) == 1:
                take = mine is None and gen is not None
                self.store.add_agent(
                    agent_id, nodes[0], scope=self.scope, flow=flow, leased_by=gen.id if take and gen else None
                )
                if take:
                    mine = (agent_id, nodes[0])
                log.info("agent %s, whose create or update answer was lost, was found and kept", agent_id)
            else:
                with suppress(NotFoundError):
                    self.client.delete_agent(agent_id)
                log.info("agent %s, whose create or update answer was lost, was deleted", agent_id)
            self.store.end_agent_intent(tag)
        return mine

    def _agents_by_tag(self) -> dict[str, str]:
        "The account's agents by the tag in their names (`GET /agents`, every page)."
        found: dict[str, str] = {}
        for agent in self.client.iter_agents():
            tag = (agent.name or "").rsplit(" ", 1)[-1]
            if tag.startswith("#"):
                found[tag] = agent.id
        return found

    def _video_nodes(self, agent_id: str) -> list[str]:
        "The agent's Video Generation nodes (`GET /agent/{id}`)."
        return [
            n.agent_node_id
            for n in self.client.get_agent(agent_id).agent_nodes
            if n.node_type is not None and n.node_type.node_type_id == VIDEO_GENERATION_NODE_TYPE_ID
        ]

    def _record_run(self, gen: Generation, run_id: str, agent_id: str) -> None:
        "A POST answered with its run: the job follows it, unless it already follows another."
        current = self.store.get(gen.id)
        reason = _stray_reason(current)
        if self.store.record_run(gen.id, run_id, agent_id, stray_reason=reason):
            self._adopted(gen.id)
            return
        if current is not None and current.run_id == run_id:
            return
        log.warning("job %s: run %s is a duplicate (%s); cancelling it", gen.id, run_id, reason)
        self._cancel_stray(run_id)

    def _callback_url(self) -> str | None:
        base = self.settings.public_url
        return f"{base.rstrip('/')}/hooks/mosaic" if base else None

    # ------------------------------------------------------------------ follow runs

    def _send_cancel(self, gen: Generation) -> None:
        try:
            self.client.cancel_run(_run_of(gen))
        except ApiStatusError as err:  # already finished: the listing tells how it ended
            log.info("job %s: cancel refused: %s", gen.id, err)
        except ApiError as err:
            self._retry_later(gen, err, self.settings.poll_interval)
            return
        self.schedule.note_cancel_sent(gen.id)
        self.schedule.ask_poll(0.0)

    def _past_deadline(self, gen: Generation, now: datetime) -> bool:
        "Whether Mosaic has had this run longer than the hard limit (settings.run_deadline)."
        age = _seconds_between(gen.submitted_at, now)
        return age is not None and age > self.settings.run_deadline

    def _end_not_accepted(self, gen: Generation) -> None:
        "Past the hard limit while submitting: fail the job, saying so and why it was not accepted."
        limit = fmt.elapsed(self.settings.run_deadline)
        last = self.store.job(gen.id).get("last_error") or "none recorded"
        error = (
            f"Not accepted by Mosaic within {limit} of its first submit attempt (STUDIO_RUN_DEADLINE); "
            f"last error: {last}"
        )
        log.warning("job %s: %s", gen.id, error)
        self._finish(gen, "failed", error=error, from_statuses=("submitting",))

    def _end_overdue(self, gen: Generation) -> None:
        "Past the hard limit: cancel the run on Mosaic (it bills while it runs) and fail the job, saying so."
        limit = fmt.elapsed(self.settings.run_deadline)
        why = f"Stopped at the hard limit: not finished {limit} after Mosaic accepted it (STUDIO_RUN_DEADLINE)"
        try:
            self.client.cancel_run(_run_of(gen))
        except ConflictError:  # it finished meanwhile: the listing says how, and the job takes that
            self.schedule.ask_poll(0.0)
            self._later(gen.id, self.settings.poll_interval)
            return
        except ApiError as err:
            log.warning("job %s: past the hard limit; cancelling run %s failed: %s", gen.id, gen.run_id, err)
            error = f"{why}; cancelling run {gen.run_id} on Mosaic failed ({err}): check it there"
        else:
            log.info("job %s: past the hard limit; run %s cancelled", gen.id, gen.run_id)
            error = f"{why}; the run was cancelled on Mosaic"
        self._finish(gen, "failed", error=error, from_statuses=("running",))

    def _poll_all(self) -> None:
        "One listing for every run this worker follows; then each job takes its run's news."
        gens = [g for g in self.leases.held() if g.status == "running" and g.run_id]
        if not gens:
            self.schedule.polled()
            return
        waiting = {g.run_id: g for g in gens if g.run_id}
        starts = [_parse_time(g.submitted_at) for g in gens if g.submitted_at]
        since = (min(starts) if starts else datetime.now(UTC)) - CLOCK_SKEW_ALLOWANCE
        found: dict[str, Run] = {}
        try:
            for run in self.client.iter_all_runs(since=since, status=list(LISTED_RUN_STATUSES)):
                if run.run_id in waiting:
                    found[run.run_id] = run
                    if len(found) == len(waiting):
                        break  # every run in flight is accounted for: no further pages
        except UNRECOVERABLE_POLL_ERRORS as err:
            log.warning("listing runs was refused; ending the %d jobs in flight: %s", len(gens), err)
            for gen in gens:
                self._finish(gen, "failed", error=_cannot_follow(gen, err), from_statuses=("running",))
            return
        except ApiError as err:
            log.warning("listing runs failed; will try again: %s", err)
            for gen in gens:
                self.store.update_job(gen.id, last_error=str(err))
            return
        finally:
            self.schedule.polled()
        for run_id, gen in waiting.items():
            try:
                self._take_news(gen, found.get(run_id))
            except ApiStatusError as err:
                if _transient(err):
                    self.store.update_job(gen.id, last_error=str(err))
                else:  # asking again gets the same answer: end the job with Mosaic's words
                    self._finish(gen, "failed", error=_cannot_follow(gen, err), from_statuses=("running",))
            except ApiError as err:
                self.store.update_job(gen.id, last_error=str(err))

    def _take_news(self, gen: Generation, run: Run | None) -> None:
        "Move one job on from its run's summary (None: the listing lacked it)."
        if run is None or (run.is_terminal and self._needs_detail(gen, run)):
            try:
                run = self.client.get_run(_run_of(gen))
            except NotFoundError as err:
                self._finish(gen, "failed", error=f"Mosaic has no record of run {gen.run_id}: {err}")
                return
        if not run.is_terminal:
            self._note_run(gen, run)
            return
        output = run.output_for(gen.node_id)
        if run.status in ("completed", "partial_complete") and output is not None and output.video_url:
            if self.store.transition(gen.id, ("running",), "downloading", render_id=output.id):
                self.store.update_job(gen.id, progress=0.9, node_status=run.status, last_progress_at=utcnow())
                self.schedule.hand_url(gen.id, output.video_url)
                self._schedule(gen.model_copy(update={"status": "downloading"}), self._fetch)
            return
        if run.status in ("completed", "partial_complete"):
            self._finish(gen, "failed", error=_no_video(run))
            return
        status = "cancelled" if run.status == "cancelled" else "failed"
        self._finish(gen, status, error=run.error_text())

    @staticmethod
    def _needs_detail(gen: Generation, run: Run) -> bool:
        "A summary lacks needs_credits and may lack outputs: ask for the run when the ending needs them."
        if run.status == "failed":
            return True  # why it failed (credits?) is only on the run itself
        return run.status in ("completed", "partial_complete") and run.output_for(gen.node_id) is None

    def _note_run(self, gen: Generation, run: Run) -> None:
        "Record a run still going; a change of status, node counts or update time is progress."
        job = self.store.job(gen.id)
        counts = run.node_status_counts
        total = (counts.completed + counts.in_progress + counts.failed) if counts else 0
        done = (counts.completed / total) if counts and total else 0.0
        progress = round(0.1 + 0.8 * done, 3)
        fields: dict[str, object] = {}
        if run.status != job.get("node_status") or progress != job.get("progress"):
            fields.update(node_status=run.status, progress=progress)
        if run.updated_at and run.updated_at != job.get("run_updated_at"):
            fields["run_updated_at"] = run.updated_at
        if not job.get("generating_since"):
            since = self._generating_since(gen, run)
            if since:
                fields["generating_since"] = since
        if fields:
            fields["last_progress_at"] = utcnow()
            fields["poll_count"] = int(job.get("poll_count") or 0) + 1
            self.store.update_job(gen.id, **fields)

    @staticmethod
    def _generating_since(gen: Generation, run: Run) -> str | None:
        """When the model started on this run, on our clock: the run's last change, once it has
        changed since it was created (or a node has ended). None while it is only submitted."""
        if run.status != "running":
            return None  # e.g. "queued", should Mosaic report one
        counts = run.node_status_counts
        moved = bool(counts and (counts.completed or counts.failed))
        if run.updated_at and run.started_at:
            moved = moved or _parse_time(run.updated_at) > _parse_time(run.started_at)
        elif not run.started_at:
            moved = True  # nothing to tell by: running is running
        if not moved:
            return None
        now = datetime.now(UTC)
        stamp = _parse_time(run.updated_at) if run.updated_at else now
        # Mosaic's clock is not ours: keep the moment between our submission and now.
        if gen.submitted_at:
            stamp = max(stamp, _parse_time(gen.submitted_at))
        return min(stamp, now).isoformat(timespec="microseconds")

    # ------------------------------------------------------------------ download

    def _fetch(self, gen: Generation) -> None:
        "Download the video: with the URL the listing handed over, else a fresh one (signed URLs expire)."
        url = self.schedule.take_url(gen.id)
        if url is None:
            try:
                run = self.client.get_run(_run_of(gen))
            except ApiError as err:
                self._download_failed(gen, err)
                return
            output = run.output_for(gen.node_id)
            if output is None or not output.video_url:
                error = _no_video(run) if run.status in ("completed", "partial_complete") else run.error_text()
                self._finish(gen, "failed", error=error, from_statuses=("downloading",))
                return
            url = output.video_url
        self._download(gen, url)

    def _download(self, gen: Generation, url: str) -> None:
        """Download to a staging file on this machine (`<id>.mp4.part` beside the media for a
        folder), check it (length, cap, rate, every promised frame, the size and length asked for),
        make its thumbnail, then put both in the media store (a rename for a folder, an upload for
        S3): a file under its final key is always complete and checked. Broken bytes are deleted,
        never kept: a transfer or a damaged file is tried again, a whole video of the wrong take
        fails the job."""
        video_key, thumb_key = f"{gen.id}.mp4", f"{gen.id}.jpg"
        deadline = self.settings.download_deadline
        left = deadline - (self._clock() - self.schedule.download_began(gen.id))
        if left <= 0:
            error = f"The video could not be downloaded within {deadline:g} s (STUDIO_DOWNLOAD_DEADLINE)"
            last = self.store.job(gen.id).get("last_error")
            self._finish(gen, "failed", error=f"{error}: {last}" if last else error, from_statuses=("downloading",))
            return
        limits = DownloadLimits.from_settings(self.settings)
        limits = DownloadLimits(limits.max_bytes, left, limits.min_rate, limits.rate_window_s)
        sizes, seconds = _expected_take(gen)
        part = thumb = None
        try:
            part, thumb = self.media.staging(video_key), self.media.staging(thumb_key)
            size, sha256 = self.client.download(url, part, limits)
            facts = media.verify(part, sizes=sizes, seconds=seconds, name=video_key)
            media.make_thumbnail(part, thumb)
            self.media.put_file(video_key, part)
            self.media.put_file(thumb_key, thumb)
        except WrongVideoError as err:  # whole and playable, but not this take: another try gets the same
            self._discard(part, thumb, video_key, thumb_key)
            error = f"Mosaic sent a video that is not this take: {err}"
            self._finish(gen, "failed", error=error, from_statuses=("downloading",))
            return
        except (ApiError, MediaError) as err:  # a bad transfer, a damaged file, a failed upload: worth another try
            self._discard(part, thumb, video_key, thumb_key)
            self._download_failed(gen, err)
            return
        except OSError as err:  # the finished file could not be put in place (disk full, permissions)
            self._discard(part, thumb, video_key, thumb_key)
            error = f"The video could not be saved: {err.strerror or err}"
            self._finish(gen, "failed", error=error, from_statuses=("downloading",))
            return
        self._finish(
            gen,
            "done",
            from_statuses=("downloading",),
            video_path=video_key,
            thumb_path=thumb_key,
            width=facts.width,
            height=facts.height,
            duration_s=round(facts.duration_s, 3),
            has_audio=int(facts.has_audio),
            file_size=size,
            sha256=sha256,
        )

    def _discard(self, part: Path | None, thumb: Path | None, *keys: str) -> None:
        "Delete what a failed download left (the staged files, anything stored under its keys); never served."
        _discard(*(p for p in (part, thumb) if p is not None))
        for key in keys:
            try:
                self.media.delete(key)
            except (MediaError, OSError) as err:  # nothing more to do: the job fails or retries either way
                log.warning("could not delete %s: %s", key, err)

    def _download_failed(self, gen: Generation, err: StudioError) -> None:
        failures = self.schedule.download_failed(gen.id)
        if failures >= MAX_DOWNLOAD_ATTEMPTS:
            if isinstance(err, MediaError):
                error = f"The downloaded video is not playable ({failures} tries; deleted): {err}"
            else:
                error = f"The video could not be downloaded ({failures} tries): {err}"
            self._finish(gen, "failed", error=error, from_statuses=("downloading",))
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
        self.leases.drop(gen.id)
        self.schedule.forget(gen.id)

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
        self.schedule.now(gen_id)
        self.wake()

    def phases(self, ids: Sequence[str]) -> dict[str, JobPhase]:
        "Phase (queued / submitted / generating / saving / ended), its times and the stuck flag, per id."
        return self.store.job_phases(ids, stuck_after_s=self.settings.stuck_after)

    def stuck(self) -> list[str]:
        "Generations whose run has shown no progress for `settings.stuck_after` seconds."
        return self.store.stuck_jobs(self.settings.stuck_after)

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
