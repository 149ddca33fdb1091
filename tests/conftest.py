"""Shared fixtures: every test gets its own data folder and no real API key; one simulator
serves the whole session over real HTTP."""

from __future__ import annotations

import pytest

from studio import services as svc
from studio.settings import Settings
from studio.simulator import Faults, SimConfig, Simulator

TEST_KEY = "mk_test_runner_key_7c1d"


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    monkeypatch.setenv("STUDIO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("MOSAIC_API_KEY", raising=False)
    monkeypatch.delenv("MOSAIC_BASE_URL", raising=False)
    return tmp_path


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


def settings_for(sim, data_dir, **overrides) -> Settings:
    "Settings that talk to the test simulator as if it were Mosaic, polling quickly."
    base = dict(api_key=TEST_KEY, base_url=sim.base_url, data_dir=data_dir, poll_interval=0.1,
                max_poll_interval=0.3, timeout=5.0)
    return Settings(**{**base, **overrides})


@pytest.fixture
def studio(clean_sim, tmp_path):
    "A running studio (worker started) on its own data folder."
    services = svc.build_services(settings_for(clean_sim, tmp_path / "data"))
    yield services
    services.close()
