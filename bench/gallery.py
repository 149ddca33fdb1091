"""Benchmark: the Gallery with 100,000 generations against the same with 1,000.

Fills two history databases with varied, realistic rows (bulk insert through the store's own
sqlite-utils connection; the full-text triggers fire as in real use, and the indexes are those the
migrations create, m009_filter_indexes included), then times, for each size: the first gallery
page rendered by the real page in AppTest (median of several runs after a warm-up, the two sizes
timed alternately), and the service calls alone (svc.history + svc.count); then the same with a
search word, with a search word plus a filter, and with a filter alone. The queries are the
store's own (HistoryStore.page / count: a common search word walks the date index, a search alone
is counted on the full-text index). Targets: render ratio at most 1.5, search at most 2. When a
ratio misses, it prints the query plans (EXPLAIN QUERY PLAN) of the queries the store runs.

    .venv/bin/python bench/gallery.py [--big 100000] [--small 1000] [--runs 9]

The last line holds key=value pairs for scripts.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from studio import services as svc  # noqa: E402
from studio.models import ASPECT_RATIOS, DURATIONS, RESOLUTIONS  # noqa: E402
from studio.settings import Settings  # noqa: E402
from studio.store import DRIVE_BY_DATE_ABOVE  # noqa: E402

RENDER_TARGET = 1.5
SEARCH_TARGET = 2.0
PAGE_SIZE = 24
SEARCH_WORD = "zebra"
FILTER = {"resolution": ["720p"]}
SUBJECTS = (
    "zebra",
    "red fox",
    "lighthouse",
    "glass whale",
    "street dancer",
    "paper boat",
    "old tram",
    "snow leopard",
    "hot air balloon",
    "koi carp",
    "robot gardener",
    "violin player",
    "desert caravan",
    "neon sign",
    "child with a kite",
    "mountain goat",
    "jellyfish",
    "vintage car",
    "astronaut",
    "barista",
)
ACTIONS = (
    "crossing",
    "drifting over",
    "running through",
    "circling",
    "resting beside",
    "emerging from",
    "dancing on",
    "floating above",
    "climbing",
    "gliding past",
)
PLACES = (
    "a neon bridge",
    "a misty harbour",
    "fresh snow",
    "a rooftop at dusk",
    "a bamboo forest",
    "a flooded street",
    "a desert canyon",
    "a busy market",
    "a frozen lake",
    "an empty stadium",
    "a sunflower field",
    "the moon",
)
STYLES = (
    "cinematic, slow dolly in",
    "handheld documentary look",
    "35mm film grain",
    "drone shot, golden hour",
    "macro lens, shallow depth of field",
    "anime style",
    "black and white, high contrast",
    "timelapse, wide angle",
    "soft pastel palette",
    "rain, reflections, night",
)
AUTHORS = ("", "ana", "ben", "chloe", "dev", "emma")
TAGS = (None, None, None, "hero", "client A", "hero, client A", "draft", "reject")
STATUSES = ("done",) * 46 + ("failed", "failed", "cancelled")


def fake_rows(n: int, seed: int = 7) -> list[dict]:
    "n finished generations, oldest first, one every few minutes, with every param varied."
    rnd = random.Random(seed)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    step = timedelta(days=330) / n
    grids = [f"grid{i:07d}" for i in range(max(1, n // 200))]
    rows = []
    for i in range(n):
        status = rnd.choice(STATUSES)
        gen_id = f"g{i:011d}"
        created = start + step * i
        res, ratio = rnd.choice(RESOLUTIONS), rnd.choice(ASPECT_RATIOS)
        prompt = f"A {rnd.choice(SUBJECTS)} {rnd.choice(ACTIONS)} {rnd.choice(PLACES)}, {rnd.choice(STYLES)}"
        done = status == "done"
        rows.append(
            {
                "id": gen_id,
                "created_at": created.isoformat(timespec="microseconds"),
                "author": rnd.choice(AUTHORS),
                "prompt": prompt,
                "model": "seedance-2",
                "resolution": res,
                "duration": rnd.choice(DURATIONS),
                "aspect_ratio": ratio,
                "generate_audio": rnd.random() < 0.7,
                "selected_context": "{}",
                "status": status,
                "error": None if done else "Run failed: simulated",
                "grid_id": rnd.choice(grids) if rnd.random() < 0.2 else None,
                "run_id": f"run{i}",
                "agent_id": f"agent{i % 50}",
                "submitted_at": created.isoformat(),
                "finished_at": (created + timedelta(seconds=40)).isoformat(),
                "elapsed_s": 40.0 + rnd.random() * 30,
                "video_path": f"{gen_id}.mp4" if done else None,
                "thumb_path": f"{gen_id}.jpg" if done else None,
                "width": 1280 if done else None,
                "height": 720 if done else None,
                "duration_s": 5.0 if done else None,
                "has_audio": 1 if done else None,
                "file_size": 1_300_000 + i % 999 if done else None,
                "sha256": f"{i:064x}" if done else None,
                "attempt": 1,
                "starred": int(rnd.random() < 0.05),
                "rating": rnd.choice((None, None, None, 3, 4, 5)),
                "tags": rnd.choice(TAGS),
                "notes": None,
                "winner": 0,
            }
        )
    return rows


def build(n: int, folder: Path) -> svc.Services:
    "A studio (worker off, no network) over a history of n generations."
    settings = Settings(api_key="mk_bench", base_url="http://127.0.0.1:9", data_dir=folder)
    studio = svc.build_services(settings, start_worker=False)
    db = studio.store.db  # the bench may use the store directly; pages never do
    with db.atomic():
        db["generations"].insert_all(fake_rows(n), batch_size=2000)
    return studio


def paired_ms(small, big, runs: int) -> tuple[float, float]:
    """Median milliseconds of two calls, timed alternately after a warm-up of each.

    Alternating keeps background load (this machine is shared) from landing on one size only.
    """
    small(), big()
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(runs):
        for fn, out in ((small, times[0]), (big, times[1])):
            started = time.perf_counter()
            fn()
            out.append((time.perf_counter() - started) * 1000)
    return statistics.median(times[0]), statistics.median(times[1])


def service_call(studio: svc.Services, query: svc.GalleryQuery):
    def call():
        svc.history(studio, query, limit=PAGE_SIZE)
        svc.count(studio, query)

    return call


def page_render(studio: svc.Services, params: dict):
    "The real entry script and Gallery page in AppTest; each call is one rerun of the page."
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60)
    at.session_state["services"] = studio
    at.run()
    at.query_params.update(params)
    at.switch_page("pages/gallery.py").run()
    if at.exception or len(at.text) != min(PAGE_SIZE, svc.count(studio, _query(params))):
        raise SystemExit(f"the gallery did not render as expected: {at.exception}")

    def call():
        at.run()

    return call


def _query(params: dict) -> svc.GalleryQuery:
    return svc.GalleryQuery(text=params.get("q", ""), resolution=params.get("resolution", []))


def plans(studio: svc.Services, query: svc.GalleryQuery) -> list[str]:
    "EXPLAIN QUERY PLAN of the page and count queries, built as HistoryStore.page / count build them."
    store = studio.store
    where, args = store._where(query)
    matches = store._matches(query)
    page_where = where
    if matches is not None and matches > DRIVE_BY_DATE_ABOVE:
        page_where = where.replace("g.rowid IN", "+g.rowid IN", 1)
    if matches is not None and query == svc.GalleryQuery(text=query.text):
        count = ("SELECT count(*) AS n FROM generations_fts WHERE generations_fts MATCH ?", [args[0]])
    else:
        count = (f"SELECT count(*) AS n FROM generations g{where}", args)
    out = []
    for sql, sql_args in (
        (
            f"SELECT g.* FROM generations g{page_where} ORDER BY g.created_at DESC, g.rowid DESC LIMIT ? OFFSET ?",
            [*args, PAGE_SIZE, 0],
        ),
        count,
    ):
        steps = [r[3] for r in store.db.execute(f"EXPLAIN QUERY PLAN {sql}", sql_args).fetchall()]
        out.append(f"  {sql[:90]}…\n    " + "\n    ".join(steps))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--runs", type=int, default=9, help="timed AppTest runs per case (service calls: x5)")
    args = parser.parse_args()

    cases = {
        "render": {},
        "search": {"q": SEARCH_WORD},
        "search+filter": {"q": SEARCH_WORD, **FILTER},
        "filter": dict(FILTER),
    }
    folder = Path(tempfile.mkdtemp(prefix="bench-gallery-"))
    results: dict[tuple[str, str, int], float] = {}
    matches: dict[tuple[str, int], int] = {}
    studios = {}
    try:
        for n in (args.small, args.big):
            started = time.perf_counter()
            studios[n] = build(n, folder / str(n))
            print(f"filled {n:,} generations in {time.perf_counter() - started:.1f} s", flush=True)
        small, big = args.small, args.big
        for n, studio in studios.items():
            for name, params in cases.items():
                matches[name, n] = svc.count(studio, _query(params))
        plan_text = {name: plans(studios[big], _query(params)) for name, params in cases.items()}
        for name, params in cases.items():
            query = _query(params)
            a, b = paired_ms(service_call(studios[small], query), service_call(studios[big], query), args.runs * 5)
            results[name, "services", small], results[name, "services", big] = a, b
            a, b = paired_ms(page_render(studios[small], params), page_render(studios[big], params), args.runs)
            results[name, "AppTest", small], results[name, "AppTest", big] = a, b

        print(f"\n{'case':30}{f'{small:,} ms':>11}{f'{big:,} ms':>12}{'ratio':>8}{'target':>8}  matches at {big:,}")
        ratios = {}
        missed = []
        for name in cases:
            target = RENDER_TARGET if name == "render" else SEARCH_TARGET
            for how in ("AppTest", "services"):
                a, b = results[name, how, small], results[name, how, big]
                ratios[name, how] = ratio = b / a
                if ratio > target:
                    missed.append(name)
                flag = "" if ratio <= target else "  MISSED"
                label = f"{name} ({how})"
                print(f"{label:30}{a:11.2f}{b:12.2f}{ratio:8.2f}{target:8.1f}  {matches[name, big]:,}{flag}")
        print(
            "note: every count here is exact, so its cost grows with the number of matching rows "
            f"({matches['search', small]:,} vs {matches['search', big]:,} for '{SEARCH_WORD}'); the 'services' "
            "ratios compare sub-millisecond times at 1,000 rows."
        )
        for name in dict.fromkeys(missed):
            print(f"\nquery plans for '{name}' at {big:,}:")
            print("\n".join(plan_text[name]))
    finally:
        for studio in studios.values():
            studio.close()

    big = args.big
    pairs = {
        "render_ratio": ratios["render", "AppTest"],
        "render_svc_ratio": ratios["render", "services"],
        "search_ratio": ratios["search", "AppTest"],
        "search_svc_ratio": ratios["search", "services"],
        "search_filter_ratio": ratios["search+filter", "AppTest"],
        "search_filter_svc_ratio": ratios["search+filter", "services"],
        "filter_ratio": ratios["filter", "AppTest"],
        "filter_svc_ratio": ratios["filter", "services"],
    }
    ms = {
        f"{name.replace('+', '_')}{'_svc' if how == 'services' else ''}_ms_100k": results[name, how, big]
        for name in cases
        for how in ("AppTest", "services")
    }
    print(" ".join(f"{k}={v:.2f}" for k, v in {**pairs, **ms}.items()))


if __name__ == "__main__":
    main()
