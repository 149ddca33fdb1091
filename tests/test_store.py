"""The history store: queueing, atomic claims and transitions, the agent pool, gallery queries."""

from __future__ import annotations

import threading

import pytest

from studio.models import VideoGenerationParams
from studio.store import GalleryQuery, HistoryStore


@pytest.fixture
def store(tmp_path):
    return HistoryStore(tmp_path / "s.db")


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
