"""The reference rules: what Seedance 2 accepts as an image, video or audio reference, checked
before anything is uploaded (limits from `shared/seedance-2.md`).

A file's content decides its kind (Pillow for images, PyAV for video and audio); its name only
words the message. `check_file` checks one file and returns its facts; `check_selection` checks
what one generation would carry together. Every refusal is a `ParamsError(field="references")`
naming the file and the rule. No network, no store, no Streamlit here.
"""

from __future__ import annotations

import io
import math
import os
import stat
import struct
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, BinaryIO

import av
from PIL import Image, UnidentifiedImageError

from . import media
from .errors import MediaError, ParamsError
from .format import one_line
from .models import MAX_REFERENCE_AUDIO, MAX_REFERENCE_IMAGES, MAX_REFERENCE_VIDEOS, Reference

FIELD = "references"
MB = 1024**2

# Per file (seedance-2.md, "References").
IMAGE_MAX_BYTES = 30 * MB  # strictly under
IMAGE_MIN_SIDE_PX = 300
IMAGE_MAX_SIDE_PX = 6000
IMAGE_MIN_RATIO = 0.4  # width / height
IMAGE_MAX_RATIO = 2.5
VIDEO_MAX_BYTES = 50 * MB
VIDEO_MIN_S = 2.0
VIDEO_MAX_S = 15.0
VIDEO_MIN_FPS = 24.0
VIDEO_MAX_FPS = 60.0
AUDIO_MAX_BYTES = 15 * MB
AUDIO_MIN_S = 2.0
AUDIO_MAX_S = 15.0

# Per generation.
MAX_COUNT = {"image": MAX_REFERENCE_IMAGES, "video": MAX_REFERENCE_VIDEOS, "audio": MAX_REFERENCE_AUDIO}
VIDEO_TOTAL_MAX_S = 15.0
AUDIO_TOTAL_MAX_S = 15.0
IMAGES_TOTAL_MAX_BYTES = 64 * MB  # the whole request's images

# Containers report a few milliseconds past the nominal length (AAC priming, the last frame's
# duration), so "15 s" exported by any editor measures 15.02 s. Less than one frame at 24 fps.
DURATION_TOLERANCE_S = 0.04
# Frame rates are ratios (30000/1001); this only absorbs float rounding, so 23.976 fps is refused.
FPS_TOLERANCE = 0.001

# Pillow format name -> (short name, content type). MPO is how Pillow names many camera JPEGs.
IMAGE_FORMATS: dict[str, tuple[str, str]] = {
    "JPEG": ("jpeg", "image/jpeg"),
    "MPO": ("jpeg", "image/jpeg"),
    "PNG": ("png", "image/png"),
    "WEBP": ("webp", "image/webp"),
    "BMP": ("bmp", "image/bmp"),
    "TIFF": ("tiff", "image/tiff"),
    "GIF": ("gif", "image/gif"),
}
VIDEO_CODECS = {"h264": "H.264", "hevc": "H.265"}
MP4_DEMUXER = "mov,mp4,m4a,3gp,3g2,mj2"  # PyAV's one name for MP4 and QuickTime files
QUICKTIME_BRAND = b"qt  "
AUDIO_FORMATS = {"wav": "audio/wav", "mp3": "audio/mpeg"}
# A WAV file says so in bytes 8–12 ("RIFF", size, "WAVE"). FFmpeg's probe of a large one read through a
# file object can take seconds, so one over the size limit is refused from its header alone.
WAV_MAGIC = b"WAVE"

