"""`studio generate` and `studio grid` with --image, --video and --audio: files are checked as
Seedance 2 checks them before anything is uploaded or queued, uploaded once through the reference
library, and sent in `selected_context`. The CLI runs in-process against the session simulator."""

from __future__ import annotations

import json

import httpx
import pytest
from media_files import clip, picture, tone
from support import settings_for, use_sim_env

from studio import cli
from studio import services as svc


@pytest.fixture
def studio_env(clean_sim, monkeypatch, isolated_env):
    "The environment `studio` reads: the test simulator as Mosaic, quick polls, this test's data folder."
    use_sim_env(monkeypatch, clean_sim)
    return clean_sim


def uploads(sim) -> dict[str, dict]:
    return {u["id"]: u for u in httpx.get(f"{sim.base_url}/_sim/uploads").json()["uploads"]}


def stored(sim, data_dir) -> svc.Services:
    return svc.build_services(settings_for(sim, data_dir), start_worker=False)


def test_generate_uploads_references_and_sends_them(studio_env, isolated_env, tmp_path, capsys):
    face = picture(tmp_path / "face.png", 640, 480)
    walk = clip(tmp_path / "walk.mp4", 3)
    voice = tone(tmp_path / "voice.wav", 3)
    before = set(uploads(studio_env))

    code = cli.main(
        [
            *("generate", "A koi pond", "--duration", "4", "--wait"),
            *("--image", str(face), "--video", str(walk), "--audio", str(voice)),
        ]
    )
    out = capsys.readouterr()
    assert code == 0, out.err
    assert json.loads(out.out.splitlines()[-1])["status"] == "done"
    assert "reference: Added face.png to the reference library" in out.err

    new = {i: u for i, u in uploads(studio_env).items() if i not in before}
    assert sorted((u["type"], u["filename"], u["finalized"]) for u in new.values()) == [
        ("audio", "voice.wav", True),
        ("image", "face.png", True),
        ("video", "walk.mp4", True),
    ]
    services = stored(studio_env, isolated_env / "data")
    try:
        [gen] = svc.history(services)
        context = gen.selected_context
        assert [new[i]["filename"] for i in context.images] == ["face.png"]
        assert [new[i]["filename"] for i in context.videos] == ["walk.mp4"]
        assert [new[i]["filename"] for i in context.audio] == ["voice.wav"]
    finally:
        services.close()


def test_grid_sends_the_same_references_to_every_cell_and_uploads_once(studio_env, isolated_env, tmp_path, capsys):
    a = picture(tmp_path / "a.jpg", 500, 500)
    b = picture(tmp_path / "b.webp", 800, 600)
    before = set(uploads(studio_env))
    code = cli.main(
        [
            *("grid", "A koi pond", "--resolutions", "480p,720p", "--aspect-ratios", "16:9"),
            *("--image", str(a), "--image", str(b), "--image", str(a)),  # the same file twice is one reference
        ]
    )
    out = capsys.readouterr()
    assert code == 0, out.err
    assert len(json.loads(out.out.splitlines()[-1])) == 2
    new = [i for i in uploads(studio_env) if i not in before]
    assert len(new) == 2
    services = stored(studio_env, isolated_env / "data")
    try:
        gens = svc.history(services)
        assert len(gens) == 2
        assert [g.selected_context.images for g in gens] == [new, new]  # a.jpg then b.webp, in every cell
    finally:
        services.close()


def test_a_file_already_in_the_library_is_reported_under_its_first_name(studio_env, tmp_path, capsys):
    face = picture(tmp_path / "face.png", 640, 480)
    assert cli.main(["generate", "first", "--image", str(face)]) == 0
    copy = tmp_path / "renamed.png"
    copy.write_bytes(face.read_bytes())
    before = set(uploads(studio_env))
    capsys.readouterr()
    assert cli.main(["generate", "second", "--image", str(copy)]) == 0
    assert "reference: renamed.png is already in the reference library as face.png" in capsys.readouterr().err
    assert set(uploads(studio_env)) == before  # not uploaded again


def nothing_happened(sim, data_dir, before: set[str]) -> bool:
    services = stored(sim, data_dir)
    try:
        return set(uploads(sim)) == before and svc.history(services) == []
    finally:
        services.close()


@pytest.mark.parametrize("command", [["generate", "x"], ["grid", "x", "--resolutions", "480p"]])
def test_a_text_file_named_png_stops_before_any_upload_or_run(studio_env, isolated_env, tmp_path, capsys, command):
    good = picture(tmp_path / "good.png", 640, 480)
    fake = tmp_path / "fake.png"
    fake.write_text("not a picture")
    before = set(uploads(studio_env))
    code = cli.main([*command, "--image", str(good), "--image", str(fake)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip().splitlines() == [
        "error: fake.png is not an image: its content is not a JPEG, PNG, WebP, BMP, TIFF or GIF picture"
    ]
    assert nothing_happened(studio_env, isolated_env / "data", before)


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (
            lambda d: ["--video", str(clip(d / "boat.mp4", 16))],
            "error: boat.mp4 is 16.0 s; a reference video may be 2–15 s",
        ),
        (
            lambda d: ["--audio", str(tone(d / "voice.wav", 3))],
            "error: voice.wav: reference audio needs at least one reference image or video beside it",
        ),
        (
            lambda d: ["--video", str(clip(d / "a.mp4", 8)), "--video", str(clip(d / "b.mp4", 7.5))],
            "error: a.mp4 and b.mp4 are 15.5 s together; reference videos may be 15 s in total",
        ),
        (
            lambda d: ["--image", str(clip(d / "walk.mp4", 3))],
            "error: walk.mp4 was given as --image but is a video; pass it with --video",
        ),
        (
            lambda d: ["--audio", str(picture(d / "p.png"))],
            "error: p.png was given as --audio but is an image; pass it with --image",
        ),
    ],
)
def test_broken_references_exit_2_with_one_line(studio_env, isolated_env, tmp_path, capsys, files, message):
    before = set(uploads(studio_env))
    code = cli.main(["generate", "x", *files(tmp_path)])
    assert code == 2
    assert capsys.readouterr().err.strip().splitlines() == [message]
    assert nothing_happened(studio_env, isolated_env / "data", before)


def test_reference_flags_are_in_the_help(capsys):
    for command in ("generate", "grid"):
        with pytest.raises(SystemExit):
            cli.main([command, "--help"])
        text = capsys.readouterr().out
        assert all(f"--{flag} FILE" in text for flag in ("image", "video", "audio"))
