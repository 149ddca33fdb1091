"""Video files: frame sizes for the node's settings, fast placeholder renders, probing, thumbnails.

Sizes come from Seedance 2's table (studio.models.OUTPUT_SIZES); renders are 24 fps like the model.

Renders run the ffmpeg binary bundled with imageio-ffmpeg; probing and thumbnails use PyAV and
Pillow (there is no ffprobe). Every file is written to a temp name and renamed into place, so a
reader never sees half a file. No Streamlit and no network here. A file that cannot be read or
rendered is a `MediaError`, a size or length no take can have a `ParamsError`. `verify` is the
gate a download passes before it is renamed into place: every promised frame present, the last
ones decodable, and the size and length of the take that was asked for (`WrongVideoError`).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import subprocess
import tempfile
import textwrap
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import av
import imageio_ffmpeg
from PIL import Image

from .errors import MediaError, ParamsError, WrongVideoError
from .models import OUTPUT_SIZES, RESOLUTIONS, output_size

AUTO_ASPECT_RATIO = "16:9"  # frame_size's stand-in for `auto` when no prompt picks one

RENDER_FPS = 24  # Seedance 2 always makes 24 fps
FONT_FILE = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
THUMB_WIDTH = 320
PARTIAL_SUFFIX = ".part"  # a download in progress: renamed into place only when complete, never served
THUMB_AT_S = 1.0
# A take may differ from the seconds asked for by its extra frame (N x 24 + 1) and rounding; a
# take of another length (4 s where 6 s was asked) is someone else's video.
DURATION_TOLERANCE_S = 0.5
# When a container does not say how many frames it holds, its duration x frame rate stands in,
# which rounding can put one frame off.
FRAME_SLACK = 1
THUMB_JPEG_QUALITY = 80

# Encoder choice, measured on the 2-core dev machine (one clip, 8 s, 12 fps, AAC on, text drawn):
#   ultrafast + stillimage, qp 30:  480p 0.18 s, 720p 0.24 s, 1080p 0.40 s (wall)
#   ultrafast + stillimage, crf 30: 480p 0.22 s, 720p 0.35 s, 1080p 0.60 s
#   veryfast  + stillimage, crf 30: 480p 0.30 s, 720p 0.52 s, 1080p 0.78 s
# x264 is ~75% of the CPU time, so the cheapest settings win; constant QP skips rate control and
# the flat frames stay small (~30 KB per second at 1080p, audio included). One encoder thread per
# clip: the simulator renders several at once and x264's own threads only add overhead then. A
# full 3 x 7 grid of 15 s clips renders in ~7-8 s with 2-4 workers.
X264_ARGS = (
    "-c:v",
    "libx264",
    "-preset",
    "ultrafast",
    "-tune",
    "stillimage",
    "-qp",
    "30",
    "-pix_fmt",
    "yuv420p",
    "-threads",
    "1",
)
AAC_ARGS = ("-c:a", "aac", "-b:a", "64k", "-ac", "1", "-ar", "44100")  # one mono track, like the model
TONE_HZ = 440
RENDER_TIMEOUT_S = 300

TEXT_MAX_LINES = 4
TEXT_MAX_INPUT_CHARS = 1000  # wrapping cost stays bounded for pasted essays
TEXT_CHAR_WIDTH = 0.6  # DejaVu Sans Bold glyphs average ~0.6 em
STDERR_TAIL_CHARS = 1500


@functools.cache
def ffmpeg_exe() -> str:
    "Path of the ffmpeg binary bundled with imageio-ffmpeg."
    return imageio_ffmpeg.get_ffmpeg_exe()


def _even(x: float) -> int:
    return max(2, 2 * round(x / 2))


def frame_size(resolution: str, aspect_ratio: str) -> tuple[int, int]:
    "(width, height) Seedance 2 makes for a resolution and aspect ratio (`auto`: AUTO_ASPECT_RATIO)."
    ratio = AUTO_ASPECT_RATIO if aspect_ratio == "auto" else aspect_ratio
    if resolution not in RESOLUTIONS or ratio not in OUTPUT_SIZES:
        raise ParamsError(
            f"resolution must be one of {', '.join(RESOLUTIONS)} and aspect ratio one of "
            f"{', '.join(OUTPUT_SIZES)} or auto (got {resolution!r}, {aspect_ratio!r})"
        )
    return output_size(resolution, ratio)


def frame_count(seconds: float, fps: int = RENDER_FPS) -> int:
    "Frames of a take of `seconds`: N × fps + 1, as Seedance 2 makes them."
    return round(seconds * fps) + 1


def _wrap_prompt(text: str, width: int, fontsize: int) -> str:
    words = " ".join(text[:TEXT_MAX_INPUT_CHARS].split())
    if len(text) > TEXT_MAX_INPUT_CHARS:
        words += " …"
    per_line = max(8, int(width * 0.86 / (fontsize * TEXT_CHAR_WIDTH)))
    lines = textwrap.wrap(words, width=per_line, max_lines=TEXT_MAX_LINES, placeholder=" …")
    return "\n".join(lines)


def _background(text: str) -> str:
    # A colour picked from the prompt, so different prompts are told apart at a glance; kept dark
    # so white text stays readable.
    digest = hashlib.sha256(text.encode()).digest()
    r, g, b = (40 + digest[i] % 80 for i in range(3))
    return f"0x{r:02x}{g:02x}{b:02x}"


def _filter_value(value: str) -> str:
    # Quote a path for a filter option; the temp and font paths never contain a quote.
    return "'" + value.replace("\\", "/").replace("'", "") + "'"


def _video_graph(width: int, height: int, fps: int, text_file: Path | None) -> str:
    "The -filter_complex graph from input 0 (the background) to the output label [v]."
    short = min(width, height)
    bar_w, bar_h = _even(width / 10), _even(max(4, short / 40))
    # A bar sliding along the bottom makes every frame differ even without a font. drawbox cannot
    # move (its `t` is the thickness, not time), so overlay a small colour source instead.
    graph = [
        f"color=c=orange:s={bar_w}x{bar_h}:r={fps}[bar]",
        "[0:v][bar]overlay=x='mod(t*W/4,W-w)':y=H-H/12:shortest=1:eval=frame[base]",
    ]
    if text_file is None:
        return ";".join(graph).replace("[base]", "[v]")
    font = _filter_value(str(FONT_FILE))
    size = max(12, short // 16)
    small = max(10, short // 24)
    graph.append(
        f"[base]drawtext=fontfile={font}:textfile={_filter_value(str(text_file))}:expansion=none"
        f":fontsize={size}:fontcolor=white:line_spacing={size // 4}:text_align=center"
        f":box=1:boxcolor=black@0.45:boxborderw={size // 2}:x=(w-tw)/2:y=(h-th)/2,"
        f"drawtext=fontfile={font}:text='{width}x{height}  %{{pts\\:hms}}'"
        f":fontsize={small}:fontcolor=yellow:x={small}:y={small}[v]"
    )
    return ";".join(graph)


def render_clip(
    dest: Path,
    *,
    width: int,
    height: int,
    seconds: float | None = None,
    frames: int | None = None,
    audio: bool,
    text: str,
    fps: int = RENDER_FPS,
) -> None:
    """Render a playable H.264 MP4 (plus a mono AAC tone when `audio`) showing `text`, atomically.

    Give `frames`, or `seconds` for frame_count(seconds) frames (N × fps + 1). Without the font
    file the clip is rendered without text rather than failing.
    """
    if width % 2 or height % 2 or width <= 0 or height <= 0:
        raise ParamsError(f"frame size must be positive and even (got {width}x{height})", field="size")
    if (seconds is None) == (frames is None):
        raise TypeError("give exactly one of seconds and frames")  # a caller's bug, not a value
    if seconds is not None:
        if seconds <= 0:
            raise ParamsError(f"seconds must be positive (got {seconds})", field="duration")
        frames = frame_count(seconds, fps) if fps > 0 else 1
    assert frames is not None
    if frames < 1:
        raise ParamsError(f"frames must be at least 1 (got {frames})", field="duration")
    length = frames / fps if fps > 0 else 1.0
    dest = Path(dest)
    try:
        _render(dest, width=width, height=height, frames=frames, fps=fps, length=length, audio=audio, text=text)
    except OSError as err:  # the folder cannot be written, the disk is full, ffmpeg cannot start
        raise MediaError(f"Could not render {dest.name}: {err.strerror or err}") from err


def _render(
    dest: Path, *, width: int, height: int, frames: int, fps: int, length: float, audio: bool, text: str
) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.tmp")
    with tempfile.TemporaryDirectory(prefix="studio-render-") as workdir:
        text_file = None
        wrapped = _wrap_prompt(text, width, max(12, min(width, height) // 16))
        if wrapped and FONT_FILE.is_file():
            # textfile= sidesteps every escaping rule of drawtext's text= option.
            text_file = Path(workdir) / "prompt.txt"
            text_file.write_text(wrapped, encoding="utf-8")
        cmd = [
            ffmpeg_exe(),
            "-hide_banner",
            "-nostdin",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            f"color=c={_background(text)}:s={width}x{height}:r={fps}:d={length + 1}",
        ]
        if audio:
            cmd += ["-f", "lavfi", "-i", f"sine=frequency={TONE_HZ}:sample_rate=44100:duration={length}"]
        cmd += ["-filter_complex", _video_graph(width, height, fps, text_file), "-map", "[v]", *X264_ARGS]
        cmd += ["-map", "1:a", *AAC_ARGS] if audio else ["-an"]
        cmd += ["-frames:v", str(frames), "-movflags", "+faststart", "-f", "mp4", str(tmp)]
        try:
            proc = subprocess.run(cmd, capture_output=True, timeout=RENDER_TIMEOUT_S)
        except subprocess.TimeoutExpired as err:
            tmp.unlink(missing_ok=True)
            raise MediaError(f"ffmpeg did not finish within {RENDER_TIMEOUT_S} s rendering {dest.name}") from err
    if proc.returncode != 0:
        tmp.unlink(missing_ok=True)
        tail = proc.stderr.decode("utf-8", "replace").strip()[-STDERR_TAIL_CHARS:]
        raise MediaError(f"ffmpeg failed (exit {proc.returncode}) rendering {dest.name}: {tail}")
    os.replace(tmp, dest)


@dataclass(frozen=True)
class MediaFacts:
    "What a media file contains, as probed by PyAV."

    width: int
    height: int
    duration_s: float
    has_audio: bool
    video_codec: str | None
    audio_codec: str | None
    file_size: int
    fps: float = 0.0
    frames: int = 0
    audio_channels: int = 0


def _unreadable(path: Path, err: BaseException) -> MediaError:
    reason = getattr(err, "strerror", None) or str(err) or type(err).__name__
    return MediaError(f"{path.name} is not a readable video ({reason}); download or render it again")


def probe(path: Path) -> MediaFacts:
    "Size, duration, streams and codecs of a media file; `MediaError` if it is missing or unreadable."
    path = Path(path)
    try:
        return _probe(path)
    # PyAV's errors, plus the OSError of a file that vanished; some of PyAV's are also OSErrors.
    except (av.FFmpegError, OSError) as err:
        raise _unreadable(path, err) from err


def _probe(path: Path) -> MediaFacts:
    with av.open(str(path)) as container:
        video = container.streams.video[0] if container.streams.video else None
        sound = container.streams.audio[0] if container.streams.audio else None
        if container.duration is not None:
            duration = container.duration / av.time_base
        elif video is not None and video.duration is not None and video.time_base is not None:
            duration = float(video.duration * video.time_base)
        else:
            duration = 0.0
        return MediaFacts(
            width=video.codec_context.width if video else 0,
            height=video.codec_context.height if video else 0,
            duration_s=float(duration),
            has_audio=sound is not None,
            video_codec=video.codec_context.name if video else None,
            audio_codec=sound.codec_context.name if sound else None,
            file_size=path.stat().st_size,
            fps=float(video.average_rate or 0) if video else 0.0,
            frames=int(video.frames) if video else 0,
            audio_channels=sound.codec_context.layout.nb_channels if sound else 0,
        )


def take_sizes(resolution: str, aspect_ratio: str) -> frozenset[tuple[int, int]]:
    "Every (width, height) a take of these settings can have (`auto`: any of the six); empty if unknown."
    if resolution not in RESOLUTIONS:
        return frozenset()
    ratios = list(OUTPUT_SIZES) if aspect_ratio == "auto" else [aspect_ratio]
    return frozenset(output_size(resolution, r) for r in ratios if r in OUTPUT_SIZES)


def verify(
    path: Path, *, sizes: Collection[tuple[int, int]] = (), seconds: float | None = None, name: str | None = None
) -> MediaFacts:
    """Check a downloaded take before it is kept, and return its facts.

    Broken (`MediaError`): no video stream, fewer frames in the file than its header promises, or
    the last group of pictures does not decode. Foreign (`WrongVideoError`): whole, but its frame
    size is not one of `sizes`, or its length is not `seconds` (give neither to skip the checks).
    Cost: the packets are counted without decoding and only the frames from the last keyframe on
    are decoded (a 15 s 1080p take: about 0.2 s, against 0.7 s for decoding all of it).
    """
    path = Path(path)
    label = name or path.name
    facts = probe(path)
    try:
        check_frames(path, label)
    except (av.FFmpegError, OSError) as err:
        raise _unreadable(path, err) from err
    if sizes and (facts.width, facts.height) not in set(sizes):
        wanted = " or ".join(f"{w}×{h}" for w, h in sorted(sizes))
        raise WrongVideoError(f"{label} is {facts.width}×{facts.height}, not the {wanted} this take was asked for")
    if seconds is not None and abs(facts.duration_s - seconds) > DURATION_TOLERANCE_S:
        raise WrongVideoError(f"{label} lasts {facts.duration_s:.1f} s, not the {seconds:g} s this take was asked for")
    return facts


def check_frames(source: Path | BinaryIO, label: str) -> None:
    """The whole-file rule, for downloads and reference videos alike (`MediaError`): a video frame,
    every frame its header promises, and the last group of pictures decoding. `source` is a path or
    an open binary file; PyAV's own errors (not a video at all) are the caller's to word."""
    present, promised, tail_packets, tail_frames = _count_frames(source)
    if present == 0:
        raise MediaError(f"{label} has no video frame; download or render it again")
    if present + FRAME_SLACK < promised:
        raise MediaError(
            f"{label} is cut short: only {present} of the {promised} frames its header promises are in the file"
        )
    if tail_frames < tail_packets:
        raise MediaError(f"{label} is damaged: {tail_frames} of its last {tail_packets} frames decode")


def _count_frames(source: Path | BinaryIO) -> tuple[int, int, int, int]:
    """(frames present, frames promised, packets from the last keyframe, frames decoded from it).
    Demuxing reads every packet's bytes without decoding, so a file cut short shows at once."""
    with av.open(str(source) if isinstance(source, Path) else source, mode="r") as container:
        if not container.streams.video:
            return 0, 0, 0, 0
        stream = container.streams.video[0]
        present, last_key, last_key_pts = 0, 0, None
        for packet in container.demux(stream):
            if packet.size == 0:  # the flush packet at the end
                continue
            if packet.is_keyframe:
                last_key, last_key_pts = present, packet.pts
            present += 1
        promised = int(stream.frames or 0)
        if not promised and stream.duration and stream.time_base and stream.average_rate:
            promised = round(float(stream.duration * stream.time_base * stream.average_rate))
        if not present or present + FRAME_SLACK < promised:
            return present, promised, 0, 0  # already known broken: no need to decode
        tail_packets = present - last_key
        if last_key_pts is not None:
            container.seek(last_key_pts, stream=stream, backward=True, any_frame=False)
        stream.thread_type = "AUTO"
        decoded = 0
        try:
            for _frame in container.decode(stream):
                decoded += 1
        except av.FFmpegError:
            pass  # a damaged packet ends decoding; the count says how far it got
        # Seeking lands on the keyframe, or (no pts to seek by) the decode runs from the start.
        return present, promised, tail_packets, decoded if last_key_pts is not None else decoded - last_key


