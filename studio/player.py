"""The synchronized review player: several takes in one grid driven by one transport (play,
scrub, frame steps, a loop, speed, audio solo, full screen), so takes are judged at the same
moment. Used wherever takes are judged: the Compare grid and A/B, a collection, draft beside
final, and the share pages.

The browser half is plain files under `studio/player/` (an ES module and a style sheet, no build
step), read once here and declared once as an `st.components.v2` component. The share pages serve
the same module from `PLAYER_ROUTE` and call its default export themselves (`share_boot.js`).
Media is always a URL with Range support (`ui.media_url` or a share link's media route), never
bytes. This module is the pure part (the assets and what the browser gets, `player_data`), free of
streamlit so the share pages can use it and tests can check it without a browser; studio/ui.py (the
one module that imports streamlit) declares the component once, at import, and
`ui.review_player` mounts it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .models import Generation

ASSETS = Path(__file__).parent / "player"
JS = (ASSETS / "sync_player.js").read_text(encoding="utf-8")
CSS = (ASSETS / "sync_player.css").read_text(encoding="utf-8")
BOOT_JS = (ASSETS / "share_boot.js").read_text(encoding="utf-8")
COMPONENT_NAME = "studio_sync_player"
PLAYER_ROUTE = "/player"  # the share pages load PLAYER_ROUTE/sync_player.js and share_boot.js
ASSET_FILES = {"sync_player.js": JS, "share_boot.js": BOOT_JS}
SHARE_PLAYER_MAX = 9  # a share page plays this many takes together (a 3 × 3 grid); more keep their own video
SHARE_DENSE_ABOVE = 4  # beyond this many cells a share page's player is dense (all on one screen)
FPS = 24  # one frame step is 1/FPS s (Seedance 2 renders 24 frames per second)


@dataclass(frozen=True)
class Clip:
    "One cell of the player: a finished take's video by URL, with what the cell is called."

    id: str
    url: str
    label: str
    width: int | None = None
    height: int | None = None
    duration_s: float | None = None
    has_audio: bool | None = None
    poster: str | None = None


@dataclass(frozen=True)
class Marker:
    "A moment drawn on the scrub bar (a pinned comment); clicking it seeks every cell there."

    at_s: float
    label: str
    gen_id: str | None = None


@dataclass(frozen=True)
class PlayerState:
    """What the player tells Python: `position` (s, the leader's time, sent on pause, seek and
    frame step) and `marked` (the moment marked with "Mark"/M, for one rerun only, else None)."""

    position: float = 0.0
    marked: float | None = None


def clips_for(
    gens: Sequence[Generation], url_of: Callable[[str], str | None], labels: Sequence[str] | None = None
) -> list[Clip]:
    """The cells for these takes: finished ones with a saved video only, in order; `labels[i]`
    names `gens[i]` (default: the take's own settings line)."""
    from . import format as fmt

    clips = []
    for i, gen in enumerate(gens):
        url = url_of(gen.video_path) if gen.status == "done" and gen.video_path else None
        if not url:
            continue
        label = labels[i] if labels is not None and i < len(labels) else fmt.settings_line(gen)
        poster = url_of(gen.thumb_path) if gen.thumb_path else None
        clips.append(Clip(gen.id, url, label, gen.width, gen.height, gen.duration_s, gen.has_audio, poster or None))
    return clips


def player_data(
    clips: Sequence[Clip],
    *,
    key: str,
    markers: Sequence[Marker] = (),
    seek_to: float | None = None,
    seek_seq: int = 0,
    dense: bool = False,
    download: bool = True,
    markable: bool = True,
) -> dict[str, Any]:
    """The JSON the browser half reads. `seek_seq` goes up each time `seek_to` changes, so the
    player seeks once per change (and again when the same moment is asked for after another).
    Without `download` the videos offer no "save" (a share link that allows no downloads); without
    `markable` there is no "Mark" (a read-only page, where a marked moment would go nowhere)."""
    known = {c.id for c in clips}
    return {
        "key": key,
        "clips": [
            {
                "id": c.id,
                "url": c.url,
                "label": c.label,
                "width": c.width,
                "height": c.height,
                "duration": c.duration_s,
                "has_audio": c.has_audio,
                "poster": c.poster,
            }
            for c in clips
        ],
        "markers": [
            {"at": float(m.at_s), "label": m.label, "gen_id": m.gen_id}
            for m in sorted(markers, key=lambda m: m.at_s)
            if m.gen_id is None or m.gen_id in known
        ],
        "seek": {"to": seek_to, "seq": seek_seq},
        "dense": dense,
        "download": download,
        "markable": markable,
        "fps": FPS,
    }
