"""The one settings loader (studio.settings.load): arguments, then the environment, then the
working folder's .streamlit/secrets.toml, then ~/.streamlit/secrets.toml; bad values are a
SettingsError. The `studio` command reads a key kept only in .streamlit/secrets.toml."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from support import TEST_KEY

from studio import settings
from studio.errors import SettingsError, StudioError
from studio.settings import Settings, as_environment, load


def write_secrets(folder: Path, text: str) -> Path:
    path = folder / ".streamlit" / "secrets.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    "An empty working folder and home folder, no key and no data folder in the environment."
    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir()
    home.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("HOME", str(home))
    for name in ("MOSAIC_API_KEY", "MOSAIC_BASE_URL", "STUDIO_DATA_DIR", "STUDIO_AUTHOR", "STUDIO_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    return work, home


def test_nothing_configured_means_the_defaults_and_the_simulator(workdir):
    work, _ = workdir
    loaded = load()
    assert loaded.simulated and loaded.base_url == settings.DEFAULT_BASE_URL
    assert loaded.data_dir == work / "studio-data"


def test_the_working_folders_secrets_are_read_by_environment_and_field_names(workdir):
    work, _ = workdir
    write_secrets(
        work,
        'MOSAIC_API_KEY = "mk_from_file"\nSTUDIO_DATA_DIR = "history"\nauthor = "Ada"\ntimeout = 7\n'
        '[connections.other]\nurl = "ignored"\n',
    )
    loaded = load()
    assert not loaded.simulated and loaded.key == "mk_from_file"
    assert loaded.data_dir == work / "history" and loaded.author == "Ada" and loaded.timeout == 7


def test_the_users_secrets_are_read_and_the_working_folders_win(workdir):
    work, home = workdir
    write_secrets(home, 'MOSAIC_API_KEY = "mk_from_home"\nauthor = "Home"\n')
    assert load().key == "mk_from_home" and load().author == "Home"
    write_secrets(work, 'author = "Work"\n')
    loaded = load()
    assert loaded.author == "Work" and loaded.key == "mk_from_home"  # per setting, not per file


def test_the_environment_wins_over_secrets_and_arguments_win_over_both(workdir, monkeypatch):
    work, _ = workdir
    write_secrets(work, 'MOSAIC_API_KEY = "mk_from_file"\nSTUDIO_AUTHOR = "File"\n')
    monkeypatch.setenv("STUDIO_AUTHOR", "Env")
    monkeypatch.setenv("MOSAIC_API_KEY", "")  # set but empty: the simulator, whatever the file says
    loaded = load()
    assert loaded.author == "Env" and loaded.simulated
    assert load(author="Arg").author == "Arg"


def test_building_settings_directly_reads_no_secrets_file(workdir):
    work, _ = workdir
    write_secrets(work, 'MOSAIC_API_KEY = "mk_from_file"\n')
    assert Settings().simulated and not load().simulated


@pytest.mark.parametrize(
    "secrets,words",
    [
        ("STUDIO_TIMEOUT = -1\n", "timeout"),
        ('STUDIO_RUN_FLOW = "sometimes"\n', "run_flow"),
        ("MOSAIC_API_KEY = = 3\n", "secrets.toml could not be read"),
    ],
)
def test_a_bad_setting_is_a_settings_error_naming_it(workdir, secrets, words):
    work, _ = workdir
    write_secrets(work, secrets)
    with pytest.raises(SettingsError, match=words) as caught:
        load()
    assert isinstance(caught.value, StudioError)


def test_a_bad_environment_value_is_a_settings_error(workdir, monkeypatch):
    monkeypatch.setenv("STUDIO_MAX_IN_FLIGHT", "lots")
    with pytest.raises(SettingsError, match="max_in_flight"):
        load()


def test_as_environment_hands_the_same_settings_to_another_process(workdir, monkeypatch):
    work, _ = workdir
    write_secrets(work, 'MOSAIC_API_KEY = "mk_from_file"\nauthor = "Ada"\nSTUDIO_CREDITS_PER_SECOND = 2.5\n')
    loaded = load()
    env = as_environment(loaded)
    assert env["MOSAIC_API_KEY"] == "mk_from_file" and env["STUDIO_DATA_DIR"] == str(work / "studio-data")
    (work / ".streamlit" / "secrets.toml").unlink()
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    again = load()
    assert again.key == loaded.key and again.model_dump(exclude={"api_key"}) == loaded.model_dump(exclude={"api_key"})


def studio_command(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "studio.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=60
    )


def test_the_cli_uses_a_key_kept_only_in_the_working_folders_secrets(clean_sim, workdir, monkeypatch):
    work, _ = workdir
    write_secrets(work, f'MOSAIC_API_KEY = "{TEST_KEY}"\nMOSAIC_BASE_URL = "{clean_sim.base_url}"\n')
    out = studio_command("generate", "A paper boat", "--duration", "4", cwd=work)
    assert out.returncode == 0, out.stderr
    assert f"studio: Mosaic API at {clean_sim.base_url}" in out.stderr
    assert json.loads(out.stdout.splitlines()[-1])  # the queued generation's id
    assert (work / "studio-data" / "studio.db").exists()

    monkeypatch.setenv("MOSAIC_API_KEY", "")  # the environment wins over the file
    out = studio_command("generate", "A paper boat", "--duration", "4", cwd=work)
    assert out.returncode == 0, out.stderr
    assert "studio: Simulator (no API key)" in out.stderr


def test_the_cli_reports_a_bad_setting_in_one_line_and_exits_2(workdir):
    work, _ = workdir
    write_secrets(work, "STUDIO_TIMEOUT = 0\n")
    out = studio_command("generate", "A paper boat", cwd=work)
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0 and out.stderr.startswith(
        "error: Invalid settings: STUDIO_TIMEOUT (timeout)"
    )


@pytest.mark.parametrize("url", ["studio-media/prod", "./media", "media"])
def test_a_relative_media_folder_is_refused_and_nothing_is_created(workdir, monkeypatch, url):
    "A forgotten `s3://` would put each machine's media under wherever it was started: refused, exit 2."
    work, _ = workdir
    monkeypatch.setenv("STUDIO_MEDIA_URL", url)
    out = studio_command("status", cwd=work)
    assert out.returncode == 2, out.stderr
    assert out.stderr.startswith("error: Invalid settings: STUDIO_MEDIA_URL (media_url): must be an absolute folder")
    assert out.stderr.strip().count("\n") == 0 and "s3://bucket/prefix" in out.stderr
    assert ("did you mean s3://studio-media/prod?" in out.stderr) == (url == "studio-media/prod")
    assert list(work.iterdir()) == []  # no ./studio-media, no ./studio-data


def test_an_absolute_or_home_media_folder_is_that_folder(workdir, tmp_path):
    assert load(media_url=str(tmp_path / "m")).media_dir == tmp_path / "m"
    assert load(media_url="~/m").media_dir == Path.home() / "m"
