"""Display formats, one convention each: durations, elapsed times, file sizes (decimal units:
1 MB = 1,000,000 bytes, as operating systems and Mosaic's limits state them), dates, and the
labels for statuses and settings. Plain functions of values; no Streamlit, no markdown.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime

from .models import Generation

KB = 1000
MB = 1000**2
GB = 1000**3

STATUS_ICONS = {
    "queued": "⏳",
    "submitting": "📤",
    "running": "🎬",
    "downloading": "⬇️",
    "done": "✅",
    "failed": "❌",
    "cancelled": "⏹️",
}
STATUS_WORDS = {
    "queued": "waiting to start",
    "submitting": "sending the request",
    "running": "generating",
    "downloading": "saving the video",
    "done": "done",
    "failed": "failed",
    "cancelled": "cancelled",
}
ASPECT_NAMES = {
    "auto": "Auto",
    "21:9": "21:9 cinema",
    "16:9": "16:9 wide",
    "4:3": "4:3",
    "1:1": "1:1 square",
    "3:4": "3:4",
    "9:16": "9:16 vertical",
}
PARAM_LABELS = {
    "prompt": "Prompt",
    "model": "Model",
    "resolution": "Resolution",
    "duration": "Duration",
    "aspect_ratio": "Aspect ratio",
    "generate_audio": "Audio",
    "selected_context": "References",
}
MISSING = "—"


def one_line(text: str) -> str:
    """Text for a one-line message: control characters (a line break in a file name) and bytes that
    were not UTF-8 (lone surrogates) shown escaped, as '\\n' and '\\udcff'."""
    return "".join(repr(c)[1:-1] if unicodedata.category(c) in ("Cc", "Cs") else c for c in text)


def shorten(text: str, chars: int) -> str:
    "One line of at most `chars` characters: whitespace runs become one space, a cut ends in an ellipsis."
    line = " ".join(text.split())
    return line if len(line) <= chars else line[: chars - 1] + "…"


def plural(n: int, noun: str, plural_noun: str | None = None) -> str:
    "'1 cell', '3 cells'; thousands separated."
    return f"{n:,} {noun if n == 1 else plural_noun or noun + 's'}"


def seconds(value: float | None) -> str:
    "A clip's length: '4.0 s'."
    return MISSING if value is None else f"{value:.1f} s"


def elapsed(value: float | None) -> str:
    "A wait, rounded as a person says it: '40 s', '3 min 20 s', '1 h 5 min'."
    if value is None:
        return MISSING
    total = max(0, round(value))
    if total < 60:
        return f"{total} s"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if secs and minutes < 10 else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def size(n: int | None) -> str:
    "A file size in decimal units: '512 B', '3.4 KB', '12.5 MB', '1.2 GB'."
    if n is None:
        return MISSING
    if n < KB:
        return f"{n} B"
    for unit, scale in (("GB", GB), ("MB", MB), ("KB", KB)):
        if n >= scale:
            return f"{n / scale:,.1f} {unit}"
    return f"{n} B"  # unreachable: n >= KB matched above


def size_exact(n: int | None) -> str:
    "A size with the byte count, for detail views: '12.5 MB (12,500,000 bytes)'."
    return MISSING if n is None else f"{size(n)} ({n:,} bytes)"


def when(stamp: str | None) -> str:
    "A stored ISO time as 'YYYY-MM-DD HH:MM UTC'; text that is not a time is shown as it is."
    if not stamp:
        return MISSING
    try:
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return stamp
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def duration_name(value: str) -> str:
    "A duration setting: 'Auto' or '8 s'."
    return "Auto" if value == "auto" else f"{value} s"


def status_label(status: str) -> str:
    "A status with its icon and words: '🎬 generating'."
    return f"{STATUS_ICONS.get(status, '')} {STATUS_WORDS.get(status, status)}".strip()


def settings_line(gen: Generation) -> str:
    "What was asked for: '720p · 9:16 · 8 s · audio'."
    duration = "auto length" if gen.duration == "auto" else f"{gen.duration} s"
    ratio = "auto ratio" if gen.aspect_ratio == "auto" else gen.aspect_ratio
    return f"{gen.resolution} · {ratio} · {duration} · {'audio' if gen.generate_audio else 'no audio'}"


def facts_line(gen: Generation) -> str:
    "What came out: size · seconds · audio · time taken (or the status while it is not done)."
    if gen.status != "done":
        return status_label(gen.status)
    parts = [
        f"{gen.width}×{gen.height}" if gen.width else "size unknown",
        seconds(gen.duration_s) if gen.duration_s is not None else "length unknown",
        "audio" if gen.has_audio else "no audio",
    ]
    if gen.elapsed_s is not None:
        parts.append(f"took {elapsed(gen.elapsed_s)}")
    return " · ".join(parts)


def clock(seconds: float) -> str:
    "A moment of a video as minutes, seconds and tenths: '0:03.2', '1:05.0' (a comment's pinned time)."
    tenths = round(max(seconds, 0.0) * 10)
    minutes, rest = divmod(tenths, 600)
    return f"{minutes}:{rest // 10:02d}.{rest % 10}"
