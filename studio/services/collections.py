"""Collections (boards): make, rename, describe, give a cover, delete; add takes (idempotently),
remove, reorder; list them and their items. The generations stay when a collection goes."""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import ParamsError
from ..models import Collection, Generation
from .app import Services

MAX_COLLECTION_NAME_CHARS = 80
MAX_COLLECTION_DESCRIPTION_CHARS = 2000
COLLECTION_PARAM = "id"  # /collections?id=...


def _name(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ParamsError("Give the collection a name", field="collection")
    name = " ".join(name.split())  # one line: it titles pages, cards and exports
    if len(name) > MAX_COLLECTION_NAME_CHARS:
        raise ParamsError(
            f"Collection names are at most {MAX_COLLECTION_NAME_CHARS} characters (this one has {len(name)})",
            field="collection",
        )
    return name


def _description(text: object) -> str:
    if not isinstance(text, str):
        raise ParamsError("A collection's description is text", field="description")
    text = text.strip()
    if len(text) > MAX_COLLECTION_DESCRIPTION_CHARS:
        raise ParamsError(
            f"Descriptions are at most {MAX_COLLECTION_DESCRIPTION_CHARS} characters (this one has {len(text)})",
            field="description",
        )
    return text


def create_collection(services: Services, name: str, *, description: str = "", owner: str = "") -> Collection:
    return services.store.add_collection(name=_name(name), description=_description(description), owner=owner)


def collection(services: Services, coll_id: str | None) -> Collection:
    "The collection with this id; ParamsError (saying it may have been deleted) when there is none."
    found = services.store.get_collection(coll_id) if isinstance(coll_id, str) and coll_id.strip() else None
    if found is None:
        raise ParamsError("There is no such collection: it may have been deleted", field="collection")
    return found


def collections(services: Services, *, containing: str | None = None) -> list[Collection]:
    "Every collection, the most recently changed first (or those holding one generation)."
    return services.store.collections(containing=containing)


def rename_collection(services: Services, coll_id: str, name: str) -> None:
    new = _name(name)
    if not services.store.update_collection(collection(services, coll_id).id, name=new):
        raise ParamsError("There is no such collection: it may have been deleted", field="collection")


def describe_collection(services: Services, coll_id: str, description: str) -> None:
    text = _description(description)
    if not services.store.update_collection(collection(services, coll_id).id, description=text):
        raise ParamsError("There is no such collection: it may have been deleted", field="collection")


def set_cover(services: Services, coll_id: str, gen_id: str | None) -> None:
    "Show this item on the collection's card (None: the first item)."
    found = collection(services, coll_id)
    if gen_id is not None and gen_id not in {g.id for g in services.store.collection_items(found.id)}:
        raise ParamsError("The cover must be one of the collection's takes", field="cover")
    services.store.update_collection(found.id, cover_id=gen_id)


def delete_collection(services: Services, coll_id: str) -> None:
    "Delete the collection; its generations stay in the history."
    if not services.store.delete_collection(collection(services, coll_id).id):
        raise ParamsError("There is no such collection: it may have been deleted", field="collection")


def add_to_collection(services: Services, coll_id: str, gen_ids: Sequence[str], *, added_by: str = "") -> int:
    """Add takes at the end, in this order. A take already in it stays where it is (not an error);
    returns how many were new. Ids that are no generation are refused before anything is added."""
    found = collection(services, coll_id)
    ids = list(dict.fromkeys(gen_ids))
    existing = {g.id for g in services.store.many(ids)}  # one query (inside the comprehension: one per id)
    missing = [i for i in ids if i not in existing]
    if missing:
        raise ParamsError(
            f"{len(missing)} of the takes to add no longer exist (deleted in another tab?): nothing was added",
            field="collection",
        )
    return services.store.add_to_collection(found.id, ids, added_by=added_by)


def remove_from_collection(services: Services, coll_id: str, gen_ids: Sequence[str]) -> int:
    "Take these takes out of the collection (they stay in the history); returns how many were in it."
    return services.store.remove_from_collection(collection(services, coll_id).id, list(gen_ids))


def reorder_collection(services: Services, coll_id: str, gen_ids: Sequence[str]) -> None:
    "Put these items first, in this order; the rest keep their order after them."
    services.store.reorder_collection(collection(services, coll_id).id, list(gen_ids))


def move_item(services: Services, coll_id: str, gen_id: str, steps: int) -> None:
    "Move one item `steps` places (negative: towards the front), clamped to the ends."
    order = [g.id for g in collection_items(services, coll_id)]
    if gen_id not in order:
        raise ParamsError("That take is not in this collection", field="collection")
    at = order.index(gen_id)
    order.insert(max(0, min(len(order) - 1, at + steps)), order.pop(at))
    services.store.reorder_collection(coll_id, order)


def collection_items(services: Services, coll_id: str) -> list[Generation]:
    return services.store.collection_items(collection(services, coll_id).id)


def added_by(services: Services, coll_id: str) -> dict[str, str]:
    "Who added each item (generation id -> name)."
    return services.store.collection_item_authors(coll_id)


def cover(services: Services, found: Collection) -> Generation | None:
    "The take that stands for the collection: its cover, else its first finished take, else its first."
    items = services.store.collection_items(found.id)
    chosen = next((g for g in items if g.id == found.cover_id), None)
    return chosen or next((g for g in items if g.status == "done"), None) or (items[0] if items else None)
