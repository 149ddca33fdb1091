"""The read-only share page: `/share/<token>` renders what a live link shares as plain HTML (Jinja2,
autoescaped; no Streamlit session, no form or text input: the only script and buttons are the review
player's), and `/share/<token>/media/<take>/<video|thumb|download>` serves only the files of the
takes that link shares, with Range requests.

An unknown token is a 404 page, a revoked or expired one a 410 page, never the content. The takes play
in the studio's review player (studio.player), whose module this serves at `/player/…`. Every answer
carries a strict Content-Security-Policy (only that script runs, nothing is fetched from elsewhere),
`Referrer-Policy: no-referrer` (the token never leaks to another site), `X-Robots-Tag: noindex`
and `Cache-Control: private`. Nothing from the studio's settings is rendered, so no key can appear.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from . import format as fmt
from . import player
from . import services as svc
from .errors import ShareLinkError, StudioError
from .models import Generation

log = logging.getLogger(__name__)

MEDIA_KINDS = ("video", "thumb", "download")
VIDEO_TYPE = "video/mp4"
THUMB_TYPE = "image/jpeg"
_env = Environment(
    loader=PackageLoader("studio", "templates"),
    autoescape=select_autoescape(["html"], default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
# The page's sheet and the review player's, inline and allowed by their hash.
CSS = (Path(__file__).parent / "templates" / "share.css").read_text(encoding="utf-8") + "\n" + player.CSS
_CSS_HASH = base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode()
# The only script is the review player, served by the studio itself (PLAYER_ROUTE): no inline script.
CSP = (
    "default-src 'none'; img-src 'self'; media-src 'self'; script-src 'self'; "
    f"style-src 'sha256-{_CSS_HASH}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Content-Type-Options": "nosniff",
    # Private (no shared cache keeps a copy) and checked each time, so a revoked link stops at once.
    "Cache-Control": "private, no-cache",
}


def page_headers(media_origin: str | None) -> dict[str, str]:
    "HEADERS, with the media store's origin (S3's presigned URLs) allowed for videos and images."
    if not media_origin:
        return HEADERS
    csp = CSP.replace("img-src 'self'", f"img-src 'self' {media_origin}")
    return {**HEADERS, "Content-Security-Policy": csp.replace("media-src 'self'", f"media-src 'self' {media_origin}")}


GONE_WORDS = {
    404: ("This share link does not exist", "Check that the whole link was copied, or ask whoever sent it."),
    410: ("This share link no longer works", "Ask whoever sent it for a new link."),
}
UNAVAILABLE = 503
TEMPORARY_REDIRECT = 307  # to a presigned S3 URL: the browser repeats the same GET (and its Range) there
STREAM_CHUNK_BYTES = 16 * 1024
MARKER_CHARS = 60  # of a pinned comment, in its marker's tooltip


def _comments(threads: list[svc.Thread]) -> list[list[dict[str, Any]]]:
    "A take's comment threads as the page shows them, read-only: author, date, pinned time, text."
    shown = []
    for thread in threads:
        rows: list[dict[str, Any]] = [{"deleted": True, "reply": False}] if thread.root is None else []
        for c in thread.comments:
            rows.append(
                {
                    "deleted": False,
                    "reply": c.parent_id is not None,
                    "author": c.author,
                    "date": fmt.when(c.created_at),
                    "moment": c.moment,
                    "edited": bool(c.edited_at),
                    "body": c.body,
                }
            )
        shown.append(rows)
    return shown


def _item(gen: Generation, token: str, link: svc.ShareLink, added_by: str = "") -> dict[str, Any]:
    "What a card shows of one take; media URLs are relative to the page, so they carry its token."
    done = gen.status == "done" and bool(gen.video_path)
    base = f"{token}/media/{gen.id}"
    return {
        "id": gen.id,
        "heading": fmt.settings_line(gen),
        "video": f"{base}/video" if done else None,
        "thumb": f"{base}/thumb" if done and gen.thumb_path else None,
        "download": f"{base}/download" if done and link.allow_download else None,
        "size": fmt.size(gen.file_size),
        "width": gen.width,
        "height": gen.height,
        "status": fmt.status_label(gen.status),
        "prompt": gen.prompt,
        "settings": fmt.settings_line(gen),
        "facts": fmt.facts_line(gen),
        "model": gen.model,
        "author": gen.author or "—",
        "added_by": added_by,
        "date": fmt.when(gen.created_at),
        "winner": gen.winner,
        "in_player": False,  # set when the review player above plays it
    }


def _player(key: str, cells: list[tuple[str, dict[str, Any]]], download: bool) -> dict[str, Any] | None:
    """The review player's data for these (label, card) pairs: the finished ones play together and
    their cards drop their own video. None when none is finished."""
    playing = [(label, item) for label, item in cells if item["video"]][: player.SHARE_PLAYER_MAX]
    for _, item in playing:
        item["in_player"] = True
    clips = [
        player.Clip(item["id"], item["video"], label, item["width"], item["height"], None, None, item["thumb"])
        for label, item in playing
    ]
    if not clips:
        return None
    pins = [pin for _, item in playing for pin in item.get("pins", [])]
    dense = len(clips) > player.SHARE_DENSE_ABOVE
    return player.player_data(clips, key=key, markers=pins, dense=dense, download=download, markable=False)


def _context(shared: svc.Shared, token: str, comments: dict[str, list[svc.Thread]] | None = None) -> dict[str, Any]:
    "What the share page template shows of an opened link (with each take's comment threads, if given)."
    selected, link = shared.selected, shared.link
    items = {g.id: _item(g, token, link, selected.added_by.get(g.id, "")) for g in selected.items}
    for gen_id, threads in (comments or {}).items():
        if gen_id in items:
            items[gen_id]["comments"] = _comments(threads)
            items[gen_id]["pins"] = [  # pinned comments: markers on the player's scrub bar
                player.Marker(c.at_s, f"{c.author}: {c.body[:MARKER_CHARS]}", gen_id)
                for thread in threads
                for c in thread.comments
                if c.at_s is not None
            ]
    tabs = []
    for n, tab in enumerate(selected.layout):
        cells = {pos: items[gid] for pos, gid in tab.cells.items() if gid in items}
        order = [
            (f"{res} · {ratio}", cells[(ratio, res)])
            for ratio in tab.aspect_ratios
            for res in tab.resolutions
            if (ratio, res) in cells
        ]
        tabs.append(
            {
                "title": tab.title,
                "prompt": tab.prompt,
                "resolutions": tab.resolutions,
                "aspect_ratios": tab.aspect_ratios,
                "cells": cells,
                "player": _player(f"share-{n}", order, link.allow_download),
            }
        )
    in_order = [(i["heading"], i) for i in items.values()]  # the player numbers its cells 1, 2, ...
    together = None if tabs else _player("share", in_order, link.allow_download)
    prompts = list(dict.fromkeys(g.prompt for g in selected.items))
    return dict(
        css=Markup(CSS),
        title=selected.title,
        kind_label=selected.kind_label,
        # A comparison's description is its prompt, shown once above the grid instead.
        description="" if tabs else selected.description,
        owner=selected.owner,
        created=fmt.when(selected.created_at) if selected.created_at else "",
        count_text=fmt.plural(len(items), "take"),
        expires=fmt.when(link.expires_at) if link.expires_at else "",
        items=list(items.values()),
        player=together,
        has_player=together is not None or any(t["player"] for t in tabs),
        player_script=f"{player.PLAYER_ROUTE}/share_boot.js",
        tabs=tabs,
        same_prompt=bool(tabs) and len(prompts) == 1,
        prompt=prompts[0] if len(prompts) == 1 else "",
        allow_download=link.allow_download,
    )


def stream_share(
    shared: svc.Shared, token: str, comments: dict[str, list[svc.Thread]] | None = None
) -> Iterator[bytes]:
    """The same HTML in chunks of about STREAM_CHUNK_BYTES, so the first bytes (the head, the title)
    leave while the cards of a long page are still being rendered."""
    pending: list[str] = []
    size = 0
    for piece in _env.get_template("share.html").generate(_context(shared, token, comments)):
        pending.append(piece)
        size += len(piece)
        if size >= STREAM_CHUNK_BYTES:
            yield "".join(pending).encode()
            pending, size = [], 0
    if pending:
        yield "".join(pending).encode()


def gone_page(status: int, message: str) -> HTMLResponse:
    "A clear page for a link that cannot be opened (404 unknown, 410 revoked or expired, 503 studio down)."
    heading, advice = GONE_WORDS.get(status, ("The studio cannot show this link right now", "Try again shortly."))
    html = _env.get_template("share_gone.html").render(
        css=Markup(CSS), heading=heading, message=message, advice=advice, status=status
    )
    return HTMLResponse(html, status_code=status, headers=HEADERS)


def share_routes(
    get: Callable[[], svc.Services], file_response: Callable[..., Response], *, now: Callable[[], Any] | None = None
) -> list[BaseRoute]:
    """`/share/{token}` and its media. `get` gives the studio; `file_response(path, **kw)` serves a
    file with Range requests (studio.web's MediaFileResponse); `now` is the clock, for tests."""

    def links() -> svc.ShareLinks:
        return svc.ShareLinks(get(), now=now) if now else svc.ShareLinks(get())

    def page(request: Request) -> Response:
        token = request.path_params["token"]
        try:
            shared = links().open(token)
            comments = svc.threads_by_take(get(), [g.id for g in shared.selected.items])
        except ShareLinkError as err:
            return gone_page(err.status, str(err))
        except StudioError as err:  # the studio cannot read its history right now
            log.error("share page: %s", err)
            return gone_page(UNAVAILABLE, "The studio could not read what this link shares.")
        return StreamingResponse(
            stream_share(shared, token, comments),
            media_type="text/html; charset=utf-8",
            headers=page_headers(get().media.origin),
        )

    def media(request: Request) -> Response:
        token, gen_id, what = (request.path_params[k] for k in ("token", "gen_id", "what"))
        try:
            studio = get()
            link, gen = links().media(token, gen_id)
        except ShareLinkError as err:
            return gone_page(404 if err.status == 404 else err.status, str(err))
        except StudioError as err:
            log.error("share media: %s", err)
            return gone_page(UNAVAILABLE, "The studio could not read this file.")
        if what not in MEDIA_KINDS or (what == "download" and not link.allow_download):
            return gone_page(404, "This link shares no such file.")
        name = gen.thumb_path if what == "thumb" else gen.video_path
        ratio = gen.aspect_ratio.replace(":", "x")
        filename = f"{gen.id}-{gen.resolution}-{ratio}.mp4" if what == "download" else None
        if name and studio.media.local_path(name) is None:
            # S3: the browser fetches a presigned URL (Range works there), checked here on every
            # request so a revoked link stops at once; the page itself never holds that URL.
            try:
                url = studio.media.url(name, download_as=filename)
            except StudioError as err:
                log.error("share media: %s", err)
                return gone_page(UNAVAILABLE, "The studio could not read this file.")
            return RedirectResponse(url, status_code=TEMPORARY_REDIRECT, headers=dict(HEADERS))
        path = studio.media_path(name)
        media_dir = Path(studio.settings.media_dir).resolve()
        if path is None or not path.is_relative_to(media_dir) or not path.is_file():
            return gone_page(404, "This file is no longer there.")
        extra: dict[str, Any] = {}
        if filename:
            extra = {"filename": filename, "content_disposition_type": "attachment"}
        return file_response(
            path, media_type=THUMB_TYPE if what == "thumb" else VIDEO_TYPE, headers=dict(HEADERS), **extra
        )

    def asset(request: Request) -> Response:
        "The review player's module and its bootstrap, the same file the studio's pages run."
        text = player.ASSET_FILES.get(request.path_params["name"])
        if text is None:
            return gone_page(404, "There is no such file.")
        return Response(text, media_type="text/javascript", headers={**HEADERS, "Cache-Control": "no-cache"})

    route = svc.SHARE_ROUTE
    return [
        Route(f"{player.PLAYER_ROUTE}/{{name}}", asset, methods=["GET", "HEAD"]),
        Route(f"{route}/{{token}}", page, methods=["GET", "HEAD"]),
        Route(f"{route}/{{token}}/media/{{gen_id}}/{{what}}", media, methods=["GET", "HEAD"]),
    ]
