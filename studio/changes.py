"""The change feed: a cheap answer to "has the history changed since I last looked?", so the pages
that follow work in flight (the live panels, the sidebar's watch, Status, exports) re-read rows only
when something was written, not on every tick of their timer (which stays: Streamlit needs it to
push a fragment to the browser).

- SQLite: `PRAGMA data_version` on a connection of the feed's own. It moves whenever any other
  connection commits: this process's other threads and every other process alike. One look costs
  microseconds and reads no rows.
- PostgreSQL: triggers (migration m022) send `NOTIFY studio_changes, '<table>'` when generations,
  jobs, exports, votes or comments change; one thread per process LISTENs on one connection and
  counts them in memory, so a look costs no query at all. A lost connection counts as a change
  (something may have been missed) and is opened again.

A look that found nothing new is still redone after REREAD_AFTER_S: what a page shows may also
depend on things no row records (an export whose process stopped: its lock file went).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

if TYPE_CHECKING:
    from .store import HistoryStore

log = logging.getLogger(__name__)

CHANNEL = "studio_changes"
# The tables whose changes pages follow; PostgreSQL's triggers (m022) name them in the payload.
WATCHED_TABLES = ("generations", "jobs", "exports", "votes", "comments")
REREAD_AFTER_S = 30.0
LISTEN_POLL_S = 0.5  # how often the listening thread looks up from its wait to see whether to stop
CONNECT_TIMEOUT_S = 5
READY_WAIT_S = 5.0  # how long opening the feed waits for PostgreSQL's LISTEN to be in place
RECONNECT_AFTER_S = (0.5, 1.0, 2.0, 5.0)  # waits between attempts to listen again, the last repeated

T = TypeVar("T")


class ChangeFeed(Protocol):
    "What pages ask: a number that moves whenever one of `tables` (all watched ones when none) changed."

    def version(self, *tables: str) -> int: ...

    def ready(self, timeout: float) -> bool: ...

    def close(self) -> None: ...


class SqliteFeed:
    "Changes to a SQLite history, seen through `PRAGMA data_version` (any table: SQLite has no finer count)."

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._last: int | None = None
        self._count = 0

    def version(self, *tables: str) -> int:
        with self._lock:
            try:
                if self._conn is None:
                    self._conn = sqlite3.connect(str(self.path), check_same_thread=False)
                value = self._conn.execute("PRAGMA data_version").fetchone()[0]
            except sqlite3.Error as err:  # the file went away or is locked out: say "changed", look again later
                log.debug("change feed: %s", err)
                self._close()
                value = None
            if value is None or value != self._last:
                self._count += 1
                self._last = value
            return self._count

    def ready(self, timeout: float) -> bool:
        "Always: every commit from now on moves `data_version`."
        return True

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def close(self) -> None:
        with self._lock:
            self._close()


class NotifyFeed:
    """Changes to a PostgreSQL history, as the NOTIFYs of m022's triggers arrive on one LISTEN
    connection (a thread of its own, started here)."""

    def __init__(self, url: str):
        self.url = url
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(WATCHED_TABLES, 0)
        self._lost = 0  # connections lost or refused: each may have missed a change of any table
        self._listening = threading.Event()
        self._stop = threading.Event()
        self._conn: Any = None
        self._thread = threading.Thread(target=self._run, name="change-feed", daemon=True)
        self._thread.start()

    def _open(self) -> Any:
        import psycopg  # the [scale] extra: only with a postgresql:// history

        return psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)

    def version(self, *tables: str) -> int:
        with self._lock:
            if not self._listening.is_set():  # nothing can be known meanwhile: every look reads again
                self._lost += 1
            return self._lost + sum(self._counts.get(t, 0) for t in tables or WATCHED_TABLES)

    def ready(self, timeout: float) -> bool:
        "Whether the feed is listening (waiting up to `timeout` seconds): changes from then on are counted."
        return self._listening.wait(timeout)

    def _bump(self, table: str | None) -> None:
        with self._lock:
            if table in self._counts:
                self._counts[table] += 1
            else:
                self._lost += 1

    def _run(self) -> None:
        attempt = 0
        while not self._stop.is_set():
            try:
                self._conn = self._open()
                self._conn.execute(f"LISTEN {CHANNEL}")
                self._bump(None)  # whatever happened while nobody listened
                self._listening.set()
                attempt = 0
                while not self._stop.is_set():
                    for note in self._conn.notifies(timeout=LISTEN_POLL_S):
                        self._bump(note.payload)
            except Exception as err:  # psycopg's errors, without importing psycopg to name them
                if self._stop.is_set():
                    break
                self._listening.clear()
                self._bump(None)
                log.warning("change feed: listening on %s failed, trying again: %s", CHANNEL, err)
                self._stop.wait(RECONNECT_AFTER_S[min(attempt, len(RECONNECT_AFTER_S) - 1)])
                attempt += 1
            finally:
                self._close_conn()

    def _close_conn(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # closing a broken connection: nothing more to do
                log.debug("change feed: close", exc_info=True)

    def close(self) -> None:
        self._stop.set()
        if threading.current_thread() is not self._thread:
            self._thread.join(LISTEN_POLL_S * 4)


def open_feed(store: HistoryStore) -> ChangeFeed:
    """The change feed for this history: LISTEN/NOTIFY on PostgreSQL, data_version on SQLite. It waits
    (up to READY_WAIT_S) until it is listening, so a page's first look and its next agree."""
    if store.dialect == "postgresql":
        feed: ChangeFeed = NotifyFeed(str(store.location))
    else:
        feed = SqliteFeed(store.path)
    if not feed.ready(READY_WAIT_S):
        log.warning("change feed: not listening yet on %s; pages re-read rows until it is", store.described)
    return feed


@dataclass(frozen=True)
class Seen(Generic[T]):
    "What one page element read last: the value, the feed's version before the read, and when."

    key: Hashable  # what was asked (other ids: read again)
    version: int
    at: float  # time.monotonic()
    value: T

    def fresh(self, key: Hashable, version: int, now: float, max_age_s: float = REREAD_AFTER_S) -> bool:
        "Whether this look still stands: the same question, nothing changed since, not too old."
        return self.key == key and self.version == version and now - self.at < max_age_s


def look(
    feed: ChangeFeed,
    last: Seen[T] | None,
    key: Hashable,
    read: Callable[[], T],
    *tables: str,
    now: float | None = None,
) -> tuple[Seen[T], bool]:
    """`last` again when it still stands, else a new look through `read` (True: rows were read).
    The version is taken before the read, so a change made during it brings another read next time."""
    now = time.monotonic() if now is None else now
    version = feed.version(*tables)
    if last is not None and last.fresh(key, version, now):
        return last, False
    return Seen(key, version, now, read()), True
