"""The job worker through a database outage (issue 10 follow-up): a real PostgreSQL of the test's
own, stopped for longer than psycopg_pool's first reconnect delays and started again. One log
line when the outage starts and one when it ends, no traceback per tick, and the worker's lease
renewed within seconds of the database's return."""

from __future__ import annotations

import logging
import time

from support import eventually, settings_for

from studio import services as svc

OUTAGE_S = 35  # the database is down this long: past psycopg_pool's 1+2+4+8+16 s of reconnect delays
DETECT_DEADLINE_S = 60  # the first query after the stop waits the pool's 15 s before it fails
RENEW_DEADLINE_S = 10  # after the database is back, the worker has renewed its lease by then
WAITING = "job worker waiting for the history database"
RESUMED = "job worker resumed: the history database answers again"
POLL_S = 0.25  # each look at the lease runs psql


def test_a_worker_says_a_database_outage_once_and_renews_its_lease_when_it_is_back(
    own_postgres, clean_sim, tmp_path, caplog
):
    caplog.set_level(logging.WARNING)
    url = own_postgres.fresh_database()
    database = url.rsplit("/", 1)[1]
    studio = svc.build_services(settings_for(clean_sim, tmp_path / "d", database_url=url))
    worker = studio.runner.leases.id

    def lease_until() -> str:
        return own_postgres.sql(f"SELECT lease_until FROM workers WHERE id = '{worker}'", database)

    def lines(words: str) -> list[logging.LogRecord]:
        return [r for r in caplog.records if r.name.startswith("studio") and words in r.getMessage()]

    try:
        before = eventually(lease_until, DETECT_DEADLINE_S, what="workers row", step=POLL_S)
        own_postgres.stop()
        stopped = time.monotonic()
        eventually(lambda: lines(WAITING), DETECT_DEADLINE_S, what="outage line", step=POLL_S)
        time.sleep(max(0.0, stopped + OUTAGE_S - time.monotonic()))
        assert studio.runner.database_away
        assert len(lines(WAITING)) == 1, [r.getMessage() for r in caplog.records]
        assert "history database" in lines(WAITING)[0].getMessage()
        studio_records = [r for r in caplog.records if r.name.startswith("studio")]
        assert not [r for r in studio_records if r.exc_info], "a traceback was logged during the outage"

        own_postgres.start()
        back = "lease renewal after the database came back"
        eventually(lambda: lease_until() > before, RENEW_DEADLINE_S, what=back, step=POLL_S)
        assert len(lines(RESUMED)) == 1 and len(lines(WAITING)) == 1
        assert not studio.runner.database_away
    finally:
        studio.close()
