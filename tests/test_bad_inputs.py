"""Bad input, everywhere (issue 7 §6): a table of bad inputs against the `studio` command and the
service layer. Each is answered in words. The CLI prints one `error: …` line and exits 2: no
traceback, no hang, nothing uploaded or queued, and the generation saved before is still there.
A service raises a StudioError with a message, never a bare ValueError, KeyError, TypeError or a
pydantic ValidationError. The CLI runs in-process against the session simulator (`serve`, which
would become the server, runs as a subprocess)."""

from __future__ import annotations

import json
import math
import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from media_files import clip, picture, tone
from support import ROOT, TEST_KEY, settings_for, use_sim_env

from studio import cli, people
from studio import format as fmt
from studio import services as svc
from studio.errors import StudioError
from studio.models import PROMPT_MAX_CHARS, Generation, VideoGenerationParams

CALL_TIMEOUT_S = 60.0  # a bad input is refused at once; this only turns a hang into a failure
LONG = "x" * (PROMPT_MAX_CHARS + 1)
KEPT_PROMPT = "A lighthouse kept from before the bad inputs"


# ---------------------------------------------------------------------- the data a bad input must not harm


@pytest.fixture(scope="module")
def saved(sim, tmp_path_factory) -> tuple[Path, str]:
    "A data folder holding one finished generation, made before any bad input is tried."
    data = tmp_path_factory.mktemp("saved") / "data"
    services = svc.build_services(settings_for(sim, data))
    try:
        params = VideoGenerationParams(prompt=KEPT_PROMPT, resolution="480p", duration="4", aspect_ratio="16:9")
        [gen] = svc.wait_for(services, svc.generate(services, params), timeout=60)
        assert gen.status == "done", gen.error
    finally:
        services.close()
    return data, gen.id


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    "Reference files that break one rule each (all small: the big ones are sparse)."
    d = tmp_path_factory.mktemp("refs")
    (d / "folder.png").mkdir()
    (d / "text.png").write_text("not a picture")
    (d / "noise.bin").write_bytes(os.urandom(4096))
    (d / "empty.png").write_bytes(b"")
    picture(d / "tiny.png", 100, 100)
    picture(d / "face.png", 640, 480)
    picture(d / "\udcff.png", 640, 480)  # a name in Latin-1: the byte 0xff, not UTF-8
    (d / "bad\nname.png").write_text("not a picture")
    picture(d / "thin.png", 3000, 300)
    big = picture(d / "big.png", 640, 480)
    with open(big, "r+b") as fh:  # a real picture followed by a sparse 31 MB tail
        fh.truncate(31 * 1024**2)
    loud = tone(d / "loud.wav", 3)
    with open(loud, "r+b") as fh:
        fh.truncate(16 * 1024**2)
    tone(d / "voice.wav", 3)
    tone(d / "long.wav", 16)
    clip(d / "walk.mp4", 3)
    clip(d / "slow.mp4", 3, fps="12")
    for i in range(10):
        picture(d / f"many{i}.png", 400 + i, 300)
    return d


def _sim_uploads(sim) -> set[str]:
    return {u["id"] for u in httpx.get(f"{sim.base_url}/_sim/uploads").json()["uploads"]}


def _history(sim, data: Path) -> list[str]:
    "Every generation id in the folder's history, read straight from the file (read-only, cheap)."
    with closing(sqlite3.connect(f"file:{data / 'studio.db'}?mode=ro", uri=True)) as db:
        return [row[0] for row in db.execute("SELECT id FROM generations ORDER BY rowid")]


# ---------------------------------------------------------------------- the command line

P = "A fox in fresh snow"
GEN = ["generate", P]
GRID = ["grid", P]
MANY_IMAGES = [a for i in range(10) for a in ("--image", f"{{d}}/many{i}.png")]

