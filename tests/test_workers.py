"""Many workers, still exactly once (issue 10 §2): workers share one history, each job held by one
under a lease; a worker that dies loses its leases and another resumes its jobs, through the
lost-answer lookup for a run whose answer never came. The simulator's counters prove that every
job was submitted exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support import TEST_KEY, eventually, settings_for

from studio import cli
from studio import services as svc
from studio.jobs import JobRunner
from studio.models import Generation, VideoGenerationParams

ROOT = Path(__file__).resolve().parent.parent
LEASE_S = 2.0  # a dead worker's jobs are taken over within this (a real deployment: 30 s)
BATCH = 12

pytestmark = pytest.mark.usefixtures("clean_sim", "backend")  # each test on SQLite, then on PostgreSQL


def small(prompt: str) -> VideoGenerationParams:
    "A quick take: little to download and check."
    return VideoGenerationParams(
        prompt=prompt, resolution="480p", aspect_ratio="16:9", duration="4", generate_audio=False
    )


def queue(services: svc.Services, n: int) -> list[str]:
    "n takes of distinct prompts (each its own job), queued at once."
    return [gen_id for i in range(n) for gen_id in svc.generate(services, small(f"A kite over dunes, take {i}"))]


def ended(services: svc.Services, ids: list[str], timeout: float = 90.0) -> list[Generation]:
    def all_ended() -> list[Generation]:
        gens = services.store.many(ids)
        return gens if all(not g.is_active for g in gens) else []

    return eventually(all_ended, timeout)


def holder(services: svc.Services, gen_id: str) -> str | None:
    "The worker that holds (or last held) a job."
    return services.store.job(gen_id).get("worker")


def assert_each_submitted_once(sim, before: int, gens: list[Generation]) -> None:
    assert [g.status for g in gens] == ["done"] * len(gens), [g.error for g in gens]
    assert sim.stats()["runs_total"] - before == len(gens)  # one run on Mosaic per job, no more
    assert len({g.run_id for g in gens}) == len(gens)


def test_three_workers_share_a_batch_and_take_over_a_halted_ones_jobs(clean_sim, tmp_path, database_url):
    settings = settings_for(
        clean_sim, tmp_path / "d", database_url=database_url, worker_lease_s=LEASE_S, max_in_flight=6
    )
    services = svc.build_services(settings, start_worker=False)
    runners = [services.runner] + [JobRunner(services.store, services.client, settings) for _ in range(2)]
    before = clean_sim.stats()["runs_total"]
    try:
        for runner in runners:
            runner.start()
        eventually(lambda: len(svc.workers(services)) == 3)
        ids = queue(services, BATCH)
        halted = runners[1]
        eventually(lambda: halted.leases.held())
        halted.stop(release=False)  # as if it died: its leases stay until they lapse
        left = [g.id for g in halted.leases.held()]
        assert left, "the halted worker held unfinished jobs"
        gens = ended(services, ids)
    finally:
        for runner in runners:
            runner.stop()
        services.close()
    assert_each_submitted_once(clean_sim, before, gens)
    assert all(holder(services, i) not in (None, halted.leases.id) for i in left)  # taken over, then done
    assert len({holder(services, i) for i in ids}) >= 2  # the batch was shared
    assert svc.workers(services) == []  # every worker stopped gave its row back


# ---------------------------------------------------------------- real `studio worker` processes


def worker_env(sim, data: Path, database_url: str | None) -> dict[str, str]:
    return {
        **({"STUDIO_DATABASE_URL": database_url} if database_url else {}),
        **os.environ,
        "STUDIO_DATA_DIR": str(data),
        "MOSAIC_API_KEY": TEST_KEY,
        "MOSAIC_BASE_URL": sim.base_url,
        "STUDIO_POLL_INTERVAL": "0.1",
        "STUDIO_MAX_POLL_INTERVAL": "0.3",
        "STUDIO_WORKER_LEASE_S": str(LEASE_S),
        "STUDIO_MAX_IN_FLIGHT": "4",
    }


@pytest.fixture
def workers(clean_sim, tmp_path, database_url) -> Iterator[Callable[[], subprocess.Popen[bytes]]]:
    "Starts `studio worker` processes on the test's data folder; kills what is left at the end."
    started: list[subprocess.Popen[bytes]] = []
    env = worker_env(clean_sim, tmp_path / "d", database_url)

    def start() -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "studio.cli", "worker"], env=env, cwd=ROOT, stderr=subprocess.PIPE
        )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        if proc.stderr:
            proc.stderr.close()


def held_by(services: svc.Services, pid: int) -> int:
    return sum(w.jobs for w in svc.workers(services) if w.pid == pid)


def test_a_killed_worker_process_loses_its_jobs_to_the_other_which_finishes_them_once(
    clean_sim, tmp_path, database_url, workers, monkeypatch, capsys
):
    settings = settings_for(clean_sim, tmp_path / "d", database_url=database_url, run_worker=False)
    services = svc.build_services(settings)  # the web server's part: it queues, no worker of its own
    before = clean_sim.stats()["runs_total"]
    try:
        assert not services.runner.alive
        first, second = workers(), workers()
        eventually(lambda: len(svc.workers(services)) == 2)  # both up: each claims its share (2 of 4)
        for name, value in worker_env(clean_sim, tmp_path / "d", database_url).items():
            monkeypatch.setenv(name, value)
        assert cli.main(["status"]) == 0  # another process's view of the live workers
        assert "workers: 2 live" in capsys.readouterr().out
        ids = queue(services, BATCH)
        eventually(lambda: held_by(services, first.pid) and held_by(services, second.pid))
        [first_id] = [w.id for w in svc.workers(services) if w.pid == first.pid]
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        left = [g.id for g in services.store.many(ids) if g.is_active and holder(services, g.id) == first_id]
        gens = ended(services, ids)
        second.send_signal(signal.SIGTERM)  # a clean stop: it gives its row (and any jobs) back
        assert second.wait(20) == 0
        assert svc.workers(services) == []
    finally:
        services.close()
    assert_each_submitted_once(clean_sim, before, gens)
    assert left and all(holder(services, i) not in (None, first_id) for i in left)  # taken over, then done


def test_a_worker_killed_right_after_post_run_has_its_run_adopted_by_the_next(
    clean_sim, tmp_path, database_url, workers
):
    settings = settings_for(clean_sim, tmp_path / "d", database_url=database_url, run_worker=False)
    services = svc.build_services(settings)
    before = clean_sim.stats()["runs_total"]
    try:
        clean_sim.script_fault("drop", route="run")  # Mosaic starts the run; its answer is lost
        [gen_id] = queue(services, 1)
        first = workers()
        eventually(lambda: clean_sim.stats()["runs_total"] > before, timeout=30)
        first.send_signal(signal.SIGKILL)  # dies with a POST whose outcome it never learnt
        first.wait(10)
        assert services.store.get(gen_id).status == "submitting"  # type: ignore[union-attr]
        assert services.store.pending_posts(gen_id)
        second = workers()
        [gen] = ended(services, [gen_id])
        [second_id] = [w.id for w in svc.workers(services) if w.pid == second.pid]
    finally:
        services.close()
    assert_each_submitted_once(clean_sim, before, [gen])
    assert holder(services, gen_id) == second_id
    assert not services.store.pending_posts() and services.store.count_strays() == 0