IMAGE_RULE = "JPEG, PNG, WebP, BMP, TIFF or GIF"
VIDEO_RULE = "MP4 or MOV (H.264 or H.265)"
AUDIO_RULE = "WAV or MP3"
# For the file picker's filter only; the content is what gets checked.
EXTENSIONS = {
    "image": (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"),
    "video": (".mp4", ".mov"),
    "audio": (".wav", ".mp3"),
}
CONTEXT_KEYS = {"image": "images", "video": "videos", "audio": "audio"}  # selected_context fields
NOUNS = {"image": "reference image", "video": "reference video", "audio": "reference audio clip"}


@dataclass(frozen=True)
class ReferenceFacts:
    "A file that passed the per-file rules: its kind (from its content) and what the selection rules need."

    name: str
    kind: str  # image | video | audio
    format: str  # jpeg, png, webp, bmp, tiff, gif, mp4, mov, wav, mp3
    content_type: str
    size: int
    width: int | None = None
    height: int | None = None
    duration_s: float | None = None
    fps: float | None = None
    codec: str | None = None

    @property
    def context_key(self) -> str:
        "The `selected_context` field this file goes in: images, videos or audio."
        return CONTEXT_KEYS[self.kind]


@dataclass(frozen=True)
class UploadResult:
    """What adding a file to the reference library did. `already_had` is True when a file with the
    same content was already there; `reference.filename` is then the name it was first added under."""

    reference: Reference
    given_name: str
    already_had: bool

    def message(self) -> str:
        "One sentence for the person who added the file."
        if not self.already_had:
            return f"Added {self.given_name} to the reference library"
        if self.reference.filename == self.given_name:
            return f"{self.given_name} is already in the reference library"
        return f"{self.given_name} is already in the reference library as {self.reference.filename}"


def _fail(message: str) -> ParamsError:
    return ParamsError(message, field=FIELD)


def _mb(size: int) -> str:
    return f"{size / MB:.1f} MB"


def _seconds(value: float) -> str:
    return f"{value:.1f} s"


def _names(files: Sequence[ReferenceFacts]) -> str:
    names = [f.name for f in files]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _claimed_kind(name: str) -> str | None:
    suffix = Path(name).suffix.lower()
    return next((kind for kind, exts in EXTENSIONS.items() if suffix in exts), None)


def _unreadable(name: str) -> ParamsError:
    claimed = _claimed_kind(name)
    if claimed == "image":
        return _fail(f"{name} is not an image: its content is not a {IMAGE_RULE} picture")
    if claimed == "video":
        return _fail(f"{name} is not a video: its content is not {VIDEO_RULE}")
    if claimed == "audio":
        return _fail(f"{name} is not audio: its content is not {AUDIO_RULE}")
    return _fail(
        f"{name} is not an image, video or audio file; references are {IMAGE_RULE} images, "
        f"{VIDEO_RULE} videos, or {AUDIO_RULE} audio"
    )


def check_file(name: str, source: bytes | Path) -> ReferenceFacts:
    """Check one file against the per-file rules, by its content; returns its facts.

    `source` is the file's bytes or its path (read here). Raises ParamsError naming the file.
    """
    name = Path(name).name or str(name)
    try:  # a name in another encoding arrives as lone surrogates; no upload or database takes it
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise _fail(f"{one_line(name)}: its file name is not UTF-8 text; rename the file and add it again") from None
    if isinstance(source, (bytes, bytearray)):
        size = len(source)
    elif isinstance(source, (str, os.PathLike)):
        size = _regular_file_size(name, Path(source))
    else:
        raise _fail(f"{name}: a reference is a file's bytes or its path, not {type(source).__name__}")
    if size == 0:
        raise _fail(f"{name} is empty")
    try:
        with _open(source) as fh:
            facts = _sniff_image(name, fh, size)
            if facts is None:
                fh.seek(0)
                if size > AUDIO_MAX_BYTES and fh.read(12)[8:12] == WAV_MAGIC:  # refused before a slow probe
                    _check_limits(ReferenceFacts(name, "audio", "wav", AUDIO_FORMATS["wav"], size))
                fh.seek(0)
                facts = _sniff_media(name, fh, size)
            if facts.kind == "video":  # a cut clip is refused as a cut download is (one rule)
                fh.seek(0)
                _check_whole(name, fh)
    except OSError as err:
        raise _fail(f"Cannot read {name}: {err.strerror or err}") from err
    _check_limits(facts)
    return facts


def _check_whole(name: str, fh: BinaryIO) -> None:
    try:
        media.check_frames(fh, name)
    except MediaError as err:
        raise _fail(f"{err}; a reference video must be the whole clip") from err
    except av.FFmpegError as err:
        raise _unreadable(name) from err


def _regular_file_size(name: str, path: Path) -> int:
    """The size of a regular file, checked before it is opened: a folder or a device (a pipe would
    block the read) gets one clear line, never an error from deep in a decoder or after an upload."""
    try:
        info = path.stat()
    except OSError as err:
        raise _fail(f"Cannot read {name}: {err.strerror or err}") from err
    if stat.S_ISDIR(info.st_mode):
        raise _fail(f"{name} is a folder, not a file; give a reference image, video or audio file")
    if not stat.S_ISREG(info.st_mode):
        raise _fail(f"{name} is not a regular file (a device or pipe); give a reference image, video or audio file")
    return info.st_size


def _open(source: bytes | Path) -> BinaryIO:
    # Never a path, nor a file object named after it: PyAV hands a file object's `name` to FFmpeg,
    # which then guesses from the extension (a text file named .png opens as an "image2" video).
    if isinstance(source, (bytes, bytearray)):
        return io.BytesIO(source)
    return io.BufferedReader(io.FileIO(os.open(source, os.O_RDONLY), "rb"))  # closed by the caller's `with`


def _sniff_image(name: str, fh: BinaryIO, size: int) -> ReferenceFacts | None:
    "The facts of an image, or None when Pillow does not see a picture at all."
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(fh) as img:
                pil_format, (width, height) = img.format or "", img.size
                # Reads the structure (chunk checksums for PNG) without decoding pixels.
                img.verify()
    except Image.DecompressionBombError as err:
        raise _fail(f"{name} is larger than {IMAGE_MAX_SIDE_PX} px on a side; {_image_sides_rule()}") from err
    except UnidentifiedImageError:
        return None
    except (SyntaxError, ValueError, OSError, struct.error) as err:  # how Pillow reports a broken file
        raise _fail(f"{name} is a damaged image ({err})") from err
    if pil_format not in IMAGE_FORMATS:
        raise _fail(f"{name} is an image in {pil_format} format; a reference image must be {IMAGE_RULE}")
    short, content_type = IMAGE_FORMATS[pil_format]
    return ReferenceFacts(name, "image", short, content_type, size, width=width, height=height)


def _sniff_media(name: str, fh: BinaryIO, size: int) -> ReferenceFacts:
    "The facts of a video or audio file (PyAV); refuses anything else."
    try:
        with av.open(fh, mode="r") as container:
            return _media_facts(name, container, fh, size)
    except av.FFmpegError as err:
        raise _unreadable(name) from err


def _media_facts(name: str, container: Any, fh: BinaryIO, size: int) -> ReferenceFacts:
    demuxer = container.format.name
    attached = int(av.stream.Disposition.attached_pic)
    # Cover art in MP3/M4A files shows up as a one-frame video stream; it is not a video.
    videos = [s for s in container.streams.video if not int(s.disposition) & attached]
    sounds = list(container.streams.audio)
    duration = _duration(container, videos[0] if videos else (sounds[0] if sounds else None))
    if videos:
        if demuxer != MP4_DEMUXER:
            kind_name = container.format.long_name or demuxer
            raise _fail(f"{name} is a video in {kind_name} format; a reference video must be {VIDEO_RULE}")
        stream = videos[0]
        codec = stream.codec_context.name
        if codec not in VIDEO_CODECS:
            raise _fail(f"{name} is encoded as {codec}; a reference video must be H.264 or H.265")
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        fh.seek(4)
        head = fh.read(8)
        # Older QuickTime files have no `ftyp` box at all; newer ones carry the "qt  " brand.
        quicktime = not head.startswith(b"ftyp") or head[4:] == QUICKTIME_BRAND
        return ReferenceFacts(
            name,
            "video",
            "mov" if quicktime else "mp4",
            "video/quicktime" if quicktime else "video/mp4",
            size,
            width=stream.codec_context.width,
            height=stream.codec_context.height,
            duration_s=duration,
            fps=float(rate) if rate else None,
            codec=codec,
        )
    if sounds:
        if demuxer not in AUDIO_FORMATS:
            what = "MP4/M4A" if demuxer == MP4_DEMUXER else (container.format.long_name or demuxer)
            raise _fail(f"{name} is audio in {what} format; reference audio must be {AUDIO_RULE}")
        codec = sounds[0].codec_context.name
        return ReferenceFacts(name, "audio", demuxer, AUDIO_FORMATS[demuxer], size, duration_s=duration, codec=codec)
    raise _unreadable(name)


def _duration(container: Any, stream: Any) -> float:
    "Seconds the file lasts: the container's figure, else the stream's."
    if container.duration is not None and container.duration > 0:
        return float(container.duration / av.time_base)
    if stream is not None and stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * Fraction(stream.time_base))
    return 0.0