CLI_CASES: list[tuple[str, list[str]]] = [
    # prompts
    *[
        (f"{cmd} prompt {name}", [cmd, text])
        for cmd in ("generate", "grid")
        for name, text in [
            ("empty", ""),
            ("spaces", "   "),
            ("whitespace", "\t\n "),
            ("too long", LONG),
            ("nul", "a\x00b"),
            ("only nul", "\x00"),
            ("not utf-8", "\udcff\udcfe bad"),  # what Python makes of `$'\xff\xfe bad'`
        ]
    ],
    # every numeric option
    *[
        (f"duration {v!r}", [*GEN, "--duration", v])
        for v in ("0", "-1", "nan", "inf", "-inf", "abc", "1e309", "99999999999999999999", "3", "16", "4.5", "", "4s5")
    ],
    *[(f"grid duration {v!r}", [*GRID, "--duration", v]) for v in ("0", "nan", "abc")],
    *[
        (f"takes {v!r}", [*GEN, "--takes", v])
        for v in ("0", "-1", "nan", "inf", "abc", "100000000000000000000", "5", "", "1.5", "0x2")
    ],
    # enums
    *[(f"resolution {v!r}", [*GEN, "--resolution", v]) for v in ("999p", "", "720P", "4k", "-1", "nan")],
    *[(f"aspect ratio {v!r}", [*GEN, "--aspect-ratio", v]) for v in ("0:0", "16:0", "abc", "-16:9", "16:9:1", "")],
    # grid specs
    *[
        (f"grid resolutions {v!r}", [*GRID, "--resolutions", v])
        for v in ("", ",", " , ", "720p,720p", "480p,720p,480p", "999p", "720p,999p", "nan")
    ],
    *[
        (f"grid aspect ratios {v!r}", [*GRID, "--aspect-ratios", v])
        for v in ("16:9,16:9", "16:9, 16:9", "", ",,", "0:0", "16:9,abc")
    ],
    ("grid both axes repeat", [*GRID, "--resolutions", "480p,480p", "--aspect-ratios", "1:1,1:1"]),
    # references
    ("image missing", [*GEN, "--image", "{d}/nowhere.png"]),
    ("image is a folder", [*GEN, "--image", "{d}/folder.png"]),
    ("video is a folder", [*GEN, "--video", "{d}"]),
    ("image is the current folder", [*GEN, "--image", ""]),
    ("grid image is a folder", [*GRID, "--resolutions", "480p", "--image", "{d}/folder.png"]),
    ("image is text", [*GEN, "--image", "{d}/text.png"]),
    ("image is noise", [*GEN, "--image", "{d}/noise.bin"]),
    ("image is empty", [*GEN, "--image", "{d}/empty.png"]),
    ("image too small", [*GEN, "--image", "{d}/tiny.png"]),
    ("image too thin", [*GEN, "--image", "{d}/thin.png"]),
    ("image too big", [*GEN, "--image", "{d}/big.png"]),
    ("audio too big", [*GEN, "--image", "{d}/face.png", "--audio", "{d}/loud.wav"]),
    ("audio too long", [*GEN, "--image", "{d}/face.png", "--audio", "{d}/long.wav"]),
    ("audio alone", [*GEN, "--audio", "{d}/voice.wav"]),
    ("video too slow", [*GEN, "--video", "{d}/slow.mp4"]),
    ("picture as video", [*GEN, "--video", "{d}/face.png"]),
    ("clip as image", [*GEN, "--image", "{d}/walk.mp4"]),
    ("tone as image", [*GEN, "--image", "{d}/voice.wav"]),
    ("too many images", [*GEN, *MANY_IMAGES]),
    ("image name not utf-8", [*GEN, "--image", "{d}/\udcff.png"]),
    ("text named with a line break", [*GEN, "--image", "{d}/bad\nname.png"]),
    ("good then missing", [*GEN, "--image", "{d}/face.png", "--image", "{d}/gone.png"]),
    # usage
    ("no command", []),
    ("unknown command", ["render", P]),
    ("no prompt", ["generate"]),
    ("unknown option", [*GEN, "--bogus"]),
    ("takes without a value", [*GEN, "--takes"]),
    ("timeout without wait", [*GEN, "--timeout", "5"]),
    ("grid timeout without wait", [*GRID, "--resolutions", "480p", "--timeout", "5"]),
    ("grid resolutions without a value", [*GRID, "--resolutions"]),
    ("image without a file", [*GEN, "--image"]),
    # share links (issue 8 §3)
    ("share nothing named", ["share"]),
    ("share two things", ["share", "--grid", "a", "--generation", "b"]),
    ("share unknown comparison", ["share", "--grid", "nope"]),
    ("share unknown collection", ["share", "--collection", "nope"]),
    ("share unknown take", ["share", "--generation", "nope"]),
    ("share blank search", ["share", "--query", "  "]),
    *[
        (f"share expires {v!r}", ["share", "--generation", "x", "--expires", v])
        for v in ("2d", "", "2020-01-01", "2026-13-45")
    ],
    ("share revoke unknown token", ["share", "--revoke", "nope"]),
    ("share revoke unknown link", ["share", "--revoke", "http://localhost:8501/share/" + "a" * 43]),
    ("share revoke without a token", ["share", "--revoke"]),
    ("share list with expiry", ["share", "--list", "--expires", "7d"]),
    # studio export (issue 8 §5)
    ("export unknown grid", ["export", "--grid", "nope", "--out", "{d}/x.zip"]),
    ("export unknown collection", ["export", "--collection", "nope", "--out", "{d}/x.zip"]),
    ("export search with no match", ["export", "--query", "zzqxnomatch", "--out", "{d}/x.zip"]),
    ("export into a missing folder", ["export", "--query", "", "--out", "{d}/nowhere/x.zip"]),
    ("export onto a folder", ["export", "--query", "", "--out", "{d}/folder.png"]),
    ("export video of a search", ["export", "--query", "", "--out", "{d}/x.zip", "--video", "{d}/x.mp4"]),
    ("export filter without a search", ["export", "--grid", "g", "--starred", "--out", "{d}/x.zip"]),
    ("export nothing named", ["export", "--out", "{d}/x.zip"]),
    ("export without --out", ["export", "--query", ""]),
    ("export bad date", ["export", "--query", "", "--since", "soon", "--out", "{d}/x.zip"]),
    # decisions (issue 9 §2)
    ("decisions bad date", ["decisions", "--since", "soon"]),
    ("decisions since after until", ["decisions", "--since", "2026-03-02", "--until", "2026-03-01"]),
    ("decisions unknown collection", ["decisions", "--collection", "nope", "--json"]),
]

