"""AppTest: a studio error that a page does not handle (its history gone bad while the server
runs) is a message where the person is, with what to do, never a traceback (issue 10 follow-up)."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest
from support import ENTRY, PAGE_TIMEOUT_S, settings_for

from studio import services as svc
from studio.ui import TRY_AGAIN

NOT_A_DATABASE = b"this file is no longer a SQLite database " * 200


@pytest.fixture
def broken(clean_sim, tmp_path):
    "A studio whose SQLite history is overwritten with junk after it started (a real StoreError on every read)."
    studio = svc.build_services(settings_for(clean_sim, tmp_path / "data"), start_worker=False)
    db = studio.settings.db_path
    studio.store.close()
    for side in (db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        side.unlink(missing_ok=True)
    db.write_bytes(NOT_A_DATABASE)
    yield studio
    studio.close()


def test_a_store_error_on_a_page_is_a_message_not_a_traceback(broken):
    # Run as a browser opens the studio: the entry script, its st.navigation and the default page
    # (AppTest's switch_page would run a page file without the entry script: Streamlit's old
    # pages-folder mode, which the real server turns off in asgi_app.py).
    at = AppTest.from_file(str(ENTRY), default_timeout=PAGE_TIMEOUT_S)
    at.session_state["services"] = broken
    at.run()
    assert not at.exception, at.exception
    page = [e.value for e in at.main.error]
    sidebar = [e.value for e in at.sidebar.error]
    for said in (page, sidebar):  # the page stops where it was; the sidebar still runs and says so too
        assert any("not a history database" in m and TRY_AGAIN in m for m in said), said
    assert not any("Traceback" in m or "sqlite3." in m for m in page + sidebar)
