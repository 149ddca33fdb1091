"""Exports: what a resolved selection (a collection, a comparison, a gallery search) becomes when it
leaves the studio. Three kinds of file, each written to a temporary name and renamed into place:

- a **ZIP**: the stored videos and thumbnails (stored, not compressed again: they already are),
  `metadata.json` and `metadata.csv` (every setting, prompt, author, timing, rating, tag, note and
  id; CSV cells that a spreadsheet would run as a formula are quoted), and an `index.html` that
  works opened from the unzipped folder: relative paths only, no script, no external resource,
  every text escaped; a comparison keeps its grid (resolutions across, aspect ratios down);
- a **contact sheet**: one PNG of labelled thumbnails; a comparison is an X/Y plot (resolutions
  across, aspect ratios down, one section per prompt / duration / audio table);
- a **comparison video**: the cells composed by ffmpeg's `xstack` into one H.264 MP4, each cell
  letterboxed into one common box, all at 24 fps and padded (last frame held) to the longest
  cell, so they play frame-locked; labels are drawn with Pillow and laid over once.

No Streamlit, no database: callers pass what `studio.services.selections.resolve` returned and the
media folder. Long steps report `(fraction, words)` through `progress`; a callback that raises
(a worker told to stop) ends the build, and ffmpeg with it.
"""

from __future__ import annotations

import csv
import html
import io
import json
import math
import os
import re
import shutil
import subprocess
import tempfile
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image, ImageDraw, ImageFont

from . import format as fmt
from .errors import MediaError, ParamsError
from .media import FONT_FILE, ffmpeg_exe
from .models import RESOLUTIONS, Generation

if TYPE_CHECKING:
    from .services.selections import Selected

Progress = Callable[[float, str], None]

EXPORT_KINDS = ("zip", "sheet", "video")
KIND_NAMES = {"zip": "ZIP", "sheet": "contact sheet", "video": "comparison video"}
MEDIA_FOLDER = "media"  # inside the ZIP
# Already compressed: stored as they are (deflating an MP4 costs CPU and saves nothing).
STORED_SUFFIXES = frozenset({".mp4", ".webm", ".mov", ".jpg", ".jpeg", ".png", ".webp"})
# An index.html with this many players or fewer loads every video (each shows its first frame at
# once); past it they load their metadata only, so opening a 1,000-take export stays light.
PRELOAD_ALL_UP_TO = 48
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # what Excel and friends read as a formula
COPY_CHUNK = 1 << 20

# Contact sheet geometry (pixels).
SHEET_MARGIN = 24
SHEET_TITLE_H = 56
SHEET_SECTION_H = 36  # a comparison table's title (prompt 2 · audio off), when there are several
SHEET_HEADER_H = 30  # the resolutions row
SHEET_ROW_LABEL_W = 80  # the aspect ratios column
SHEET_CELL = 256  # a thumbnail is fitted into this square, letterboxed
SHEET_GAP = 12
SHEET_CAPTION_H = 22  # under each comparison cell: size and seconds, or its status
SHEET_TILE_LINES = 3  # under each take of a non-comparison sheet: prompt, settings, author and date
SHEET_LINE_H = 20
SHEET_COLUMNS = 5
SHEET_MAX_ITEMS = 240  # a sheet stays a picture one can open: past this, the first ones and a note
SHEET_BACKGROUND = (250, 250, 250)
SHEET_BOX = (24, 24, 24)
SHEET_INK = (20, 20, 20)
SHEET_MUTED = (110, 110, 110)
FONT_REGULAR = FONT_FILE.with_name("DejaVuSans.ttf")

# Comparison video.
VIDEO_FPS = 24
VIDEO_MAX_W = 1920  # the whole mosaic fits in this box (H.264 level 5.1 plays it everywhere)
VIDEO_MAX_H = 2160
VIDEO_CELL_MAX_H = 360  # a cell's picture is at most this tall
VIDEO_CELL_MIN_H = 96
VIDEO_X264 = ("-c:v", "libx264", "-preset", "veryfast", "-crf", "26", "-pix_fmt", "yuv420p", "-g", "48")
VIDEO_TIMEOUT_S = 1800
NICE_LEVEL = 10  # ffmpeg runs under `nice`: an export never slows the pages or the job worker down
STDERR_TAIL_CHARS = 1500
SLUG_MAX_CHARS = 48


