"""Nothing raises out of `studio` except the error tree (studio/errors.py).

Bad input and broken conditions go through the public functions, and each test asserts the studio
error a page or the CLI would catch: damaged videos, a damaged, locked or unusable history
database, empty ids and keys, garbage settings. The last test reads the source: no bare
`ValueError`, `KeyError` or `RuntimeError` is raised anywhere in `studio/` outside the simulator.
"""

from __future__ import annotations

import ast
import sqlite3
from pathlib import Path

import httpx
import pytest
from media_files import clip, tone

from studio import cli, latency, media
from studio import services as svc
from studio.errors import (
    ApiError,
    JobError,
    MediaError,
    ParamsError,
    SettingsError,
    StoreError,
    StudioError,
)
from studio.models import VideoGenerationParams
from studio.mosaic import MosaicClient
from studio.settings import Settings, load
from studio.store import HistoryStore, store_error

STUDIO = Path(__file__).resolve().parent.parent / "studio"
# Builtin exceptions a page or the CLI would not catch. TypeError and AssertionError stay allowed:
# they mark a caller's bug that no user input reaches.
FORBIDDEN = {"ValueError", "KeyError", "IndexError", "LookupError", "RuntimeError", "OSError", "Exception"}
# Functions that may raise a forbidden builtin, and why. Pydantic validators are allowed wholesale:
# pydantic turns their ValueError into a ValidationError, and `NodeSettings.parse` into a ParamsError.
ALLOWED = {
    ("models.py", "_one_of"): "only called from pydantic field validators (see above)",
    ("web.py", "streamlit_index_html"): "a broken install at server boot (streamlit is a declared dependency)",
}
VALIDATOR_DECORATORS = {"field_validator", "model_validator"}


def params(**kw) -> VideoGenerationParams:
    return VideoGenerationParams(prompt=kw.pop("prompt", "A paper boat on a rainy street"), **kw)


# ---------------------------------------------------------------- media


@pytest.fixture
def good_clip(tmp_path) -> Path:
    return clip(tmp_path / "good.mp4", 2)


@pytest.mark.parametrize("keep", [0, 8, 200, 0.5], ids=["empty", "header", "first-boxes", "half"])
def test_a_truncated_mp4_is_a_media_error(good_clip, tmp_path, keep):
    data = good_clip.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * keep) if isinstance(keep, float) else keep])
    with pytest.raises(MediaError, match=r"cut\.mp4 is not a readable video") as info:
        media.probe(cut)
    assert info.value.__cause__ is not None  # the PyAV error is kept as the cause
    with pytest.raises(MediaError, match=r"cut\.mp4"):
        media.make_thumbnail(cut, tmp_path / "cut.jpg")
    assert not (tmp_path / "cut.jpg").exists()


def test_text_named_mp4_and_a_missing_file_are_media_errors(tmp_path):
    fake = tmp_path / "fake.mp4"
    fake.write_text("not a video\n" * 100)
    with pytest.raises(MediaError, match=r"fake\.mp4"):
        media.probe(fake)
    with pytest.raises(MediaError, match=r"gone\.mp4"):
        media.probe(tmp_path / "gone.mp4")


def test_a_thumbnail_of_a_file_without_video_is_a_media_error(tmp_path):
    sound = tone(tmp_path / "sound.m4a", 2)
    assert media.probe(sound).has_audio  # readable, just not a video
    with pytest.raises(MediaError, match="has no video frame"):
        media.make_thumbnail(sound, tmp_path / "sound.jpg")


def test_a_thumbnail_that_cannot_be_written_is_a_media_error(good_clip, tmp_path):
    (tmp_path / "taken").write_text("a file where the folder should be")
    with pytest.raises(MediaError, match="Could not write the thumbnail"):
        media.make_thumbnail(good_clip, tmp_path / "taken" / "thumb.jpg")


def test_a_render_into_an_unusable_folder_is_a_media_error(tmp_path):
    (tmp_path / "taken").write_text("a file where the folder should be")
    with pytest.raises(MediaError, match="Could not render"):
        media.render_clip(tmp_path / "taken" / "a.mp4", width=64, height=64, seconds=1, audio=False, text="x")


def test_impossible_sizes_and_resolutions_are_params_errors(tmp_path):
    with pytest.raises(ParamsError):
        media.frame_size("4k", "16:9")
    with pytest.raises(ParamsError):
        media.render_clip(tmp_path / "a.mp4", width=64, height=64, seconds=-1, audio=False, text="x")
    with pytest.raises(ParamsError, match="4k"):
        latency.band("4k")


