"""Every run ends (issue 7 §3): errors that cannot heal end the job with Mosaic's words, a run past
its hard limit is cancelled on Mosaic and failed, `--wait --timeout` gives up with its own exit
status, a stuck run is shown, and a full disk pauses the worker (visibly) until space returns.

Each misbehaviour is produced for real: the simulator answers 401/403 on chosen routes and keeps
a run going forever (`unauthorized`, `forbidden`, `run_hang`); SQLite's `max_page_count` makes
the history database full; a symlink to /dev/full makes a file write fail with ENOSPC.
"""

from __future__ import annotations

import logging
import os
import socket
import time

import pytest
from sim_helpers import api_client
from support import STATUS, TEST_KEY, open_page, settings_for, started_ago, use_sim_env

from studio import cli
from studio import services as svc
from studio.errors import DiskFullError
from studio.models import FINAL_STATUSES, Generation, VideoGenerationParams
from studio.simulator import Faults

pytestmark = pytest.mark.usefixtures("clean_sim")  # every test starts and ends with no faults
ENDS_WITHIN_S = 30.0  # generous on a loaded machine; today these runs never end at all
FOREVER = 10_000  # scripted faults that outlast the test
MAX_FILL = 200  # takes queued at most while filling the database (a few dozen fill its pages)


def small(prompt: str = "A lighthouse in fog") -> VideoGenerationParams:
    return VideoGenerationParams(
        prompt=prompt, resolution="480p", aspect_ratio="16:9", duration="4", generate_audio=False
    )


