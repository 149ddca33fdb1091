"""A whole studio deployment on 127.0.0.1, started the way docs/deploy.md says: the Mosaic simulator
as its own process, `studio serve` replicas, `studio worker` processes and Debian's haproxy with
deploy/haproxy.cfg, sharing one database and one media store (PostgreSQL and S3 once the store
and media layers take those URLs; until then one data folder).

The command lines are the templates in COMMANDS and the proxy's configuration is the file itself;
tests/test_deploy_doc.py checks that docs/deploy.md shows exactly these. Every process writes its
output to `<folder>/<name>.log`; `stop()` ends every one of them (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
HAPROXY_CONFIG = ROOT / "deploy" / "haproxy.cfg"
HAPROXY = "/usr/sbin/haproxy"
BIN = Path(sys.executable).parent  # the venv's `studio` command sits beside its python
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
WAIT_STEP_S = 0.2
CLUSTER_KEY = "mk_cluster_key_5e2a"  # the simulator takes any mk_ key; the studio then talks to it as Mosaic
BUCKET = "studio-media"
REPLICA_NAMES = ("a", "b")  # deploy/haproxy.cfg's server lines (and their cookie values)

# The command lines docs/deploy.md shows (with its example ports); {…} are filled per process.
COMMANDS = {
    "simulator": "studio simulate --host 127.0.0.1 --port {port} --latency {latency} --latency-per-second 0",
    "replica": "studio serve --address 127.0.0.1 --port {port}",
    "worker": "studio worker",
    "proxy": "haproxy -f deploy/haproxy.cfg -db",
}
# What the studio processes are given that docs/deploy.md's Environment section names...
DEPLOYMENT_VARS = (
    "MOSAIC_API_KEY",
    "MOSAIC_BASE_URL",
    "STUDIO_DATA_DIR",
    "STUDIO_DATABASE_URL",
    "STUDIO_MEDIA_URL",
    "AWS_ENDPOINT_URL",
    "AWS_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "STUDIO_RUN_WORKER",
    "STREAMLIT_SERVER_FILE_WATCHER_TYPE",
)
# ...and what only the test sets: the simulator finishes in seconds, so its runs are looked at often.
TEST_TUNING = {"STUDIO_POLL_INTERVAL": "0.5", "STUDIO_MAX_POLL_INTERVAL": "1", "STUDIO_FIRST_POLL_AFTER": "0"}
# The proxy's environment: where it listens and each replica's address (deploy/haproxy.cfg reads them).
PROXY_BIND = "STUDIO_PROXY_BIND"
REPLICA_VARS = {name: f"STUDIO_REPLICA_{name.upper()}" for name in REPLICA_NAMES}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def argv(command: str, **values: Any) -> list[str]:
    "A COMMANDS line as arguments: `studio` is this venv's command, haproxy Debian's."
    words = shlex.split(COMMANDS[command].format(**values))
    if words[0] == "studio":
        words[0] = str(BIN / "studio")
    elif words[0] == "haproxy":
        words[0] = HAPROXY
    return words


def wait_until(
    what: str, ready: Callable[[], bool], proc: Process | None = None, timeout: float = START_TIMEOUT_S
) -> None:
    "Poll `ready` until it is true; RuntimeError (with the process's log) when it is not in time or the process ended."
    deadline = time.monotonic() + timeout
    while not ready():
        if proc is not None and proc.popen is not None and proc.popen.poll() is not None:
            raise RuntimeError(f"{what}: the process ended ({proc.popen.returncode}):\n{proc.tail()}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not ready within {timeout:.0f} s" + (f":\n{proc.tail()}" if proc else ""))
        time.sleep(WAIT_STEP_S)


def answers(url: str, check: Callable[[httpx.Response], bool] = lambda r: r.status_code == 200) -> Callable[[], bool]:
    def ready() -> bool:
        try:
            return check(httpx.get(url, timeout=2))
        except httpx.HTTPError:
            return False

    return ready


@dataclass
class Process:
    "One process of the deployment: its command line, environment and log."

    name: str
    args: list[str]
    env: dict[str, str]
    log: Path
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> Process:
        handle = open(self.log, "ab")  # noqa: SIM115 (the child holds it; closed with the process)
        try:
            self.popen = subprocess.Popen(
                self.args, cwd=ROOT, env=self.env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
            )
        finally:
            handle.close()
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill(self) -> None:
        "SIGKILL: the process dies mid-work, as a crash or a lost machine would."
        if self.running:
            assert self.popen is not None
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait(STOP_TIMEOUT_S)

    def stop(self) -> None:
        if not self.running:
            return
        assert self.popen is not None
        self.popen.terminate()
        try:
            self.popen.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(STOP_TIMEOUT_S)

    def tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


@dataclass
class Cluster:
    """The deployment in `folder`: `replicas` studio servers (named a, b), `workers` worker processes
    (0: the replicas run the workers, as one server does), one simulator and haproxy in front.
    `database_url` / `media_url` (+ `aws`: the S3 variables) are the shared stores; None: one shared
    data folder holds both."""

    folder: Path
    replicas: int = 2
    workers: int = 0
    latency: float = 3.0
    database_url: str | None = None
    media_url: str | None = None
    aws: Mapping[str, str] = field(default_factory=dict)
    extra_env: Mapping[str, str] = field(default_factory=dict)
    processes: dict[str, Process] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)

    # ------------------------------------------------------------------ addresses

    def url(self, name: str) -> str:
        "http://127.0.0.1:<port> of a process by name (simulator, proxy, a, b)."
        return f"http://127.0.0.1:{self.ports[name]}"

    @property
    def proxy(self) -> str:
        return self.url("proxy")

    @property
    def simulator(self) -> str:
        return self.url("simulator")

    def replica_url(self, name: str) -> str:
        return self.url(name)

    # ------------------------------------------------------------------ environment

    @property
    def shared_folder(self) -> bool:
        "True while the history or the media are files in one data folder every process shares."
        return not (self.database_url and self.media_url)

    def data_dir(self, name: str) -> Path:
        "A process's data folder: the shared one, or its own once PostgreSQL and S3 hold everything."
        return self.folder / ("data" if self.shared_folder else f"{name}-data")

    def studio_env(self, name: str, *, worker_inside: bool) -> dict[str, str]:
        "The environment of studio process `name`: the shared stores, the simulator as Mosaic."
        env = {k: v for k, v in os.environ.items() if not k.startswith(("STUDIO_", "MOSAIC_", "AWS_", "STREAMLIT_"))}
        env.update(
            MOSAIC_API_KEY=CLUSTER_KEY,
            MOSAIC_BASE_URL=self.simulator,
            STUDIO_DATA_DIR=str(self.data_dir(name)),
            STREAMLIT_SERVER_FILE_WATCHER_TYPE="none",
            **TEST_TUNING,
        )
        if self.database_url:
            env["STUDIO_DATABASE_URL"] = self.database_url
        if self.media_url:
            env["STUDIO_MEDIA_URL"] = self.media_url
            env.update(self.aws)
        if not worker_inside:
            env["STUDIO_RUN_WORKER"] = "0"
        env.update(self.extra_env)
        return env

    # ------------------------------------------------------------------ start / stop

    def _add(self, name: str, args: list[str], env: dict[str, str]) -> Process:
        proc = Process(name, args, env, self.folder / f"{name}.log").start()
        self.processes[name] = proc
        return proc

    def start(self) -> Cluster:
        self.folder.mkdir(parents=True, exist_ok=True)
        try:
            self._start_simulator()
            for name in REPLICA_NAMES[: self.replicas]:
                self.start_replica(name)
            for n in range(1, self.workers + 1):
                self.start_worker(n)
            for name in REPLICA_NAMES[: self.replicas]:
                self.wait_replica(name)
            self.start_proxy()
        except BaseException:
            self.stop()
            raise
        return self

    def _start_simulator(self) -> None:
        port = self.ports.setdefault("simulator", free_port())
        env = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_SIM_")}
        env["STUDIO_SIM_MEDIA_DIR"] = str(self.folder / "simulator")
        proc = self._add("simulator", argv("simulator", port=port, latency=self.latency), env)
        wait_until("the simulator", answers(f"{self.simulator}/_sim/health"), proc)

    def start_replica(self, name: str) -> Process:
        "Start (or restart) replica `name` on its port; not waited for (see wait_replica)."
        port = self.ports.setdefault(name, free_port())
        return self._add(name, argv("replica", port=port), self.studio_env(name, worker_inside=self.workers == 0))

    def wait_replica(self, name: str) -> None:
        wait_until(f"replica {name}", answers(f"{self.url(name)}/healthz"), self.processes[name])

    def start_worker(self, n: int) -> Process:
        name = f"worker{n}"
        return self._add(name, argv("worker"), self.studio_env(name, worker_inside=True))

    def proxy_env(self, name: str = "proxy", targets: tuple[str, ...] = REPLICA_NAMES) -> dict[str, str]:
        """deploy/haproxy.cfg's variables: where proxy `name` listens, where each server line points.
        Fewer targets than server lines: the spare lines name the targets again, so the proxy sends
        everything to those replicas."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_")}
        env[PROXY_BIND] = f"127.0.0.1:{self.ports[name]}"
        for n, var in enumerate(REPLICA_VARS.values()):
            env[var] = f"127.0.0.1:{self.ports[targets[n % len(targets)]]}"
        return env

    def start_proxy(self, name: str = "proxy", targets: tuple[str, ...] | None = None) -> Process:
        "haproxy with deploy/haproxy.cfg in front of `targets` (by default every replica)."
        targets = targets or REPLICA_NAMES[: self.replicas]
        self.ports.setdefault(name, free_port())
        proc = self._add(name, argv("proxy"), self.proxy_env(name, targets))
        wait_until(f"{name}", answers(f"{self.url(name)}/healthz"), proc)
        for target in sorted(set(targets)):
            wait_until(f"{name} sees replica {target}", partial(self._reaches, name, target), proc)
        return proc

    def _reaches(self, proxy: str, replica: str) -> bool:
        return self.pinned_get(replica, "/healthz", proxy=proxy).status_code == 200

    def pinned_get(self, replica: str, path: str, *, proxy: str = "proxy") -> httpx.Response:
        "A GET through a proxy carrying the stickiness cookie of `replica` (599: no answer)."
        try:
            return httpx.get(f"{self.url(proxy)}{path}", cookies={"SRV": replica}, timeout=10)
        except httpx.HTTPError:
            return httpx.Response(599)

    def sim_stats(self) -> dict[str, Any]:
        "The simulator's counters (requests per route, runs by status)."
        return dict(httpx.get(f"{self.simulator}/_sim/stats", timeout=10).json())

    def stop(self) -> None:
        "Stop every process, proxy first, simulator last."
        for proc in reversed(list(self.processes.values())):
            try:
                proc.stop()
            except (OSError, subprocess.SubprocessError):
                if proc.popen is not None:
                    proc.popen.kill()

    def logs(self) -> str:
        "The end of every process's log (for a failing test's message)."
        return "\n".join(f"--- {name}\n{proc.tail(1500)}" for name, proc in self.processes.items())
