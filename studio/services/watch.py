"""Watching runs: what each run in flight is doing and for how long (queued, submitted, generating,
saving), the time it has left, whether it is stuck; and which runs a person is waiting for have
ended since they last looked, for a toast and a browser notification on any page; and whether
the worker is paused because the disk is full.

"A person's runs": until the studio knows who people are, they are the runs launched or watched
from one browser session (the pages keep their ids in the session); see `ended`.

Phases, their times and the stuck flag come from the job runner (`JobRunner.phases`: a run is
stuck after `settings.stuck_after` seconds, 20 minutes by default, without progress). The time
left comes from the same rule as the estimate before launch (`estimates.run_times`: the median of
recent runs at the same settings, else the latency model, or the simulator's own profile when it
stands in for Mosaic); it is counted from the moment Mosaic accepted the run.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .. import format as fmt
from ..changes import Seen, look
from ..leases import WorkerInfo, live_workers
from ..models import ACTIVE_STATUSES, FINAL_STATUSES, Generation
from .app import Services
from .estimates import run_times
from .generations import JobView, progress

MOST_DONE = 0.95  # a bar driven by time never claims to be finished before the video is saved
OVERDUE_AFTER = 1.5  # "taking longer than usual" only past 1.5x the longest expected time

T = TypeVar("T")

PHASE_WORDS = {
    "queued": "waiting to start",
    "submitted": "sent to Mosaic, waiting for the model",
    "generating": "generating",
    "saving": "saving the video",
}
PHASE_ICONS = {"queued": "⏳", "submitted": "📤", "generating": "🎬", "saving": "⬇️"}


@dataclass(frozen=True)
class RunWait(JobView):
    """A generation with what it is doing and for how long: its phase, the seconds in that phase,
    the seconds since Mosaic accepted it, the expected (low, high) seconds of a whole run, and
    whether it is stuck. `progress` is driven by time while the model works (never a bar stuck
    at 10 %), and is 1.0 once the run is over."""

    phase: str = "queued"  # queued | submitted | generating | saving | done | failed | cancelled
    phase_elapsed_s: float | None = None
    since_submitted_s: float | None = None
    expected_s: tuple[float, float] = (0.0, 0.0)
    stuck: bool = False
    idle_s: float | None = None  # seconds since the last progress was seen (while waiting on Mosaic)

    @property
    def active(self) -> bool:
        return self.gen.status not in FINAL_STATUSES

    @property
    def left_s(self) -> tuple[float, float] | None:
        "Seconds left (low, high), or None when the run is over or already past the expected time."
        if not self.active or self.phase == "saving":
            return None
        spent = self.since_submitted_s or 0.0
        low, high = self.expected_s
        if spent >= high:
            return None
        return max(0.0, low - spent), high - spent

    @property
    def overdue(self) -> bool:
        """Still waiting on Mosaic well past the longest expected time (OVERDUE_AFTER × it: the long
        tail, not yet stuck). A run just past a median is normal: half of all runs are."""
        spent = self.since_submitted_s or 0.0
        waiting = self.active and self.phase in ("submitted", "generating")
        return waiting and spent > self.expected_s[1] * OVERDUE_AFTER

    def describe(self) -> str:
        "One line: '🎬 generating · 3 min 20 s · about 1–3 min left'."
        if not self.active:
            return fmt.status_label(self.gen.status)
        parts = [f"{PHASE_ICONS[self.phase]} {PHASE_WORDS[self.phase]}"]
        if self.phase_elapsed_s is not None:
            parts.append(fmt.elapsed(self.phase_elapsed_s))
        if self.stuck:
            parts.append(f"no progress for {fmt.elapsed(self.idle_s)}: it may be stuck")
        elif self.overdue:
            parts.append(f"taking longer than usual ({_usual_text(*self.expected_s)})")
        elif (left := self.left_s) is not None:
            parts.append(_left_text(*left))
        elif self.phase in ("submitted", "generating"):
            parts.append("any moment now")
        return " · ".join(parts)


def _left_text(low: float, high: float) -> str:
    "The time left as a person says it: whole minutes past two minutes, else tens of seconds."
    if high < 1:
        return "any moment now"
    if high >= 120:
        lo, hi = math.floor(low / 60), math.ceil(high / 60)
        return (
            f"about {hi} min left" if lo == hi else f"up to {hi} min left" if lo == 0 else f"about {lo}–{hi} min left"
        )
    lo_s, hi_s = math.floor(low / 10) * 10, max(10, math.ceil(high / 10) * 10)
    return f"under {hi_s} s left" if lo_s == 0 else f"about {lo_s}–{hi_s} s left"


def _usual_text(low: float, high: float) -> str:
    "'3 min to 6 min', or 'usually 5 min' when the time is one figure (the median of recent runs)."
    return f"usually {fmt.elapsed(high)}" if round(low) == round(high) else f"{fmt.elapsed(low)} to {fmt.elapsed(high)}"


def waits(services: Services, ids: Sequence[str]) -> list[RunWait]:
    "The runs in the order given, each with its phase, elapsed time, time left and stuck flag."
    views = progress(services, ids)
    phases = services.runner.phases([v.gen.id for v in views])
    times = run_times(services, [v.gen.params for v in views])
    out = []
    for view, expected in zip(views, times, strict=True):
        gen, phase = view.gen, phases.get(view.gen.id)
        since = phase.since_submitted_s if phase else None
        out.append(
            RunWait(
                gen,
                min(_timed(view.progress, phase.phase if phase else None, since, expected), 1.0),
                view.last_error,
                phase=phase.phase if phase else gen.status,
                phase_elapsed_s=phase.phase_elapsed_s if phase else None,
                since_submitted_s=since,
                expected_s=expected,
                stuck=bool(phase and phase.stuck),
                idle_s=phase.idle_s if phase else None,
            )
        )
    return out


def _timed(value: float, phase: str | None, since: float | None, expected: tuple[float, float]) -> float:
    "Progress driven by time while Mosaic works: the middle of the expected range is MOST_DONE."
    if phase in ("submitted", "generating") and since is not None and expected[1] > 0:
        return max(value, min(MOST_DONE, since / ((expected[0] + expected[1]) / 2) * MOST_DONE))
    return value


def aged(wait: RunWait, seconds: float, stuck_after_s: float) -> RunWait:
    """The same run `seconds` later with no row changed meanwhile: its clocks (and so its time-driven
    progress and stuck flag) move on, nothing else does."""
    if not wait.active or seconds <= 0:
        return wait

    def later(value: float | None) -> float | None:
        return None if value is None else value + seconds

    since, idle = later(wait.since_submitted_s), later(wait.idle_s)
    return dataclasses.replace(
        wait,
        progress=min(_timed(wait.progress, wait.phase, since, wait.expected_s), 1.0),
        phase_elapsed_s=later(wait.phase_elapsed_s),
        since_submitted_s=since,
        idle_s=idle,
        stuck=wait.stuck or (idle is not None and idle > stuck_after_s),
    )


def follow_waits(
    services: Services,
    ids: Sequence[str],
    last: Seen[list[RunWait]] | None,
    *,
    queue: bool = False,
    now: float | None = None,
) -> tuple[Seen[list[RunWait]], list[RunWait]]:
    """`waits(ids)` (with `queue`: `queue_waits(ids)`) for a page that looks again every few seconds:
    the rows are read again only when the change feed moved since `last` (keep the Seen for the next
    look); otherwise the last look's clocks move on."""
    now = time.monotonic() if now is None else now

    def read() -> list[RunWait]:
        return queue_waits(services, ids) if queue else waits(services, ids)

    seen, _ = look(services.changes, last, (tuple(ids), queue), read, "generations", "jobs", now=now)
    spent = now - seen.at
    return seen, [aged(w, spent, services.settings.stuck_after) for w in seen.value]