def make_thumbnail(src: Path, dest: Path, width: int = THUMB_WIDTH) -> None:
    "Write a JPEG `width` pixels wide from the frame about 1 s in (the first frame of short clips)."
    src, dest = Path(src), Path(dest)
    try:
        image = _frame_near_start(src)
    except (av.FFmpegError, OSError) as err:
        raise _unreadable(src, err) from err
    if image is None:
        raise MediaError(f"{src.name} has no video frame; download or render it again")
    height = max(2, round(image.height * width / image.width))
    image = image.convert("RGB").resize((width, height), Image.Resampling.BILINEAR)
    tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.tmp")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        image.save(tmp, format="JPEG", quality=THUMB_JPEG_QUALITY)
        os.replace(tmp, dest)
    except OSError as err:
        raise MediaError(f"Could not write the thumbnail {dest.name}: {err.strerror or err}") from err
    finally:
        with contextlib.suppress(OSError):  # nothing to remove when its folder could not be made
            tmp.unlink(missing_ok=True)


def _frame_near_start(src: Path) -> Image.Image | None:
    "The frame about THUMB_AT_S in, or None when the file has no video frame."
    image = None
    with av.open(str(src)) as container:
        if not container.streams.video:
            return None
        stream = container.streams.video[0]
        duration = container.duration / av.time_base if container.duration else 0.0
        target = THUMB_AT_S if duration > THUMB_AT_S * 1.5 else 0.0
        # Decoding from the start is cheap for these clips (one keyframe, ~12 fps) and avoids
        # seek quirks; stop at the first frame at or after the target time.
        for frame in container.decode(stream):
            image = frame.to_image()
            if frame.time is None or frame.time >= target:
                break
    return image


def sha256_file(path: Path) -> str:
    "Hex SHA-256 of a file's bytes, read in chunks."
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
