"""Tiny real media files for the reference tests: pictures from Pillow, clips and tones from the
ffmpeg bundled with imageio-ffmpeg. Each is a few kilobytes and takes well under a second."""

from __future__ import annotations

import subprocess
from pathlib import Path

from PIL import Image

from studio.media import ffmpeg_exe

CLIP_SIDE = 64  # pixels; the rules look at length, frame rate and codec, not the picture
TONE_RATE = 8000  # Hz; keeps a 15 s WAV at 240 KB


def picture(path: Path, width: int = 400, height: int = 300, fmt: str | None = None) -> Path:
    "An image of the given size; the format comes from `fmt` or the suffix (1-bit when big, so it stays small)."
    mode = "1" if width * height > 4_000_000 else "RGB"
    Image.new(mode, (width, height), 1 if mode == "1" else (200, 80, 40)).save(path, format=fmt)
    return path


def ffmpeg(*args: str) -> None:
    "Run the bundled ffmpeg quietly; fails the test on an error."
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args], check=True, timeout=60)


def clip(
    path: Path, seconds: float = 3, *, fps: str = "24", codec: str = "libx264", fmt: str | None = None, audio=False
) -> Path:
    "A silent (or toned) colour clip of `seconds` at `fps` (a ratio such as 24000/1001 is allowed)."
    args = ["-f", "lavfi", "-i", f"color=c=teal:s={CLIP_SIDE}x{CLIP_SIDE}:r={fps}:d={seconds}"]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=sample_rate={TONE_RATE}:duration={seconds}"]
    args += ["-c:v", codec, "-pix_fmt", "yuv420p", "-threads", "1"]
    if codec == "libx264":
        args += ["-preset", "ultrafast"]
    elif codec == "libx265":
        args += ["-preset", "ultrafast", "-x265-params", "log-level=error:pools=1"]
    if fmt:
        args += ["-f", fmt]
    ffmpeg(*args, "-t", str(seconds), str(path))
    return path


def tone(path: Path, seconds: float = 3, *, fmt: str | None = None, codec: str | None = None) -> Path:
    "A sine tone of `seconds`; the format comes from `fmt` or the suffix."
    args = ["-f", "lavfi", "-i", f"sine=sample_rate={TONE_RATE}:duration={seconds}"]
    if codec:
        args += ["-c:a", codec]
    if fmt:
        args += ["-f", fmt]
    ffmpeg(*args, str(path))
    return path
