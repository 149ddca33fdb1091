"""Which worker holds which job, and until when (issue 10 §2: many workers, still exactly once).

A worker (a `JobRunner`, in a web server or in `studio worker`) works only on the jobs it holds.
It claims them in one transaction, under one rule on both databases: a queued job (up to the
studio's in-flight limit, and this worker's share of it) moves to `submitting` held by it, and an
unfinished job whose lease has lapsed is taken over as it stands. The claim locks what it takes
(`FOR UPDATE SKIP LOCKED` on PostgreSQL, where concurrent claimers pass over each other's rows; an
IMMEDIATE transaction on SQLite, which has one writer at a time); that clause is the dialect's.

A worker renews its leases every third of `worker_lease_s`. A worker that dies stops renewing, so
after `worker_lease_s` another worker takes its jobs over and resumes each as a restarted runner
does: a job in `submitting` with an unknown outcome goes through the lost-answer lookup, never a
blind second POST. A worker seen dead sooner (on the same machine, its process gone) loses its
leases at once. On a clean stop a worker gives its jobs back.

Housekeeping that is not one job's (runs whose answer was lost for jobs that moved on, strays to
cancel, lost agent creates) is done by one worker at a time under a lease row (`worker_tasks`).
`workers` lists the live workers for the Status page.
"""

from __future__ import annotations

import math
import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from .dialects import Transaction
from .models import IN_FLIGHT_STATUSES, Generation
from .store import HistoryStore, new_id, utcnow

RENEW_FRACTION = 1 / 3  # renewed every third of the lease: two renewals may fail before it lapses
TAKEN_OVER_STATUSES = ("submitting", "running", "downloading")  # unfinished and past the queue
BOOT_ID_FILE = Path("/proc/sys/kernel/random/boot_id")
PID_NAMESPACE_LINK = "/proc/self/ns/pid"
HOUSEKEEPING = "housekeeping"  # the worker_tasks row of the checks no one job owns


def _stamp(at: datetime) -> str:
    return at.isoformat(timespec="microseconds")


def host_key() -> str | None:
    """What makes a process id mean one process: this boot of this machine and this pid namespace
    (two containers on one kernel share the boot, not the namespace). None when it cannot be read:
    then no worker is ever judged dead by its pid, only by its lease."""
    try:
        return f"{BOOT_ID_FILE.read_text().strip()}/{os.readlink(PID_NAMESPACE_LINK)}"
    except OSError:
        return None


def _process_gone(pid: int) -> bool:
    "True only when no process has this id here (a process we may not signal is alive)."
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


@dataclass(frozen=True)
class WorkerInfo:
    "A live worker, as the Status page lists it."

    id: str
    host: str
    pid: int
    started_at: str
    seen_at: str
    paused: str | None
    jobs: int


