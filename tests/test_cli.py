"""The `studio` command's plumbing: the installed entry point, `simulate` standalone, bad input."""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from support import settings_for, use_sim_env

from studio import cli
from studio import services as svc
from studio.store import HistoryStore

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_console_script_is_installed():
    exe = shutil.which("studio", path=str(Path(sys.executable).parent))
    assert exe, "pip install -e . should install the `studio` command"
    out = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0
    for command in ("serve", "simulate", "generate", "grid"):
        assert command in out.stdout


def test_simulate_runs_the_simulator_standalone(tmp_path):
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "studio.cli", "simulate", "--port", str(port), "--latency", "0.2"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/whoami", headers={"Authorization": "Bearer mk_x"})
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and proc.poll() is None, "simulator did not start"
                time.sleep(0.2)
        assert answer.status_code == 200 and answer.json()["organization_id"]
        assert httpx.get(f"http://127.0.0.1:{port}/whoami").status_code == 401
    finally:
        proc.terminate()
        proc.wait(15)


def test_bad_input_exits_2_with_a_message(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "studio.cli", "generate", "   ", "--wait"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2 and "prompt is empty" in out.stderr
    assert out.stderr.startswith("error: ") and out.stderr.strip().count("\n") == 0
    out = subprocess.run(
        [sys.executable, "-m", "studio.cli", "grid", "x", "--resolutions", "4k"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2 and "choose from 480p, 720p, 1080p" in out.stderr
    assert out.stderr.startswith("error: ") and out.stderr.strip().count("\n") == 0  # one line, no usage dump


def test_data_folder_is_resolved_where_the_command_runs(tmp_path, monkeypatch):
    from studio.settings import Settings

    monkeypatch.delenv("STUDIO_DATA_DIR")
    monkeypatch.chdir(tmp_path)
    assert Settings().data_dir == tmp_path / "studio-data"
    assert Settings(data_dir="rel").data_dir == tmp_path / "rel"


def test_serve_is_the_server_so_a_plain_kill_stops_it(tmp_path):
    port = free_port()
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "studio.cli", "serve", "--port", str(port), "--address", "127.0.0.1"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    log.close()
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).json()
                break
            except (httpx.TransportError, ValueError):
                assert time.monotonic() < deadline and proc.poll() is None, "studio serve did not start"
                time.sleep(0.3)
        assert health["worker"] == "running" and health["mode"] == "simulator"
        assert (tmp_path / "data" / "studio.db").exists()  # the data folder the command was given
        data = (tmp_path / "data").resolve()  # its start-up line says which stores it uses
        stores = f"studio serve: history: SQLite {data / 'studio.db'}, media: the folder {data / 'media'}\n"
        assert stores in (tmp_path / "serve.log").read_text()
        proc.terminate()
        assert proc.wait(30) is not None
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_status_says_a_stray_whose_cancel_was_refused_had_already_ended(sim, tmp_path, monkeypatch, capsys):
    "A stray whose cancel got 409 (it had completed, and billed) is not shown as 'cancelled'."
    use_sim_env(monkeypatch, sim)
    data = tmp_path / "data"
    store = HistoryStore(data / "studio.db")  # where `studio status` (STUDIO_DATA_DIR) reads
    try:
        for run_id, outcome in [
            ("run-billed", "it had already ended: 409 Conflict: run run-billed is completed"),
            ("run-stopped", "cancelled"),
            ("run-pending", "cancel not yet accepted: 503 Service Unavailable"),
        ]:
            assert store.claim_stray(run_id, None, "agent-1", "a late duplicate")
            store.stray_cancelled(run_id, outcome, ended=not run_id.endswith("pending"))
    finally:
        store.close()
    assert cli.main(["status"]) == 0
    lines = {line.split()[1]: line for line in capsys.readouterr().out.splitlines() if line.startswith("  run ")}
    assert "already ended: 409" in lines["run-billed"] and "; cancelled" not in lines["run-billed"]
    assert "; cancelled " in lines["run-stopped"]
    assert "NOT cancelled yet" in lines["run-pending"] and "503" in lines["run-pending"]


STUCK_AFTER_S = 1.0


def test_the_wait_line_gives_how_long_the_stuck_run_has_been_idle(clean_sim, tmp_path, monkeypatch, capsys):
    "'1 stuck (no progress for 1 s)' was the threshold; the line gives the run's real idle time."
    use_sim_env(monkeypatch, clean_sim)
    monkeypatch.setenv("STUDIO_STUCK_AFTER", str(STUCK_AFTER_S))
    clean_sim.script_fault("run_hang", route="run")
    code = cli.main(["generate", "A fox that never arrives", "--wait", "--timeout", "6"])
    out = capsys.readouterr()
    services = svc.build_services(settings_for(clean_sim, tmp_path / "data"), start_worker=False)
    try:  # the hung run would otherwise hold the session simulator for later tests
        svc.cancel(services, json.loads(out.out)["id"])
    finally:
        services.close()
    assert code == cli.WAIT_TIMEOUT_EXIT
    idle = [int(m) for m in re.findall(r"1 stuck \(no progress for (\d+) s\)", out.err)]
    assert idle, "the run was never reported stuck"
    assert max(idle) > STUCK_AFTER_S  # it grew past the threshold while the command waited


def test_a_command_starts_lean_on_the_default_studio(tmp_path):
    """The default install stays light and quick to start: a command on a SQLite studio and a media
    folder imports neither psycopg nor boto3 (only a postgresql:// or s3:// URL does), nor pandas
    and numpy (sqlite-utils would import them at once: studio.sqlite_lib), which still import later."""
    probe = (
        "import sys; from studio import cli; from studio.store import HistoryStore; "
        f"HistoryStore({str(tmp_path / 's.db')!r}).count(); "
        "print(sorted(m for m in ('psycopg', 'boto3', 'pandas', 'numpy') if m in sys.modules)); "
        "import numpy; print(numpy.zeros(2).tolist())"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.splitlines() == ["[]", "[0.0, 0.0]"]
