"""studio.media: frame sizes for every setting, real renders probed back, thumbnails, hashes."""

from __future__ import annotations

import hashlib
import os
from typing import Any, cast

import av
import pytest
from PIL import Image, ImageStat

from studio import media
from studio.errors import MediaError, ParamsError
from studio.models import ASPECT_RATIOS, OUTPUT_SIZES, RESOLUTIONS, output_size

needs_font = pytest.mark.skipif(not media.FONT_FILE.is_file(), reason="DejaVu font not installed")


# seedance-2.md's table, written out once more here on purpose: the code's table must match it.
SEEDANCE_SIZES = {
    ("480p", "16:9"): (864, 496), ("720p", "16:9"): (1280, 720), ("1080p", "16:9"): (1920, 1080),
    ("480p", "4:3"): (752, 560), ("720p", "4:3"): (1112, 834), ("1080p", "4:3"): (1664, 1248),
    ("480p", "1:1"): (640, 640), ("720p", "1:1"): (960, 960), ("1080p", "1:1"): (1440, 1440),
    ("480p", "3:4"): (560, 752), ("720p", "3:4"): (834, 1112), ("1080p", "3:4"): (1248, 1664),
    ("480p", "9:16"): (496, 864), ("720p", "9:16"): (720, 1280), ("1080p", "9:16"): (1080, 1920),
    ("480p", "21:9"): (992, 432), ("720p", "21:9"): (1470, 630), ("1080p", "21:9"): (2206, 946),
}  # fmt: skip


def test_the_size_table_is_seedance_2s():
    table = {(r, a): output_size(r, a) for a in OUTPUT_SIZES for r in RESOLUTIONS}
    assert table == SEEDANCE_SIZES
    assert set(OUTPUT_SIZES) == set(ASPECT_RATIOS) - {"auto"}


@pytest.mark.parametrize("resolution", RESOLUTIONS)
@pytest.mark.parametrize("aspect_ratio", ASPECT_RATIOS)
def test_frame_size_uses_the_table(resolution, aspect_ratio):
    width, height = media.frame_size(resolution, aspect_ratio)
    ratio = media.AUTO_ASPECT_RATIO if aspect_ratio == "auto" else aspect_ratio
    assert (width, height) == SEEDANCE_SIZES[(resolution, ratio)]
    assert width % 2 == 0 and height % 2 == 0  # yuv420p needs even sides


@pytest.mark.parametrize(
    "resolution, aspect_ratio", [("4k", "16:9"), ("720p", "wide"), ("720p", "0:9"), ("720p", "2:1")]
)
def test_frame_size_rejects_unknown_settings(resolution, aspect_ratio):
    with pytest.raises(ParamsError):
        media.frame_size(resolution, aspect_ratio)


def test_output_size_refuses_auto_with_a_params_error():
    with pytest.raises(ParamsError, match="auto"):
        output_size("720p", "auto")


def test_every_seedance_size_encodes_at_24_fps_with_n_times_24_plus_1_frames(tmp_path):
    for (resolution, aspect_ratio), (width, height) in SEEDANCE_SIZES.items():
        path = tmp_path / f"{resolution}-{aspect_ratio.replace(':', 'x')}.mp4"
        media.render_clip(path, width=width, height=height, seconds=1, audio=False, text="")
        facts = media.probe(path)
        assert (facts.width, facts.height) == (width, height), path.name
        assert (facts.fps, facts.frames) == (24.0, 25), path.name
        with av.open(str(path)) as container:
            assert container.streams.video[0].codec_context.pix_fmt == "yuv420p"


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clips")
    specs: dict[str, dict[str, Any]] = {
        "landscape_audio": dict(width=864, height=496, seconds=4, audio=True, text="A red fox in snow"),
        "portrait_silent": dict(
            width=720,
            height=1280,
            seconds=5,
            audio=False,
            text="50% {pts} it's a 'quote': colon \\ backslash %{n} " * 20,
        ),
        "no_text": dict(width=864, height=496, seconds=4, audio=False, text=""),
    }
    for name, spec in specs.items():
        media.render_clip(folder / f"{name}.mp4", **spec)
    return folder, specs


@pytest.mark.parametrize("name", ["landscape_audio", "portrait_silent", "no_text"])
def test_render_clip_probes_back_as_requested(clips, name):
    folder, specs = clips
    spec = specs[name]
    facts = media.probe(folder / f"{name}.mp4")
    assert (facts.width, facts.height) == (spec["width"], spec["height"])
    assert facts.duration_s == pytest.approx(spec["seconds"], abs=0.2)
    assert facts.has_audio is spec["audio"]
    assert facts.video_codec == "h264"
    assert facts.audio_codec == ("aac" if spec["audio"] else None)
    assert facts.audio_channels == (1 if spec["audio"] else 0)  # one mono track, like Seedance 2
    assert (facts.fps, facts.frames) == (24.0, spec["seconds"] * 24 + 1)
    assert facts.file_size == (folder / f"{name}.mp4").stat().st_size > 0