# ---------------------------------------------------------------- the history database


def test_a_file_that_is_not_a_database_is_a_store_error(tmp_path):
    path = tmp_path / "studio.db"
    path.write_bytes(b"this is not SQLite\n" * 500)
    with pytest.raises(StoreError, match="is not a history database") as info:
        HistoryStore(path)
    assert isinstance(info.value.__cause__, sqlite3.DatabaseError)
    assert "move it aside" in str(info.value)


def _damage_generations(path: Path) -> None:
    "Overwrite the generations table's leaf pages, leaving the schema and migrations readable."
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    pages = [r[0] for r in conn.execute("SELECT pageno FROM dbstat WHERE name = 'generations' AND pagetype = 'leaf'")]
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    assert pages, "the table spans leaf pages to damage"
    data = bytearray(path.read_bytes())
    for page in pages:
        data[(page - 1) * page_size : page * page_size] = b"\xff" * page_size
    path.write_bytes(bytes(data))


def test_a_damaged_database_is_a_store_error_on_read_and_write(tmp_path):
    path = tmp_path / "studio.db"
    store = HistoryStore(path)
    for i in range(100):
        store.add_generation(params(prompt=f"A paper boat, take {i}, " + "on a rainy street " * 20))
    store.close()
    _damage_generations(path)
    store = HistoryStore(path)  # the schema is intact: it opens
    with pytest.raises(StoreError, match="is damaged") as info:
        store.page()
    assert isinstance(info.value.__cause__, sqlite3.DatabaseError)
    with pytest.raises(StoreError, match="is damaged"):
        store.add_generation(params())


def test_a_database_locked_by_another_program_is_a_store_error(tmp_path):
    path = tmp_path / "studio.db"
    store = HistoryStore(path, busy_timeout_ms=50)
    other = sqlite3.connect(path)
    other.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreError, match="is locked by another program"):
            store.add_generation(params())
        assert store.page() == []  # reads go on while another program writes (WAL)
    finally:
        other.rollback()
        other.close()
    assert store.get(store.add_generation(params())) is not None  # and it recovers once the lock is gone


def test_a_read_only_database_is_explained(tmp_path):
    path = tmp_path / "studio.db"
    HistoryStore(path).close()
    read_only = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        with pytest.raises(sqlite3.OperationalError) as raised:
            read_only.execute("INSERT INTO presets (name, params) VALUES ('a', '{}')")
    finally:
        read_only.close()
    error = store_error(raised.value, path)
    assert isinstance(error, StoreError)
    assert "is read-only; give the studio write permission" in str(error)


def test_a_history_folder_that_cannot_be_made_is_a_store_error(tmp_path):
    (tmp_path / "taken").write_text("a file where the folder should be")
    with pytest.raises(StoreError, match="folder"):
        HistoryStore(tmp_path / "taken" / "studio.db")


def test_a_reused_launch_key_is_a_job_error_not_a_store_error(tmp_path):
    store = HistoryStore(tmp_path / "studio.db")
    store.add_generations([(params(), None)], launch_key="click-1")
    with pytest.raises(JobError, match="already launched takes"):
        store.add_grid(prompt="p", axes={}, cells=[(params(), "a")], launch_key="click-1")


# ---------------------------------------------------------------- the Mosaic client and the wiring


def _no_network(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"no request should be sent, got {request.method} {request.url}")


@pytest.fixture
def offline_client():
    with MosaicClient("https://api.mosaic.test", "mk_test", transport=httpx.MockTransport(_no_network)) as client:
        yield client


@pytest.mark.parametrize("run_id", ["", "   "])
def test_an_empty_id_is_a_params_error_before_any_request(offline_client, run_id):
    with pytest.raises(ParamsError, match="id is required"):
        offline_client.get_run(run_id)
    with pytest.raises(ParamsError):
        offline_client.cancel_run(run_id)


def test_bad_client_arguments_are_studio_errors(offline_client):
    with pytest.raises(SettingsError, match="MOSAIC_API_KEY"):
        MosaicClient("https://api.mosaic.test", "  ")
    with pytest.raises(SettingsError, match="MAX_RETRIES"):
        MosaicClient("https://api.mosaic.test", "mk_test", max_retries=-1)
    with pytest.raises(ParamsError, match="limit"):
        offline_client.list_runs("a1", limit=0)
    with pytest.raises(ParamsError, match="pdf"):
        offline_client.upload("pdf", b"x", "a.pdf")
    with pytest.raises(ParamsError, match="Nothing to change"):
        offline_client.update_agent("a1", [])