def _image_sides_rule() -> str:
    return f"each side of a reference image must be {IMAGE_MIN_SIDE_PX}–{IMAGE_MAX_SIDE_PX} px"


def _check_limits(f: ReferenceFacts) -> None:
    if f.kind == "image":
        _check_image(f)
    elif f.kind == "video":
        _check_timed(f, VIDEO_MAX_BYTES, VIDEO_MIN_S, VIDEO_MAX_S)
        if f.fps is None or not VIDEO_MIN_FPS - FPS_TOLERANCE <= f.fps <= VIDEO_MAX_FPS + FPS_TOLERANCE:
            shown = "of unknown frame rate" if f.fps is None else f"{f.fps:.3g} fps"
            raise _fail(f"{f.name} is {shown}; a reference video must be {VIDEO_MIN_FPS:g}–{VIDEO_MAX_FPS:g} fps")
    else:
        _check_timed(f, AUDIO_MAX_BYTES, AUDIO_MIN_S, AUDIO_MAX_S)


def _check_image(f: ReferenceFacts) -> None:
    assert f.width is not None and f.height is not None
    if f.size >= IMAGE_MAX_BYTES:
        raise _fail(f"{f.name} is {_mb(f.size)}; a reference image must be under {IMAGE_MAX_BYTES // MB} MB")
    if not all(IMAGE_MIN_SIDE_PX <= side <= IMAGE_MAX_SIDE_PX for side in (f.width, f.height)):
        raise _fail(f"{f.name} is {f.width}×{f.height} px; {_image_sides_rule()}")
    ratio = f.width / f.height
    if not IMAGE_MIN_RATIO <= ratio <= IMAGE_MAX_RATIO:
        raise _fail(
            f"{f.name} is {f.width}×{f.height} px (width/height {ratio:.2f}); a reference image's "
            f"width/height must be {IMAGE_MIN_RATIO:g}–{IMAGE_MAX_RATIO:g}"
        )