SERVE_CASES: list[tuple[str, list[str]]] = [
    (f"serve port {v!r}", ["serve", "--port", v]) for v in ("-1", "0", "70000", "abc", "nan")
] + [("serve address empty", ["serve", "--address", ""]), ("serve address spaces", ["serve", "--address", " a b "])]


def _run_main(argv: list[str]) -> int | None:
    "`studio` in-process on a thread, so a hang fails the test instead of the run."
    result: list[int] = []

    def target() -> None:
        try:
            result.append(cli.main(argv))
        except SystemExit as stop:
            result.append(stop.code if isinstance(stop.code, int) else 1)

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(CALL_TIMEOUT_S)
    return result[0] if result else None


def _one_error_line(err: str) -> list[str]:
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err, err
    assert len(lines) == 1 and lines[0].startswith("error: ") and len(lines[0]) > len("error: ") + 5, err
    return lines


@pytest.mark.parametrize(("argv"), [c[1] for c in CLI_CASES], ids=[c[0] for c in CLI_CASES])
def test_the_cli_answers_a_bad_input_with_one_line_and_exit_2(argv, saved, files, sim, monkeypatch, capsys):
    data, kept = saved
    monkeypatch.setenv("MOSAIC_API_KEY", TEST_KEY)
    monkeypatch.setenv("MOSAIC_BASE_URL", sim.base_url)
    monkeypatch.setenv("STUDIO_DATA_DIR", str(data))
    monkeypatch.setenv("STUDIO_POLL_INTERVAL", "0.1")
    uploads, before = _sim_uploads(sim), _history(sim, data)
    code = _run_main([a.replace("{d}", str(files)) for a in argv])
    out = capsys.readouterr()
    assert code == 2, (code, out.err)
    _one_error_line(out.err)
    assert out.out == ""  # no ids printed: nothing was queued
    assert _history(sim, data) == before and kept in before  # nothing queued, the earlier generation kept
    assert _sim_uploads(sim) == uploads  # nothing uploaded


