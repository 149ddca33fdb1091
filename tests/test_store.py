"""The history store: queueing, atomic claims and transitions, the agent pool, gallery queries.

The store's contract suite: every test runs on SQLite and on PostgreSQL (`any_store`), except those
about one dialect's machinery (SQLite's step budget and FTS5 plans), which say so."""

from __future__ import annotations

import random
import re
import threading

import pytest

from studio.models import VideoGenerationParams
from studio.store import COUNT_BOUND, COUNT_STEPS, GalleryCount, GalleryQuery


@pytest.fixture
def store(any_store):
    return any_store


# SQLite's own machinery (the progress-handler step budget, FTS5's query plans): the SQLite store only.
sqlite_only = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def params(prompt="a red kite over the sea", **kw):
    return VideoGenerationParams(prompt=prompt, **kw)


def test_generation_keeps_every_param(store):
    p = params(
        resolution="1080p",
        duration="8",
        aspect_ratio="9:16",
        generate_audio=False,
        selected_context={"images": ["img-1"]},
    )
    gen = store.get(store.add_generation(p, author="ana", cell_label="c1"))
    assert gen.params == p
    assert (gen.status, gen.author, gen.cell_label) == ("queued", "ana", "c1")
    assert store.job(gen.id)["progress"] == 0


def test_claims_are_atomic_across_threads(store):
    store.add_generations([(params(f"p{i}"), None) for i in range(40)])
    claimed: list[str] = []
    lock = threading.Lock()

    def claim():
        for _ in range(20):
            got = store.claim_queued(3)
            with lock:
                claimed.extend(g.id for g in got)

    threads = [threading.Thread(target=claim) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(claimed) == 40 == len(set(claimed))
    assert store.count_status("submitting") == 40


def test_claim_respects_limit_and_order(store):
    ids = store.add_generations([(params(f"p{i}"), None) for i in range(5)])
    assert [g.id for g in store.claim_queued(2)] == ids[:2]
    assert store.claim_queued(0) == []
    assert store.in_flight_count() == 2


def test_transition_only_from_expected_status(store):
    gen_id = store.add_generation(params())
    assert not store.transition(gen_id, ("running",), "done")
    assert store.transition(gen_id, ("queued",), "cancelled", error="stop")
    gen = store.get(gen_id)
    assert (gen.status, gen.error) == ("cancelled", "stop")


def test_record_run_is_once_and_remembered_per_agent(store):
    gen_id = store.add_generation(params())
    store.claim_queued(1)
    assert store.record_run(gen_id, "run-1", "agent-1")
    assert not store.record_run(gen_id, "run-2", "agent-1")
    assert store.get(gen_id).run_id == "run-1"
    store.delete(gen_id)
    # Both runs exist on that agent, so neither may ever be adopted by a later job.
    assert store.known_run_ids("agent-1") == {"run-1", "run-2"}


def test_agent_pool_leases_one_job_at_a_time(store):
    assert store.lease_agent("scope", "reuse", "job-1") is None
    store.add_agent("a1", "n1", scope="scope", flow="reuse", leased_by=None)
    lease = store.lease_agent("scope", "reuse", "job-1")
    assert lease.agent_id == "a1"
    assert store.lease_agent("scope", "reuse", "job-2") is None
    assert store.lease_agent("scope", "reuse", "job-1") == lease  # idempotent for the holder
    assert store.lease_agent("other-scope", "reuse", "job-3") is None
    store.release_agent("job-1")
    assert store.lease_agent("scope", "reuse", "job-2").agent_id == "a1"


def test_three_call_agents_are_never_reused(store):
    store.add_agent("a1", "n1", scope="s", flow="three_call", leased_by="job-1")
    store.release_agent("job-1")
    assert store.lease_agent("s", "three_call", "job-2") is None


def test_retry_resets_a_failed_generation(store):
    gen_id = store.add_generation(params())
    store.transition(gen_id, ("queued",), "failed", error="boom", run_id="r1")
    assert store.reset_for_retry(gen_id)
    gen = store.get(gen_id)
    assert (gen.status, gen.error, gen.run_id, gen.attempt) == ("queued", None, None, 2)
    assert not store.reset_for_retry(gen_id)


def test_grid_cells_are_saved_together(store):
    cells = [(params(resolution=r), r) for r in ("480p", "720p")]
    grid_id, ids = store.add_grid(prompt="a red kite", axes={"resolutions": ["480p", "720p"]}, cells=cells)
    assert store.get_grid(grid_id)["axes"] == {"resolutions": ["480p", "720p"]}
    assert [g.id for g in store.grid_cells(grid_id)] == ids
    assert [g.cell_label for g in store.grid_cells(grid_id)] == ["480p", "720p"]


def test_a_launch_key_launches_once(store):
    cells = [(params(), "take 1"), (params(), "take 2")]
    first = store.add_generations(cells, launch_key="click-1")
    assert store.add_generations(cells, launch_key="click-1") == first
    assert store.count() == 2
    assert store.add_generations(cells, launch_key="click-2") != first
    assert store.count() == 4


def test_a_grid_launch_key_returns_the_same_grid(store):
    cells = [(params(resolution=r), r) for r in ("480p", "720p")]
    first = store.add_grid(prompt="a red kite", axes={}, cells=cells, launch_key="k")
    assert store.add_grid(prompt="a red kite", axes={}, cells=cells, launch_key="k") == first
    assert (len(store.grids()), store.count()) == (1, 2)


def test_concurrent_launches_with_one_key_make_one_launch(history_url, open_store):
    path = history_url
    open_store(path)
    results: list[list[str]] = []
    lock = threading.Lock()
    start = threading.Barrier(6)

    def launch():
        store = open_store(path)  # a page thread each, as two clicks in two script runs
        start.wait()
        ids = store.add_generations([(params(), None)], launch_key="same-click")
        with lock:
            results.append(ids)

    threads = [threading.Thread(target=launch) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 6
    assert len({tuple(r) for r in results}) == 1
    assert open_store(path).count() == 1


@pytest.mark.parametrize(
    "text,found",
    [
        ('"unterminated', True),
        ("foo AND", False),
        ("c++", True),
        ("title:card", True),
        ("-cat", True),
        ("NEAR(", False),
        ("*", False),
        ("OR", True),
    ],
)
def test_search_treats_user_input_as_text(store, text, found):
    # FTS syntax in the box is just words: no OperationalError, and the words are looked up.
    hit = store.add_generation(params('a cat on a title card, "unterminated" c++ OR'))
    store.add_generation(params("a dog"))
    expected = [hit] if found else []
    assert [g.id for g in store.page(GalleryQuery(text=text))] == expected
    assert store.count(GalleryQuery(text=text)) == len(expected)


@pytest.mark.parametrize(
    "text,found",
    [
        ("example", True),  # a word inside a host name: punctuation splits words on both backends
        ("com", True),
        ("snake", True),
        ("case", True),  # underscores split too
        ("LIGHTHOUSE", True),  # case does not matter
        ("lighthouses", False),  # a prefix of the word, not the word plus more
        ("light house", True),  # every word must match, in any order
        ("light.house", False),  # a word with punctuation inside is a phrase: these two words, in order
        ("ouse", False),  # a prefix, not any part of a word
    ],
)
def test_search_means_the_same_on_every_backend(store, text, found):
    hit = store.add_generation(params("a lighthouse at dusk, see example.com, snake_case house"))
    store.add_generation(params("a dog"))
    assert [g.id for g in store.page(GalleryQuery(text=text))] == ([hit] if found else [])


def test_search_and_filters(store):
    a = store.add_generation(params("neon city at night", resolution="1080p", aspect_ratio="9:16"))
    b = store.add_generation(params("a zebra in the snow", generate_audio=False))
    store.transition(a, ("queued",), "done")
    assert [g.id for g in store.page(GalleryQuery(text="neo"))] == [a]  # prefix match
    assert [g.id for g in store.page(GalleryQuery(text="zebra snow"))] == [b]
    assert [g.id for g in store.page(GalleryQuery(aspect_ratio=["9:16"]))] == [a]
    assert [g.id for g in store.page(GalleryQuery(generate_audio=False))] == [b]
    assert [g.id for g in store.page(GalleryQuery(status=["done"], resolution=["1080p"]))] == [a]
    assert [g.id for g in store.page()] == [b, a]  # newest first
    today = store.get(a).created_at[:10]
    assert store.count(GalleryQuery(since=today, until=today)) == 2
    assert store.count(GalleryQuery(until="2000-01-01")) == 0


# ---------------------------------------------------------------------- gallery at scale

WORDS = ("zebra", "zen", "fox", "foxglove", "harbour", "neon", "snow", "kite")
QUERIES = [
    GalleryQuery(),
    GalleryQuery(text="zebra"),
    GalleryQuery(text="ze"),
    GalleryQuery(text="fox harb"),
    GalleryQuery(text="hero"),  # a tag
    GalleryQuery(text="keeper"),  # a note
    GalleryQuery(resolution=["720p"]),
    GalleryQuery(text="zebra", resolution=["720p"]),
    GalleryQuery(text="fox", resolution=["480p", "1080p"], aspect_ratio=["16:9", "1:1"]),
    GalleryQuery(text="neon", starred=True),
    GalleryQuery(text="snow", generate_audio=False, status=["done"]),
    GalleryQuery(text="kite", grid_id="grid-b"),
    GalleryQuery(grid_id="grid-b"),
    GalleryQuery(text="nothingmatches", resolution=["720p"]),
]


@pytest.fixture
def gallery(store):
    "A small varied history, and the oracle: every row as a dict, newest first."
    rnd = random.Random(6)
    cells = []
    for i in range(150):
        prompt = " ".join(rnd.sample(WORDS, 2)) + f" take {i}"
        p = params(
            prompt,
            resolution=rnd.choice(("480p", "720p", "1080p")),
            aspect_ratio=rnd.choice(("16:9", "1:1", "9:16")),
            generate_audio=rnd.random() < 0.5,
        )
        cells.append((p, None))
    ids = store.add_generations(cells[:50])
    ids += store.add_generations(cells[50:100], grid_id="grid-b")
    ids += store.add_generations(cells[100:])
    for gen_id in ids:
        fields: dict = {}
        if rnd.random() < 0.3:
            fields["status"] = "done"
        if rnd.random() < 0.2:
            fields["starred"] = 1
        if rnd.random() < 0.1:
            fields["tags"] = "hero, client A"
        if rnd.random() < 0.1:
            fields["notes"] = "a keeper"
        store.update(gen_id, **fields)
    # Insertion order is date order (created_at is stamped at insert), newest last.
    return [store.get(gen_id) for gen_id in reversed(ids)]


def naive(rows, q: GalleryQuery):
    "The gallery's meaning, spelled out in Python: every word a prefix of some word of prompt, notes or tags."

    def words(g):
        text = " ".join(filter(None, (g.prompt, g.notes, g.tags))).lower()
        return re.findall(r"\w+", text)

    def keep(g):
        if q.text and not all(any(w.startswith(t) for w in words(g)) for t in q.text.lower().split()):
            return False
        for column in ("status", "resolution", "aspect_ratio", "duration", "model", "author"):
            if getattr(q, column) and getattr(g, column) not in getattr(q, column):
                return False
        if q.generate_audio is not None and g.generate_audio != q.generate_audio:
            return False
        if q.starred is not None and bool(g.starred) != q.starred:
            return False
        return not (q.grid_id and g.grid_id != q.grid_id)

    return [g.id for g in rows if keep(g)]


@pytest.mark.parametrize("query", QUERIES, ids=lambda q: q.model_dump_json(exclude_defaults=True))
def test_gallery_pages_hold_the_same_rows_as_a_naive_filter(store, gallery, query):
    expected = naive(gallery, query)
    assert [g.id for g in store.page(query, limit=1000)] == expected
    assert store.count(query) == len(expected) == store.count(query, bound=None)
    # Paging in sevens walks the same rows once each, in the same order.
    paged = []
    for offset in range(0, len(expected) + 7, 7):
        chunk = store.page(query, limit=7, offset=offset)
        assert len(chunk) == min(7, max(0, len(expected) - offset))
        paged += [g.id for g in chunk]
    assert paged == expected


def test_the_oracle_is_not_trivial(gallery):
    sizes = [len(naive(gallery, q)) for q in QUERIES]
    assert sizes[0] == 150 and sizes[-1] == 0
    assert all(0 < n < 150 for n in sizes[1:-1])


@pytest.mark.parametrize("query", QUERIES[:-1], ids=lambda q: q.model_dump_json(exclude_defaults=True))
def test_counts_are_exact_below_the_bound_and_bound_plus_one_above(store, gallery, query):
    exact = len(naive(gallery, query))
    assert store.count(query, bound=exact) == exact
    assert store.count(query, bound=exact + 5) == exact
    assert store.count(query, bound=exact - 1) == exact  # bound + 1: "more than the bound"
    if exact > 2:
        assert store.count(query, bound=2) == 3


def test_the_default_count_bound_is_a_thousand(store):
    assert COUNT_BOUND == GalleryQuery.COUNT_BOUND == 1_000
    store.add_generations([(params(f"zebra {i}"), None) for i in range(3)])
    assert store.count() == store.count(GalleryQuery(text="zebra")) == 3


def pages_of(expected: list[str], size: int) -> int:
    return max(1, -(-len(expected) // size))


@pytest.mark.parametrize("query", QUERIES, ids=lambda q: q.model_dump_json(exclude_defaults=True))
def test_gallery_pages_hold_the_naive_rows_and_count_exactly_below_the_bound(store, gallery, query, open_store):
    # Steps are no limit here (their test is below): the bound, 1,000, is far above 150 rows.
    generous = open_store(store.location, count_steps=10**9)
    expected = naive(gallery, query)
    size = 7
    last = pages_of(expected, size) - 1
    for number in range(last + 3):  # two past the end: an old link shows the last page
        shown = generous.page_with_count(query, number=number, size=size)
        assert shown.number == min(number, last)
        assert [g.id for g in shown.gens] == expected[shown.number * size : (shown.number + 1) * size]
        assert shown.total == GalleryCount(len(expected), exact=True)


@pytest.mark.parametrize("query", QUERIES, ids=lambda q: q.model_dump_json(exclude_defaults=True))
def test_gallery_counts_stop_at_the_next_multiple_of_the_bound_past_the_page(store, gallery, query, open_store):
    # Steps are no limit here: this is about the bound alone.
    bounded = open_store(store.location, count_bound=20, count_steps=10**9)
    expected = naive(gallery, query)
    size = 7
    for number in range(pages_of(expected, size)):
        shown = bounded.page_with_count(query, number=number, size=size)
        assert [g.id for g in shown.gens] == expected[number * size : (number + 1) * size]
        bound = ((number + 1) * size // 20 + 1) * 20  # page 0 (1-7) counts to 20, page 3 (22-28) to 40
        if len(expected) <= bound:
            assert shown.total == GalleryCount(len(expected), exact=True)
        else:
            assert shown.total == GalleryCount(bound, exact=False), number


@sqlite_only
def test_a_count_that_reads_rows_stops_after_its_steps_and_says_at_least(store, gallery, open_store):
    # A search plus a filter reads a row per word match past the page; with few steps it stops
    # early and gives a lower bound that still covers the page (so the pager offers Next).
    stingy = open_store(store.location, count_steps=60)
    generous = open_store(store.location, count_steps=10**9)
    stopped = 0
    for query in QUERIES:
        expected = naive(gallery, query)
        for number in range(pages_of(expected, 5)):
            full = generous.page_with_count(query, number=number, size=5)
            shown = stingy.page_with_count(query, number=number, size=5)
            assert shown.gens == full.gens and full.total == GalleryCount(len(expected), exact=True)
            if shown.total.exact:
                assert shown.total.n == len(expected)
            else:
                stopped += 1
                assert (number + 1) * 5 <= shown.total.n <= len(expected)  # "at least"
            if not stingy._count_reads_rows(query):
                assert shown.total.exact  # an index alone answers: the step budget does not apply
    assert stopped > 5
    # The search alone, no filter, a single filter: counted on an index, never stopped.
    assert not any(
        stingy._count_reads_rows(q)
        for q in (GalleryQuery(text="ze"), GalleryQuery(), GalleryQuery(resolution=["720p"]))
    )


@sqlite_only
def test_a_search_plus_filter_count_at_the_default_steps_does_not_read_every_match(store):
    # 3,000 word matches, a third in 720p: an exact count reads 3,000 rows; the default budget
    # stops after a few hundred and says "at least", whatever the size of the history.
    cells = [(params(f"zebra {i}", resolution=("720p", "480p", "1080p")[i % 3]), None) for i in range(3000)]
    store.add_generations(cells)
    query = GalleryQuery(text="zebra", resolution=["720p"])
    shown = store.page_with_count(query, size=24)
    assert len(shown.gens) == 24 and not shown.total.exact
    assert 24 < shown.total.n < 1000 == store.count_bound
    assert store.count(query, bound=None) == 1000
    assert COUNT_STEPS < 3000  # fewer steps than word matches: the budget, not the history, ends it
    # Without a filter the same history counts to the bound on the index alone.
    assert store.page_with_count(GalleryQuery(text="zebra"), size=24).total == GalleryCount(1000, exact=False)


@sqlite_only
def test_a_search_pages_through_the_full_text_index_not_a_list_of_every_match(store):
    plans = {
        name: store.query_plans(q)
        for name, q in (
            ("search", GalleryQuery(text="zebra")),
            ("search+filter", GalleryQuery(text="zebra", resolution=["720p"])),
            ("search+grid", GalleryQuery(text="zebra", grid_id="g1")),
            ("filter", GalleryQuery(resolution=["720p"])),
        )
    }
    for name in ("search", "search+filter"):
        page = "\n".join(plans[name]["page"])
        # FTS5 hands out rowids newest first (index flag 192: ORDER BY rowid DESC consumed), and
        # nothing is sorted or listed up front.
        assert "VIRTUAL TABLE INDEX 192:" in page and "TEMP B-TREE" not in page and "LIST SUBQUERY" not in page
        # The count past the page hands the page's last rowid to the index ("<"): it starts there.
        assert any("VIRTUAL TABLE INDEX" in step and step.endswith("<") for step in plans[name]["count"])
    grid = "\n".join(plans["search+grid"]["page"])
    assert "USING INDEX idx_generations_grid_id (grid_id=?)" in grid
    assert "USING INDEX idx_generations_resolution_created_at" in "\n".join(plans["filter"]["page"])
    assert all("LIMIT" in p["count"][0] for p in plans.values())


@sqlite_only
def test_the_search_index_keeps_prefixes_ready_made(store):
    # Without them FTS5 gathers every match of a search word before the first page (m010).
    sql = store.db.execute("SELECT sql FROM sqlite_master WHERE name = 'generations_fts'").fetchone()[0]
    assert "prefix='2 3 4 5 6 7 8'" in sql