def look_again(services: Services, last: Seen[T] | None, key: Hashable, read: Callable[[], T], *tables: str) -> Seen[T]:
    """What `read()` returns, read again only when the change feed moved (in `tables`; any watched
    table when none) since `last`, when `key` changed, or when `last` is old (changes.REREAD_AFTER_S)."""
    return look(services.changes, last, key, read, *tables)[0]


def queue_waits(services: Services, keep: Sequence[str] = ()) -> list[RunWait]:
    """The runs in `keep` (a page still shows them for a moment once finished), then every other
    unfinished run, oldest first, each with its phase and time left."""
    kept = set(keep)
    return waits(services, [*keep, *(i for i in active_ids(services) if i not in kept)])


# ---------------------------------------------------------------------- a person's runs


@dataclass(frozen=True)
class Ended:
    "One launch (a run, takes, or a comparison) whose runs have all ended."

    key: str
    gens: list[Generation] = field(default_factory=list)

    @property
    def done(self) -> int:
        return sum(1 for g in self.gens if g.status == "done")

    @property
    def ok(self) -> bool:
        return self.done == len(self.gens)

    @property
    def grid_id(self) -> str | None:
        return self.gens[0].grid_id if self.gens and all(g.grid_id == self.gens[0].grid_id for g in self.gens) else None

    def message(self) -> str:
        "'Your comparison finished: 8 of 9 cells done, 1 failed.' (prompts are not part of it)."
        n = len(self.gens)
        bad = {s: sum(1 for g in self.gens if g.status == s) for s in ("failed", "cancelled")}
        trouble = ", ".join(f"{count} {status}" for status, count in bad.items() if count)
        if self.grid_id:
            what = "Your comparison finished"
            counts = f"{self.done} of {fmt.plural(n, 'cell')} done"
        elif n == 1:
            gen = self.gens[0]
            return "Your run finished: the video is ready." if self.ok else f"Your run {gen.status}."
        else:
            what = "Your takes finished"
            counts = f"{self.done} of {n} done"
        return f"{what}: {counts}" + (f", {trouble}." if trouble else ".")


