"""What a Seedance 2 take looks like, rendered for real (studio.media): the size of the node's
resolution × aspect ratio (studio.models.OUTPUT_SIZES), 24 fps with N × 24 + 1 frames, one mono
track when audio is on. `auto` aspect ratio and duration are picked from the prompt, so the same
prompt always gets the same choice.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from .. import media
from ..models import ASPECT_RATIOS, output_size
from . import state
from .protocol import new_id

if TYPE_CHECKING:
    from .server import Simulator

FPS = 24
AUTO_DURATION_RANGE_S = (5, 10)  # "the model chooses, usually 5–10 s" (seedance-2.md)

log = logging.getLogger(__name__)


def _prompt_number(prompt: str, salt: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{salt}\n{prompt}".encode()).digest()[:8], "big")


def pick_aspect_ratio(aspect_ratio: str, prompt: str) -> str:
    "The aspect ratio a take is made at: the one asked for, or for `auto` one of the six from the prompt."
    if aspect_ratio != "auto":
        return aspect_ratio
    choices = [a for a in ASPECT_RATIOS if a != "auto"]
    return choices[_prompt_number(prompt, "aspect") % len(choices)]


def pick_seconds(seconds: int | None, prompt: str, auto_duration: int | None = None) -> int:
    "Whole seconds asked for; for `auto` (None) the configured value, else 5–10 s from the prompt."
    if seconds is not None:
        return seconds
    if auto_duration is not None:
        return auto_duration
    low, high = AUTO_DURATION_RANGE_S
    return low + _prompt_number(prompt, "duration") % (high - low + 1)


def frame_count(seconds: int) -> int:
    "Frames of an N-second take: N × 24 + 1."
    return seconds * FPS + 1


def reported_seconds(frames: int) -> int:
    "The duration the API reports (and bills) for a take of `frames`: floor(frames / 24)."
    return frames // FPS


def frame_size(resolution: str, aspect_ratio: str, prompt: str) -> tuple[int, int]:
    "(width, height) of a take, from Seedance 2's table; `auto` resolved from the prompt."
    return output_size(resolution, pick_aspect_ratio(aspect_ratio, prompt))


def render(sim: Simulator, node: state.RunNode) -> state.Render:
    "Render one node's clip and thumbnail (in the render pool)."
    render_id = new_id()
    video = sim.media_dir / "renders" / f"{render_id}.mp4"
    width, height = node.size
    media.render_clip(
        video,
        width=width,
        height=height,
        frames=frame_count(node.seconds),
        audio=bool(node.params.get("generate_audio", True)),
        text=str(node.params.get("prompt", "")),
    )
    thumb_path = sim.media_dir / "renders" / f"{render_id}.jpg"
    thumb: Path | None = thumb_path
    try:
        media.make_thumbnail(video, thumb_path)
    except Exception:  # a missing thumbnail is allowed (thumbnail_url is nullable)
        log.warning("thumbnail failed for render %s", render_id, exc_info=True)
        thumb = None
    return state.Render(
        id=render_id,
        video=video,
        thumbnail=thumb,
        completed_at=0.0,
        expires=0,
        original_node_id=node.original_node_id,
    )