def _top_level_boxes(path) -> list[str]:
    data, boxes, offset = path.read_bytes(), [], 0
    while offset + 8 <= len(data):
        size = int.from_bytes(data[offset : offset + 4], "big")
        boxes.append(data[offset + 4 : offset + 8].decode("latin-1"))
        if size < 8:
            break
        offset += size
    return boxes


def test_render_clip_is_faststart_yuv420p_and_leaves_no_temp_files(clips):
    folder, _ = clips
    path = folder / "landscape_audio.mp4"
    boxes = _top_level_boxes(path)
    assert boxes.index("moov") < boxes.index("mdat")  # +faststart: playable while downloading
    with av.open(str(path)) as container:
        assert container.streams.video[0].codec_context.pix_fmt == "yuv420p"
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]


def _frame(path, at_s: float) -> Image.Image:
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            if frame.time >= at_s:
                return frame.to_image().convert("L")
    raise AssertionError("clip too short")


@needs_font
def test_prompt_text_is_drawn_on_the_frames(clips):
    folder, _ = clips
    centre = (864 // 4, 496 // 3, 864 * 3 // 4, 496 * 2 // 3)
    with_text = _frame(folder / "landscape_audio.mp4", 1.0).crop(centre)
    without = _frame(folder / "no_text.mp4", 1.0).crop(centre)
    low, high = cast(tuple[int, int], with_text.getextrema())  # one band ("L"): (min, max)
    assert high > 200 and high - low > 120  # white glyphs on the dark box
    flat_low, flat_high = cast(tuple[int, int], without.getextrema())
    assert flat_high - flat_low < 30  # a flat background


def test_frames_change_over_time(clips):
    folder, _ = clips
    first = _frame(folder / "no_text.mp4", 0.0)
    later = _frame(folder / "no_text.mp4", 2.0)
    diff = [abs(a - b) for a, b in zip(first.tobytes(), later.tobytes(), strict=False)]
    assert max(diff) > 50


def test_render_clip_without_font_still_renders(tmp_path, monkeypatch):
    monkeypatch.setattr(media, "FONT_FILE", tmp_path / "missing.ttf")
    media.render_clip(tmp_path / "plain.mp4", width=640, height=480, seconds=1, audio=False, text="no font here")
    assert media.probe(tmp_path / "plain.mp4").width == 640


def test_render_clip_failure_raises_with_ffmpeg_stderr(tmp_path):
    with pytest.raises(MediaError, match="ffmpeg failed"):
        media.render_clip(tmp_path / "bad.mp4", width=640, height=480, seconds=1, audio=False, text="x", fps=0)
    assert list(tmp_path.iterdir()) == []


def test_render_clip_rejects_odd_sizes(tmp_path):
    with pytest.raises(ParamsError):
        media.render_clip(tmp_path / "odd.mp4", width=641, height=480, seconds=1, audio=False, text="x")


@pytest.mark.parametrize("name, size", [("landscape_audio", (320, 184)), ("portrait_silent", (320, 569))])
def test_make_thumbnail_writes_a_320_wide_jpeg(clips, tmp_path, name, size):
    folder, _ = clips
    dest = tmp_path / f"{name}.jpg"
    media.make_thumbnail(folder / f"{name}.mp4", dest)
    assert dest.read_bytes()[:3] == b"\xff\xd8\xff"
    with Image.open(dest) as image:
        assert image.format == "JPEG"
        assert image.size == size
        assert ImageStat.Stat(image).extrema[0][1] > 0  # not a black frame
    assert [p.name for p in tmp_path.iterdir()] == [dest.name]


def test_make_thumbnail_of_a_short_clip_uses_the_first_frame(tmp_path):
    media.render_clip(tmp_path / "short.mp4", width=480, height=480, seconds=1, audio=False, text="short")
    media.make_thumbnail(tmp_path / "short.mp4", tmp_path / "short.jpg", width=100)
    with Image.open(tmp_path / "short.jpg") as image:
        assert image.size == (100, 100)


def test_sha256_file_matches_hashlib(tmp_path):
    path = tmp_path / "data.bin"
    path.write_bytes(b"mosaic" * 500_000)
    assert media.sha256_file(path) == hashlib.sha256(path.read_bytes()).hexdigest()


def test_ffmpeg_exe_is_cached_and_executable():
    assert media.ffmpeg_exe() is media.ffmpeg_exe()
    assert os.access(media.ffmpeg_exe(), os.X_OK)
