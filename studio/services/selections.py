"""What a share link or an export covers: a collection, a comparison, one generation, or a gallery
search. `resolve` is the one place that turns such a selection into its title, owner, ordered takes
and (for a comparison) its grid layout, so a share page and an export of the same thing agree."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from pydantic import ValidationError

from ..errors import ParamsError
from ..models import Generation
from ..store import GalleryQuery
from .app import Services
from .grids import GridTab, grid_layout

SelectionKind = Literal["collection", "grid", "generation", "generations", "query"]
SELECTION_KINDS: tuple[SelectionKind, ...] = ("collection", "grid", "generation", "generations", "query")
# A search shared or exported holds at most this many takes (newest first): a page or a ZIP, not the
# whole history by accident.
MAX_SELECTION_ITEMS = 1000
KIND_LABELS = {
    "collection": "collection",
    "grid": "comparison",
    "generation": "take",
    "generations": "set of takes",
    "query": "gallery search",
}


@dataclass(frozen=True)
class Selection:
    """A thing to share or export: `ref` is the id; for `generations` (takes picked in the Gallery)
    the ids joined by commas; for a search the GalleryQuery as JSON."""

    kind: SelectionKind
    ref: str

    @classmethod
    def of_query(cls, query: GalleryQuery) -> Selection:
        return cls("query", query.model_dump_json(exclude_defaults=True))

    @classmethod
    def of_takes(cls, gen_ids: Sequence[str]) -> Selection:
        return cls("generations", ",".join(dict.fromkeys(gen_ids)))

    def query(self) -> GalleryQuery:
        "The search a `query` selection holds (ParamsError if it is not one)."
        try:
            return GalleryQuery.model_validate(json.loads(self.ref or "{}"))
        except (ValueError, ValidationError):
            raise ParamsError("This gallery search cannot be read", field="selection") from None


@dataclass
class Selected:
    "A selection resolved: what a share page or an export shows, in order."

    selection: Selection
    title: str
    owner: str
    created_at: str | None
    items: list[Generation]
    description: str = ""
    layout: list[GridTab] = field(default_factory=list)  # a comparison's tables; [] for anything else
    added_by: dict[str, str] = field(default_factory=dict)  # collection items: who added each

    @property
    def kind_label(self) -> str:
        return KIND_LABELS[self.selection.kind]


def _gone(kind: str) -> ParamsError:
    return ParamsError(f"There is no such {KIND_LABELS.get(kind, kind)}: it may have been deleted", field="selection")


def describe_query(query: GalleryQuery, *, collection_name: str | None = None) -> str:
    "A search in words, for titles: 'Search “fox” · 9:16 · starred · in “Picks”'."
    parts = [f"“{query.text}”"] if query.text else []
    for values in (query.resolution, query.aspect_ratio, query.duration, query.status, query.model, query.author):
        parts += [str(v) for v in values]
    parts += [f"by {v}" for v in query.by]
    if query.generate_audio is not None:
        parts.append("audio on" if query.generate_audio else "audio off")
    if query.starred:
        parts.append("starred")
    if query.stage:  # drafts (takes with finals) or finals (issue 9 §4)
        parts.append(query.stage)
    if query.since or query.until:
        parts.append(f"{query.since or '…'} to {query.until or '…'}")
    if query.collection:
        parts.append(f"in “{collection_name}”" if collection_name else f"in collection {query.collection}")
    return "Gallery search" + (": " + " · ".join(parts) if parts else ": everything")


def resolve(services: Services, selection: Selection) -> Selected:
    "The takes a selection covers, in the order it shows them; ParamsError when it is gone."
    store = services.store
    if selection.kind == "collection":
        coll = store.get_collection(selection.ref)
        if coll is None:
            raise _gone("collection")
        return Selected(
            selection,
            title=coll.name,
            owner=coll.owner,
            created_at=coll.created_at,
            items=store.collection_items(coll.id),
            description=coll.description,
            added_by=store.collection_item_authors(coll.id),
        )
    if selection.kind == "grid":
        found = store.get_grid(selection.ref)
        if found is None:
            raise _gone("grid")
        cells = store.grid_cells(selection.ref)
        return Selected(
            selection,
            title=found.get("name") or "Comparison",
            owner=found.get("author") or "",
            created_at=found.get("created_at"),
            items=cells,
            description=found.get("prompt") or "",
            layout=grid_layout(cells),
        )
    if selection.kind == "generation":
        gen = store.get(selection.ref)
        if gen is None:
            raise _gone("generation")
        return Selected(selection, title=gen.prompt[:80], owner=gen.author, created_at=gen.created_at, items=[gen])
    if selection.kind == "generations":
        ids = [i for i in selection.ref.split(",") if i]
        found = {g.id: g for g in store.many(ids)}
        if not found:
            raise ParamsError("None of these takes exists any more (deleted?)", field="selection")
        items = [found[i] for i in ids if i in found]
        return Selected(selection, title=f"{len(items)} takes", owner="", created_at=None, items=items)
    if selection.kind == "query":
        query = selection.query()
        board = store.get_collection(query.collection) if query.collection else None
        return Selected(
            selection,
            title=describe_query(query, collection_name=board.name if board else None),
            owner="",
            created_at=None,
            items=store.page(query, limit=MAX_SELECTION_ITEMS, offset=0),
        )
    raise ParamsError(f"Cannot share or export a {selection.kind!r}", field="selection")
