"""The history gallery and its curation: pages of generations, counts, stars, ratings, tags,
notes, deletion, and the failures the Status page offers to retry; and the gallery's
link: which URL parameters it reads (search, filters, page number, open generation), the query
they make, and a sentence for every value it has to ignore."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as default
from datetime import date
from typing import Any

from ..errors import JobError, ParamsError
from ..models import ASPECT_RATIOS, DURATIONS, MODELS, RESOLUTIONS, RETRYABLE_STATUSES, STATUSES, Generation
from ..store import DEFAULT_PAGE_SIZE, CountedPage, GalleryCount, GalleryQuery
from .app import Services

MAX_RATING = 5
MAX_TAG_CHARS = 40
MAX_NOTES_CHARS = 5000

GALLERY_PAGE_SIZE = 24
GALLERY_AUDIO_CHOICES = ("on", "off")
# The gallery's URL parameters. The filters' names are their widgets' keys (bound widgets); none
# is a parameter another page reads (grid, a, b, from, keep): Streamlit drops a bound parameter
# when it navigates to another page.
FILTER_CHOICES: dict[str, tuple[str, ...]] = {
    "resolution": RESOLUTIONS,
    "aspect_ratio": ASPECT_RATIOS,
    "duration": DURATIONS,
    "audio": GALLERY_AUDIO_CHOICES,
    "status": STATUSES,
    "model": MODELS,
    "stage": ("drafts", "finals"),  # drafts: takes promoted to a final; finals: takes promoted from a draft
}
TEXT_PARAMS = ("q", "author", "grid_id")
# Whose takes (bound to `?whose=`): everyone's (absent from the link), mine (the person's name in
# this session), or any other value: that person's name.
WHOSE_PARAM = "whose"
WHOSE_EVERYONE = "everyone"
WHOSE_MINE = "mine"
DATE_PARAMS = ("since", "until")
PAGE_PARAM = "page"  # 1-based, absent on page 1
DETAIL_PARAM = "id"
COLLECTION_FILTER = "collection"  # ?collection=<id>: only that collection's takes (a bound selectbox)
URL_PARAMS = (
    *FILTER_CHOICES,
    *TEXT_PARAMS,
    *DATE_PARAMS,
    "starred",
    COLLECTION_FILTER,
    WHOSE_PARAM,
    PAGE_PARAM,
    DETAIL_PARAM,
)


def history(
    services: Services, query: GalleryQuery | None = None, *, limit: int = DEFAULT_PAGE_SIZE, offset: int = 0
) -> list[Generation]:
    "One page of the history, newest first, matching the search and filters."
    return services.store.page(query, limit=limit, offset=offset)


def count(services: Services, query: GalleryQuery | None = None) -> int:
    "How many generations match, exact up to COUNT_BOUND (past it, COUNT_BOUND + 1)."
    return services.store.count(query)


def page_with_count(
    services: Services, query: GalleryQuery | None = None, *, page: int = 0, page_size: int = DEFAULT_PAGE_SIZE
) -> CountedPage:
    """Page `page` (from 0; past the end, the last page) of the history, newest first, with the count
    the pager shows: exact below a bound, else "at least", and as costly at a million as at a thousand."""
    return services.store.page_with_count(query, number=page, size=page_size)


# ---------------------------------------------------------------------- the gallery's link and pages


def _either(values: tuple[str, ...]) -> str:
    return ", ".join(values[:-1]) + f" or {values[-1]}" if len(values) > 1 else values[0]


def _is_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def url_problems(params: Mapping[str, Sequence[str]]) -> list[str]:
    "A sentence for every URL parameter value the gallery ignores (Streamlit drops them silently)."
    out = []
    for key, values in params.items():
        for value in values:
            if key in FILTER_CHOICES and value and value not in FILTER_CHOICES[key]:
                out.append(f"Ignored {key}={value}: use {_either(FILTER_CHOICES[key])}.")
            elif key in DATE_PARAMS and value and not _is_date(value):
                out.append(f"Ignored {key}={value}: use a date like {date.today().isoformat()}.")
            elif key == "starred" and value and value.lower() not in ("true", "false"):
                out.append(f"Ignored starred={value}: use true.")
            elif key == PAGE_PARAM and page_number(value) is None:
                out.append(f"Ignored page={value}: use a page number such as 2.")
            elif key not in URL_PARAMS:
                known = ", ".join(k for k in URL_PARAMS if k != DETAIL_PARAM)
                out.append(f"Ignored {key}={value}: the gallery has no such filter (it knows {known}).")
    return out


def page_number(value: str | None) -> int | None:
    "The 1-based page a `?page=` value names, or None when it names none."
    if value is None or not value.strip().isdigit() or int(value) < 1:
        return None
    return int(value)


def _texts(name: str, value: Any) -> list[str]:
    "A filter's values as a list of text: one value or a list of them (ParamsError otherwise)."
    if value is None or value == "":
        return []
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not all(isinstance(v, str) for v in items):
        raise ParamsError(f"The {name} filter takes text values, not {type(value).__name__}", field=name)
    return list(items)


def authors(services: Services) -> list[str]:
    "Everyone whose name is on a generation, alphabetically (for the Gallery's whose-takes filter)."
    return services.store.authors()


def whose_names(whose: object, me: str | None) -> list[str]:
    "The authors a whose-takes value keeps: none (everyone's), `me` (mine), or the named person."
    if not isinstance(whose, str) or whose in ("", WHOSE_EVERYONE):
        return []
    if whose == WHOSE_MINE:
        return [me or ""]  # someone not known yet: the work signed with the settings' author
    return [whose]


def gallery_query(values: Mapping[Any, Any], *, me: str | None = None) -> GalleryQuery:
    """The store query the search box and filters hold (their values by URL parameter name); `me`
    is who "mine" means (ui.who())."""
    audio = values.get("audio")
    since, until = values.get("since"), values.get("until")
    authors = [a for text in _texts("author", values.get("author")) for a in text.split(",")]
    collection = values.get(COLLECTION_FILTER) or None
    if collection is not None and not isinstance(collection, str):
        raise ParamsError("The collection filter takes one collection's id", field=COLLECTION_FILTER)
    stage = values.get("stage") or None
    if stage is not None and stage not in FILTER_CHOICES["stage"]:
        raise ParamsError(f"The stage filter takes {_either(FILTER_CHOICES['stage'])}", field="stage")
    return GalleryQuery(
        text=values.get("q") or "",
        resolution=_texts("resolution", values.get("resolution")),
        aspect_ratio=_texts("aspect_ratio", values.get("aspect_ratio")),
        duration=_texts("duration", values.get("duration")),
        status=_texts("status", values.get("status")),
        model=_texts("model", values.get("model")),
        author=[a.strip() for a in authors if a.strip()],
        by=whose_names(values.get(WHOSE_PARAM), me),
        generate_audio=None if audio is None else audio == "on",
        starred=True if values.get("starred") else None,
        grid_id=(values.get("grid_id") or "").strip() or None,
        collection=collection,
        since=since.isoformat() if isinstance(since, date) else None,
        until=until.isoformat() if isinstance(until, date) else None,
        stage=stage,
    )


# Filter names as the folded panel's label says them, by URL parameter, and the query field each sets.
FILTER_LABELS = {
    "resolution": ("resolution", "resolution"),
    "aspect_ratio": ("aspect ratio", "aspect_ratio"),
    "duration": ("duration", "duration"),
    "audio": ("audio", "generate_audio"),
    "status": ("status", "status"),
    "model": ("model", "model"),
    "author": ("author", "author"),
    WHOSE_PARAM: ("whose", "by"),
    "grid_id": ("comparison", "grid_id"),
    COLLECTION_FILTER: ("collection", "collection"),
    "since": ("from", "since"),
    "until": ("to", "until"),
    "starred": ("starred", "starred"),
    "stage": ("drafts/finals", "stage"),
}


def active_filters(query: GalleryQuery, url: Mapping[str, Sequence[str]] | None = None) -> list[str]:
    """The filters (not the search) that are on, for a folded filter panel's label: set in the
    query, or in the link (whose values the widgets take only once they are drawn)."""
    url = url or {}
    on = []
    for param, (label, field) in FILTER_LABELS.items():
        in_query = getattr(query, field) not in (None, [], "")
        in_url = any(v for v in url.get(param, [])) and not url_problems({param: list(url[param])})
        if in_query or in_url:
            on.append(label)
    return on


@dataclass(frozen=True)
class GridStack:
    "A comparison shown as one stacked card in the gallery: its cells, its axes, how many match."

    grid_id: str
    name: str
    prompt: str
    axes: str  # e.g. "480p/720p × 16:9/9:16/1:1"
    cell_ids: list[str]
    done: int
    matching: int  # cells that match the search and filters (all of them when nothing is on)

    @property
    def size(self) -> int:
        return len(self.cell_ids)

    def describe(self) -> str:
        "'6 cells · 480p/720p × 16:9/9:16/1:1', with '· 2 match' when the filters leave fewer."
        line = f"{self.size} cell{'s' if self.size != 1 else ''}" + (f" · {self.axes}" if self.axes else "")
        return line + (f" · {self.matching} match" if self.matching < self.size else "")


def _axis_values(name: str, values: Sequence[Any]) -> str:
    if name == "durations":
        return "/".join("auto" if v == "auto" else f"{v}s" for v in values)
    if name == "audio":
        return "/".join("audio on" if v else "audio off" for v in values)
    if name == "prompts":
        return f"{len(values)} prompts"
    return "/".join(str(v) for v in values)


def axes_line(axes: Mapping[str, Sequence[Any]]) -> str:
    "A comparison's axes in a line: resolutions and ratios always, the others when they vary."
    parts = [
        _axis_values(name, axes.get(name) or [])
        for name in ("resolutions", "aspect_ratios", "durations", "audio", "prompts")
        if len(axes.get(name) or []) > 1 or (name in ("resolutions", "aspect_ratios") and axes.get(name))
    ]
    return " × ".join(parts)


@dataclass(frozen=True)
class GalleryPage:
    """One page of the gallery: its generations, its number (from 1) and how many match, as far as
    counted. A stacked page has one item per comparison (its newest matching cell, in `gens`) and
    the comparisons' stacks by grid id."""

    gens: list[Generation]
    page: int  # 1-based; a page past the end comes back as the last one
    total: GalleryCount
    page_size: int = GALLERY_PAGE_SIZE
    stacks: Mapping[str, GridStack] = default(default_factory=dict)

    def stack(self, gen: Generation) -> GridStack | None:
        "The stack this item stands for, when it stands for a comparison."
        return self.stacks.get(gen.grid_id) if gen.grid_id else None

    @property
    def pages(self) -> int:
        "Pages known so far (at least this many when the count stopped at its bound)."
        return max(1, -(-self.total.n // self.page_size))

    @property
    def has_next(self) -> bool:
        return self.page < self.pages or not self.total.exact

    def where(self) -> str:
        "'25–48 of 30' or, when the count stopped, '25–48 of 10,000+ · page 2 of 417+'."
        more = "" if self.total.exact else "+"  # a count that stopped is "at least"
        first = (self.page - 1) * self.page_size + 1
        last = min(first + self.page_size - 1, self.total.n)
        return f"{first:,}–{last:,} of {self.total.n:,}{more} · page {self.page} of {self.pages:,}{more}"


def gallery_page(
    services: Services,
    query: GalleryQuery,
    page: int = 1,
    *,
    page_size: int = GALLERY_PAGE_SIZE,
    stacked: bool = False,
) -> GalleryPage:
    """Page `page` (from 1; past the end, the last page) of a search, with its bounded count.
    `stacked`: a comparison is one item (shown when any of its cells matches), counted once."""
    for name, value in (("page", page), ("page size", page_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ParamsError(f"The {name} must be a whole number from 1 (got {value!r})", field="page")
    shown = services.store.page_with_count(query, number=max(1, page) - 1, size=page_size, stacked=stacked)
    stacks: dict[str, GridStack] = {}
    if stacked:
        grid_ids = list(dict.fromkeys(g.grid_id for g in shown.gens if g.grid_id))
        for grid_id, found in services.store.grid_stacks(grid_ids, query).items():
            stacks[grid_id] = GridStack(
                grid_id,
                found["name"] or "",
                found["prompt"] or "",
                axes_line(found["axes"]),
                found["cells"],
                found["done"],
                found["matching"],
            )
    return GalleryPage(shown.gens, shown.number + 1, shown.total, page_size, stacks)


# ---------------------------------------------------------------------- curation


def _must_exist(services: Services, gen_id: str) -> None:
    "Curation of a generation that is gone (deleted in another tab) says so instead of doing nothing."
    if services.store.get(gen_id) is None:
        raise ParamsError(f"There is no generation {gen_id!r}: it may have been deleted", field="id")


def set_starred(services: Services, gen_id: str, starred: bool) -> None:
    _must_exist(services, gen_id)
    services.store.update(gen_id, starred=int(starred))


def set_rating(services: Services, gen_id: str, rating: int | None) -> None:
    if rating is not None and (
        isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= MAX_RATING
    ):
        raise ParamsError(f"Rating must be 1 to {MAX_RATING} stars", field="rating")
    _must_exist(services, gen_id)
    services.store.update(gen_id, rating=rating)


def set_tags(services: Services, gen_id: str, tags: Sequence[str] | str) -> list[str]:
    "Save tags (a list, or text separated by commas); returns them cleaned and de-duplicated."
    items = tags.split(",") if isinstance(tags, str) else list(tags)
    clean = list(dict.fromkeys(t.strip() for t in items if t.strip()))
    too_long = [t for t in clean if len(t) > MAX_TAG_CHARS]
    if too_long:
        raise ParamsError(f"Tags are at most {MAX_TAG_CHARS} characters: {too_long[0][:20]}…", field="tags")
    _must_exist(services, gen_id)
    services.store.update(gen_id, tags=", ".join(clean) or None)
    return clean


def set_notes(services: Services, gen_id: str, notes: str) -> None:
    if len(notes) > MAX_NOTES_CHARS:
        raise ParamsError(f"Notes are at most {MAX_NOTES_CHARS} characters", field="notes")
    _must_exist(services, gen_id)
    services.store.update(gen_id, notes=notes.strip() or None)


def delete_generation(services: Services, gen_id: str) -> None:
    "Delete a finished generation: its files, then its row. Running ones must be cancelled first."
    gen = services.store.get(gen_id)
    if gen is None:
        return
    if gen.is_active:
        raise JobError("This generation is still running; cancel it before deleting it")
    for name in (gen.video_path, gen.thumb_path):
        if name:
            services.media.delete(name)
    services.store.delete(gen_id)


# ---------------------------------------------------------------------- many at once (the bulk bar)


@dataclass(frozen=True)
class BulkDeleted:
    "What a bulk delete did: how many were deleted, and how many were left because they still run."

    deleted: int
    running: int

    def message(self) -> str:
        text = f"Deleted {self.deleted} take{'s and their' if self.deleted != 1 else ' and its'} files."
        if self.running:
            text += f" {self.running} still running {'was' if self.running == 1 else 'were'} left: cancel first."
        return text


def _picked(gen_ids: Sequence[str]) -> list[str]:
    "The selection's ids, once each (ParamsError when it is empty or not a list of ids)."
    if (
        isinstance(gen_ids, str)
        or not isinstance(gen_ids, (list, tuple))
        or not all(isinstance(i, str) for i in gen_ids)
    ):
        raise ParamsError("A selection is a list of take ids", field="selection")
    ids = list(dict.fromkeys(gen_ids))
    if not ids:
        raise ParamsError("Select at least one take first", field="selection")
    return ids


def star_many(services: Services, gen_ids: Sequence[str], starred: bool = True) -> int:
    "Star (or unstar) every selected take in one transaction; returns how many exist."
    return services.store.set_many(_picked(gen_ids), starred=int(starred))


def _clean_tag(tag: str) -> str:
    clean = tag.strip() if isinstance(tag, str) else ""
    if not clean or "," in clean:
        raise ParamsError("Type one tag (no commas) to add or remove", field="tags")
    if len(clean) > MAX_TAG_CHARS:
        raise ParamsError(f"Tags are at most {MAX_TAG_CHARS} characters: {clean[:20]}…", field="tags")
    return clean


def _tag_list(text: str | None) -> list[str]:
    return [t.strip() for t in (text or "").split(",") if t.strip()]


def tag_many(services: Services, gen_ids: Sequence[str], tag: str) -> int:
    "Add one tag to every selected take (kept once; the others stay); returns how many changed."
    clean = _clean_tag(tag)
    ids = _picked(gen_ids)

    def add(old: str | None) -> str | None:
        tags = _tag_list(old)
        return old if clean in tags else ", ".join([*tags, clean])

    return services.store.edit_tags(ids, add)


def untag_many(services: Services, gen_ids: Sequence[str], tag: str) -> int:
    "Remove one tag from every selected take that has it; returns how many changed."
    clean = _clean_tag(tag)
    ids = _picked(gen_ids)

    def drop(old: str | None) -> str | None:
        tags = _tag_list(old)
        return old if clean not in tags else (", ".join(t for t in tags if t != clean) or None)

    return services.store.edit_tags(ids, drop)


def delete_many(services: Services, gen_ids: Sequence[str]) -> BulkDeleted:
    """Delete the selected takes that have finished: their rows in one transaction, then their
    files. A take still running is left (and counted), as the detail view's Delete does."""
    ids = _picked(gen_ids)
    gone = services.store.delete_many(ids)
    for gen in gone:
        for name in (gen.video_path, gen.thumb_path):
            if name:
                services.media.delete(name)
    running = len(services.store.many([i for i in ids if i not in {g.id for g in gone}]))
    return BulkDeleted(len(gone), running)


# ---------------------------------------------------------------------- Status page (pages/status.py)


def recent_failures(services: Services, *, limit: int = 10) -> list[Generation]:
    "The newest failed or cancelled generations (what the Status page offers to retry)."
    return services.store.page(GalleryQuery(status=list(RETRYABLE_STATUSES)), limit=limit)
