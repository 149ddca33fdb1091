"""The reference rules as Seedance 2 applies them, on real files: the content decides the kind,
each file meets its limits, and a generation's selection meets the counts and totals."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest
from media_files import clip, ffmpeg, picture, tone
from PIL import Image

from studio import references as refs
from studio import services as svc
from studio.errors import ParamsError
from studio.models import Reference
from studio.references import MB, ReferenceFacts, UploadResult, check_file, check_selection


def refused(path: Path | str, source: bytes | Path | None = None) -> str:
    with pytest.raises(ParamsError) as info:
        check_file(Path(path).name, source if source is not None else Path(path))
    assert info.value.field == "references"
    return str(info.value)


# ---------------------------------------------------------------- the content decides the kind


def test_a_text_file_named_png_is_refused_as_not_an_image(tmp_path):
    fake = tmp_path / "fake.png"
    fake.write_text("hello, this is not a picture\n")
    message = refused(fake)
    assert message.startswith("fake.png is not an image")
    assert refused("fake.png", fake.read_bytes()) == message  # same verdict from bytes as from a path


@pytest.mark.parametrize(
    ("name", "says"),
    [("fake.mp4", "fake.mp4 is not a video"), ("fake.wav", "fake.wav is not audio"), ("notes.txt", "not an image,")],
)
def test_a_text_file_is_refused_whatever_its_name(tmp_path, name, says):
    (tmp_path / name).write_text("just words " * 50)
    assert says in refused(tmp_path / name)


def test_a_picture_named_mp4_is_an_image(tmp_path):
    facts = check_file("holiday.mp4", picture(tmp_path / "x.png").read_bytes())
    assert (facts.kind, facts.format, facts.content_type) == ("image", "png", "image/png")


@pytest.mark.parametrize(
    ("suffix", "fmt", "short"),
    [
        (".jpg", "JPEG", "jpeg"),
        (".png", "PNG", "png"),
        (".webp", "WEBP", "webp"),
        (".bmp", "BMP", "bmp"),
        (".tiff", "TIFF", "tiff"),
        (".gif", "GIF", "gif"),
    ],
)
def test_every_accepted_image_format(tmp_path, suffix, fmt, short):
    facts = check_file(f"a{suffix}", picture(tmp_path / f"a{suffix}", 640, 480, fmt))
    assert (facts.kind, facts.format, facts.width, facts.height) == ("image", short, 640, 480)
    assert facts.context_key == "images"


def test_an_image_in_another_format_is_refused(tmp_path):
    icon = picture(tmp_path / "logo.ico", 256, 256, "ICO")
    assert (
        refused(icon)
        == "logo.ico is an image in ICO format; a reference image must be JPEG, PNG, WebP, BMP, TIFF or GIF"
    )


def test_a_damaged_image_is_refused(tmp_path):
    whole = picture(tmp_path / "whole.png").read_bytes()
    broken = whole[:60] + bytes(b ^ 0xFF for b in whole[60:80]) + whole[80:]
    assert "broken.png is a damaged image" in refused("broken.png", broken)


def test_empty_and_missing_files_are_refused(tmp_path):
    assert refused("empty.png", b"") == "empty.png is empty"
    assert refused(tmp_path / "gone.png").startswith("Cannot read gone.png")


# ---------------------------------------------------------------- images: sides, ratio, size


@pytest.mark.parametrize(
    ("size", "ok"),
    [
        ((300, 300), True),
        ((299, 400), False),
        ((400, 299), False),
        ((6000, 3000), True),
        ((6001, 3000), False),
        ((750, 300), True),  # width/height 2.5
        ((300, 750), True),  # 0.4
        ((760, 300), False),
        ((300, 760), False),
    ],
)
def test_image_sides_and_ratio(tmp_path, size, ok):
    path = picture(tmp_path / "p.png", *size)
    if ok:
        assert (check_file("p.png", path).width, check_file("p.png", path).height) == size
    else:
        message = refused(path)
        assert message.startswith(f"p.png is {size[0]}×{size[1]} px")
        assert "300–6000 px" in message or "width/height must be 0.4–2.5" in message


def test_image_ratio_message_names_the_ratio(tmp_path):
    assert refused(picture(tmp_path / "wide.png", 900, 300)) == (
        "wide.png is 900×300 px (width/height 3.00); a reference image's width/height must be 0.4–2.5"
    )


def test_image_must_be_under_30_mb(tmp_path):
    # A valid PNG followed by padding: Pillow stops at IEND, the byte count is what the rule sees.
    png = picture(tmp_path / "p.png").read_bytes()
    assert check_file("under.png", png + bytes(30 * MB - len(png) - 1)).size == 30 * MB - 1
    assert refused("big.png", png + bytes(30 * MB - len(png))) == (
        "big.png is 30.0 MB; a reference image must be under 30 MB"
    )


# ---------------------------------------------------------------- video: container, codec, length, fps, size


def test_mp4_and_mov_h264_videos_pass_with_their_facts(tmp_path):
    mp4 = check_file("boat.mp4", clip(tmp_path / "boat.mp4", 3))
    assert (mp4.kind, mp4.format, mp4.content_type, mp4.codec) == ("video", "mp4", "video/mp4", "h264")
    assert (mp4.width, mp4.height, mp4.fps) == (64, 64, 24.0)
    assert mp4.duration_s == pytest.approx(3, abs=0.05)
    assert mp4.context_key == "videos"
    mov = check_file("boat.mov", clip(tmp_path / "boat.mov", 3, fmt="mov"))
    assert (mov.format, mov.content_type) == ("mov", "video/quicktime")


def test_h265_is_accepted(tmp_path):
    assert check_file("h.mp4", clip(tmp_path / "h.mp4", 2.5, codec="libx265")).codec == "hevc"


def test_other_codecs_and_containers_are_refused(tmp_path):
    assert refused(clip(tmp_path / "old.mp4", 3, codec="mpeg4")) == (
        "old.mp4 is encoded as mpeg4; a reference video must be H.264 or H.265"
    )
    message = refused(clip(tmp_path / "web.mkv", 3, fmt="matroska"))
    assert message.startswith("web.mkv is a video in Matroska") and "must be MP4 or MOV" in message


@pytest.mark.parametrize(("seconds", "ok"), [(1.5, False), (2, True), (15, True), (16, False)])
def test_video_length_is_2_to_15_seconds(tmp_path, seconds, ok):
    path = clip(tmp_path / "boat.mp4", seconds)
    if ok:
        assert check_file("boat.mp4", path).duration_s == pytest.approx(seconds, abs=0.05)
    else:
        assert refused(path) == f"boat.mp4 is {seconds:.1f} s; a reference video may be 2–15 s"


def test_a_video_with_sound_is_measured_as_a_whole(tmp_path):
    facts = check_file("talk.mp4", clip(tmp_path / "talk.mp4", 15, audio=True))
    assert facts.kind == "video" and facts.duration_s == pytest.approx(15, abs=refs.DURATION_TOLERANCE_S)


@pytest.mark.parametrize(
    ("fps", "ok"), [("12", False), ("24000/1001", False), ("24", True), ("60", True), ("61", False)]
)
def test_video_frame_rate_is_24_to_60(tmp_path, fps, ok):
    path = clip(tmp_path / "v.mp4", 2.5, fps=fps)
    if ok:
        assert check_file("v.mp4", path).fps == float(fps)
    else:
        message = refused(path)
        assert message.startswith("v.mp4 is ") and message.endswith("fps; a reference video must be 24–60 fps")


def test_video_may_be_up_to_50_mb(tmp_path):
    video = clip(tmp_path / "v.mp4", 3).read_bytes()
    padded = video + bytes(50 * MB + 1 - len(video))
    assert refused("long.mp4", padded) == "long.mp4 is 50.0 MB; a reference video may be up to 50 MB"


# ---------------------------------------------------------------- audio: format, length, size


@pytest.mark.parametrize(("suffix", "content_type"), [(".wav", "audio/wav"), (".mp3", "audio/mpeg")])
def test_wav_and_mp3_pass(tmp_path, suffix, content_type):
    facts = check_file(f"tone{suffix}", tone(tmp_path / f"tone{suffix}", 3))
    assert (facts.kind, facts.format, facts.content_type) == ("audio", suffix[1:], content_type)
    assert facts.duration_s == pytest.approx(3, abs=0.1)
    assert facts.context_key == "audio"


@pytest.mark.parametrize(("name", "fmt", "codec"), [("song.flac", None, None), ("song.m4a", "ipod", "aac")])
def test_other_audio_formats_are_refused(tmp_path, name, fmt, codec):
    message = refused(tone(tmp_path / name, 3, fmt=fmt, codec=codec))
    assert message.startswith(f"{name} is audio in ") and message.endswith("reference audio must be WAV or MP3")


@pytest.mark.parametrize(("seconds", "ok"), [(1.5, False), (2, True), (15, True), (15.5, False)])
def test_audio_length_is_2_to_15_seconds(tmp_path, seconds, ok):
    path = tone(tmp_path / "voice.wav", seconds)
    if ok:
        assert check_file("voice.wav", path).duration_s == pytest.approx(seconds, abs=0.01)
    else:
        assert refused(path) == f"voice.wav is {seconds:.1f} s; a reference audio clip may be 2–15 s"


def test_audio_may_be_up_to_15_mb(tmp_path):
    loud = tmp_path / "loud.wav"  # 4 s of 6-channel 192 kHz 32-bit audio: 18 MB, a valid length
    ffmpeg("-f", "lavfi", "-i", "sine=sample_rate=192000:duration=4", "-ac", "6", "-c:a", "pcm_s32le", str(loud))
    assert refused(loud) == "loud.wav is 17.6 MB; a reference audio clip may be up to 15 MB"


def test_cover_art_does_not_make_an_mp3_a_video(tmp_path):
    art = tmp_path / "cover.jpg"
    Image.new("RGB", (64, 64), (10, 20, 30)).save(art)
    song = tmp_path / "song.mp3"
    tone(tmp_path / "plain.mp3", 3)
    ffmpeg("-i", str(tmp_path / "plain.mp3"), "-i", str(art), "-map", "0", "-map", "1", "-c", "copy", str(song))
    assert check_file("song.mp3", song).kind == "audio"


# ---------------------------------------------------------------- a generation's selection


def facts(name: str, kind: str, *, seconds: float | None = None, size: int = 1000) -> ReferenceFacts:
    fmt = {"image": "png", "video": "mp4", "audio": "wav"}[kind]
    return ReferenceFacts(name, kind, fmt, f"{kind}/{fmt}", size, duration_s=seconds)


def selection_refused(files: list[ReferenceFacts]) -> str:
    with pytest.raises(ParamsError) as info:
        check_selection(files)
    assert info.value.field == "references"
    return str(info.value)


def test_the_largest_allowed_selection_passes():
    check_selection(
        [facts(f"i{n}.png", "image") for n in range(9)]
        + [facts(f"v{n}.mp4", "video", seconds=5) for n in range(3)]
        + [facts(f"a{n}.wav", "audio", seconds=5) for n in range(3)]
    )


@pytest.mark.parametrize(
    ("kind", "limit", "noun"),
    [("image", 9, "reference images"), ("video", 3, "reference videos"), ("audio", 3, "reference audio clips")],
)
def test_counts_name_the_files_over_the_limit(kind, limit, noun):
    files = [facts(f"f{n}", kind, seconds=2) for n in range(limit + 1)] + [facts("base.png", "image")] * (
        kind == "audio"
    )
    assert (
        selection_refused(files) == f"f{limit} would make {limit + 1} {noun}; a generation takes at most {limit} {noun}"
    )


def test_video_and_audio_totals_are_15_seconds():
    assert selection_refused([facts("a.mp4", "video", seconds=8), facts("b.mp4", "video", seconds=8)]) == (
        "a.mp4 and b.mp4 are 16.0 s together; reference videos may be 15 s in total"
    )
    three = [facts(f"{n}.wav", "audio", seconds=6) for n in "xyz"] + [facts("p.png", "image")]
    assert (
        selection_refused(three)
        == "x.wav, y.wav and z.wav are 18.0 s together; reference audio clips may be 15 s in total"
    )
    check_selection([facts("a.mp4", "video", seconds=7.5), facts("b.mp4", "video", seconds=7.5)])


def test_images_together_may_be_64_mb():
    assert selection_refused([facts(f"{n}.png", "image", size=22 * MB) for n in "abc"]) == (
        "a.png, b.png and c.png are 66.0 MB together; reference images may be 64 MB in total"
    )


def test_audio_needs_an_image_or_a_video_beside_it():
    assert selection_refused([facts("voice.wav", "audio", seconds=4)]) == (
        "voice.wav: reference audio needs at least one reference image or video beside it"
    )
    check_selection([facts("voice.wav", "audio", seconds=4), facts("face.png", "image")])
    check_selection([facts("voice.wav", "audio", seconds=4), facts("walk.mp4", "video", seconds=4)])


def test_selection_rules_hold_on_real_files(tmp_path):
    chosen = [
        check_file("a.mp4", clip(tmp_path / "a.mp4", 8)),
        check_file("b.mov", clip(tmp_path / "b.mov", 8, fmt="mov")),
    ]
    assert "a.mp4 and b.mov are 16.0 s together" in selection_refused(chosen)
    check_selection([check_file("v.wav", tone(tmp_path / "v.wav", 3)), chosen[0]])


# ---------------------------------------------------------------- the library's answer


def reference(filename: str) -> Reference:
    return Reference(
        scope="s", sha256="ab" * 32, kind="image", filename=filename, size=10, upload_id="u1", created_at="2026-01-01"
    )


def test_upload_result_says_when_the_file_was_already_in_the_library():
    assert UploadResult(reference("board.png"), "board.png", already_had=False).message() == (
        "Added board.png to the reference library"
    )
    assert UploadResult(reference("board.png"), "renamed.png", already_had=True).message() == (
        "renamed.png is already in the reference library as board.png"
    )
    assert UploadResult(reference("board.png"), "board.png", already_had=True).message() == (
        "board.png is already in the reference library"
    )


def test_bytes_and_paths_give_the_same_facts(tmp_path):
    path = clip(tmp_path / "c.mp4", 3)
    assert check_file("c.mp4", path) == check_file("c.mp4", path.read_bytes())


# ---------------------------------------------------------------- a folder or a pipe (issue 7 §6)


def test_a_folder_is_refused_in_one_line_before_it_is_opened(tmp_path):
    (tmp_path / "shots.png").mkdir()
    assert refused(tmp_path / "shots.png") == (
        "shots.png is a folder, not a file; give a reference image, video or audio file"
    )


def test_a_pipe_is_refused_without_waiting_for_a_writer(tmp_path):
    pipe = tmp_path / "live.wav"
    os.mkfifo(pipe)
    assert refused(pipe).startswith("live.wav is not a regular file")


def _tickets(sim) -> int:
    requests = httpx.get(f"{sim.base_url}/_sim/stats").json()["requests"]
    return sum(requests.get(route, 0) for route in ("upload_url", "upload_finalize"))


def test_a_folder_never_gets_an_upload_ticket(studio, sim, tmp_path):
    folder = tmp_path / "refs"
    folder.mkdir()
    before = _tickets(sim)
    with pytest.raises(ParamsError, match="refs is a folder"):
        svc.upload_reference(studio, "refs", folder)
    with pytest.raises(ParamsError, match="refs is a folder or device, not a file"):
        studio.client.upload("image", folder, "refs")
    assert _tickets(sim) == before
    assert svc.references(studio) == []


def test_a_path_is_uploaded_once_checked(studio, tmp_path):
    face = picture(tmp_path / "face.png", 640, 480)
    result = svc.upload_reference(studio, "face.png", face)
    assert result.reference.kind == "image" and not result.already_had
    assert svc.upload_reference(studio, "face.png", face.read_bytes()).already_had


def _cut_clip(path: Path) -> Path:
    "A 4 s clip (96 frames promised by its header, which comes first) of which only the first half is kept."
    ffmpeg(
        *("-f", "lavfi", "-i", "testsrc=s=320x240:r=24:d=4", "-c:v", "libx264", "-preset", "ultrafast"),
        *("-g", "24", "-pix_fmt", "yuv420p", "-threads", "1", "-movflags", "+faststart", str(path)),
    )
    whole = path.read_bytes()
    assert check_file(path.name, whole).kind == "video"  # whole, it passes
    path.write_bytes(whole[: len(whole) // 2])
    return path


def test_a_cut_video_is_refused_as_a_cut_download_is(tmp_path):
    cut = _cut_clip(tmp_path / "cut.mp4")
    for source in (cut, cut.read_bytes()):  # a path (the CLI) or the bytes (an upload from the page)
        with pytest.raises(ParamsError, match=r"cut\.mp4 is cut short: only \d+ of the 96 frames"):
            check_file("cut.mp4", source)
