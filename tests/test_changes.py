"""The change feed (studio.changes), on SQLite and PostgreSQL: a write from another process or
connection moves it within a second, nothing moves it when nothing was written, and a page's
fragment reads no rows while it stands still (queries counted through the store's `on_statement`)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest
from streamlit.testing.v1 import AppTest
from support import settings_for, started_ago

from studio import changes
from studio import services as svc
from studio.models import VideoGenerationParams
from studio.store import HistoryStore

SEEN_WITHIN_S = 1.0
WRITER = (
    "import sys; from studio.store import HistoryStore; from studio.models import VideoGenerationParams; "
    "HistoryStore(sys.argv[1]).add_generation(VideoGenerationParams(prompt='from elsewhere'))"
)


def moved(feed: changes.ChangeFeed, before: int, *tables: str, within: float = SEEN_WITHIN_S) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if feed.version(*tables) != before:
            return True
        time.sleep(0.01)
    return feed.version(*tables) != before


class Counted:
    "The statements a store ran, as its `on_statement` argument sees them."

    def __init__(self) -> None:
        self.statements: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, sql: str) -> None:
        with self._lock:
            self.statements.append(sql)

    def reads(self) -> list[str]:
        with self._lock:
            return [s for s in self.statements if s.lstrip().upper().startswith("SELECT")]

    def clear(self) -> None:
        with self._lock:
            self.statements.clear()


@pytest.fixture
def counted_studio(clean_sim, tmp_path, database_url):
    "An idle studio (no worker) whose store reports every statement it runs."
    counted = Counted()
    settings = settings_for(clean_sim, tmp_path / "data", database_url=database_url)
    store = HistoryStore(database_url or settings.db_path, on_statement=counted)
    services = svc.build_services(settings, start_worker=False, store=store)
    yield services, counted
    services.close()


@pytest.fixture
def feed_history(tmp_path, database_url):
    "A history on the test's backend, and its change feed."
    store = HistoryStore(database_url or tmp_path / "studio.db")
    feed = changes.open_feed(store)
    yield store, feed
    feed.close()
    store.close()


@pytest.mark.usefixtures("backend")
def test_a_write_from_another_process_moves_the_feed_within_a_second(feed_history):
    store, feed = feed_history
    before = feed.version()
    store.authors()  # reads move nothing
    assert feed.version() == before
    subprocess.run([sys.executable, "-c", WRITER, str(store.location)], check=True, timeout=60)
    assert moved(feed, before)


@pytest.mark.usefixtures("backend")
def test_a_write_from_another_connection_of_this_process_moves_the_feed(feed_history):
    store, feed = feed_history
    before = feed.version()
    writer = threading.Thread(target=lambda: store.add_generation(VideoGenerationParams(prompt="a thread's")))
    writer.start()
    writer.join()
    assert moved(feed, before)
    settled = feed.version()
    time.sleep(0.1)
    assert feed.version() == settled


def test_on_postgresql_the_feed_counts_each_table_and_listens_again_after_losing_its_connection(postgres_url):
    store = HistoryStore(postgres_url)
    feed = changes.open_feed(store)
    try:
        exports_before, runs_before = feed.version("exports"), feed.version("generations", "jobs")
        gen_id = store.add_generation(VideoGenerationParams(prompt="A crane"))
        assert moved(feed, runs_before, "generations", "jobs")
        assert feed.version("exports") == exports_before  # a table nobody asked about
        store.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN%'")
        assert moved(feed, exports_before, "exports")  # a lost connection may have missed anything
        assert feed.ready(10)
        before = feed.version("generations")
        store.update(gen_id, status="failed")
        assert moved(feed, before, "generations")
    finally:
        feed.close()
        store.close()


def test_a_look_is_read_again_only_when_the_feed_moved_the_question_changed_or_it_is_old(tmp_path):
    store = HistoryStore(tmp_path / "studio.db")
    feed = changes.SqliteFeed(store.path)
    reads: list[int] = []

    def read() -> int:
        reads.append(1)
        return len(reads)

    try:
        seen, fresh = changes.look(feed, None, "q", read, now=100.0)
        assert fresh and seen.value == 1
        assert changes.look(feed, seen, "q", read, now=101.0) == (seen, False)
        assert changes.look(feed, seen, "other", read, now=101.0)[1]
        assert changes.look(feed, seen, "q", read, now=100.0 + changes.REREAD_AFTER_S)[1]
        store.save_preset("a change", {})
        again, fresh = changes.look(feed, seen, "q", read, now=101.0)
        assert fresh and again.value == 4
    finally:
        feed.close()


def live_script() -> None:
    import streamlit as st

    from studio import ui

    ids = st.session_state["ids"]
    ui.live(ids, lambda views: st.write(", ".join(f"{v.gen.id}:{v.phase}" for v in views)), key="t_live")
    ui.watch()


@pytest.mark.usefixtures("backend")
def test_the_live_panel_and_the_watch_read_no_rows_while_nothing_changed(counted_studio):
    studio, counted = counted_studio
    ids = svc.generate(studio, VideoGenerationParams(prompt="A heron at dawn", duration="4"), takes=2)
    at = AppTest.from_function(live_script, default_timeout=30)
    at.session_state["services"] = studio
    at.session_state["ids"] = ids
    at.run()
    assert not at.exception, at.exception
    assert f"{ids[0]}:queued" in at.markdown[0].value
    assert counted.reads(), "the first look reads the runs"

    counted.clear()
    at.run()  # a look with nothing written since: no row is read
    assert not at.exception, at.exception
    assert counted.reads() == []
    assert f"{ids[0]}:queued" in at.markdown[0].value

    before = studio.changes.version()
    studio.store.update(ids[0], status="failed", error="stopped here")  # another thread's connection
    assert moved(studio.changes, before)
    at.run()
    assert any("generations" in s for s in counted.reads())
    assert f"{ids[0]}:failed" in at.markdown[0].value


def test_between_reads_a_live_panel_s_clocks_move_on(counted_studio):
    studio, counted = counted_studio
    ids = svc.generate(studio, VideoGenerationParams(prompt="An otter", duration="4"), takes=1)
    started_ago(studio, ids[0], 20.0, generating_for=10.0)
    seen, first = svc.follow_waits(studio, ids, None, now=100.0)
    counted.clear()
    again, later = svc.follow_waits(studio, ids, seen, now=120.0)
    assert again is seen and counted.reads() == []
    assert later[0].phase == "generating"
    assert later[0].phase_elapsed_s == pytest.approx((first[0].phase_elapsed_s or 0) + 20.0)
    assert later[0].since_submitted_s == pytest.approx((first[0].since_submitted_s or 0) + 20.0)
    assert later[0].progress >= first[0].progress