# `serve` hands its process over to the server once its arguments pass, so it is tried in a process
# of its own: one for every case (a case that started a server would hang it, and fail them all).
SERVE_SCRIPT = """
import contextlib, io, json, sys
from studio import cli
answers = []
for argv in json.loads(sys.argv[1]):
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            code = cli.main(argv)
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else 1
    answers.append([code, err.getvalue()])
print(json.dumps(answers))
"""


@pytest.fixture(scope="module")
def serve_answers(tmp_path_factory) -> dict[str, tuple[int, str]]:
    env = {**os.environ, "STUDIO_DATA_DIR": str(tmp_path_factory.mktemp("serve") / "data"), "MOSAIC_API_KEY": ""}
    argvs = json.dumps([argv for _, argv in SERVE_CASES])
    done = subprocess.run(
        [sys.executable, "-c", SERVE_SCRIPT, argvs], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    answers = json.loads(done.stdout.strip().splitlines()[-1])
    return {name: (code, err) for (name, _), (code, err) in zip(SERVE_CASES, answers, strict=True)}


@pytest.mark.parametrize("name", [c[0] for c in SERVE_CASES])
def test_serve_refuses_a_bad_port_or_address_before_starting(name, serve_answers):
    code, err = serve_answers[name]
    assert code == 2, err
    _one_error_line(err)


# ---------------------------------------------------------------------- the service layer


@pytest.fixture(scope="module")
def studio_on_saved(saved, sim):
    "Services on the saved folder with the worker off: whatever slips through stays queued, visible."
    data, _ = saved
    services = svc.build_services(settings_for(sim, data), start_worker=False)
    yield services
    services.close()


Call = Callable[[svc.Services, str, Path], Any]
BAD_DURATIONS: tuple[Any, ...] = (0, -1, math.nan, math.inf, "abc", 10**100, None, 4.5, True, "3", [], "1e309")
NOTHING: Any = None  # None where the signature wants a value: what a careless caller passes


def _saved_gen(services: svc.Services, gen_id: str) -> Generation:
    found = svc.get(services, gen_id)
    assert found is not None
    return found


def _generate(params: Any, **kw: Any) -> Call:
    return lambda s, kept, d: svc.generate(s, params, **kw)


def _params(**fields: Any) -> Call:
    return _generate({"prompt": P, **fields})


def _grid(**axes: Any) -> Call:
    base = VideoGenerationParams(prompt=P)
    axes = {"resolutions": ["480p"], "aspect_ratios": ["16:9"], **axes}
    return lambda s, kept, d: svc.start_grid(s, base, **axes)


def _plan(**form: Any) -> Call:
    def launch(s: svc.Services, kept: str, d: Path) -> Any:
        plan = svc.plan_grid(s, svc.GridForm(**{"prompt": P, **form}))
        return svc.launch_grid(s, plan, confirmed=True)

    return launch


def _upload(name: str, source: Callable[[Path], Any]) -> Call:
    return lambda s, kept, d: svc.upload_reference(s, name, source(d))


def _board(services, *, deleted: bool = False) -> str:
    "A collection's id (of one deleted already, when asked)."
    board = svc.create_collection(services, "Board")
    if deleted:
        svc.delete_collection(services, board.id)
    return board.id


SERVICE_CASES: list[tuple[str, Call]] = [
    # prompts
    *[
        (f"prompt {name}", _params(prompt=v))
        for name, v in [
            ("empty", ""),
            ("spaces", "  "),
            ("too long", LONG),
            ("nul", "a\x00b"),
            ("not utf-8", "\udcff\udcfe bad"),
            ("none", None),
            ("number", 12),
            ("list", ["a"]),
        ]
    ],
    # numbers
    *[(f"duration {v!r}", _params(duration=v)) for v in BAD_DURATIONS],
    *[(f"takes {v!r}", _generate({"prompt": P}, takes=v)) for v in (0, -1, 5, math.nan, math.inf, "2", None, 10**20)],
    # enums
    *[(f"resolution {v!r}", _params(resolution=v)) for v in ("999p", None, 720, "")],
    *[(f"aspect ratio {v!r}", _params(aspect_ratio=v)) for v in ("0:0", "abc", None, 1.78)],
    *[(f"audio {v!r}", _params(generate_audio=v)) for v in ("maybe", None, 2)],
    *[(f"model {v!r}", _params(model=v)) for v in ("sora", "", None)],
    ("unknown param", _params(colour="red")),
    *[(f"params {type(v).__name__}", _generate(v)) for v in (None, ["prompt"], "A fox", 42)],
    # references in params
    ("ten unknown images", _params(selected_context={"images": [f"u{i}" for i in range(10)]})),
    ("images not a list", _params(selected_context={"images": "u1"})),
    ("image id a number", _params(selected_context={"videos": [1]})),
    ("unknown context key", _params(selected_context={"gifs": ["u1"]})),
    # grids
    ("grid repeated resolution", _grid(resolutions=["720p", "720p"])),
    ("grid repeated ratio", _grid(aspect_ratios=["16:9", "16:9"])),
    ("grid repeated duration", _grid(durations=["4", "4"])),
    ("grid repeated audio", _grid(audio=[True, True])),
    ("grid repeated prompt", _grid(prompts=["a", "a"])),
    ("grid no resolutions", _grid(resolutions=[])),
    ("grid no ratios", _grid(aspect_ratios=[])),
    ("grid unknown resolution", _grid(resolutions=["999p"])),
    ("grid blank prompt variant", _grid(prompts=["a", "  "])),
    ("grid too many cells", _grid(prompts=[f"prompt {i}" for i in range(61)])),
    ("plan repeated resolution", _plan(resolutions=("720p", "720p"))),
    ("plan unknown ratio", _plan(aspect_ratios=("0:0",))),
    ("plan no resolutions", _plan(resolutions=())),
    ("plan empty prompt", _plan(prompt="")),
    ("plan repeated variant", _plan(variants="a\na")),
    ("plan too many cells", _plan(variants="\n".join(f"v{i}" for i in range(30)))),
    # ids
    ("cancel unknown", lambda s, kept, d: svc.cancel(s, "nope")),
    ("cancel empty id", lambda s, kept, d: svc.cancel(s, "")),
    ("cancel finished", lambda s, kept, d: svc.cancel(s, kept)),
    ("retry unknown", lambda s, kept, d: svc.retry(s, "nope")),
    ("retry finished", lambda s, kept, d: svc.retry(s, kept)),
    ("winner unknown", lambda s, kept, d: svc.mark_winner(s, "nope")),
    ("winner not a cell", lambda s, kept, d: svc.mark_winner(s, kept)),
    ("clear winner unknown", lambda s, kept, d: svc.clear_winner(s, "nope")),
    *[(f"rating {v!r}", lambda s, kept, d, v=v: svc.set_rating(s, kept, v)) for v in (0, 6, -1, math.nan, "3")],
    ("rating unknown id", lambda s, kept, d: svc.set_rating(s, "nope", 3)),
    ("star unknown id", lambda s, kept, d: svc.set_starred(s, "nope", True)),
    ("tag too long", lambda s, kept, d: svc.set_tags(s, kept, "x" * 41)),
    ("notes too long", lambda s, kept, d: svc.set_notes(s, kept, "x" * 5001)),
    ("notes unknown id", lambda s, kept, d: svc.set_notes(s, "nope", "hi")),
    # gallery queries
    *[
        (f"gallery page {v!r}", lambda s, kept, d, v=v: svc.gallery_page(s, svc.gallery_query({}), v))
        for v in ("2", math.nan, None)
    ],
    ("gallery page size 0", lambda s, kept, d: svc.gallery_page(s, svc.gallery_query({}), 1, page_size=0)),
    ("gallery filter a number", lambda s, kept, d: svc.gallery_query({"resolution": 720})),
    ("gallery author not text", lambda s, kept, d: svc.gallery_query({"author": [1]})),
    # a person's typed name (studio.people)
    *[(f"person name {v!r}", lambda s, kept, d, v=v: people.clean_name(v)) for v in ("", " \t", "\x00", "n" * 61, 7)],
    ("gallery collection not an id", lambda s, kept, d: svc.gallery_query({"collection": ["a", "b"]})),
    # the Gallery's bulk bar (issue 8 §2)
    ("bulk star nothing selected", lambda s, kept, d: svc.star_many(s, [])),
    ("bulk star ids not a list", lambda s, kept, d: svc.star_many(s, kept)),
    ("bulk star ids none", lambda s, kept, d: svc.star_many(s, NOTHING)),
    ("bulk tag empty", lambda s, kept, d: svc.tag_many(s, [kept], "  ")),
    ("bulk tag with a comma", lambda s, kept, d: svc.tag_many(s, [kept], "a, b")),
    ("bulk tag too long", lambda s, kept, d: svc.tag_many(s, [kept], "x" * 41)),
    ("bulk untag not text", lambda s, kept, d: svc.untag_many(s, [kept], NOTHING)),
    ("bulk delete nothing selected", lambda s, kept, d: svc.delete_many(s, [])),
    # collections (issue 8 §2)
    ("collection name too long", lambda s, kept, d: svc.create_collection(s, "n" * 81)),
    ("collection name none", lambda s, kept, d: svc.create_collection(s, NOTHING)),
    ("collection description none", lambda s, kept, d: svc.create_collection(s, "Board", description=NOTHING)),
    ("collection unknown", lambda s, kept, d: svc.add_to_collection(s, "nope", [kept])),
    ("collection id none", lambda s, kept, d: svc.collection(s, NOTHING)),
    ("collection add unknown take", lambda s, kept, d: svc.add_to_collection(s, _board(s), ["nope"])),
    ("collection cover not in it", lambda s, kept, d: svc.set_cover(s, _board(s), kept)),
    ("collection move a take not in it", lambda s, kept, d: svc.move_item(s, _board(s), kept, 1)),
    ("collection rename deleted", lambda s, kept, d: svc.rename_collection(s, _board(s, deleted=True), "New")),
    # presets
    ("preset empty name", lambda s, kept, d: svc.save_preset(s, "", {"resolution": "480p"})),
    ("preset blank name", lambda s, kept, d: svc.save_preset(s, " \t", {"resolution": "480p"})),
    ("preset huge name", lambda s, kept, d: svc.save_preset(s, "n" * 10_000, {"resolution": "480p"})),
    ("preset bad value", lambda s, kept, d: svc.save_preset(s, "p", {"duration": "nan"})),
    ("preset unknown key", lambda s, kept, d: svc.save_preset(s, "p", {"colour": "red"})),
    ("preset empty prompt", lambda s, kept, d: svc.save_preset(s, "p", {"prompt": ""})),
    ("preset values none", lambda s, kept, d: svc.save_preset(s, "p", NOTHING)),
    ("preset name none", lambda s, kept, d: svc.save_preset(s, NOTHING, {})),
    ("load unknown preset", lambda s, kept, d: svc.load_preset(s, "nope")),
    ("delete unknown preset", lambda s, kept, d: svc.delete_preset(s, "nope")),
    # reference files
    ("upload empty bytes", _upload("a.png", lambda d: b"")),
    ("upload noise", _upload("a.png", lambda d: os.urandom(2048))),
    ("upload text", _upload("a.txt", lambda d: b"hello")),
    ("upload tiny picture", _upload("tiny.png", lambda d: (d / "tiny.png").read_bytes())),
    ("upload a folder", _upload("folder.png", lambda d: d / "folder.png")),
    ("upload a missing file", _upload("gone.png", lambda d: d / "gone.png")),
    ("upload name not utf-8", _upload("\udcff.png", lambda d: (d / "face.png").read_bytes())),
    ("upload not bytes", _upload("a.png", lambda d: 42)),
    ("check ten unknown images", lambda s, kept, d: svc.check_references(s, {"images": [f"u{i}" for i in range(10)]})),
    # snippets and drafts
    ("snippet language", lambda s, kept, d: svc.api_request(VideoGenerationParams(prompt=P), language="cobol")),
    ("snippet flow", lambda s, kept, d: svc.api_request(VideoGenerationParams(prompt=P), flow="four_call")),
    ("draft keep", lambda s, kept, d: svc.draft_from(_saved_gen(s, kept), keep="everything")),
    # exports (issue 8 §4)
    ("export no kind", lambda s, kept, d: svc.start_export(s, svc.Selection.of_takes([kept]), [])),
    ("export unknown kind", lambda s, kept, d: svc.start_export(s, svc.Selection.of_takes([kept]), ["gif"])),
    ("export video of a take", lambda s, kept, d: svc.start_export(s, svc.Selection.of_takes([kept]), ["video"])),
    ("export unknown grid", lambda s, kept, d: svc.start_export(s, svc.Selection("grid", "nope"), ["zip"])),
    ("export deleted takes", lambda s, kept, d: svc.start_export(s, svc.Selection.of_takes(["gone"]), ["zip"])),
    ("export unknown selection", lambda s, kept, d: svc.start_export(s, svc.Selection(NOTHING, "x"), ["zip"])),
    ("export unreadable search", lambda s, kept, d: svc.start_export(s, svc.Selection("query", "{"), ["zip"])),
    (
        "export a search with no match",
        lambda s, kept, d: svc.start_export(s, svc.Selection.of_query(svc.GalleryQuery(text="zzqx")), ["zip"]),
    ),
    # comments (issue 9 §3); the kept take is 4 s long
    ("comment empty", lambda s, kept, d: svc.add_comment(s, kept, "Ada", " \n ")),
    ("comment not text", lambda s, kept, d: svc.add_comment(s, kept, "Ada", NOTHING)),
    ("comment too long", lambda s, kept, d: svc.add_comment(s, kept, "Ada", "x" * (svc.MAX_COMMENT_CHARS + 1))),
    ("comment unsigned", lambda s, kept, d: svc.add_comment(s, kept, NOTHING, "hi")),
    ("comment past the clip's end", lambda s, kept, d: svc.add_comment(s, kept, "Ada", "hi", at_s=4.5)),
    ("comment far past the end", lambda s, kept, d: svc.add_comment(s, kept, "Ada", "hi", at_s=10**100)),
    ("comment before the start", lambda s, kept, d: svc.add_comment(s, kept, "Ada", "hi", at_s=-1)),
    ("comment at infinity", lambda s, kept, d: svc.add_comment(s, kept, "Ada", "hi", at_s=math.inf)),
    ("comment at nan", lambda s, kept, d: svc.add_comment(s, kept, "Ada", "hi", at_s=math.nan)),
    ("comment on a deleted take", lambda s, kept, d: svc.add_comment(s, "gone", "Ada", "hi")),
    ("comment on no take", lambda s, kept, d: svc.add_comment(s, NOTHING, "Ada", "hi")),
    ("reply to a missing comment", lambda s, kept, d: svc.add_comment(s, kept, "Ada", "hi", parent_id="nope")),
    ("edit a missing comment", lambda s, kept, d: svc.edit_comment(s, "nope", "Ada", "hi")),
    ("delete a missing comment", lambda s, kept, d: svc.delete_comment(s, "nope", "Ada")),
    # decisions (issue 9 §2)
    ("decisions date not text", lambda s, kept, d: svc.decision_filters(s, {"since": 42})),
    ("decisions tag not text", lambda s, kept, d: svc.decision_filters(s, {"tag": ["hero"]})),
    ("decisions unknown filter", lambda s, kept, d: svc.decision_filters(s, {"colour": "red"})),
    # blind votes (issue 9 §2)
    ("vote with no voter", lambda s, kept, d: svc.record_vote(s, " ", kept, "gone", "a")),
    ("vote on a deleted take", lambda s, kept, d: svc.record_vote(s, "ana", kept, "gone", "a")),
    ("vote a take against itself", lambda s, kept, d: svc.record_vote(s, "ana", kept, kept, "b")),
    ("vote left", lambda s, kept, d: svc.record_vote(s, "ana", kept, "gone", "left")),
    ("vote choice none", lambda s, kept, d: svc.record_vote(s, "ana", kept, "gone", NOTHING)),
    ("vote ids not text", lambda s, kept, d: svc.record_vote(s, "ana", NOTHING, NOTHING, "a")),
    ("vote unknown scope", lambda s, kept, d: svc.record_vote(s, "ana", kept, "gone", "a", "board:1")),
    ("review unknown collection", lambda s, kept, d: svc.review_queue(s, "ana", "collection:nope")),
    ("review with no voter", lambda s, kept, d: svc.review_queue(s, NOTHING)),
    # draft → final (issue 9 §4); `kept` is a finished 480p 4 s 16:9 take
    ("promote unknown take", lambda s, kept, d: svc.promote(s, "nope", {"resolution": "1080p"}, "ana")),
    ("promote id none", lambda s, kept, d: svc.promote(s, NOTHING, {"resolution": "1080p"}, "ana")),
    (
        "promote to the draft's own settings",
        lambda s, kept, d: svc.promote(s, kept, {"resolution": "480p", "duration": "4", "aspect_ratio": "16:9"}, "ana"),
    ),
    ("promote to 4k", lambda s, kept, d: svc.promote(s, kept, {"resolution": "4k"}, "ana")),
    ("promote with a new prompt", lambda s, kept, d: svc.promote(s, kept, {"prompt": "other"}, "ana")),
    ("promote target not a mapping", lambda s, kept, d: svc.promote(s, kept, cast(Any, "1080p"), "ana")),
    ("promote target none", lambda s, kept, d: svc.promote(s, kept, NOTHING, "ana")),
    ("gallery stage unknown", lambda s, kept, d: svc.gallery_query({"stage": "bogus"})),
]


@pytest.mark.parametrize("call", [c[1] for c in SERVICE_CASES], ids=[c[0] for c in SERVICE_CASES])
def test_a_service_answers_a_bad_input_with_a_studio_error(call, saved, files, sim, studio_on_saved):
    data, kept = saved
    before = _history(sim, data)
    with pytest.raises(StudioError) as caught:
        call(studio_on_saved, kept, files)
    assert str(caught.value).strip()
    assert _history(sim, data) == before and kept in before  # nothing queued, nothing lost


def test_the_table_holds_at_least_100_bad_inputs():
    assert len(CLI_CASES) + len(SERVE_CASES) + len(SERVICE_CASES) >= 100


@pytest.mark.parametrize("text", ["\x00", "a\x00b", "\x00\x07\x1b"])
def test_a_gallery_search_with_control_characters_reads_them_as_spaces(text, saved, studio_on_saved):
    "NUL in a search (`/gallery?q=%00`) is no damaged database: it matches as a space would."
    query = svc.gallery_query({"q": text})
    assert not any(ord(c) < 32 for c in query.text)
    svc.gallery_page(studio_on_saved, query, 1)  # raised "the database could not be read" before


def test_a_gallery_search_finds_words_a_control_character_split(saved, studio_on_saved):
    _, kept = saved
    first, second = KEPT_PROMPT.split()[:2]
    found = svc.gallery_page(studio_on_saved, svc.gallery_query({"q": f"{first}\x00{second}"}), 1)
    assert kept in [g.id for g in found.gens]


def test_a_file_name_with_a_line_break_is_shown_on_one_line(sim, tmp_path, monkeypatch, capsys):
    "`reference: Added new⏎line.png` spanned two lines; names in one-line output show \\n instead."
    use_sim_env(monkeypatch, sim)
    name = tmp_path / "new\nline.png"
    picture(name, 640, 480)
    assert _run_main([*GEN, "--image", str(name)]) == 0
    err = capsys.readouterr().err
    [line] = [line for line in err.splitlines() if line.startswith("reference: ")]
    assert "new\\nline.png" in line
    assert not any(line.startswith("line.png") for line in err.splitlines()), err


def test_one_line_escapes_control_characters_and_stray_bytes():
    assert fmt.one_line("new\nline\t.png") == "new\\nline\\t.png"
    assert fmt.one_line("\udcff.jpg") == "\\udcff.jpg"
    assert fmt.one_line("Füchse im Schnee 🦊") == "Füchse im Schnee 🦊"
