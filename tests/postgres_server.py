"""A real PostgreSQL server for the tests, started on 127.0.0.1 from Debian's `postgresql` binaries
(team-and-scale.md §4): `initdb` into a folder of its own, `pg_ctl start` on a free port with its
socket in that folder, fsync off. Root cannot run PostgreSQL, so as root the server runs as the
`postgres` user that Debian's package creates. One server per test process; each test gets a new,
empty database on it (`fresh_database`).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

SERVER_USER = "postgres"  # Debian's package makes this account; the superuser inside is named the same
START_TIMEOUT_S = 60


def postgres_bin() -> Path:
    "The newest installed PostgreSQL's bin folder (15 or later)."
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    if not found or int(found[-1].parent.parent.name) < 15:
        raise RuntimeError("PostgreSQL 15+ is not installed (scripts/test installs Debian's `postgresql`)")
    return found[-1].parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    "One PostgreSQL cluster in `folder` (made if missing), listening on 127.0.0.1:`port`."

    def __init__(self, folder: Path | None = None, port: int | None = None):
        self.folder = Path(folder or tempfile.mkdtemp(prefix="studio-pg-"))
        self.port = port or free_port()
        self.bin = postgres_bin()
        self._as_other_user = os.geteuid() == 0

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.bin / args[0]), *args[1:]]
        if self._as_other_user:
            cmd = ["runuser", "-u", SERVER_USER, "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=START_TIMEOUT_S, check=False)

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def url(self) -> str:
        return self.url_for("postgres")

    def url_for(self, database: str, user: str = SERVER_USER, password: str | None = None) -> str:
        login = f"{user}:{password}" if password else user
        return f"postgresql://{login}@127.0.0.1:{self.port}/{database}"

    def start(self) -> PostgresServer:
        self.folder.mkdir(parents=True, exist_ok=True)
        if self._as_other_user:
            account = pwd.getpwnam(SERVER_USER)
            os.chmod(self.folder, 0o755)
            os.chown(self.folder, account.pw_uid, account.pw_gid)
        if not (self.data / "PG_VERSION").exists():
            init = ("-A", "trust", "-U", SERVER_USER, "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
            done = self._run("initdb", "-D", str(self.data), *init)
            if done.returncode:
                raise RuntimeError(f"initdb failed: {done.stderr.strip()}")
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        log_file = str(self.folder / "server.log")
        done = self._run("pg_ctl", "-D", str(self.data), "-l", log_file, "-o", options, "-w", "start")
        if done.returncode:
            log = (self.folder / "server.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"pg_ctl start failed: {done.stderr.strip()}\n{log}")
        return self

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    def sql(self, statement: str, database: str = "postgres") -> str:
        "Run one statement with psql as the superuser; its output (tuples only)."
        done = self._run("psql", "-h", "127.0.0.1", "-p", str(self.port), "-d", database, "-tAc", statement)
        if done.returncode:
            raise RuntimeError(f"psql failed: {done.stderr.strip()}")
        return done.stdout.strip()

    def fresh_database(self, prefix: str = "t", *, owner: str | None = None, password: str | None = None) -> str:
        "A new empty database on this server (owned by `owner`, who logs in with `password`); its URL."
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        self.sql(f"CREATE DATABASE {name}" + (f" OWNER {owner}" if owner else ""))
        return self.url_for(name, owner, password) if owner else self.url_for(name)

    def password_role(self, password: str) -> str:
        "A new role that must log in with `password` (scram; every other login is trusted); its name."
        role = f"pw_{uuid.uuid4().hex[:8]}"
        hba = self.data / "pg_hba.conf"
        hba.write_text(f"host all {role} 127.0.0.1/32 scram-sha-256\n" + hba.read_text())
        self.sql(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
        self.sql("SELECT pg_reload_conf()")
        return role

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.remove()
