"""Benchmark: time to first byte of a read-only share page (`/share/<token>`) showing 20 takes against
one showing 500, for a shared collection and a shared gallery search, over a real socket.

One history (the two collections, the two searches' takes, plus `--history` unrelated takes) is
served by the studio's own routes (studio.web.make_routes, the share page included) under uvicorn
on 127.0.0.1; an httpx client asks for each page in turn and times the first byte of the body (the
link is checked and what it shares is read before it; the HTML then streams as it is rendered), the
whole answer, and its size. Then the same for one thumbnail through each link (the media route
checks that the take belongs to the link: a collection asks SQLite, a search is resolved once and
remembered). Medians of `--runs` after two warm-up rounds, the two sizes timed alternately; printed
side by side with their ratios, next to 25, the ratio of the number of takes.

    .venv/bin/python bench/share_page.py [--small 20] [--large 500] [--history 2000] [--runs 15]

The last line holds key=value pairs for scripts.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn
from starlette.applications import Starlette

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from studio import services as svc  # noqa: E402
from studio.models import VideoGenerationParams  # noqa: E402
from studio.settings import Settings  # noqa: E402
from studio.web import make_routes  # noqa: E402

SMALL_WORD, LARGE_WORD, FILLER_WORD = "heron", "otter", "lantern"
THUMB_BYTES = b"\xff\xd8" + b"\0" * 4096  # a stand-in for a small JPEG: the route serves files, it does not read them
BOOT_TIMEOUT_S = 15


def _takes(studio: svc.Services, n: int, word: str) -> list[str]:
    "n finished takes whose prompts hold `word` (rows only, plus a thumbnail file each)."
    ratios = ("16:9", "9:16", "1:1", "4:3")
    cells = [
        (
            VideoGenerationParams(prompt=f"A {word} number {i} at dusk", resolution="720p", aspect_ratio=ratios[i % 4]),
            None,
        )
        for i in range(n)
    ]
    ids = studio.store.add_generations(cells, author="Bench")
    with studio.store.transaction() as tx:
        tx.execute_many(
            "UPDATE generations SET status='done', video_path=?, thumb_path=?, width=1280, height=720, "
            "duration_s=5.0, has_audio=1, file_size=2000000 WHERE id = ?",
            [(f"{i}.mp4", f"{i}.jpg", i) for i in ids],
        )
    media = Path(studio.settings.media_dir)
    media.mkdir(parents=True, exist_ok=True)
    for gen_id in ids:
        (media / f"{gen_id}.jpg").write_bytes(THUMB_BYTES)
    return ids


def _serve(app: Starlette) -> tuple[uvicorn.Server, threading.Thread, str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + BOOT_TIMEOUT_S
    while not server.started:
        if time.monotonic() > deadline:
            raise SystemExit("the bench server did not start")
        time.sleep(0.02)
    return server, thread, f"http://127.0.0.1:{port}"


def _time(client: httpx.Client, url: str) -> tuple[float, float, int]:
    "Seconds to the first byte of the body, seconds to the end, and bytes, for one GET."
    start = time.perf_counter()
    with client.stream("GET", url) as answer:
        chunks = answer.iter_raw()
        first = next(chunks, b"")
        ttfb = time.perf_counter() - start
        size = len(first) + sum(len(c) for c in chunks)
        if answer.status_code != 200:
            raise SystemExit(f"{url}: HTTP {answer.status_code}")
    return ttfb, time.perf_counter() - start, size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", type=int, default=20)
    parser.add_argument("--large", type=int, default=500)
    parser.add_argument("--history", type=int, default=2000, help="unrelated takes in the history besides")
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(api_key="mk_bench_unused", base_url="http://127.0.0.1:9", data_dir=Path(tmp) / "data")
        studio = svc.build_services(settings, start_worker=False)  # no run is made: nothing talks to Mosaic
        try:
            started = time.perf_counter()
            _takes(studio, args.history, FILLER_WORD)
            small, large = _takes(studio, args.small, SMALL_WORD), _takes(studio, args.large, LARGE_WORD)
            links = svc.ShareLinks(studio)
            tokens: dict[tuple[str, str], tuple[str, str]] = {}  # (case, size) -> (token, one take)
            for size, ids, word in (("small", small, SMALL_WORD), ("large", large, LARGE_WORD)):
                coll = svc.create_collection(studio, f"{len(ids)} takes")
                svc.add_to_collection(studio, coll.id, ids)
                tokens[("collection", size)] = (links.create(svc.Selection("collection", coll.id)).token, ids[-1])
                query = svc.Selection.of_query(svc.GalleryQuery(text=word))
                tokens[("search", size)] = (links.create(query).token, ids[0])
            total = args.history + args.small + args.large
            print(f"history: {total:,} takes, built in {time.perf_counter() - started:.1f} s")

            server, thread, base = _serve(Starlette(routes=make_routes(settings, services=lambda: studio)))
            results: dict[tuple[str, str, str], list[tuple[float, float, int]]] = {}
            try:
                with httpx.Client(timeout=30) as client:
                    for run in range(args.runs + 2):  # two warm-up rounds, not counted
                        for (case, size), (token, gen_id) in tokens.items():
                            for what, url in (
                                ("page", f"{base}/share/{token}"),
                                ("thumb", f"{base}/share/{token}/media/{gen_id}/thumb"),
                            ):
                                timing = _time(client, url)
                                if run >= 2:
                                    results.setdefault((case, what, size), []).append(timing)
            finally:
                server.should_exit = True
                thread.join(10)
        finally:
            studio.close()

    def med(case: str, what: str, size: str, i: int) -> float:
        return statistics.median(t[i] for t in results[(case, what, size)])

    n_small, n_large = args.small, args.large
    print(f"\nmedians of {args.runs} runs; ratio of takes {n_large / n_small:g}")
    print(
        f"{'case':18}{f'TTFB {n_small}':>11}{f'TTFB {n_large}':>12}{'ratio':>7}"
        f"{f'whole {n_small}':>12}{f'whole {n_large}':>12}{'ratio':>7}{f'bytes {n_small}':>12}{f'bytes {n_large}':>13}"
    )
    summary = []
    for case in ("collection", "search"):
        for what in ("page", "thumb"):
            a, b = med(case, what, "small", 0) * 1000, med(case, what, "large", 0) * 1000
            wa, wb = med(case, what, "small", 1) * 1000, med(case, what, "large", 1) * 1000
            ba, bb = results[(case, what, "small")][0][2], results[(case, what, "large")][0][2]
            name = f"{case} {what}"
            print(
                f"{name:18}{a:8.1f} ms{b:9.1f} ms{b / a:7.2f}{wa:9.1f} ms{wb:9.1f} ms{wb / wa:7.2f}"
                f"{ba / 1000:9.1f} KB{bb / 1000:10.1f} KB"
            )
            summary.append(f"{case}_{what}_ttfb_ms={a:.2f},{b:.2f}")
    print(" ".join(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
