"""Collections (boards) and selections: the store, the service rules and what a selection resolves to."""

from __future__ import annotations

import sqlite3

import pytest
from sqlite_utils import Database

from studio import services as svc
from studio.errors import ParamsError
from studio.migrations import migrations
from studio.models import VideoGenerationParams
from studio.store import GalleryQuery, HistoryStore


def _takes(store: HistoryStore, *prompts: str) -> list[str]:
    return [store.add_generation(VideoGenerationParams(prompt=p), author="ana") for p in prompts]


@pytest.mark.usefixtures("backend")
def test_a_collection_keeps_its_order_and_adding_twice_is_not_an_error(idle):
    a, b, c = _takes(idle.store, "fox at dawn", "fox at noon", "fox at dusk")
    board = svc.create_collection(idle, "  Fox   picks ", description="for the client", owner="ana")
    assert board.name == "Fox picks"
    assert svc.add_to_collection(idle, board.id, [b, a], added_by="ben") == 2
    assert svc.add_to_collection(idle, board.id, [a, c], added_by="ana") == 1  # a is already in it
    assert [g.id for g in svc.collection_items(idle, board.id)] == [b, a, c]
    assert svc.added_by(idle, board.id) == {b: "ben", a: "ben", c: "ana"}
    assert svc.collection(idle, board.id).items == 3

    svc.move_item(idle, board.id, c, -5)
    assert [g.id for g in svc.collection_items(idle, board.id)] == [c, b, a]
    svc.reorder_collection(idle, board.id, [a])
    assert [g.id for g in svc.collection_items(idle, board.id)] == [a, c, b]
    assert svc.remove_from_collection(idle, board.id, [c]) == 1
    assert [g.id for g in svc.collection_items(idle, board.id)] == [a, b]


@pytest.mark.usefixtures("backend")
def test_renaming_describing_cover_and_deleting_leave_the_takes(idle):
    a, b = _takes(idle.store, "one", "two")
    board = svc.create_collection(idle, "Board")
    svc.add_to_collection(idle, board.id, [a, b])
    svc.rename_collection(idle, board.id, "Finals")
    svc.describe_collection(idle, board.id, "Friday's picks")
    first = svc.cover(idle, svc.collection(idle, board.id))
    assert first is not None and first.id == a  # none done yet: the first
    svc.set_cover(idle, board.id, b)
    found = svc.collection(idle, board.id)
    assert (found.name, found.description, found.cover_id) == ("Finals", "Friday's picks", b)
    chosen = svc.cover(idle, found)
    assert chosen is not None and chosen.id == b
    svc.delete_collection(idle, board.id)
    with pytest.raises(ParamsError, match="may have been deleted"):
        svc.collection(idle, board.id)
    with pytest.raises(ParamsError, match="may have been deleted"):
        svc.add_to_collection(idle, board.id, [a])
    assert idle.store.get(a) is not None and idle.store.get(b) is not None


@pytest.mark.usefixtures("backend")
def test_deleting_a_take_removes_it_from_collections(idle):
    a, b = _takes(idle.store, "one", "two")
    board = svc.create_collection(idle, "Board")
    svc.add_to_collection(idle, board.id, [a, b])
    svc.set_cover(idle, board.id, a)
    idle.store.update(a, status="failed", error="test")
    svc.delete_generation(idle, a)
    assert [g.id for g in svc.collection_items(idle, board.id)] == [b]
    assert svc.collection(idle, board.id).cover_id is None
    assert [c.id for c in svc.collections(idle, containing=b)] == [board.id]


@pytest.mark.parametrize(
    ("name", "message"),
    [("", "Give the collection a name"), ("   ", "Give the collection a name"), ("x" * 81, "at most 80")],
)
def test_bad_names_are_refused(idle, name, message):
    with pytest.raises(ParamsError, match=message):
        svc.create_collection(idle, name)
    assert idle.store.collections() == []


def test_a_long_description_and_missing_takes_are_refused(idle):
    (a,) = _takes(idle.store, "one")
    board = svc.create_collection(idle, "Board")
    with pytest.raises(ParamsError, match="at most 2000"):
        svc.describe_collection(idle, board.id, "x" * 2001)
    with pytest.raises(ParamsError, match="1 of the takes to add no longer exist"):
        svc.add_to_collection(idle, board.id, [a, "nope"])
    assert svc.collection_items(idle, board.id) == []  # nothing half-added
    with pytest.raises(ParamsError, match="one of the collection's takes"):
        svc.set_cover(idle, board.id, a)