class Stopped(Exception):
    "Raised by a progress callback to end a build early (the worker is stopping)."


# ---------------------------------------------------------------------- names and text


def slug(title: str) -> str:
    "A file name stem from a title: 'Neon street · 9:16' -> 'neon-street-9-16' (ASCII, short)."
    text = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    return text[:SLUG_MAX_CHARS].rstrip("-") or "export"


def file_names(title: str) -> dict[str, str]:
    "The file each export kind writes, named after the selection."
    stem = slug(title)
    return {"zip": f"{stem}.zip", "sheet": f"{stem}-contact-sheet.png", "video": f"{stem}-video.mp4"}


def nothing_to_export(selected: Selected) -> str:
    "What to tell someone who exports an empty collection or a search with no match."
    kind = selected.selection.kind
    if kind == "collection":
        return "Nothing to export: this collection is empty. Add takes to it first."
    if kind == "query":
        return "Nothing to export: no take matches this search and these filters."
    if kind == "grid":
        return "Nothing to export: this comparison has no cells left (they were deleted)."
    return "Nothing to export: none of these takes exists any more."


def formula_safe(value: Any) -> Any:
    "A CSV cell a spreadsheet shows as text: text starting like a formula gets a leading quote."
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# ---------------------------------------------------------------------- what goes in


@dataclass(frozen=True)
class Member:
    "One take of an export with the files it brings (names inside the ZIP; None when it has none)."

    position: int
    gen: Generation
    video: Path | None
    thumb: Path | None
    video_name: str | None
    thumb_name: str | None


def members(selected: Selected, media_dir: Path) -> list[Member]:
    "Every take of the selection, in its order, with its files on disk (missing files are left out)."
    out = []
    for n, gen in enumerate(selected.items, start=1):
        video = _existing(media_dir, gen.video_path) if gen.status == "done" else None
        thumb = _existing(media_dir, gen.thumb_path) if gen.status == "done" else None
        out.append(
            Member(
                position=n,
                gen=gen,
                video=video,
                thumb=thumb,
                video_name=f"{MEDIA_FOLDER}/{gen.id}{video.suffix.lower()}" if video else None,
                thumb_name=f"{MEDIA_FOLDER}/{gen.id}-thumb{thumb.suffix.lower()}" if thumb else None,
            )
        )
    return out


def _existing(media_dir: Path, name: str | None) -> Path | None:
    "A saved file under the media folder (never a path that leaves it), if it is there."
    if not name:
        return None
    root = media_dir.resolve()
    path = (root / name).resolve()
    return path if path.is_relative_to(root) and path.is_file() else None


def metadata(selected: Selected, taken: Sequence[Member], *, exported_by: str = "") -> dict[str, Any]:
    "Everything `metadata.json` holds: the selection, its layout, and every take in full."
    items = []
    for m in taken:
        record = m.gen.model_dump(mode="json")
        record.update(
            position=m.position,
            settings=fmt.settings_line(m.gen),
            added_by=selected.added_by.get(m.gen.id, ""),
            video_file=m.video_name,
            thumbnail_file=m.thumb_name,
        )
        items.append(record)
    return {
        "title": selected.title,
        "kind": selected.selection.kind,
        "kind_label": selected.kind_label,
        "selection": {"kind": selected.selection.kind, "ref": selected.selection.ref},
        "owner": selected.owner,
        "created_at": selected.created_at,
        "description": selected.description,
        "exported_at": _now(),
        "exported_by": exported_by,
        "count": len(items),
        "layout": [
            {
                "title": tab.title,
                "prompt": tab.prompt,
                "resolutions": list(tab.resolutions),
                "aspect_ratios": list(tab.aspect_ratios),
                "cells": [
                    {"aspect_ratio": ratio, "resolution": res, "id": gen_id}
                    for (ratio, res), gen_id in tab.cells.items()
                ],
            }
            for tab in selected.layout
        ],
        "items": items,
    }


CSV_CONTEXT_COLUMNS = ("reference_images", "reference_videos", "reference_audio")
CSV_EXTRA_COLUMNS = ("position", "settings", "added_by", "video_file", "thumbnail_file")


def csv_columns() -> list[str]:
    "The CSV's header: where the take sits, every field of a generation, its files."
    fields = [f for f in Generation.model_fields if f != "selected_context"]
    return ["position", *fields, *CSV_CONTEXT_COLUMNS, "settings", "added_by", "video_file", "thumbnail_file"]


