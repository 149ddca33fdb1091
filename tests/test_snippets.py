"""Copy as API request: the programs run, end to end, against the simulator (with its base URL and
a key swapped in, as a person would), and save the video; the Python is black-formatted."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import tokenize
from pathlib import Path

import pytest
from support import TEST_KEY

from studio import services as svc
from studio.errors import ParamsError
from studio.models import VideoGenerationParams

PROMPT = """A fox says "hi", it's 9 o'clock \\ $HOME `date`
JSON"""  # quotes, a backslash, shell syntax, and a line that ends the bash heredoc if unescaped
FLOWS = ["one_call", "three_call"]
MP4_BRAND = b"ftyp"


def params() -> VideoGenerationParams:
    return VideoGenerationParams(prompt=PROMPT, resolution="480p", duration="4", generate_audio=False)


def runnable(code: str, sim, *, python: bool) -> str:
    "The snippet as a person would run it: their key, and here the simulator's URL and a short poll."
    code = code.replace("https://api.mosaic.so", sim.base_url).replace(svc.SNIPPET_KEY, TEST_KEY)
    poll = f"POLL_SECONDS = {svc.SNIPPET_POLL_S}" if python else f"POLL_SECONDS={svc.SNIPPET_POLL_S}"
    assert poll in code
    return code.replace(poll, poll.replace(str(svc.SNIPPET_POLL_S), "0.2"))


def assert_saved_video(folder) -> None:
    video = folder / svc.SNIPPET_OUTPUT
    assert video.exists(), "the snippet saved no file"
    assert video.read_bytes()[4:8] == MP4_BRAND and video.stat().st_size > 1000


@pytest.mark.parametrize("flow", FLOWS)
def test_python_snippet_runs_from_create_to_downloaded_file(flow, clean_sim, tmp_path):
    code = svc.api_request(params(), language="python", flow=flow)
    (tmp_path / "make.py").write_text(runnable(code, clean_sim, python=True))
    done = subprocess.run(
        [sys.executable, "make.py"], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert_saved_video(tmp_path)


@pytest.mark.parametrize("flow", FLOWS)
def test_python_snippet_is_black_formatted_with_double_quotes(flow, tmp_path):
    code = svc.api_request(params(), language="python", flow=flow)
    assert "pprint" not in code and "mk_your_api_key" in code
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent))
    assert ruff, "ruff is a dev dependency"
    check = subprocess.run(
        [ruff, "format", "--isolated", "--diff", "-"], input=code, capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stdout  # black's style: line length 88, double quotes
    strings = [t.string for t in tokenize.generate_tokens(io.StringIO(code).readline) if t.type == tokenize.STRING]
    assert strings and all(s.lstrip("f").startswith('"') for s in strings)  # one quote style throughout


@pytest.mark.parametrize("flow", FLOWS)
def test_bash_snippet_captures_ids_polls_and_downloads(flow, clean_sim, tmp_path):
    code = svc.api_request(params(), language="curl", flow=flow)
    assert "AGENT_ID=$(" in code and "RUN_ID=$(" in code and "/agent_run/$RUN_ID" in code
    assert ("update_params" in code) == (flow == "one_call")
    script = tmp_path / "make.sh"
    script.write_text(runnable(code, clean_sim, python=False))
    assert subprocess.run(["bash", "-n", str(script)], check=False).returncode == 0
    if not (shutil.which("jq") and shutil.which("curl")):
        pytest.skip("jq and curl are needed to run the script (bash -n passed)")
    done = subprocess.run(["bash", str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr + done.stdout
    assert_saved_video(tmp_path)


def test_snippets_refuse_unknown_languages_and_flows():
    with pytest.raises(ParamsError):
        svc.api_request(params(), language="ruby")
    with pytest.raises(ParamsError):
        svc.api_request(params(), flow="two_call")
