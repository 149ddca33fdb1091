"""The stacked gallery in the store: a comparison is one item (where its newest matching cell
stands), paged and counted in SQL, checked against a plain Python oracle over many comparisons
and single takes spread across pages; and the many-at-once writes of the Gallery's bulk bar."""

from __future__ import annotations

import random

import pytest
from test_store import QUERIES, WORDS, naive, params, sqlite_only

from studio.store import GalleryCount, GalleryQuery

EXTRA_QUERIES = [
    GalleryQuery(resolution=["480p"], aspect_ratio=["9:16"]),
    GalleryQuery(text="zebra", starred=True),
    GalleryQuery(grid_id="grid-07"),
]


@pytest.fixture
def stacks_store(history_url, open_store):
    "On each backend in turn (the store's contract suite)."
    return open_store(history_url, count_steps=10**9)


@pytest.fixture
def history(stacks_store):
    "Singles and comparisons (2 to 6 cells) interleaved, 40 launches; every row newest first."
    rnd = random.Random(8)
    ids: list[str] = []
    for launch in range(40):
        cells = []
        size = 1 if rnd.random() < 0.5 else rnd.randint(2, 6)
        for i in range(size):
            prompt = " ".join(rnd.sample(WORDS, 2)) + f" launch {launch} cell {i}"
            p = params(
                prompt,
                resolution=rnd.choice(("480p", "720p", "1080p")),
                aspect_ratio=rnd.choice(("16:9", "1:1", "9:16")),
                generate_audio=rnd.random() < 0.5,
            )
            cells.append((p, None))
        ids += stacks_store.add_generations(cells, grid_id=f"grid-{launch:02d}" if size > 1 else None)
    for gen_id in ids:
        fields: dict = {}
        if rnd.random() < 0.3:
            fields["status"] = "done"
        if rnd.random() < 0.25:
            fields["starred"] = 1
        if rnd.random() < 0.1:
            fields["tags"] = "hero, client A"
        stacks_store.update(gen_id, **fields)
    return [stacks_store.get(gen_id) for gen_id in reversed(ids)]


def stacked(rows, q: GalleryQuery) -> list[str]:
    "The oracle: the matches, newest first, keeping only the first (newest) match of each comparison."
    by_id = {g.id: g for g in rows}
    seen: set[str] = set()
    out = []
    for gen_id in naive(rows, q):
        key = by_id[gen_id].grid_id or gen_id
        if key not in seen:
            seen.add(key)
            out.append(gen_id)
    return out


ALL_QUERIES = [*QUERIES, *EXTRA_QUERIES]


def test_the_history_has_many_comparisons_and_singles(history):
    grids = {g.grid_id for g in history if g.grid_id}
    singles = [g for g in history if not g.grid_id]
    assert len(grids) >= 15 and len(singles) >= 15
    assert len(stacked(history, GalleryQuery())) == len(grids) + len(singles) < len(history)


