"""Shared fixtures (each fixture name is defined once across the test files): every test gets its
own data folder and no real API key; one simulator serves the whole session over real HTTP."""

from __future__ import annotations

import pytest
from postgres_server import PostgresServer
from seaweed_server import SeaweedServer
from support import settings_for

from studio import services as svc
from studio.simulator import Faults, SimConfig, Simulator
from studio.store import HistoryStore


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    # An empty key in the environment beats any secrets.toml a developer keeps in the checkout or
    # their home folder (the environment wins), so no test, nor any command it starts, uses it.
    monkeypatch.setenv("STUDIO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MOSAIC_API_KEY", "")
    monkeypatch.delenv("MOSAIC_BASE_URL", raising=False)
    return tmp_path


@pytest.fixture(scope="session")
def pg_server():
    "A real PostgreSQL on 127.0.0.1, one per test process, started on first use."
    with PostgresServer() as server:
        yield server


@pytest.fixture
def own_postgres():
    "A PostgreSQL of the test's own, for a test that stops and starts it (the shared one never stops)."
    with PostgresServer() as server:
        yield server


@pytest.fixture
def postgres_url(pg_server):
    "The URL of a new, empty database on the test PostgreSQL."
    return pg_server.fresh_database()


# The history's backends: a test that asks for `backend` (or is marked
# @pytest.mark.usefixtures("backend")) runs twice, on SQLite and on PostgreSQL (a new database each
# time); `studio`, `idle`, `keyless` and `database_url` then follow it. Only tests that exercise SQL
# ask for it: every other test runs once, on SQLite.
@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request):
    return request.param


@pytest.fixture
def database_url(request):
    "The test's STUDIO_DATABASE_URL: None (SQLite in the data folder) unless it runs on PostgreSQL."
    if "backend" in request.fixturenames and request.getfixturevalue("backend") == "postgresql":
        return request.getfixturevalue("postgres_url")
    return None


@pytest.fixture
def history_url(backend, tmp_path, request):
    "Where a contract test's history lives: a SQLite file, then a new database on the test PostgreSQL."
    if backend == "sqlite":
        return str(tmp_path / "history.db")
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def open_store():
    "Opens HistoryStores (on a file or URL, with the store's keyword arguments) and closes them all after the test."
    opened: list[HistoryStore] = []

    def open_one(location, **kw) -> HistoryStore:
        opened.append(HistoryStore(location, **kw))
        return opened[-1]

    yield open_one
    for store in opened:
        store.close()


@pytest.fixture
def any_store(history_url, open_store):
    "A history on each backend in turn (SQLite, PostgreSQL): the store's contract suite uses it."
    return open_store(history_url)


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory):
    "A real SeaweedFS (S3, signatures enforced) on 127.0.0.1, one per test process, started on first use."
    with SeaweedServer(tmp_path_factory.mktemp("seaweed")) as server:
        yield server


@pytest.fixture(scope="session")
def sim(tmp_path_factory):
    config = SimConfig(latency=0.3, latency_per_second=0.02, media_dir=tmp_path_factory.mktemp("sim"))
    with Simulator(config).start() as simulator:
        yield simulator


@pytest.fixture
def clean_sim(sim):
    "The session simulator with no faults before and after the test."
    sim.set_faults(Faults())
    yield sim
    sim.set_faults(Faults())


@pytest.fixture
def studio(clean_sim, tmp_path, database_url):
    "A running studio (worker started) on its own data folder."
    services = svc.build_services(settings_for(clean_sim, tmp_path / "data", database_url=database_url))
    yield services
    services.close()


@pytest.fixture
def idle(clean_sim, tmp_path, database_url):
    "A studio whose worker is not running: jobs stay queued, rows stay exactly as the test wrote them."
    settings = settings_for(clean_sim, tmp_path / "idle", database_url=database_url)
    services = svc.build_services(settings, start_worker=False)
    yield services
    services.close()


@pytest.fixture
def keyless(clean_sim, tmp_path, database_url):
    "A studio with no API key, so it presents itself as the simulator; its worker is off."
    settings = settings_for(clean_sim, tmp_path / "keyless", api_key=None, database_url=database_url)
    services = svc.build_services(settings, start_worker=False)
    yield services
    services.close()