def wait_until(check, timeout: float = ENDS_WITHIN_S, step: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(step)
    raise AssertionError("the condition was not met in time")


def ended(services: svc.Services, ids: list[str], timeout: float = ENDS_WITHIN_S) -> list[Generation]:
    gens = svc.wait_for(services, ids, timeout=timeout)
    assert all(g.status in FINAL_STATUSES for g in gens), [(g.status, g.error) for g in gens]
    return gens


@pytest.fixture
def cli_env(clean_sim, monkeypatch, isolated_env):
    "The environment `studio` reads: the test simulator as Mosaic, quick polls, this test's data folder."
    use_sim_env(monkeypatch, clean_sim)
    return isolated_env / "data"


# ---------------------------------------------------------------- errors that cannot heal


@pytest.mark.parametrize(
    ("fault", "route", "words"),
    [
        ("unauthorized", "runs", "HTTP 401"),  # the listing: the key was revoked mid-run
        ("forbidden", "run_get", "HTTP 403"),  # the single GET a run without outputs needs
    ],
)
def test_a_refused_poll_ends_the_job_at_once_with_mosaics_words(clean_sim, studio, fault, route, words):
    if route == "run_get":  # the listing lacks outputs: each finished run is asked about on its own
        clean_sim.set_faults(Faults(listing_without_outputs=True))
    clean_sim.script_fault(fault, route, count=FOREVER)
    [gen] = ended(studio, svc.generate(studio, small()))
    assert gen.status == "failed" and gen.error and gen.run_id
    assert words in gen.error and "(simulated" in gen.error  # the API's own words
    assert "can no longer be followed" in gen.error and gen.run_id in gen.error


# ---------------------------------------------------------------- deadlines


def test_a_run_past_the_hard_limit_is_cancelled_on_mosaic_and_failed(clean_sim, tmp_path):
    clean_sim.script_fault("run_hang", "run")
    services = svc.build_services(settings_for(clean_sim, tmp_path / "data", run_deadline=1.0))
    try:
        [gen] = ended(services, svc.generate(services, small()))
    finally:
        services.close()
    assert gen.status == "failed" and gen.error
    assert "hard limit: not finished 1 s after Mosaic accepted it" in gen.error, gen.error
    assert "cancelled on Mosaic" in gen.error
    with api_client(clean_sim.base_url) as api:
        assert api.get(f"/agent_run/{gen.run_id}").json()["status"] == "cancelled"  # it bills no more


def test_deadline_settings_come_from_the_environment(monkeypatch):
    from studio.settings import DEFAULT_RUN_DEADLINE_S, Settings, load

    assert Settings().run_deadline == DEFAULT_RUN_DEADLINE_S == 3600
    monkeypatch.setenv("STUDIO_RUN_DEADLINE", "90")
    monkeypatch.setenv("STUDIO_STUCK_AFTER", "30")
    monkeypatch.setenv("STUDIO_DISK_RETRY_INTERVAL", "2.5")
    settings = load()
    assert (settings.run_deadline, settings.stuck_after, settings.disk_retry_interval) == (90, 30, 2.5)


def test_studio_status_shows_a_stuck_run(idle, monkeypatch, capsys):
    (gen_id,) = svc.generate(idle, small())
    started_ago(idle, gen_id, idle.settings.stuck_after + 60)
    monkeypatch.setenv("STUDIO_DATA_DIR", str(idle.settings.data_dir))
    monkeypatch.setenv("MOSAIC_API_KEY", TEST_KEY)
    monkeypatch.setenv("MOSAIC_BASE_URL", idle.settings.base_url)
    assert cli.main(["status"]) == 0
    out = capsys.readouterr().out
    [line] = [line for line in out.splitlines() if line.strip().startswith(gen_id)]
    assert "[STUCK]" in line and "no progress for 21 min: it may be stuck" in line
    assert "worker: not paused" in out
    cli._progress(idle, time.monotonic())(idle.store.many([gen_id]))  # the line `--wait` prints
    assert "1 stuck (no progress for 21 min)" in capsys.readouterr().err  # its real idle time


def test_wait_timeout_says_what_is_still_going_and_exits_3(clean_sim, cli_env, capsys):
    clean_sim.script_fault("run_hang", "run")
    argv = ["generate", "A kite over dunes", "--resolution", "480p", "--duration", "4", "--no-audio"]
    started = time.monotonic()
    assert cli.main([*argv, "--wait", "--timeout", "2"]) == cli.WAIT_TIMEOUT_EXIT == 3
    assert time.monotonic() - started < ENDS_WITHIN_S
    err = capsys.readouterr().err
    services = svc.build_services(settings_for(clean_sim, cli_env), start_worker=False)
    try:
        [gen] = services.store.active()  # not cancelled: the next studio process takes it up again
    finally:
        services.close()
    if gen.run_id:
        with api_client(clean_sim.base_url) as api:
            api.post(f"/agent_run/{gen.run_id}/cancel")  # the hanging run must not outlive the test
    assert gen.status == "running" and gen.run_id
    assert f"timed out after 2 s; still going: {gen.id} (running)" in err


def test_help_documents_the_exit_statuses():
    text = cli._parser().format_help()
    assert "3  --wait gave up after --timeout seconds" in text and "1  a run failed" in text
    with pytest.raises(SystemExit) as stop:
        cli.main(["generate", "x", "--wait", "--timeout", "0"])
    assert stop.value.code == 2


# ---------------------------------------------------------------- disk full


def test_a_full_database_pauses_the_worker_visibly_and_it_resumes_when_space_returns(
    clean_sim, tmp_path, cli_env, caplog, capsys
):
    caplog.set_level(logging.INFO, logger="studio.jobs")
    settings = settings_for(clean_sim, cli_env, disk_retry_interval=0.2)
    services = svc.build_services(settings, start_worker=False)
    try:
        # Queue takes until the history database is full to the last page: SQLite answers SQLITE_FULL.
        services.store.max_page_count = services.store.db.execute("PRAGMA page_count").fetchone()[0]
        ids: list[str] = []
        with pytest.raises(DiskFullError, match="is full"):
            for n in range(MAX_FILL):
                ids += svc.generate(services, small(f"A tram at dawn, take {n}"))
        assert ids, "at least one take fitted"
        services.runner.start()  # its first writes need a page the database may not take
        reason = wait_until(lambda: svc.worker_paused(services))
        assert reason.startswith("disk full:") and "full" in reason
        time.sleep(1.0)  # about five calm retries while the disk stays full
        assert all(g.status not in ("failed", "cancelled") for g in services.store.many(ids))

        with capsys.disabled():  # Streamlit's log handlers must not keep this test's captured stream
            at = open_page(STATUS, services)
        assert any(e.value.startswith("Disk full: the worker is paused") for e in at.error), at.error
        assert cli.main(["status"]) == 0  # another process's view: the note in the worker's lock file
        assert "worker paused: disk full" in capsys.readouterr().out
        cli._progress(services, time.monotonic())(services.store.many(ids))  # what `--wait` prints
        assert "worker paused: disk full" in capsys.readouterr().err

        services.store.max_page_count = None  # space returns
        gens = ended(services, ids, timeout=60)
        assert [g.status for g in gens] == ["done"] * len(ids), [g.error for g in gens]
        assert svc.worker_paused(services) is None
    finally:
        services.close()
    notes = [r for r in caplog.records if r.name == "studio.jobs" and r.levelno >= logging.WARNING]
    assert [r.getMessage().split(",")[0].split(":")[0] for r in notes] == [
        "job worker paused",
        "job worker resumed",
    ], [r.getMessage() for r in notes]  # one line per change, none per try, no tracebacks
    assert not [r for r in caplog.records if r.exc_info]


def test_a_download_into_a_full_disk_waits_for_space_and_loses_nothing(clean_sim, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="studio.jobs")
    # The download's own deadline is shorter than the wait for space: the wait is not held against it.
    settings = settings_for(clean_sim, tmp_path / "data", disk_retry_interval=0.2, download_deadline=0.8)
    services = svc.build_services(settings)
    media_dir = services.runner.media_dir
    probe = services.settings.data_dir / ".space-probe"  # what the runner writes to see whether space returned
    try:
        (gen_id,) = svc.generate(services, small("A heron at a pond"))
        # The video and the runner's look for space both land on a full disk (ENOSPC) for now.
        os.symlink("/dev/full", media_dir / f"{gen_id}.mp4.part")
        os.symlink("/dev/full", probe)
        wait_until(lambda: services.store.job(gen_id).get("progress") == 0.9)  # the run is over: saving
        time.sleep(1.0)
        assert not [r for r in caplog.records if r.exc_info], "no tracebacks for a full disk"
        gen = services.store.get(gen_id)
        assert gen is not None and gen.status == "downloading"  # waiting, not failed
        assert services.runner.space_probe == probe
        reason = wait_until(lambda: svc.worker_paused(services))
        assert "No space left on device" in reason
        probe.unlink()  # space returns
        [gen] = ended(services, [gen_id], timeout=60)
        assert gen.status == "done", gen.error
        video = services.media_path(gen.video_path)
        assert video is not None and video.is_file() and not video.is_symlink()
        assert gen.file_size and video.stat().st_size == gen.file_size
    finally:
        services.close()
    assert not [r for r in caplog.records if r.exc_info], "no tracebacks for a full disk"
    assert not probe.exists()


# ---------------------------------------------------------------- never accepted


def test_a_job_mosaic_never_accepts_fails_at_the_hard_limit(clean_sim, isolated_env):
    "An unreachable API (a port nothing listens on) kept a job submitting forever."
    with socket.socket() as closed:  # bound, never listening: every connect is refused
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}"
        settings = settings_for(clean_sim, isolated_env / "data", base_url=url, run_deadline=1.0, timeout=1.0)
        services = svc.build_services(settings)
        try:
            [gen] = ended(services, svc.generate(services, small()))
        finally:
            services.close()
    assert gen.status == "failed" and gen.error and not gen.run_id
    assert "Not accepted by Mosaic within" in gen.error and "STUDIO_RUN_DEADLINE" in gen.error
    assert "last error: " in gen.error and "none recorded" not in gen.error  # why it was not accepted
