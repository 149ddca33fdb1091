"""Benchmark: the Gallery at a large history (default 100,000; `--size 1000000`) against 1,000,
on SQLite and on PostgreSQL, printed side by side.

Fills two history databases with varied, realistic rows and times, for each size: the service
call alone (the store's stacked page_with_count: the page and its count, a comparison counted
once, as the Gallery page makes it) and the first gallery page rendered by the real page in
AppTest (one rerun), for four cases: the first page, a search word, a search word plus a
filter, and a filter alone. Medians of several runs after a warm-up, the two sizes timed
alternately so load lands on both alike; both figures are printed
side by side with their ratios. Target: every ratio at most 1.5. Each case shows a full page at
both sizes (the search word is in a tenth of the prompts), so both sides make the same number of
rows into objects, which is most of a call's cost. The count the pager shows is printed beside
the exact number of matches. The query plans (EXPLAIN QUERY PLAN) of the filter and search+filter
cases are printed, and those of any case that misses.

A database is built once per size into bench/.cache/ (git-ignored; bulk inserts with the
migrations' schema, indexes and full-text triggers) and reused by later runs; opening it applies
newer migrations, as for a user. 1,000,000 rows take about 4 minutes to build and 1.1 GB of disk.
For PostgreSQL the benchmark starts its own server on 127.0.0.1 (tests/postgres_server.py: Debian's
PostgreSQL 15+, its cluster kept in bench/.cache/postgres) and fills one database per size with
COPY (the same rows), then ANALYZE; `--backends sqlite` skips it.

    .venv/bin/python bench/gallery.py [--size 1000000] [--small 1000] [--runs 9] [--word crossing]
        [--backends sqlite,postgresql]

The last line holds key=value pairs for scripts.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sqlite3
import statistics
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlite_utils import Database
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

sys.path.insert(0, str(ROOT / "tests"))

from postgres_server import PostgresServer  # noqa: E402

from studio import services as svc  # noqa: E402
from studio.migrations import migrations  # noqa: E402
from studio.models import ASPECT_RATIOS, DURATIONS, RESOLUTIONS  # noqa: E402
from studio.settings import Settings  # noqa: E402
from studio.store import HistoryStore  # noqa: E402

BACKENDS = ("sqlite", "postgresql")

TARGET = 1.5
PAGE_SIZE = 24
CACHE = ROOT / "bench" / ".cache"
# Bump when fake_rows changes, so cached databases are rebuilt.
FILL_VERSION = 3
INSERT_BATCH = 20_000
# In a tenth of the prompts: with the filter, a history of 1,000 still fills the first page (a
# word in a twentieth, like "zebra", gives 15 rows at 1,000 against 24 at a million, and the
# comparison would measure the number of rows shown rather than the size of the history).
SEARCH_WORD = "crossing"
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


def fake_rows(n: int, seed: int = 7) -> Iterator[dict[str, Any]]:
    "n finished generations, oldest first, one every few minutes, with every param varied."
    rnd = random.Random(seed)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    step = timedelta(days=330) / n
    grids = [f"grid{i:07d}" for i in range(max(1, n // 200))]
    for i in range(n):
        status = rnd.choice(STATUSES)
        gen_id = f"g{i:011d}"
        created = start + step * i
        res, ratio = rnd.choice(RESOLUTIONS), rnd.choice(ASPECT_RATIOS)
        prompt = f"A {rnd.choice(SUBJECTS)} {rnd.choice(ACTIONS)} {rnd.choice(PLACES)}, {rnd.choice(STYLES)}"
        done = status == "done"
        yield {
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


def _fill(path: Path, n: int) -> None:
    "Write n rows through the migrations' schema in one transaction, with no journal (a scratch file)."
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=OFF")
    conn.execute("PRAGMA synchronous=OFF")
    migrations.apply(Database(conn))
    rows = fake_rows(n)
    first = next(rows)
    columns = list(first)
    sql = f"INSERT INTO generations ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    conn.execute("BEGIN")
    conn.execute(sql, list(first.values()))
    while batch := [list(r.values()) for _, r in zip(range(INSERT_BATCH), rows, strict=False)]:
        conn.executemany(sql, batch)
    conn.commit()
    conn.close()


def cached_folder(n: int) -> Path:
    "A data folder holding a history of n generations, built on first use and kept in bench/.cache."
    CACHE.mkdir(parents=True, exist_ok=True)
    (CACHE / ".gitignore").write_text("*\n")
    # Opening the studio applies any newer migrations to the cached copy, as it would for a user.
    folder = CACHE / f"gallery-{n}-v{FILL_VERSION}"
    if not (folder / "studio.db").exists():
        shutil.rmtree(folder, ignore_errors=True)
        scratch = CACHE / f"building-{n}"
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir()
        started = time.perf_counter()
        _fill(scratch / "studio.db", n)
        scratch.rename(folder)
        print(f"built {n:,} generations into {folder} in {time.perf_counter() - started:.0f} s", flush=True)
    return folder


def cached_database(server: PostgresServer, n: int) -> str:
    "The URL of a database on `server` holding the same n generations, filled with COPY on first use."
    name = f"gallery_{n}_v{FILL_VERSION}"
    if server.sql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'") != "1":
        started = time.perf_counter()
        server.sql(f"DROP DATABASE IF EXISTS {name}_building")
        server.sql(f"CREATE DATABASE {name}_building")
        HistoryStore(server.url_for(f"{name}_building")).close()  # the schema, as the studio makes it
        import psycopg  # the [scale] extra

        rows = fake_rows(n)
        first = next(rows)
        columns = list(first)
        with psycopg.connect(server.url_for(f"{name}_building")) as conn:
            with conn.cursor().copy(f"COPY generations ({', '.join(columns)}) FROM STDIN") as copy:
                copy.write_row([int(v) if isinstance(v, bool) else v for v in first.values()])
                for row in rows:
                    copy.write_row([int(v) if isinstance(v, bool) else v for v in row.values()])
            conn.commit()
            conn.autocommit = True
            conn.execute("VACUUM ANALYZE generations")
        server.sql(f"ALTER DATABASE {name}_building RENAME TO {name}")
        print(f"built {n:,} generations into PostgreSQL {name} in {time.perf_counter() - started:.0f} s", flush=True)
    return server.url_for(name)


def build(n: int, server: PostgresServer | None = None) -> svc.Services:
    "A studio (worker off, no network) over a cached history of n generations (on `server`, when given)."
    url = cached_database(server, n) if server is not None else None
    folder = cached_folder(n) if server is None else CACHE / f"gallery-pg-{n}"
    settings = Settings(api_key="mk_bench", base_url="http://127.0.0.1:9", data_dir=folder, database_url=url)
    return svc.build_services(settings, start_worker=False)


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
        studio.store.page_with_count(query, number=0, size=PAGE_SIZE, stacked=True)

    return call


def page_render(studio: svc.Services, params: dict):
    "The real entry script and Gallery page in AppTest; each call is one rerun of the page."
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60)
    at.session_state["services"] = studio
    at.run()
    at.query_params.update(params)
    at.switch_page("pages/gallery.py").run()
    first = studio.store.page_with_count(_query(params), size=PAGE_SIZE, stacked=True)
    captions = " ".join(c.value for c in at.caption)
    if at.exception or len(at.text) != len(first.gens) or f"of {shown(first.total)} ·" not in captions:
        raise SystemExit(f"the gallery did not render as expected: {at.exception or captions}")

    def call():
        at.run()

    return call


def _query(params: dict) -> svc.GalleryQuery:
    return svc.GalleryQuery(text=params.get("q", ""), resolution=params.get("resolution", []))


def plans(studio: svc.Services, query: svc.GalleryQuery) -> list[str]:
    "EXPLAIN QUERY PLAN of the page and count queries, as HistoryStore builds them."
    out = []
    for name, (sql, *steps) in studio.store.query_plans(query, limit=PAGE_SIZE).items():
        out.append(f"  {name}: {sql[:110]}…\n    " + "\n    ".join(steps))
    return out


def shown(total: svc.GalleryCount) -> str:
    "A count as the Gallery's pager shows it: a lower bound ends in '+'."
    return f"{total.n:,}{'' if total.exact else '+'}"


def measure(
    small: int, big: int, cases: dict[str, dict[str, Any]], runs: int, server: PostgresServer | None
) -> tuple[
    dict[tuple[str, str, int], float], dict[tuple[str, int], tuple[svc.GalleryCount, int]], dict[str, list[str]]
]:
    "One backend's figures: (case, how, size) -> ms, (case, size) -> (pager's count, exact), case -> plans."
    results: dict[tuple[str, str, int], float] = {}
    matches: dict[tuple[str, int], tuple[svc.GalleryCount, int]] = {}
    studios: dict[int, svc.Services] = {}
    try:
        for n in (small, big):
            studios[n] = build(n, server)
            for name, params in cases.items():
                query = _query(params)
                exact = studios[n].store.count(query, bound=None, stacked=True)
                matches[name, n] = (studios[n].store.page_with_count(query, size=PAGE_SIZE, stacked=True).total, exact)
        plan_text = {name: plans(studios[big], _query(params)) for name, params in cases.items()}
        for name, params in cases.items():
            query = _query(params)
            a, b = paired_ms(service_call(studios[small], query), service_call(studios[big], query), runs * 5)
            results[name, "services", small], results[name, "services", big] = a, b
            a, b = paired_ms(page_render(studios[small], params), page_render(studios[big], params), runs)
            results[name, "AppTest", small], results[name, "AppTest", big] = a, b
    finally:
        for studio in studios.values():
            studio.close()
    return results, matches, plan_text


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000, help="the large history (default 100,000)")
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--runs", type=int, default=9, help="timed AppTest runs per case (service calls: x5)")
    parser.add_argument("--word", default=SEARCH_WORD, help=f"the search word (default {SEARCH_WORD!r})")
    parser.add_argument("--backends", default=",".join(BACKENDS), help="sqlite, postgresql or both (the default)")
    args = parser.parse_args()
    small, big = args.small, args.size
    backends = [b for b in BACKENDS if b in args.backends.split(",")]
    if not backends:
        parser.error(f"--backends takes {' and/or '.join(BACKENDS)}")

    cases: dict[str, dict[str, Any]] = {
        "first page": {},
        "search": {"q": args.word},
        "search+filter": {"q": args.word, **FILTER},
        "filter": dict(FILTER),
    }
    figures = {}
    for backend in backends:
        if backend == "sqlite":
            figures[backend] = measure(small, big, cases, args.runs, None)
            continue
        server = PostgresServer(CACHE / "postgres")
        CACHE.mkdir(parents=True, exist_ok=True)
        server.start()
        try:
            figures[backend] = measure(small, big, cases, args.runs, server)
        finally:
            server.stop()

    ratios: dict[tuple[str, str, str], float] = {}
    missed: dict[str, list[str]] = {b: [] for b in backends}
    for how, title in (("services", "service (page_with_count)"), ("AppTest", "rendered page (AppTest rerun)")):
        print(f"\n{title}: ms at {small:,} / {big:,} and the ratio")
        print(f"{'case':16}" + "".join(f"{b:>30}" for b in backends) + f"   {f'pager says / matches at {big:,}':>28}")
        for name in cases:
            print(f"{name:16}", end="")
            for backend in backends:
                results = figures[backend][0]
                a, b = results[name, how, small], results[name, how, big]
                ratios[backend, name, how] = ratio = b / a
                if ratio > TARGET:
                    missed[backend].append(name)
                print(f"{a:11.2f}{b:11.2f}{ratio:7.2f}{'!' if ratio > TARGET else ' '}", end="")
            pager_says, exact = figures[backends[0]][1][name, big]
            print(f"   {shown(pager_says):>14} / {exact:,}")
    print(
        f"target: every ratio at most {TARGET} ('!' marks a miss); the pager's count is exact below "
        f"{svc.GalleryQuery.COUNT_BOUND:,} and a lower bound ('+') when it stops (PostgreSQL counts to the bound)"
    )
    for backend in backends:
        for name in dict.fromkeys(["filter", "search+filter", *missed[backend]]):
            print(f"\n{backend} query plans for '{name}' at {big:,}:")
            print("\n".join(figures[backend][2][name]))

    slug = {name: name.replace(" ", "_").replace("+", "_") for name in cases}
    out: dict[str, float] = {}
    for backend in backends:
        prefix = "" if backend == "sqlite" else "pg_"
        results = figures[backend][0]
        for name in cases:
            for how in ("services", "AppTest"):
                kind = "svc" if how == "services" else "render"
                out[f"{prefix}{slug[name]}_{kind}_ratio"] = ratios[backend, name, how]
                out[f"{prefix}{slug[name]}_{kind}_ms_{big}"] = results[name, how, big]
    print(" ".join(f"{k}={v:.2f}" for k, v in out.items()))


if __name__ == "__main__":
    main()
