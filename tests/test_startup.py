"""Start-up that survives a crowd and a bad disk (issue 7 §4) and a key that is refused before it
can leak (§5): eight processes opening one new data folder, a database that is not ours to change,
every setting checked with a message naming its variable, and the key in no byte written."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from urllib.parse import quote, quote_plus

import httpx
import pytest
from sqlite_utils import Database
from streamlit.testing.v1 import AppTest
from support import ENTRY, TEST_KEY

from studio import cli
from studio import services as svc
from studio import settings as studio_settings
from studio.errors import ApiStatusError, SettingsError, StoreError
from studio.migrations import known_migrations, migrate
from studio.models import VideoGenerationParams
from studio.mosaic import MosaicClient
from studio.store import HistoryStore

ROOT = Path(__file__).resolve().parent.parent
CROWD = 8
CROWD_ROUNDS = 4
SUBPROCESS_TIMEOUT_S = 120

# ------------------------------------------------------------------ 1. a crowd opening a new folder

# One child process: imports the studio once, then for each round waits for "go" on stdin (so all
# eight open the same new folder at the same moment), opens the store and queues a 2 x 3 grid.
CROWD_CHILD = textwrap.dedent(
    """
    import sys
    from studio.errors import StudioError
    from studio.models import VideoGenerationParams
    from studio.store import HistoryStore

    cells = [(VideoGenerationParams(prompt="crowd", resolution=r, aspect_ratio=a), f"{r} {a}")
             for r in ("480p", "720p") for a in ("16:9", "1:1", "9:16")]
    for folder in sys.argv[1:]:
        print("ready", flush=True)
        sys.stdin.readline()
        try:
            store = HistoryStore(folder + "/studio.db")
            ids = store.add_generations(cells, grid_id="g")
            print("ok", len(ids), flush=True)
        except StudioError as err:
            print("error", str(err).replace("\\n", " "), flush=True)
        except Exception as err:
            print("crash", type(err).__name__, str(err).replace("\\n", " "), flush=True)
    """
)


def test_eight_processes_opening_a_new_data_folder_all_succeed(tmp_path):
    folders = [str(tmp_path / f"round{n}") for n in range(CROWD_ROUNDS)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CROWD_CHILD, *folders],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(CROWD)
    ]
    outcomes: list[list[str]] = []
    try:
        for _ in folders:
            for proc in procs:
                assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
            for proc in procs:  # all eight are waiting: let them go together
                assert proc.stdin is not None
                proc.stdin.write("go\n")
                proc.stdin.flush()
            outcomes.append([proc.stdout.readline().strip() for proc in procs if proc.stdout is not None])
    finally:
        for proc in procs:
            proc.wait(SUBPROCESS_TIMEOUT_S)
    failures = [line for round_ in outcomes for line in round_ if line != "ok 6"]
    assert not failures, f"{len(failures)} of {CROWD * CROWD_ROUNDS} opens failed: {failures[:3]}"
    for folder in folders:  # every grid was queued, and the schema was made once
        store = HistoryStore(Path(folder) / "studio.db")
        assert store.db.execute("SELECT count(*) FROM generations").fetchone()[0] == CROWD * 6
        names = [r[0] for r in store.db.execute("SELECT name FROM _sqlite_migrations")]
        assert names == known_migrations()
        store.close()


def test_a_process_stuck_in_the_migration_pass_is_named_not_waited_on_forever(tmp_path):
    lock = tmp_path / "schema.lock"
    with open(lock, "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # another process, mid-migration
        db = Database(sqlite3.connect(tmp_path / "studio.db"))
        with pytest.raises(StoreError, match="Another studio process"):
            migrate(db, tmp_path / "studio.db", lock, timeout_s=0.3)
        db.close()
    assert sqlite3.connect(tmp_path / "studio.db").execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0


# ------------------------------------------------------------------ 2. a database not ours to change


def _good_db(folder: Path) -> Path:
    store = HistoryStore(folder / "studio.db")
    store.add_generation(VideoGenerationParams(prompt="kept"))
    store.close()
    return folder / "studio.db"


def test_a_schema_version_is_kept(tmp_path):
    db = _good_db(tmp_path)
    version = sqlite3.connect(db).execute("PRAGMA user_version").fetchone()[0]
    assert version == len(known_migrations()) > 0


@pytest.mark.parametrize("newer", ["unknown migration", "higher version"])
def test_a_database_from_a_newer_studio_is_refused_and_left_alone(tmp_path, newer):
    db = _good_db(tmp_path)
    conn = sqlite3.connect(db)
    if newer == "unknown migration":
        conn.execute(
            "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) VALUES ('studio', 'm999_future', 'x')"
        )
    else:
        conn.execute(f"PRAGMA user_version = {len(known_migrations()) + 1}")
    conn.commit()
    conn.close()
    before = db.read_bytes()
    with pytest.raises(StoreError, match="newer version of the studio"):
        HistoryStore(db)
    assert db.read_bytes() == before


def _bad_db(kind: str, folder: Path, good: bytes) -> Path:
    path = folder / "studio.db"
    if kind == "directory":
        path.mkdir(parents=True)
        (path / "keep.txt").write_text("mine")
        return path
    folder.mkdir(parents=True, exist_ok=True)
    data = {
        "random bytes": os.urandom(64 * 1024),
        "truncated": good[: len(good) // 2],
        "header only": good[:100],
        "damaged header": good[:16] + os.urandom(84) + good[100:],
        "text": b"not a database\n" * 100,
    }[kind]
    path.write_bytes(data)
    return path


def _snapshot(path: Path) -> dict[str, bytes]:
    if path.is_dir():
        return {p.name: p.read_bytes() for p in path.iterdir()}
    return {path.name: path.read_bytes()}


BAD_DBS = ["random bytes", "truncated", "header only", "damaged header", "text", "directory"]


@pytest.mark.parametrize("kind", BAD_DBS)
def test_a_bad_database_gets_one_line_and_exit_2_and_is_never_overwritten(tmp_path, monkeypatch, capsys, kind):
    good = _good_db(tmp_path / "good").read_bytes()
    data = tmp_path / "data"
    path = _bad_db(kind, data, good)
    before = _snapshot(path)
    monkeypatch.setenv("STUDIO_DATA_DIR", str(data))
    code = cli.main(["generate", "A lighthouse", "--resolution", "480p"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("error: ") and err.strip().count("\n") == 0 and str(path) in err
    assert ("is a folder" if kind == "directory" else "move it aside") in err
    assert _snapshot(path) == before
    wal = data / "studio.db-wal"  # SQLite may open an empty one for a file whose header says WAL
    assert not wal.exists() or wal.stat().st_size == 0


def test_serve_checks_the_database_before_the_server_starts(tmp_path):
    data = tmp_path / "data"
    path = _bad_db("random bytes", data, b"")
    before = path.read_bytes()
    env = {**os.environ, "STUDIO_DATA_DIR": str(data), "MOSAIC_API_KEY": ""}
    try:  # a subprocess: `serve` becomes the server (exec), which must not happen here
        out = subprocess.run(
            [sys.executable, "-m", "studio.cli", "serve", "--port", "9", "--address", "127.0.0.1"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    except subprocess.TimeoutExpired as err:
        raise AssertionError("studio serve started a server on a damaged database") from err
    assert out.returncode == 2 and out.stderr.startswith("error: ") and "move it aside" in out.stderr
    assert path.read_bytes() == before


# ------------------------------------------------------------------ 3. every setting checked

# (variable, value, what the message says besides the variable's name); one or more per field.
BAD_SETTINGS = [
    ("STUDIO_DATABASE_URL", "mysql://u:pw@h/db", "sqlite:///path or postgresql://"),
    ("STUDIO_MEDIA_URL", "https://bucket.example/media", "an absolute folder path (/srv/studio/media) or s3://"),
    ("STUDIO_MEDIA_URL", "studio-media/prod", "not a relative path; did you mean s3://studio-media/prod?"),
    ("STUDIO_MEDIA_PUBLIC_ENDPOINT", "media.example.com", "an http(s) address with no path"),
    ("STUDIO_MAX_IN_FLIGHT", "0", "greater than or equal to 1"),
    ("STUDIO_MAX_IN_FLIGHT", "-1", "greater than or equal to 1"),
    ("STUDIO_MAX_IN_FLIGHT", "abc", "integer"),
    ("STUDIO_MAX_IN_FLIGHT", "1e9", "integer"),
    ("STUDIO_TIMEOUT", "0", "greater than 0"),
    ("STUDIO_TIMEOUT", "-5", "greater than 0"),
    ("STUDIO_TIMEOUT", "nan", "finite"),
    ("STUDIO_TIMEOUT", "inf", "finite"),
    ("STUDIO_TIMEOUT", "1e300", "less than or equal to"),
    ("STUDIO_POLL_INTERVAL", "0", "greater than 0"),
    ("STUDIO_MAX_POLL_INTERVAL", "inf", "finite"),
    ("STUDIO_MAX_RETRIES", "-1", "greater than or equal to 0"),
    ("STUDIO_MAX_RETRIES", "2.5", "integer"),
    ("STUDIO_RUN_FLOW", "bogus", "'reuse' or 'three_call'"),
    ("MOSAIC_BASE_URL", "notaurl", "http:// or https://"),
    ("MOSAIC_BASE_URL", "ftp://api.mosaic.so", "http:// or https://"),
    ("MOSAIC_BASE_URL", "https://", "host"),
    ("MOSAIC_BASE_URL", "http://exa mple.com", "space"),
    ("MOSAIC_BASE_URL", "http://example.com/\x07", "control character"),
    ("STUDIO_DATA_DIR", "", "empty"),
    ("STUDIO_PUBLIC_URL", "studio.example.com", "http:// or https://"),
    ("STUDIO_SHARE_URL", "share.example.com", "http:// or https://"),
    ("STUDIO_TRUSTED_USER_HEADER", "X Forwarded Email", "HTTP header name"),
    ("STUDIO_CREDITS_PER_SECOND", "-1", "zero or more"),
    ("STUDIO_CAP_PERSON_DAY", "0", "greater than 0"),
    ("STUDIO_CAP_STUDIO_DAY", "abc", "valid number"),
    ("STUDIO_CAP_UNIT", "bananas", "'seconds' or 'credits'"),
    ("STUDIO_AUTHOR", "two\nlines", "control character"),
    ("STUDIO_CONFIRM_ABOVE_CELLS", "0", "greater than or equal to 1"),
    ("STUDIO_SIM_LATENCY", "-1", "greater than or equal to 0"),
    ("STUDIO_SIM_LATENCY_PER_SECOND", "nan", "finite"),
    ("STUDIO_FIRST_POLL_AFTER", "-1", "greater than or equal to 0"),
    ("STUDIO_WEBHOOK_POLL_INTERVAL", "0", "greater than 0"),
    ("STUDIO_STUCK_AFTER", "inf", "finite"),
    ("STUDIO_UNKNOWN_OUTCOME_HORIZON", "0", "greater than 0"),
    ("STUDIO_STORAGE_HOSTS", "ftp://files.example.com", "http:// or https://"),
    ("STUDIO_STORAGE_HOSTS", "two words.example.com", "not a host name"),
    ("STUDIO_DOWNLOAD_MAX_BYTES", "0", "greater than 0"),
    ("STUDIO_DOWNLOAD_MAX_BYTES", "abc", "integer"),
    ("STUDIO_DOWNLOAD_DEADLINE", "inf", "finite"),
    ("STUDIO_DOWNLOAD_MIN_RATE", "-1", "greater than or equal to 0"),
    ("STUDIO_DOWNLOAD_RATE_WINDOW", "0", "greater than 0"),
    ("STUDIO_RUN_DEADLINE", "0", "greater than 0"),
    ("STUDIO_DISK_RETRY_INTERVAL", "inf", "finite"),
    ("STUDIO_WEBHOOK_SECRET", "two words", "space"),
    ("MOSAIC_API_KEY", "mk_a b", "space"),
    # many workers (issue 10 §2)
    ("STUDIO_RUN_WORKER", "perhaps", "valid boolean"),
    ("STUDIO_WORKER_LEASE_S", "0.5", "greater than or equal to 1"),
]


# The built-in simulator's own variables (simulator mode is the default: no key), by the same rule.
BAD_SIM_SETTINGS = [
    ("STUDIO_SIM_TIME_SCALE", "0", "greater than 0"),
    ("STUDIO_SIM_RENDER_WORKERS", "0", "greater than or equal to 1"),
    ("STUDIO_SIM_AUTO_DURATION", "99", "less than or equal to 15"),
    ("STUDIO_SIM_LATENCY_SEED", "abc", "integer"),
    ("STUDIO_SIM_REALISTIC", "maybe", "boolean"),
    ("STUDIO_SIM_UPLOAD_MAX_BYTES", "notjson", "JSON"),
    ("STUDIO_SIM_UPLOAD_MAX_BYTES", '{"image": -1}', "greater than 0"),
    ("STUDIO_SIM_UPLOAD_MAX_BYTES", '{"picture": 5}', "no upload type picture"),
    ("STUDIO_SIM_CREDITS_BALANCE", "nan", "finite"),
    ("STUDIO_SIM_FAULTS__ROUTES", '["bogus"]', "bogus"),
]


@pytest.mark.parametrize("name,value,says", BAD_SIM_SETTINGS, ids=[f"{n}={v!r}" for n, v, _ in BAD_SIM_SETTINGS])
def test_a_bad_simulator_setting_is_one_line_naming_the_variable_and_exit_2(
    tmp_path, monkeypatch, capsys, name, value, says
):
    monkeypatch.setenv(name, value)
    code = cli.main(["generate", "A lighthouse", "--resolution", "480p"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("error: ") and err.strip().count("\n") == 0
    assert name in err and says in err
    assert not (tmp_path / "data" / "studio.db").exists()  # refused before anything was opened


def _busy_port() -> socket.socket:
    "A socket listening on a free local port: that port is taken while it is open."
    held = socket.socket()
    held.bind(("127.0.0.1", 0))
    held.listen()
    return held


@pytest.mark.parametrize(
    "argv,env,says",
    [
        (["--time-scale", "0"], {}, "--time-scale"),
        (["--port", "99999"], {}, "--port"),
        (["--fault-routes", "bogus"], {}, "--fault-routes"),
        ([], {"STUDIO_SIM_TIME_SCALE": "0"}, "STUDIO_SIM_TIME_SCALE"),
        ([], {"STUDIO_SIM_UPLOAD_MAX_BYTES": "notjson"}, "STUDIO_SIM_UPLOAD_MAX_BYTES"),
        (["--host", "127.0.0.1", "--port", "busy"], {}, "--port"),
    ],
)
def test_studio_simulate_refuses_a_bad_value_in_one_line(monkeypatch, capsys, argv, env, says):
    from studio.simulator import cli as sim_cli

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with _busy_port() as held:
        argv = [str(held.getsockname()[1]) if a == "busy" else a for a in argv]
        code = sim_cli.main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("error: ") and err.strip().count("\n") == 0 and says in err, err


@pytest.mark.parametrize("address", ["notanip", "8.8.8.8", "busy"])
def test_serve_checks_the_address_and_port_before_the_server_starts(tmp_path, address):
    env = {**os.environ, "STUDIO_DATA_DIR": str(tmp_path / "data"), "MOSAIC_API_KEY": ""}
    with _busy_port() as held:
        port = str(held.getsockname()[1]) if address == "busy" else "8599"
        where = "127.0.0.1" if address == "busy" else address
        try:  # a subprocess: `serve` becomes the server (exec), which must not happen here
            out = subprocess.run(
                [sys.executable, "-m", "studio.cli", "serve", "--port", port, "--address", where],
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
        except subprocess.TimeoutExpired as err:
            raise AssertionError(f"studio serve started a server on {where}:{port}") from err
    assert out.returncode == 2, out.stderr
    assert out.stderr.startswith("error: ") and out.stderr.strip().count("\n") == 0, out.stderr
    assert ("--address" if address != "busy" else "--port") in out.stderr


def _env_name(field: str) -> str:
    return studio_settings.ENV_NAMES.get(field, studio_settings.ENV_PREFIX + field.upper())


def test_the_table_covers_every_setting():
    covered = {name for name, _, _ in BAD_SETTINGS} | {"STUDIO_DATA_DIR"}  # folders: tests below
    assert covered == {_env_name(field) for field in studio_settings.Settings.model_fields}


@pytest.mark.parametrize("name,value,says", BAD_SETTINGS, ids=[f"{n}={v!r}" for n, v, _ in BAD_SETTINGS])
def test_a_bad_setting_is_one_line_naming_the_variable_and_exit_2(tmp_path, monkeypatch, capsys, name, value, says):
    monkeypatch.setenv(name, value)
    if name == "MOSAIC_API_KEY":
        monkeypatch.setenv("MOSAIC_BASE_URL", "http://127.0.0.1:9")  # never reached: refused first
    code = cli.main(["generate", "A lighthouse", "--resolution", "480p"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("error: ") and err.strip().count("\n") == 0
    assert name in err and says in err
    assert not (tmp_path / "data" / "studio.db").exists()  # refused before anything was opened


def test_every_numeric_setting_refuses_nonsense():
    for field, info in studio_settings.Settings.model_fields.items():
        if info.annotation not in (int, float):
            continue
        for value in ("abc", "nan", "inf", "-1"):
            with pytest.raises(SettingsError, match=_env_name(field)):
                studio_settings.load(**{field: value})


def test_a_bad_setting_from_the_real_command_is_not_a_traceback(tmp_path):
    env = {**os.environ, "STUDIO_TIMEOUT": "inf", "STUDIO_DATA_DIR": str(tmp_path / "d"), "MOSAIC_API_KEY": ""}
    out = subprocess.run(
        [sys.executable, "-m", "studio.cli", "generate", "x"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT_S,
    )
    assert out.returncode == 2 and out.stderr.startswith("error: ") and "STUDIO_TIMEOUT" in out.stderr
    assert "Traceback" not in out.stderr and out.stderr.strip().count("\n") == 0


@pytest.mark.parametrize("where", ["a file", "under a file", "media is a file"])
def test_a_data_folder_that_cannot_be_used_is_named(tmp_path, monkeypatch, capsys, where):
    blocker = tmp_path / "blocker"
    blocker.write_text("mine")
    folder = {"a file": blocker, "under a file": blocker / "data", "media is a file": tmp_path / "d"}[where]
    if where == "media is a file":
        folder.mkdir()
        (folder / "media").write_text("mine")
    monkeypatch.setenv("STUDIO_DATA_DIR", str(folder))
    assert cli.main(["generate", "x"]) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith("error: ")
        and "STUDIO_DATA_DIR" in err
        and str(blocker if where != "media is a file" else folder) in err
    )
    assert blocker.read_text() == "mine"


def test_a_read_only_data_folder_is_named(tmp_path):
    """A folder the studio may not write to. Tests run as root, which writes through any mode bits
    (CAP_DAC_OVERRIDE), so as root the command runs without that capability (`setpriv`): the kernel
    then refuses the write for real, as it does for another user or on a read-only mount."""
    folder = tmp_path / "data"
    folder.mkdir()
    folder.chmod(0o555)
    prefix: list[str] = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("as root a read-only folder needs setpriv (util-linux) to be read-only")
        prefix = [setpriv, "--bounding-set", "-dac_override,-dac_read_search", "--"]
    env = {**os.environ, "STUDIO_DATA_DIR": str(folder), "MOSAIC_API_KEY": ""}
    try:
        out = subprocess.run(
            [*prefix, sys.executable, "-m", "studio.cli", "generate", "x"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=SUBPROCESS_TIMEOUT_S,
        )
    finally:
        folder.chmod(0o755)
    assert out.returncode == 2, out.stderr
    assert out.stderr.startswith("error: ") and "STUDIO_DATA_DIR" in out.stderr and "cannot write" in out.stderr
    assert "Traceback" not in out.stderr
    assert list(folder.iterdir()) == []


# ------------------------------------------------------------------ web: a clear page


@pytest.fixture
def no_shared_studio():
    svc.close_shared_services()
    yield
    svc.close_shared_services()


def test_the_web_app_shows_a_clear_page_for_a_bad_setting(monkeypatch, no_shared_studio):
    monkeypatch.setenv("STUDIO_MAX_IN_FLIGHT", "abc")
    at = AppTest.from_file(str(ENTRY), default_timeout=30)
    at.run()
    assert not at.exception, at.exception
    assert "cannot start" in at.title[0].value
    assert "STUDIO_MAX_IN_FLIGHT" in at.error[0].value.replace("\\", "")  # markdown-escaped


def test_the_web_app_shows_a_clear_page_for_a_bad_database(tmp_path, monkeypatch, no_shared_studio):
    data = tmp_path / "data"
    path = _bad_db("random bytes", data, b"")
    before = path.read_bytes()
    monkeypatch.setenv("STUDIO_DATA_DIR", str(data))
    at = AppTest.from_file(str(ENTRY), default_timeout=30)
    at.run()
    assert not at.exception, at.exception
    assert "move it aside" in at.error[0].value.replace("\\", "")
    assert path.read_bytes() == before


def test_the_server_boots_with_a_bad_database_and_says_why(tmp_path, no_shared_studio):
    from starlette.applications import Starlette
    from starlette.testclient import TestClient

    from studio import web

    data = tmp_path / "data"
    _bad_db("random bytes", data, b"")
    settings = studio_settings.Settings(data_dir=data, api_key="")
    app = Starlette(lifespan=web.make_lifespan(lambda: settings), routes=web.make_routes(settings))
    with TestClient(app) as client:  # the lifespan does not crash the server
        health = client.get("/healthz")
    assert health.status_code == 503 and "move it aside" in health.json()["error"]


def test_with_bad_settings_the_server_answers_503_with_the_reason_not_html(no_shared_studio):
    from starlette.applications import Starlette
    from starlette.testclient import TestClient

    from studio import web

    def bad() -> studio_settings.Settings:
        raise SettingsError("Invalid settings: STUDIO_TIMEOUT (timeout): must be finite")

    parts = web.app_parts(bad)
    app = Starlette(lifespan=parts["lifespan"], routes=parts["routes"])
    with TestClient(app) as client:
        health = client.get("/healthz")
        media = client.get(f"{studio_settings.MEDIA_ROUTE}/some/take.mp4")
        hook = client.post(web.WEBHOOK_PATH, content=b"{}")
    assert health.status_code == 503 and "STUDIO_TIMEOUT" in health.json()["error"]
    assert media.status_code == 503 and media.headers["content-type"] == "application/json"
    assert hook.status_code == 503


# ------------------------------------------------------------------ 4. the key

LEAKY_KEYS = {
    "line break": "mk_leak7q_first\nsecond_half_9z",
    "space": "mk_leak7q_first second_half_9z",
    "tab": "mk_leak7q_first\tsecond_half_9z",
    "non-ASCII": "mk_leak7q_first\u00e9second_half_9z",
    "trailing newline": "mk_leak7q_first_second_half_9z\r\n",
}


def _forms(key: str) -> set[str]:
    "The key as it could be written: raw, JSON-escaped, repr, bytes repr, percent-encoded, and its halves."
    forms = {
        key,
        json.dumps(key)[1:-1],
        repr(key)[1:-1],
        repr(key.encode())[2:-1],
        quote(key, safe=""),
        quote_plus(key),
        "mk_leak7q_first",
        "second_half_9z",
    }
    return {f for f in forms if f}


@pytest.mark.parametrize("kind", list(LEAKY_KEYS))
def test_a_key_that_cannot_be_sent_is_refused_and_written_nowhere(tmp_path, kind, clean_sim):
    key = LEAKY_KEYS[kind]
    data = tmp_path / "data"
    env = {
        **os.environ,
        "STUDIO_DATA_DIR": str(data),
        "MOSAIC_API_KEY": key,
        "MOSAIC_BASE_URL": clean_sim.base_url,
        "STUDIO_POLL_INTERVAL": "0.1",
        "STUDIO_MAX_POLL_INTERVAL": "0.3",
    }
    out = subprocess.run(
        [sys.executable, "-m", "studio.cli", "generate", "A lighthouse", "--resolution", "480p"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=SUBPROCESS_TIMEOUT_S,
    )
    assert out.returncode == 2, out.stderr
    assert b"MOSAIC_API_KEY" in out.stderr and out.stderr.strip().count(b"\n") == 0
    written = {"stdout": out.stdout, "stderr": out.stderr}
    if data.exists():
        written.update({str(p): p.read_bytes() for p in data.rglob("*") if p.is_file()})
    for form in _forms(key):
        for where, blob in written.items():
            assert form.encode() not in blob, f"the key ({form!r}) is in {where}"


def test_the_key_is_scrubbed_in_escaped_and_repr_forms():
    key = "mk_odd\"'\\%+/key_77"
    echoes = [
        json.dumps({"detail": f"bad header Bearer {key}"}),  # JSON-escaped in the body
        f"bad header {key!r}",  # repr
        f"bad header {key.encode()!r}",  # bytes repr
        f"bad header {quote(key, safe='')}",  # percent-encoded
        f"bad header {quote_plus(key)}",
    ]
    for echo in echoes:
        transport = httpx.MockTransport(lambda request, echo=echo: httpx.Response(400, text=echo))
        client = MosaicClient("http://127.0.0.1:9", key, transport=transport, max_retries=0)
        with pytest.raises(ApiStatusError) as caught:
            client.whoami()
        client.close()
        shown = f"{caught.value} {caught.value.detail} {caught.value.body}"
        for form in (key, json.dumps(key)[1:-1], repr(key)[1:-1], quote(key, safe=""), quote_plus(key), "odd"):
            assert form not in shown, (echo, shown)
        assert "[api key]" in shown


def test_a_good_key_still_works(monkeypatch):
    monkeypatch.setenv("MOSAIC_API_KEY", TEST_KEY)
    assert studio_settings.load().key == TEST_KEY
    monkeypatch.setenv("MOSAIC_API_KEY", "")
    assert studio_settings.load().simulated