def test_a_simulator_that_cannot_use_its_folder_is_a_store_error(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "simulator").write_text("a file where the simulator's folder should be")
    with pytest.raises(StoreError, match="simulator"):
        svc.build_services(Settings(data_dir=data, api_key=None), start_worker=False)


# ---------------------------------------------------------------- settings and the CLI


@pytest.mark.parametrize(
    "name, value",
    [("STUDIO_TIMEOUT", "soon"), ("STUDIO_MAX_RETRIES", "-2"), ("STUDIO_CREDITS_PER_SECOND", "lots")],
)
def test_a_garbage_setting_is_a_settings_error(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=name.removeprefix("STUDIO_").lower()):
        load()


def test_a_broken_secrets_toml_is_a_settings_error(monkeypatch, tmp_path):
    (tmp_path / ".streamlit").mkdir()
    (tmp_path / ".streamlit" / "secrets.toml").write_text('MOSAIC_API_KEY = "unclosed\n')
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SettingsError, match=r"secrets\.toml"):
        load()


def test_the_cli_shows_a_damaged_database_as_one_line(monkeypatch, tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    (data / "studio.db").write_bytes(b"this is not SQLite\n" * 500)
    monkeypatch.setenv("STUDIO_DATA_DIR", str(data))
    assert cli.main(["generate", "A paper boat on a rainy street"]) == cli.BAD_INPUT_EXIT
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "is not a history database" in err[0]


# ---------------------------------------------------------------- the source


def _raised_name(node: ast.Raise) -> str | None:
    exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
    if isinstance(exc, ast.Name):
        return exc.id
    if isinstance(exc, ast.Attribute):  # builtins.ValueError and the like
        return exc.attr
    return None


def _is_validator(func: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    for deco in func.decorator_list:
        target = deco.func if isinstance(deco, ast.Call) else deco
        name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", None)
        if name in VALIDATOR_DECORATORS:
            return True
    return False


def forbidden_raises(root: Path) -> list[str]:
    "`file:line function raises Name` for each forbidden builtin raised outside a validator or the allow-list."
    found = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if rel.parts[0] == "simulator":  # its own program: its HTTP answers are its boundary
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for func in ast.walk(tree):
            if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            if _is_validator(func) or (rel.as_posix(), func.name) in ALLOWED:
                continue
            for node in ast.walk(func):
                if isinstance(node, ast.Raise) and _raised_name(node) in FORBIDDEN:
                    found.append(f"{rel}:{node.lineno} {func.name} raises {_raised_name(node)}")
        # Raises at module level (outside any function) count too.
        top_level = [n for n in tree.body if not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
        for stmt in top_level:
            for node in ast.walk(stmt):
                if isinstance(node, ast.Raise) and _raised_name(node) in FORBIDDEN:
                    found.append(f"{rel}:{node.lineno} <module> raises {_raised_name(node)}")
    return found


def test_no_bare_builtin_errors_are_raised_in_studio():
    assert forbidden_raises(STUDIO) == []


def test_the_source_check_finds_a_bare_value_error(tmp_path):
    (tmp_path / "bad.py").write_text(
        "from pydantic import field_validator\n"
        "def parse(x):\n"
        "    raise ValueError('bad')\n"
        "class M:\n"
        "    @field_validator('x')\n"
        "    def _x(cls, v):\n"
        "        raise ValueError('fine: pydantic wraps it')\n"
    )
    (tmp_path / "simulator").mkdir()
    (tmp_path / "simulator" / "server.py").write_text("def f():\n    raise RuntimeError('its own program')\n")
    assert forbidden_raises(tmp_path) == ["bad.py:3 parse raises ValueError"]


def test_every_studio_error_says_what_to_do():
    import studio.errors as errors

    classes = [c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, StudioError)]
    assert MediaError in classes and ApiError in classes
    for cls in classes:
        assert cls.__doc__ and cls.__doc__.strip(), cls.__name__
        assert cls.__name__ in (errors.__doc__ or ""), f"{cls.__name__} is missing from the tree in the docstring"