class Leases:
    "One worker's leases on jobs and housekeeping, and its row in `workers`."

    def __init__(self, store: HistoryStore, lease_s: float, *, worker_id: str | None = None):
        self.store = store
        self.lease_s = lease_s
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.id = worker_id or f"{self.host}-{self.pid}-{new_id()[:6]}"
        self._host_key = host_key()

    @property
    def renew_every(self) -> float:
        return self.lease_s * RENEW_FRACTION

    def _until(self, now: datetime) -> str:
        return _stamp(now + timedelta(seconds=self.lease_s))

    # ------------------------------------------------------------------ this worker

    def register(self) -> None:
        "Say this worker is alive (its row in `workers`), as a new worker or again after a lapse."
        now = datetime.now(UTC)
        self.store.execute(
            "INSERT INTO workers (id, host, pid, host_key, started_at, seen_at, lease_until) VALUES (?,?,?,?,?,?,?) "
            "ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at, lease_until = excluded.lease_until",
            [self.id, self.host, self.pid, self._host_key, _stamp(now), _stamp(now), self._until(now)],
        )

    def renew(self) -> set[str]:
        """Push every lease this worker holds forward; the ids of the jobs it still holds (a job
        another worker took over after a lapse is no longer among them)."""
        now = datetime.now(UTC)
        until = self._until(now)
        with self.store.transaction() as tx:
            seen = tx.execute(
                "UPDATE workers SET seen_at = ?, lease_until = ? WHERE id = ?", [_stamp(now), until, self.id]
            )
            if not seen:  # a lapse made another worker drop it as dead: say it lives again
                tx.execute(
                    "INSERT INTO workers (id, host, pid, host_key, started_at, seen_at, lease_until) "
                    "VALUES (?,?,?,?,?,?,?)",
                    [self.id, self.host, self.pid, self._host_key, _stamp(now), _stamp(now), until],
                )
            tx.execute("UPDATE worker_tasks SET lease_until = ? WHERE worker = ?", [until, self.id])
            tx.execute("UPDATE jobs SET lease_until = ? WHERE worker = ? AND lease_until IS NOT NULL", [until, self.id])
            rows = tx.query("SELECT generation_id FROM jobs WHERE worker = ? AND lease_until IS NOT NULL", [self.id])
        return {str(r["generation_id"]) for r in rows}

    def note_paused(self, reason: str | None) -> None:
        "What the Status page says about this worker (disk full), where the database can still take it."
        self.store.execute("UPDATE workers SET paused = ? WHERE id = ?", [reason, self.id])

    def release_all(self) -> None:
        "A clean stop: every job and task this worker holds is free at once for the others."
        with self.store.transaction() as tx:
            tx.execute("UPDATE jobs SET lease_until = NULL WHERE worker = ? AND lease_until IS NOT NULL", [self.id])
            tx.execute("DELETE FROM worker_tasks WHERE worker = ?", [self.id])
            tx.execute("DELETE FROM workers WHERE id = ?", [self.id])

    # ------------------------------------------------------------------ jobs

    def claim(self, max_in_flight: int) -> list[str]:
        """In one transaction: take over every unfinished job whose lease has lapsed (or that no
        worker holds), then claim queued jobs up to the in-flight limit and this worker's share of
        it (the limit over the live workers), moving them to `submitting`. Returns the ids taken.
        A read first: a pass with nothing to take writes nothing."""
        now = datetime.now(UTC)
        stamp, until = _stamp(now), self._until(now)
        if not self._anything_to_take(stamp):
            return []
        active = ",".join("?" * len(TAKEN_OVER_STATUSES))
        in_flight = ",".join("?" * len(IN_FLIGHT_STATUSES))
        with self.store.transaction() as tx:
            self._expire_dead(tx, stamp)
            lapsed = tx.query(
                f"SELECT j.generation_id FROM generations g JOIN jobs j ON j.generation_id = g.id WHERE g.status "
                f"IN ({active}) AND (j.lease_until IS NULL OR j.lease_until < ?){self.store.skip_locked('j')}",
                [*TAKEN_OVER_STATUSES, stamp],
            )
            taken = [str(r["generation_id"]) for r in lapsed]
            counts = tx.query(
                f"SELECT count(*) AS n, COALESCE(SUM(CASE WHEN j.worker = ? AND j.lease_until IS NOT NULL "
                f"THEN 1 ELSE 0 END), 0) AS mine FROM generations g JOIN jobs j ON j.generation_id = g.id "
                f"WHERE g.status IN ({in_flight})",
                [self.id, *IN_FLIGHT_STATUSES],
            )[0]
            live = tx.query("SELECT count(*) AS n FROM workers WHERE lease_until >= ?", [stamp])[0]["n"]
            share = math.ceil(max_in_flight / max(1, int(live)))
            mine = int(counts["mine"]) + len(taken)  # its own lapsed ones counted twice: a share is a soft rule
            room = min(max_in_flight - int(counts["n"]), share - mine)
            if room > 0:
                queued = tx.query(
                    f"SELECT g.id FROM generations g WHERE g.status = 'queued' ORDER BY g.created_at, g.rowid "
                    f"LIMIT ?{self.store.skip_locked('g')}",
                    [room],
                )
                ids = [str(r["id"]) for r in queued]
                if ids:
                    marks = ",".join("?" * len(ids))
                    tx.execute(
                        f"UPDATE generations SET status = 'submitting' WHERE status = 'queued' AND id IN ({marks})", ids
                    )
                    taken += ids
            if taken:
                marks = ",".join("?" * len(taken))
                tx.execute(
                    f"UPDATE jobs SET worker = ?, lease_until = ? WHERE generation_id IN ({marks})",
                    [self.id, until, *taken],
                )
        return taken

    def _anything_to_take(self, stamp: str) -> bool:
        "Whether a claim may take something: a queued job, a lapsed lease, or a dead worker's here."
        active = ",".join("?" * len(TAKEN_OVER_STATUSES))
        if self.store.query("SELECT 1 AS found FROM generations WHERE status = 'queued' LIMIT 1"):
            return True
        rows = self.store.query(
            f"SELECT 1 AS found FROM generations g JOIN jobs j ON j.generation_id = g.id "
            f"WHERE g.status IN ({active}) AND (j.lease_until IS NULL OR j.lease_until < ?) LIMIT 1",
            [*TAKEN_OVER_STATUSES, stamp],
        )
        return bool(rows) or bool(self._dead_here())

    def _dead_here(self) -> list[str]:
        "Workers on this machine (same boot, same pid namespace) whose process is gone."
        if self._host_key is None:
            return []
        rows = self.store.query("SELECT id, pid FROM workers WHERE host_key = ? AND id != ?", [self._host_key, self.id])
        return [str(r["id"]) for r in rows if _process_gone(int(r["pid"]))]

    def _expire_dead(self, tx: Transaction, stamp: str) -> None:
        """Workers on this machine whose process is gone lose their leases now, not a lease later
        (a server restarted after a crash resumes its runs at once, as before)."""
        for dead in self._dead_here():
            tx.execute("UPDATE jobs SET lease_until = ? WHERE worker = ? AND lease_until IS NOT NULL", [stamp, dead])
            tx.execute("DELETE FROM worker_tasks WHERE worker = ?", [dead])
            tx.execute("DELETE FROM workers WHERE id = ?", [dead])

    def held(self) -> list[Generation]:
        "The unfinished jobs this worker holds, oldest first."
        marks = ",".join("?" * len(TAKEN_OVER_STATUSES))
        rows = self.store.query(
            f"SELECT g.* FROM generations g JOIN jobs j ON j.generation_id = g.id WHERE j.worker = ? "
            f"AND j.lease_until IS NOT NULL AND g.status IN ({marks}) ORDER BY g.created_at, g.rowid",
            [self.id, *TAKEN_OVER_STATUSES],
        )
        return [Generation.model_validate(r) for r in rows]

    def holds(self, gen_id: str) -> bool:
        "Whether this worker still holds the job (checked before each step that acts on it)."
        rows = self.store.query(
            "SELECT 1 AS held FROM jobs WHERE generation_id = ? AND worker = ? AND lease_until >= ?",
            [gen_id, self.id, utcnow()],
        )
        return bool(rows)

    def drop(self, gen_id: str) -> None:
        "The job has ended: no lease to renew (`jobs.worker` keeps who ended it)."
        self.store.execute(
            "UPDATE jobs SET lease_until = NULL WHERE generation_id = ? AND worker = ?", [gen_id, self.id]
        )

    def note_news(self, gen_id: str) -> None:
        "A webhook said the job's run changed: whichever worker holds the job lists runs soon."
        self.store.execute("UPDATE jobs SET news_at = ? WHERE generation_id = ?", [utcnow(), gen_id])

    # ------------------------------------------------------------------ housekeeping

    def hold_task(self, name: str) -> bool:
        "Hold a piece of housekeeping for one lease (renewed with the rest); False while another worker does."
        now = datetime.now(UTC)
        return bool(
            self.store.execute(
                "INSERT INTO worker_tasks (name, worker, lease_until) VALUES (?,?,?) ON CONFLICT (name) DO UPDATE "
                "SET worker = excluded.worker, lease_until = excluded.lease_until "
                "WHERE worker_tasks.worker = excluded.worker OR worker_tasks.lease_until < ?",
                [name, self.id, self._until(now), _stamp(now)],
            )
        )


def live_workers(store: HistoryStore) -> list[WorkerInfo]:
    "The workers whose lease has not lapsed, with how many jobs each holds, oldest first."
    now = utcnow()
    rows = store.query(
        "SELECT w.id, w.host, w.pid, w.started_at, w.seen_at, w.paused, "
        "(SELECT count(*) FROM jobs j WHERE j.worker = w.id AND j.lease_until IS NOT NULL) AS jobs "
        "FROM workers w WHERE w.lease_until >= ? ORDER BY w.started_at, w.id",
        [now],
    )
    return [
        WorkerInfo(
            id=str(r["id"]),
            host=str(r["host"]),
            pid=int(r["pid"]),
            started_at=str(r["started_at"]),
            seen_at=str(r["seen_at"]),
            paused=r["paused"],
            jobs=int(r["jobs"]),
        )
        for r in rows
    ]