@pytest.mark.usefixtures("backend")
def test_selections_resolve_to_the_same_takes_the_pages_show(idle):
    a, b = _takes(idle.store, "neon fox", "neon owl")
    board = svc.create_collection(idle, "Neon", owner="ana")
    svc.add_to_collection(idle, board.id, [b, a], added_by="ben")
    got = svc.resolve(idle, svc.Selection("collection", board.id))
    assert (got.title, got.owner, [g.id for g in got.items], got.kind_label) == ("Neon", "ana", [b, a], "collection")
    assert got.added_by == {a: "ben", b: "ben"}

    grid_id, cells = idle.store.add_grid(
        prompt="a lighthouse",
        axes={"resolution": ["480p", "720p"]},
        cells=[(VideoGenerationParams(prompt="a lighthouse", resolution=r), r) for r in ("480p", "720p")],
        author="ben",
        name="Lighthouse",
    )
    grid = svc.resolve(idle, svc.Selection("grid", grid_id))
    assert [g.id for g in grid.items] == cells and grid.owner == "ben" and grid.title == "Lighthouse"
    assert grid.layout[0].resolutions == ("480p", "720p")

    one = svc.resolve(idle, svc.Selection("generation", a))
    assert [g.id for g in one.items] == [a]

    picked = svc.resolve(idle, svc.Selection.of_takes([b, "gone", a]))
    assert [g.id for g in picked.items] == [b, a] and picked.title == "2 takes"

    search = svc.Selection.of_query(GalleryQuery(text="owl"))
    found = svc.resolve(idle, search)
    assert [g.id for g in found.items] == [b] and found.title == "Gallery search: “owl”"

    for kind, ref in (("collection", "gone"), ("grid", "gone"), ("generation", "gone")):
        with pytest.raises(ParamsError, match="may have been deleted"):
            svc.resolve(idle, svc.Selection(kind, ref))  # type: ignore[arg-type]
    with pytest.raises(ParamsError, match="cannot be read"):
        svc.resolve(idle, svc.Selection("query", "{not json"))


def test_collections_arrive_on_a_database_with_history(tmp_path):
    "The previous schema with rows in it: after the upgrade, an old take goes into a new collection."
    path = tmp_path / "old.db"
    db = Database(sqlite3.connect(path))
    migrations.apply(db, stop_before="m015_collections")
    db.execute(
        "INSERT INTO generations (id, created_at, prompt, status) "
        "VALUES ('old1', '2026-01-01T00:00:00+00:00', 'x', 'done')"
    )
    db.conn.commit()
    db.close()
    store = HistoryStore(path)
    board = store.add_collection(name="Old takes")
    assert store.add_to_collection(board.id, ["old1"]) == 1
    assert [g.id for g in store.collection_items(board.id)] == ["old1"]


@pytest.mark.usefixtures("backend")
def test_the_gallery_filter_by_collection_keeps_the_gallery_order_and_combines_with_the_rest(idle):
    store = idle.store
    a, b, c, d = _takes(store, "fox at dawn", "owl at noon", "fox at dusk", "fox at night")
    store.update(c, starred=1)
    board = svc.create_collection(idle, "Foxes")
    svc.add_to_collection(idle, board.id, [a, c, b])
    other = svc.create_collection(idle, "Elsewhere")
    svc.add_to_collection(idle, other.id, [d])

    def ids(**query) -> list[str]:
        q = GalleryQuery(collection=board.id, **query)
        found = [g.id for g in store.page(q, limit=10)]
        assert store.count(q) == len(found) == store.page_with_count(q, size=2).total.n
        return found

    assert ids() == [c, b, a]  # newest first, not the collection's order
    assert ids(text="fox") == [c, a]
    assert ids(starred=True) == [c]
    assert ids(text="fox", starred=False) == [a]
    assert [g.id for g in store.page_with_count(GalleryQuery(collection=board.id), number=1, size=2).gens] == [a]
    assert store.page(GalleryQuery(collection="no-such-board")) == []
    svc.remove_from_collection(idle, board.id, [c])
    assert ids() == [b, a]


def test_the_collection_filter_starts_from_the_collection_not_a_walk_of_the_history(idle):
    for query in (
        GalleryQuery(collection="c1"),
        GalleryQuery(collection="c1", resolution=["720p"]),
        GalleryQuery(collection="c1", text="zebra"),
    ):
        steps = idle.store.query_plans(query)["page"][1:]  # after the SQL: each take is looked up by id
        assert any(step.startswith("SEARCH g USING INDEX sqlite_autoindex_generations_1 (id=?)") for step in steps)
        assert any("SEARCH collection_items USING COVERING INDEX" in step for step in steps)
        assert not any("idx_generations_" in step or step.startswith("SCAN g ") for step in steps), steps


def test_a_search_in_a_collection_is_described_with_its_name(idle):
    board = svc.create_collection(idle, "Foxes")
    query = GalleryQuery(text="fox", collection=board.id)
    assert svc.resolve(idle, svc.Selection.of_query(query)).title == "Gallery search: “fox” · in “Foxes”"
    assert svc.describe_query(GalleryQuery(collection="gone")) == "Gallery search: in collection gone"