def ended(services: Services, watching: Mapping[str, Sequence[str]]) -> tuple[list[Ended], int]:
    """Which of the watched launches (key -> run ids) have ended, and how many watched runs are
    still in flight. One small query over the watched ids; the caller forgets the ended keys."""
    ids = [i for group in watching.values() for i in group]
    gens = {g.id: g for g in services.store.many(list(dict.fromkeys(ids)))}
    out, in_flight = [], 0
    for key, group in watching.items():
        found = [gens[i] for i in group if i in gens]  # a deleted run no longer counts
        running = sum(1 for g in found if g.status not in FINAL_STATUSES)
        in_flight += running
        if not running:
            out.append(Ended(key, found))
    return out, in_flight


def active_count(services: Services) -> int:
    "How many runs are unfinished in the whole studio (one count query)."
    return services.store.count_status(*ACTIVE_STATUSES)


def active_ids(services: Services) -> list[str]:
    "Ids of every unfinished run, oldest first."
    return [g.id for g in services.store.active()]


def stray_runs(services: Services, limit: int = 20) -> list[dict[str, Any]]:
    """Runs found on the studio's agents that no take follows (a late duplicate, an owner that could
    not be proven), newest first: run, take, agent, why, and when it was cancelled (None: not yet)."""
    return services.store.stray_runs(limit=limit)


def agents_waiting(services: Services) -> int:
    "Agents kept out of use because their last run request has no answer yet (issue 7 §1)."
    return len(services.store.pending_posts())


def stuck_ids(services: Services, ids: Sequence[str]) -> list[str]:
    "Which of `ids` are stuck: waiting on Mosaic with no progress for `settings.stuck_after` seconds."
    wanted = set(ids)
    return [i for i in services.runner.stuck() if i in wanted]


def worker_paused(services: Services) -> str | None:
    """Why the worker is paused ("disk full: …"), or None. Whichever process runs the queue (this
    one, `studio serve`, a `studio generate --wait`) publishes it, so every page and command sees it."""
    return services.runner.paused


def workers(services: Services) -> list[WorkerInfo]:
    """The job workers alive now, in every process (web servers, `studio worker`s), each with the
    jobs it holds (issue 10 §2)."""
    return live_workers(services.store)
