"""Small Streamlit helpers shared by the entry scripts and pages; the only studio module that
imports streamlit. Settings come from `studio.settings.load` (which reads secrets.toml itself),
never from `st.secrets`. Prompts are always shown as text (never markdown or HTML).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import urlsplit

import streamlit as st

from . import format as fmt
from . import services as svc
from .errors import StudioError
from .models import FINAL_STATUSES, Generation
from .settings import MEDIA_ROUTE

POLL_EVERY_S = 2.0  # page refresh while jobs run: cheap on 2 cores (streamlit-notes.md §2)
FALLBACK_ORIGIN = "http://localhost:8501"
# Characters that mean something to Streamlit's markdown anywhere in a line (":" for :emoji: and
# :color[...] directives); a line that starts like a list item is escaped separately.
MARKDOWN_SPECIALS = "\\`*_{}[]()#<>~$:|"
LIST_START = re.compile(r"^(\s*)([-+]|\d+[.)])", re.M)


def services() -> svc.Services:
    "The studio the entry script put in the session."
    return st.session_state["services"]


def media_url(name: str | None) -> str | None:
    """Absolute URL of a saved media file, served from disk by the app's `/files` route.

    st.video reads any non-http string as a local path (the whole file into server memory), so
    the URL must be absolute; the origin is the one the browser used to reach this page.
    """
    if not name:
        return None
    parts = urlsplit(st.context.url or "")
    origin = f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else FALLBACK_ORIGIN
    return f"{origin}{MEDIA_ROUTE}/{name}"


def plain(text: object) -> str:
    "Text people or Mosaic wrote, made safe inside markdown (captions, messages): shown as typed."
    escaped = "".join("\\" + c if c in MARKDOWN_SPECIALS else c for c in str(text))
    # "- x" becomes "\- x"; "1. x" becomes "1\. x": each stays a line of text, not a list.
    return LIST_START.sub(lambda m: m.group(1) + (m.group(2)[:-1] + "\\" + m.group(2)[-1]), escaped)


def show_prompt(text: str) -> None:
    "A prompt exactly as written: plain text, wrapped, with a copy button."
    st.code(text, language=None, wrap_lines=True)


def video(gen: Generation, *, muted: bool = False) -> None:
    "The generation's video, streamed from disk, or its status while it is not ready."
    if gen.status == "done" and gen.video_path:
        st.video(media_url(gen.video_path), muted=muted)
    elif gen.status == "failed":
        st.error(plain(gen.error or "Failed"), icon="❌")
    elif gen.status == "cancelled":
        st.warning(plain(gen.error or "Cancelled"), icon="⏹️")
    else:
        st.info(f"{fmt.status_label(gen.status)}…")


def letterbox(height_px: int) -> None:
    "Make every video on the page the same height, letterboxed, so mixed aspect ratios line up."
    st.html(
        f"<style>[data-testid='stVideo'] video, video {{ height: {height_px}px !important; "
        "width: 100% !important; object-fit: contain; background: #111; }}</style>"
    )


def all_finished(gens: Sequence[Generation]) -> bool:
    return all(g.status in FINAL_STATUSES for g in gens)


def mode_banner(studio: svc.Services) -> None:
    "Always visible: which API the studio talks to."
    if studio.mode == "simulator":
        st.warning(
            "**Simulator mode** — no API key is set, so a local stand-in for Mosaic makes sample "
            "videos (free). Set MOSAIC_API_KEY to use Mosaic.",
            icon="🧪",
        )
    else:
        st.success(f"**Mosaic** — {studio.mode_label}", icon="🔑")


def error_box(err: Exception) -> None:
    "A studio error where the user is, in words."
    st.error(plain(err), icon="⚠️")


def live(ids: Sequence[str], render, *, key: str) -> None:
    """Render these jobs, and again every POLL_EVERY_S while any is unfinished.

    Polling stops by itself: when the last job finishes, one full rerun redraws the page with
    run_every off, so a finished page costs nothing (streamlit-notes.md §1).
    """
    studio = services()
    active = not all_finished([v.gen for v in svc.progress(studio, ids)])

    @st.fragment(run_every=POLL_EVERY_S if active else None)
    def panel() -> None:
        views = svc.progress(studio, ids)
        render(views)
        if active and all_finished([v.gen for v in views]):
            st.rerun()

    with st.container(key=key):
        panel()


def act(action, gen_id: str) -> None:
    "Cancel or retry a job, then redraw the whole page so polling switches on or off with it."
    try:
        action(services(), gen_id)
    except StudioError as err:
        error_box(err)
        return
    st.rerun()