@pytest.mark.parametrize("query", ALL_QUERIES, ids=lambda q: q.model_dump_json(exclude_defaults=True))
def test_stacked_pages_and_counts_match_the_oracle_on_every_page(stacks_store, history, query):
    expected = stacked(history, query)
    assert [g.id for g in stacks_store.page(query, limit=1000, stacked=True)] == expected
    assert (
        stacks_store.count(query, stacked=True) == len(expected) == stacks_store.count(query, bound=None, stacked=True)
    )
    size = 7
    last = max(1, -(-len(expected) // size)) - 1
    for number in range(last + 2):  # one past the end: an old link shows the last page
        shown = stacks_store.page_with_count(query, number=number, size=size, stacked=True)
        assert shown.number == min(number, last)
        assert [g.id for g in shown.gens] == expected[shown.number * size : (shown.number + 1) * size]
        assert shown.total == GalleryCount(len(expected), exact=True), number


def test_a_comparison_stands_where_its_newest_matching_cell_stands(stacks_store):
    old = stacks_store.add_generation(params("a zebra, old single"))
    grid = stacks_store.add_generations([(params(f"a fox cell {i}"), None) for i in range(3)], grid_id="g1")
    new = stacks_store.add_generation(params("a zebra, new single"))
    # Only the grid's first cell says zebra: searching puts the grid where that cell stands.
    stacks_store.update(grid[0], prompt="a zebra cell 0")
    assert [g.id for g in stacks_store.page(stacked=True)] == [new, grid[2], old]
    assert [g.id for g in stacks_store.page(GalleryQuery(text="zebra"), stacked=True)] == [new, grid[0], old]
    assert [g.id for g in stacks_store.page(GalleryQuery(text="fox"), stacked=True)] == [grid[2]]
    # Unstacked, every cell is its own item.
    assert len(stacks_store.page()) == 5 and stacks_store.count(stacked=True) == 3


def test_stacked_counts_stop_at_the_bound(stacks_store, history, open_store):
    bounded = open_store(stacks_store.location, count_bound=10, count_steps=10**9)
    expected = stacked(history, GalleryQuery())
    shown = bounded.page_with_count(GalleryQuery(), number=0, size=7, stacked=True)
    assert [g.id for g in shown.gens] == expected[:7]
    assert len(expected) > 10 and shown.total == GalleryCount(10, exact=False)


@sqlite_only
def test_stacked_counts_out_of_steps_say_at_least(stacks_store, history, open_store):
    stingy = open_store(stacks_store.location, count_steps=1)
    shown = stingy.page_with_count(GalleryQuery(), number=0, size=7, stacked=True)
    assert shown.total.n >= 7 and not shown.total.exact  # out of steps: a lower bound that covers the page


def test_grid_stacks_say_cells_done_and_how_many_match(stacks_store):
    grid_id, ids = stacks_store.add_grid(
        prompt="a kite",
        axes={"resolutions": ["480p", "720p"], "aspect_ratios": ["16:9", "9:16"]},
        cells=[
            (params("a kite", resolution=r, aspect_ratio=a), f"{r} · {a}")
            for r in ("480p", "720p")
            for a in ("16:9", "9:16")
        ],
    )
    stacks_store.update(ids[0], status="done")
    stacks = stacks_store.grid_stacks([grid_id, "no-such-grid"], GalleryQuery(resolution=["720p"]))
    assert list(stacks) == [grid_id]
    stack = stacks[grid_id]
    assert stack["cells"] == ids and stack["done"] == 1 and stack["matching"] == 2
    assert stack["axes"]["resolutions"] == ["480p", "720p"]
    assert stacks_store.grid_stacks([grid_id], GalleryQuery(text="kite"))[grid_id]["matching"] == 4
    assert stacks_store.grid_stacks([grid_id], GalleryQuery(text="zebra"))[grid_id]["matching"] == 0
    assert stacks_store.grid_stacks([]) == {}


# ---------------------------------------------------------------------- many at once


def test_set_many_and_edit_tags_change_only_the_given_rows(stacks_store):
    a, b, c = (stacks_store.add_generation(params(f"take {i}")) for i in range(3))
    assert stacks_store.set_many([a, b, "gone"], starred=1) == 2
    assert [stacks_store.get(i).starred for i in (a, b, c)] == [True, True, False]
    stacks_store.update(a, tags="hero")
    changed = stacks_store.edit_tags([a, b, c], lambda old: old if old else "new")
    assert changed == 2 and [stacks_store.get(i).tags for i in (a, b, c)] == ["hero", "new", "new"]
    assert stacks_store.set_many([]) == 0 and stacks_store.edit_tags([], lambda old: old) == 0


def test_delete_many_leaves_running_takes_and_the_rest_of_the_history(stacks_store):
    done = [stacks_store.add_generation(params(f"done {i}")) for i in range(3)]
    running = stacks_store.add_generation(params("still running"))
    keep = stacks_store.add_generation(params("not selected"))
    for gen_id in done:
        stacks_store.update(gen_id, status="done")
    stacks_store.update(keep, status="done")
    gone = stacks_store.delete_many([*done, running])
    assert sorted(g.id for g in gone) == sorted(done)
    assert stacks_store.get(running) is not None and stacks_store.get(keep) is not None
    assert all(stacks_store.get(i) is None for i in done) and stacks_store.count() == 2