def _check_timed(f: ReferenceFacts, max_bytes: int, min_s: float, max_s: float) -> None:
    noun = NOUNS[f.kind]
    if f.size > max_bytes:
        raise _fail(f"{f.name} is {_mb(f.size)}; a {noun} may be up to {max_bytes // MB} MB")
    duration = f.duration_s or 0.0
    if not min_s - DURATION_TOLERANCE_S <= duration <= max_s + DURATION_TOLERANCE_S:
        raise _fail(f"{f.name} is {_seconds(duration)}; a {noun} may be {min_s:g}–{max_s:g} s")


def check_selection(files: Sequence[ReferenceFacts]) -> None:
    """Check what one generation would carry together, given each file's facts (from `check_file`):
    counts per kind, total video and audio length, total image bytes, and audio only beside an
    image or video. Raises ParamsError naming the files."""
    by_kind: dict[str, list[ReferenceFacts]] = {kind: [] for kind in CONTEXT_KEYS}
    for f in files:
        by_kind[f.kind].append(f)
    for kind, chosen in by_kind.items():
        limit = MAX_COUNT[kind]
        if len(chosen) > limit:
            extra = chosen[limit:]
            raise _fail(
                f"{_names(extra)} would make {len(chosen)} {NOUNS[kind]}s; "
                f"a generation takes at most {limit} {NOUNS[kind]}s"
            )
    for kind, max_s in (("video", VIDEO_TOTAL_MAX_S), ("audio", AUDIO_TOTAL_MAX_S)):
        chosen = by_kind[kind]
        total = math.fsum(f.duration_s or 0.0 for f in chosen)
        if total > max_s + DURATION_TOLERANCE_S:
            raise _fail(f"{_names(chosen)} are {_seconds(total)} together; {NOUNS[kind]}s may be {max_s:g} s in total")
    images = by_kind["image"]
    total_bytes = sum(f.size for f in images)
    if total_bytes > IMAGES_TOTAL_MAX_BYTES:
        raise _fail(
            f"{_names(images)} are {_mb(total_bytes)} together; reference images may be "
            f"{IMAGES_TOTAL_MAX_BYTES // MB} MB in total"
        )
    if by_kind["audio"] and not (images or by_kind["video"]):
        raise _fail(
            f"{_names(by_kind['audio'])}: reference audio needs at least one reference image or video beside it"
        )