def metadata_csv(meta: dict[str, Any]) -> str:
    "One row per take, every cell formula-safe; references as their upload ids separated by spaces."
    columns = csv_columns()
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\r\n")
    writer.writeheader()
    for item in meta["items"]:
        context = item.get("selected_context") or {}
        row = {**item}
        row["reference_images"] = " ".join(context.get("images", []))
        row["reference_videos"] = " ".join(context.get("videos", []))
        row["reference_audio"] = " ".join(context.get("audio", []))
        writer.writerow({k: formula_safe(row.get(k)) for k in columns})
    return out.getvalue()


# ---------------------------------------------------------------------- index.html

INDEX_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#1a1a1a;background:#fafafa}
h1{margin:0 0 4px}h2{margin:28px 0 8px}.muted{color:#666;font-size:.9rem}
.prompt{white-space:pre-wrap;background:#f0f0f0;border-radius:6px;padding:8px 10px;font-size:.9rem}
table.grid{border-collapse:separate;border-spacing:10px}table.grid th{font-size:.95rem}
table.grid td{vertical-align:top;width:320px}
video,.novideo{display:block;width:100%;height:auto;max-height:360px;background:#111;object-fit:contain;border-radius:4px}
.novideo{color:#ddd;padding:40px 8px;text-align:center;font-size:.9rem}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:16px}
.card{background:#fff;border:1px solid #ddd;border-radius:8px;padding:10px}
dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 10px;font-size:.85rem;margin:8px 0 0}
dt{color:#666}dd{margin:0;overflow-wrap:anywhere}.label{font-weight:600;margin:4px 0}
"""


def _e(value: Any) -> str:
    "Escaped for HTML text and attribute values (quotes too)."
    return html.escape("" if value is None else str(value), quote=True)


def _details(m: Member, added_by: str) -> list[tuple[str, str]]:
    g = m.gen
    refs = g.selected_context
    return [
        ("Model", g.model),
        ("Resolution", g.resolution),
        ("Aspect ratio", g.aspect_ratio),
        ("Duration", fmt.duration_name(g.duration)),
        ("Audio", "on" if g.generate_audio else "off"),
        ("References", f"{len(refs.images)} images, {len(refs.videos)} videos, {len(refs.audio)} audio"),
        ("Author", g.author or fmt.MISSING),
        *([("Added by", added_by)] if added_by else []),
        ("Status", g.status + (f": {g.error}" if g.error else "")),
        ("Created", fmt.when(g.created_at)),
        ("Finished", fmt.when(g.finished_at)),
        ("Time taken", fmt.elapsed(g.elapsed_s)),
        ("Video", f"{g.width}×{g.height} · {fmt.seconds(g.duration_s)}" if g.width else fmt.MISSING),
        ("Starred", "yes" if g.starred else "no"),
        ("Rating", f"{g.rating} of 5" if g.rating else fmt.MISSING),
        ("Winner", "yes" if g.winner else "no"),
        ("Tags", ", ".join(g.tag_list) or fmt.MISSING),
        ("Notes", g.notes or fmt.MISSING),
        ("Id", g.id),
        ("Run", g.run_id or fmt.MISSING),
    ]


def _player(m: Member, preload: str) -> str:
    if m.video_name is None:
        words = "video file missing" if m.gen.status == "done" else fmt.STATUS_WORDS.get(m.gen.status, m.gen.status)
        return f'<div class="novideo">{_e(words)}</div>'
    poster = f' poster="{_e(m.thumb_name)}"' if m.thumb_name else ""
    size = f' width="{m.gen.width}" height="{m.gen.height}"' if m.gen.width and m.gen.height else ""
    return (
        f'<video id="v-{_e(m.gen.id)}" src="{_e(m.video_name)}"{poster}{size} controls muted playsinline loop '
        f'preload="{preload}"></video>'
    )


def _dl(rows: list[tuple[str, str]]) -> str:
    return "<dl>" + "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in rows) + "</dl>"


def index_html(selected: Selected, taken: Sequence[Member], *, exported_by: str = "") -> str:
    "The export's front page: the grid (for a comparison) or the cards, with every prompt and setting."
    preload = "auto" if sum(m.video_name is not None for m in taken) <= PRELOAD_ALL_UP_TO else "metadata"
    by_id = {m.gen.id: m for m in taken}
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        # No script runs here and nothing is fetched from elsewhere, whatever a prompt contains.
        "<meta http-equiv=\"Content-Security-Policy\" content=\"script-src 'none'; object-src 'none'; "
        "base-uri 'none'; form-action 'none'\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(selected.title)}</title><style>{INDEX_CSS}</style></head><body>",
        f"<h1>{_e(selected.title)}</h1>",
        f'<p class="muted">{_e(selected.kind_label.capitalize())} · {fmt.plural(len(taken), "take")}'
        + (f" · by {_e(selected.owner)}" if selected.owner else "")
        + (f" · created {_e(fmt.when(selected.created_at))}" if selected.created_at else "")
        + f" · exported {_e(fmt.when(_now()))}"
        + (f" by {_e(exported_by)}" if exported_by else "")
        + "</p>",
    ]
    if selected.description:
        label = "Prompt" if selected.selection.kind == "grid" else "Description"
        parts.append(f'<p class="label">{label}</p><div class="prompt">{_e(selected.description)}</div>')
    if selected.layout:
        for n, tab in enumerate(selected.layout):
            if tab.title:
                parts.append(f"<h2>{_e(tab.title)}</h2>")
            if tab.prompt is not None:
                parts.append(f'<div class="prompt">{_e(tab.prompt)}</div>')
            head = "".join(f"<th scope=col>{_e(r)}</th>" for r in tab.resolutions)
            parts.append(f'<table class="grid" id="table-{n}"><thead><tr><th></th>{head}</tr></thead><tbody>')
            for ratio in tab.aspect_ratios:
                cells = []
                for res in tab.resolutions:
                    gen_id = tab.at(ratio, res)
                    m = by_id.get(gen_id) if gen_id else None
                    if m is None:
                        cells.append("<td>—</td>")
                        continue
                    facts = fmt.facts_line(m.gen) if m.gen.status != "done" or m.gen.width else m.gen.status
                    cells.append(
                        f"<td>{_player(m, preload)}<p class=label>{_e(res)} · {_e(ratio)}"
                        + (" · winner" if m.gen.winner else "")
                        + f'</p><p class="muted">{_e(facts)} · <a href="#take-{_e(m.gen.id)}">details</a></p></td>'
                    )
                parts.append(f"<tr><th scope=row>{_e(ratio)}</th>{''.join(cells)}</tr>")
            parts.append("</tbody></table>")
        parts.append("<h2>Every take</h2><div class=cards>")
        for m in taken:
            parts.append(
                f'<div class=card id="take-{_e(m.gen.id)}"><p class=label>{_e(m.gen.cell_label or m.gen.id)}</p>'
                f'<div class="prompt">{_e(m.gen.prompt)}</div>'
                f"{_dl(_details(m, selected.added_by.get(m.gen.id, '')))}</div>"
            )
        parts.append("</div>")
    else:
        parts.append("<div class=cards>")
        for m in taken:
            parts.append(
                f'<div class=card id="take-{_e(m.gen.id)}">{_player(m, preload)}'
                f"<p class=label>{m.position}. {_e(fmt.settings_line(m.gen))}</p>"
                f'<div class="prompt">{_e(m.gen.prompt)}</div>'
                f"{_dl(_details(m, selected.added_by.get(m.gen.id, '')))}</div>"
            )
        parts.append("</div>")
    parts.append('<p class="muted">Files: metadata.json and metadata.csv hold every setting of every take.</p>')
    parts.append("</body></html>")
    return "\n".join(parts)


# ---------------------------------------------------------------------- writing files in place


@contextmanager
def _written(dest: Path) -> Iterator[Path]:
    "A temporary path beside `dest`, renamed onto it when the block ends well, removed otherwise."
    dest = Path(dest)
    tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.part")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        yield tmp
        os.replace(tmp, dest)
    except OSError as err:
        raise MediaError(f"Could not write {dest}: {err.strerror or err}") from err
    finally:
        with suppress(OSError):
            tmp.unlink(missing_ok=True)


def check_writable(dest: Path) -> None:
    "ParamsError unless a file can be written at `dest` (its folder exists and takes files)."
    dest = Path(dest)
    if dest.is_dir():
        raise ParamsError(f"{dest} is a folder; give a file name", field="out")
    folder = dest.parent if str(dest.parent) else Path(".")
    if not folder.is_dir():
        raise ParamsError(f"The folder {folder} does not exist", field="out")
    probe = folder / f".{dest.name}.{uuid.uuid4().hex}.probe"
    try:
        probe.touch()
    except OSError as err:
        raise ParamsError(f"Cannot write in {folder}: {err.strerror or err}", field="out") from None
    probe.unlink(missing_ok=True)


# ---------------------------------------------------------------------- the ZIP


def write_zip(
    selected: Selected, media_dir: Path, dest: Path, *, exported_by: str = "", progress: Progress | None = None
) -> int:
    "Write the ZIP to `dest`; returns its size in bytes."
    taken = members(selected, Path(media_dir))
    if not taken:
        raise ParamsError(nothing_to_export(selected), field="selection")
    meta = metadata(selected, taken, exported_by=exported_by)
    files = [(m.video, m.video_name) for m in taken if m.video] + [(m.thumb, m.thumb_name) for m in taken if m.thumb]
    total = sum(p.stat().st_size for p, _ in files) or 1
    done = 0
    with _written(dest) as tmp, zipfile.ZipFile(tmp, "w", allowZip64=True) as archive:
        archive.writestr("index.html", index_html(selected, taken, exported_by=exported_by), zipfile.ZIP_DEFLATED)
        archive.writestr("metadata.json", json.dumps(meta, indent=2, ensure_ascii=False), zipfile.ZIP_DEFLATED)
        archive.writestr("metadata.csv", "\ufeff" + metadata_csv(meta), zipfile.ZIP_DEFLATED)
        for n, (path, name) in enumerate(files, start=1):
            assert path is not None and name is not None
            kind = zipfile.ZIP_STORED if path.suffix.lower() in STORED_SUFFIXES else zipfile.ZIP_DEFLATED
            info = zipfile.ZipInfo.from_file(path, name)
            info.compress_type = kind
            with open(path, "rb") as src, archive.open(info, "w", force_zip64=True) as out:
                shutil.copyfileobj(src, out, COPY_CHUNK)
            done += path.stat().st_size
            if progress:
                progress(done / total, f"Adding files to the ZIP: {n} of {len(files)}")
    return Path(dest).stat().st_size


# ---------------------------------------------------------------------- contact sheet


def _font(size: int, *, bold: bool = False) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    path = FONT_FILE if bold else FONT_REGULAR
    with suppress(OSError):
        return ImageFont.truetype(str(path if path.exists() else FONT_FILE), size)
    return ImageFont.load_default(size)


def _fit(text: str, font: Any, width: int, draw: ImageDraw.ImageDraw) -> str:
    "Text cut (with …) to fit `width` pixels."
    text = " ".join(text.split())
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…"


def _thumbnail(m: Member, box: int) -> Image.Image:
    "The take's thumbnail letterboxed into a `box` square (or a dark square saying why there is none)."
    tile = Image.new("RGB", (box, box), SHEET_BOX)
    if m.thumb is not None:
        try:
            with Image.open(m.thumb) as img:
                picture = img.convert("RGB")
            picture.thumbnail((box, box), Image.Resampling.LANCZOS)
            tile.paste(picture, ((box - picture.width) // 2, (box - picture.height) // 2))
            return tile
        except OSError:
            pass
    draw = ImageDraw.Draw(tile)
    words = fmt.STATUS_WORDS.get(m.gen.status, m.gen.status) if m.gen.status != "done" else "no thumbnail"
    draw.text((box // 2, box // 2), words, fill=(220, 220, 220), font=_font(16), anchor="mm")
    return tile


def sheet_size(selected: Selected, count: int) -> tuple[int, int]:
    "The contact sheet's (width, height) for this selection and number of takes shown."
    if selected.layout:
        cols = len(_columns(selected))
        rows = sum(len(t.aspect_ratios) for t in selected.layout)
        sections = len(selected.layout) if len(selected.layout) > 1 else 0
        width = 2 * SHEET_MARGIN + SHEET_ROW_LABEL_W + cols * (SHEET_CELL + SHEET_GAP)
        height = (
            2 * SHEET_MARGIN
            + SHEET_TITLE_H
            + sections * SHEET_SECTION_H
            + len(selected.layout) * SHEET_HEADER_H
            + rows * (SHEET_CELL + SHEET_CAPTION_H + SHEET_GAP)
        )
        return width, height
    cols = max(1, min(SHEET_COLUMNS, count))
    rows = math.ceil(count / cols)
    width = 2 * SHEET_MARGIN + cols * (SHEET_CELL + SHEET_GAP)
    height = 2 * SHEET_MARGIN + SHEET_TITLE_H + rows * (SHEET_CELL + SHEET_TILE_LINES * SHEET_LINE_H + SHEET_GAP)
    return width, height


def _columns(selected: Selected) -> list[str]:
    "A comparison's columns: every resolution any of its tables has, smallest first."
    found = {r for tab in selected.layout for r in tab.resolutions}
    return [r for r in RESOLUTIONS if r in found] + sorted(found - set(RESOLUTIONS))


def write_contact_sheet(
    selected: Selected, media_dir: Path, dest: Path, *, progress: Progress | None = None
) -> tuple[int, int]:
    "Write the contact sheet PNG to `dest`; returns its (width, height)."
    taken = members(selected, Path(media_dir))
    if not taken:
        raise ParamsError(nothing_to_export(selected), field="selection")
    shown = taken if selected.layout else taken[:SHEET_MAX_ITEMS]
    width, height = sheet_size(selected, len(shown))
    sheet = Image.new("RGB", (width, height), SHEET_BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    title_font, label_font, small = _font(24, bold=True), _font(16, bold=True), _font(13)
    title = _fit(selected.title, title_font, width - 2 * SHEET_MARGIN, draw)
    draw.text((SHEET_MARGIN, SHEET_MARGIN), title, fill=SHEET_INK, font=title_font)
    note = f"{selected.kind_label} · {fmt.plural(len(taken), 'take')}"
    if len(shown) < len(taken):
        note += f" · the first {len(shown)} shown"
    draw.text((SHEET_MARGIN, SHEET_MARGIN + 32), note, fill=SHEET_MUTED, font=small)
    y = SHEET_MARGIN + SHEET_TITLE_H
    step = 0
    if selected.layout:
        by_id = {m.gen.id: m for m in taken}
        columns = _columns(selected)
        for tab in selected.layout:
            if len(selected.layout) > 1:
                heading = _fit(tab.title or "Table", label_font, width - 2 * SHEET_MARGIN, draw)
                draw.text((SHEET_MARGIN, y + 8), heading, fill=SHEET_INK, font=label_font)
                y += SHEET_SECTION_H
            for c, res in enumerate(columns):
                x = SHEET_MARGIN + SHEET_ROW_LABEL_W + c * (SHEET_CELL + SHEET_GAP)
                draw.text(
                    (x + SHEET_CELL // 2, y + SHEET_HEADER_H // 2), res, fill=SHEET_INK, font=label_font, anchor="mm"
                )
            y += SHEET_HEADER_H
            for ratio in tab.aspect_ratios:
                draw.text(
                    (SHEET_MARGIN + SHEET_ROW_LABEL_W // 2, y + SHEET_CELL // 2),
                    ratio,
                    fill=SHEET_INK,
                    font=label_font,
                    anchor="mm",
                )
                for c, res in enumerate(columns):
                    x = SHEET_MARGIN + SHEET_ROW_LABEL_W + c * (SHEET_CELL + SHEET_GAP)
                    gen_id = tab.at(ratio, res) if res in tab.resolutions else None
                    m = by_id.get(gen_id) if gen_id else None
                    if m is None:
                        continue
                    sheet.paste(_thumbnail(m, SHEET_CELL), (x, y))
                    caption = (
                        f"{m.gen.width}×{m.gen.height} · {fmt.seconds(m.gen.duration_s)}"
                        if m.gen.status == "done" and m.gen.width
                        else fmt.STATUS_WORDS.get(m.gen.status, m.gen.status)
                    ) + (" · winner" if m.gen.winner else "")
                    draw.text(
                        (x + SHEET_CELL // 2, y + SHEET_CELL + SHEET_CAPTION_H // 2),
                        _fit(caption, small, SHEET_CELL, draw),
                        fill=SHEET_MUTED,
                        font=small,
                        anchor="mm",
                    )
                    step += 1
                    if progress:
                        progress(step / len(taken), f"Contact sheet: {step} of {len(taken)}")
                y += SHEET_CELL + SHEET_CAPTION_H + SHEET_GAP
    else:
        cols = max(1, min(SHEET_COLUMNS, len(shown)))
        tile_h = SHEET_CELL + SHEET_TILE_LINES * SHEET_LINE_H + SHEET_GAP
        for n, m in enumerate(shown):
            x = SHEET_MARGIN + (n % cols) * (SHEET_CELL + SHEET_GAP)
            top = y + (n // cols) * tile_h
            sheet.paste(_thumbnail(m, SHEET_CELL), (x, top))
            lines = [
                (f"{m.position}. {m.gen.prompt}", SHEET_INK),
                (fmt.settings_line(m.gen), SHEET_MUTED),
                (" · ".join(p for p in (m.gen.author, fmt.when(m.gen.created_at)) if p), SHEET_MUTED),
            ]
            for i, (text, ink) in enumerate(lines):
                line_y = top + SHEET_CELL + 3 + i * SHEET_LINE_H
                draw.text((x, line_y), _fit(text, small, SHEET_CELL, draw), fill=ink, font=small)
            if progress:
                progress((n + 1) / len(shown), f"Contact sheet: {n + 1} of {len(shown)}")
    with _written(dest) as tmp:
        sheet.save(tmp, format="PNG", optimize=False)
    return width, height


# ---------------------------------------------------------------------- comparison video


@dataclass(frozen=True)
class Mosaic:
    "Where each cell of a comparison video goes: a `cols` × `rows` grid of equal boxes."

    cols: int
    rows: int
    box_w: int
    box_h: int  # the picture's part of a box
    label_h: int  # the label strip under it
    seconds: float  # the longest cell: every cell is held on its last frame until then
    cells: list[tuple[Member | None, str]]  # row by row: the take (None: an empty box) and its label

    @property
    def size(self) -> tuple[int, int]:
        return self.cols * self.box_w, self.rows * (self.box_h + self.label_h)

    @property
    def frames(self) -> int:
        return max(1, round(self.seconds * VIDEO_FPS))


def _even(x: float) -> int:
    return max(2, 2 * int(x / 2))


def mosaic(selected: Selected, taken: Sequence[Member]) -> Mosaic:
    "The comparison video's layout: resolutions across, aspect ratios down, one band of rows per table."
    if not selected.layout:
        raise ParamsError("A comparison video is made from a comparison: export a comparison's grid", field="video")
    by_id = {m.gen.id: m for m in taken}
    columns = _columns(selected)
    cells: list[tuple[Member | None, str]] = []
    for tab in selected.layout:
        for ratio in tab.aspect_ratios:
            for res in columns:
                gen_id = tab.at(ratio, res) if res in tab.resolutions else None
                m = by_id.get(gen_id) if gen_id else None
                label = " · ".join(p for p in (tab.title, res, ratio) if p)
                if m is None:
                    cells.append((None, ""))
                elif m.video is None or not m.gen.width or not m.gen.height:
                    cells.append((None, f"{label} · {fmt.STATUS_WORDS.get(m.gen.status, m.gen.status)}"))
                else:
                    cells.append((m, label))
    playing = [m for m, _ in cells if m is not None]
    if not playing:
        raise ParamsError("No cell of this comparison has a finished video yet: nothing to compose", field="video")
    cols = len(columns)
    rows = len(cells) // cols
    widest = max((m.gen.width or 1) / (m.gen.height or 1) for m in playing)
    label_ratio = 0.09  # the label strip's height, as a share of the picture's
    box_h = min(
        VIDEO_CELL_MAX_H,
        VIDEO_MAX_W / cols / widest,
        VIDEO_MAX_H / rows / (1 + label_ratio),
    )
    box_h = _even(max(VIDEO_CELL_MIN_H, box_h))
    box_w = _even(box_h * widest)
    label_h = _even(max(18, box_h * label_ratio))
    seconds = max(m.gen.duration_s or 0.0 for m in playing) or 1.0
    return Mosaic(cols, rows, box_w, box_h, label_h, seconds, cells)


def _labels_png(plan: Mosaic, dest: Path) -> None:
    "A transparent picture of the whole mosaic with each cell's label strip drawn in, laid over once."
    width, height = plan.size
    canvas = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(canvas)
    font = _font(max(10, int(plan.label_h * 0.62)), bold=True)
    for n, (_m, label) in enumerate(plan.cells):
        if not label:
            continue
        x = (n % plan.cols) * plan.box_w
        y = (n // plan.cols) * (plan.box_h + plan.label_h) + plan.box_h
        draw.rectangle((x, y, x + plan.box_w - 1, y + plan.label_h - 1), fill=(16, 16, 16, 255))
        text = _fit(label, font, plan.box_w - 8, draw)
        draw.text((x + plan.box_w // 2, y + plan.label_h // 2), text, fill=(255, 255, 255, 255), font=font, anchor="mm")
    canvas.save(dest, format="PNG")


def video_command(plan: Mosaic, labels: Path, dest: Path) -> list[str]:
    "The ffmpeg command composing the mosaic (frame-locked at VIDEO_FPS, silent, H.264 + faststart)."
    inputs: list[str] = []
    chains: list[str] = []
    names: list[str] = []
    box_full = plan.box_h + plan.label_h
    n_in = 0
    for k, (m, _label) in enumerate(plan.cells):
        name = f"c{k}"
        if m is None:
            chains.append(f"color=c=black:s={plan.box_w}x{box_full}:r={VIDEO_FPS},trim=end_frame={plan.frames}[{name}]")
        else:
            assert m.video is not None
            inputs += ["-i", str(m.video)]
            chains.append(
                f"[{n_in}:v]setpts=PTS-STARTPTS,fps={VIDEO_FPS},"
                f"scale={plan.box_w}:{plan.box_h}:force_original_aspect_ratio=decrease:force_divisible_by=2,"
                f"pad={plan.box_w}:{box_full}:(ow-iw)/2:({plan.box_h}-ih)/2:color=black,setsar=1,"
                f"tpad=stop_mode=clone:stop_duration={plan.seconds + 1:.3f},trim=end_frame={plan.frames},"
                f"setpts=PTS-STARTPTS[{name}]"
            )
            n_in += 1
        names.append(f"[{name}]")
    if len(names) > 1:
        chains.append(f"{''.join(names)}xstack=inputs={len(names)}:grid={plan.cols}x{plan.rows}[grid]")
    else:
        chains.append(f"{names[0]}null[grid]")
    chains.append(f"[grid][{n_in}:v]overlay=0:0:format=auto,format=yuv420p[out]")
    inputs += ["-i", str(labels)]
    return [
        ffmpeg_exe(),
        "-hide_banner",
        "-loglevel",
        "error",
        "-nostdin",
        "-y",
        *inputs,
        "-filter_complex",
        ";".join(chains),
        "-map",
        "[out]",
        "-an",
        *VIDEO_X264,
        "-r",
        str(VIDEO_FPS),
        "-frames:v",
        str(plan.frames),
        "-movflags",
        "+faststart",
        "-progress",
        "pipe:1",
        "-nostats",
        "-f",
        "mp4",
        str(dest),
    ]


def _niced(cmd: list[str]) -> list[str]:
    "The command under `nice` when the system has it (it always does on Debian)."
    nice = shutil.which("nice")
    return [nice, "-n", str(NICE_LEVEL), *cmd] if nice else cmd


def write_comparison_video(
    selected: Selected, media_dir: Path, dest: Path, *, progress: Progress | None = None
) -> tuple[int, int]:
    "Compose the comparison's cells into one MP4 at `dest`; returns its (width, height)."
    plan = mosaic(selected, members(selected, Path(media_dir)))
    with tempfile.TemporaryDirectory(prefix="studio-export-") as work, _written(dest) as tmp:
        labels = Path(work) / "labels.png"
        _labels_png(plan, labels)
        err_path = Path(work) / "ffmpeg.err"
        with open(err_path, "w+b") as err:
            proc = subprocess.Popen(
                _niced(video_command(plan, labels, tmp)), stdout=subprocess.PIPE, stderr=err, text=True
            )
            deadline = time.monotonic() + VIDEO_TIMEOUT_S
            try:
                assert proc.stdout is not None
                for line in proc.stdout:
                    key, _, value = line.strip().partition("=")
                    if key == "out_time_us" and value.isdigit() and progress:
                        done = min(1.0, int(value) / 1e6 / plan.seconds)
                        progress(done, f"Comparison video: {done * plan.seconds:.1f} of {plan.seconds:.1f} s")
                    if time.monotonic() > deadline:
                        raise MediaError(f"ffmpeg took longer than {VIDEO_TIMEOUT_S} s to compose the video")
                code = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
            except BaseException:
                proc.kill()
                proc.wait()
                raise
            if code != 0:
                err.seek(0)
                tail = err.read().decode(errors="replace")[-STDERR_TAIL_CHARS:]
                raise MediaError(f"ffmpeg could not compose the comparison video (exit {code}): {tail}")
    return plan.size
