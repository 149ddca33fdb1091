"""Benchmark: simulated visitors browsing the gallery and share pages through haproxy, in front of one
studio replica and then two (issue 10 §4), printed side by side: requests per second and p95 latency.

The deployment is tests/cluster.py's (the commands of docs/deploy.md) on 127.0.0.1: two `studio serve`
replicas sharing one history (PostgreSQL and S3 when given, else one data folder), seeded with
`--takes` finished takes and one share link to a search over them. Two proxies run the same
deploy/haproxy.cfg: one whose server lines both name replica a (one replica), one over a and b.
Each of `--users` visitors (httpx, no browser: the parts of browsing that are plain HTTP) keeps its
own cookies, so the proxy pins it to a replica as it would a browser, and loops for `--seconds`:
a gallery deep link (/gallery?q=...), a share page (rendered by the replica from the history), two
of the share's thumbnails, and /healthz. Users are bounded (at most 64) and so is the time (at most
60 s a round); every request goes to 127.0.0.1.

    .venv/bin/python bench/replicas.py [--users 16] [--seconds 15] [--takes 200]

The last line holds key=value pairs for scripts.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from cluster import Cluster  # noqa: E402

from studio import services as svc  # noqa: E402
from studio.models import VideoGenerationParams  # noqa: E402
from studio.settings import Settings  # noqa: E402

MAX_USERS = 64
MAX_SECONDS = 60.0
WORD = "harbour"
THUMB_BYTES = b"\xff\xd8" + b"\0" * 8192  # a stand-in for a small JPEG: served, never decoded
THUMB_LINK = re.compile(r'/share/[A-Za-z0-9_-]+/media/[^"\s]+/thumb')
REQUEST_TIMEOUT_S = 30.0


def seed(cluster: Cluster, takes: int) -> str:
    "`takes` finished takes (rows and thumbnails) in the shared history; a share link's path to them."
    env = cluster.studio_env("seed", worker_inside=False)
    settings = Settings(
        api_key=env["MOSAIC_API_KEY"],
        base_url=env["MOSAIC_BASE_URL"],
        data_dir=Path(env["STUDIO_DATA_DIR"]),
        **({"database_url": cluster.database_url} if cluster.database_url else {}),
        **({"media_url": cluster.media_url} if cluster.media_url else {}),
    )
    studio = svc.build_services(settings, start_worker=False)
    try:
        ratios = ("16:9", "9:16", "1:1", "4:3")
        cells = [
            (VideoGenerationParams(prompt=f"A {WORD} at dawn, take {i}", aspect_ratio=ratios[i % 4]), None)
            for i in range(takes)
        ]
        ids = studio.store.add_generations(cells, author="Bench")
        for gen_id in ids:
            studio.store.execute(
                "UPDATE generations SET status = 'done', video_path = ?, thumb_path = ?, width = 1280, height = 720, "
                "duration_s = 5.0, has_audio = 1, file_size = 2000000 WHERE id = ?",
                [f"{gen_id}.mp4", f"{gen_id}.jpg", gen_id],
            )
            _put(studio, f"{gen_id}.jpg")
        link = svc.ShareLinks(studio).create(svc.Selection.of_query(svc.GalleryQuery(text=WORD)), created_by="Bench")
        return "/share/" + link.url("http://x").rsplit("/share/", 1)[1]
    finally:
        studio.close()


def _put(studio: svc.Services, key: str) -> None:
    "A thumbnail into the media store the studio is configured with (the folder today, S3 with a media URL)."
    media = getattr(studio, "media", None)
    if media is not None:
        media.put_bytes(key, THUMB_BYTES)
        return
    folder = Path(studio.settings.media_dir)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / key).write_bytes(THUMB_BYTES)


async def visitor(base: str, share: str, until: float, latencies: list[float], errors: list[str]) -> None:
    "One visitor with its own cookies (so the proxy pins it): gallery, share page, thumbnails, health."
    async with httpx.AsyncClient(base_url=base, timeout=REQUEST_TIMEOUT_S) as client:
        thumbs: list[str] = []
        for n in itertools.count():
            paths = [f"/gallery?q={WORD}", share, *thumbs[n % max(len(thumbs), 1) :][:2], "/healthz"]
            for path in paths:
                if time.monotonic() >= until:
                    return
                started = time.perf_counter()
                try:
                    answer = await client.get(path)
                except httpx.HTTPError as err:
                    errors.append(f"{path}: {type(err).__name__}")
                    continue
                latencies.append(time.perf_counter() - started)
                if answer.status_code != 200:
                    errors.append(f"{path}: {answer.status_code}")
                elif path == share and not thumbs:
                    thumbs = sorted(set(THUMB_LINK.findall(answer.text)))


async def round_of(base: str, share: str, users: int, seconds: float) -> dict[str, float]:
    latencies: list[float] = []
    errors: list[str] = []
    started = time.monotonic()
    until = started + seconds
    await asyncio.gather(*(visitor(base, share, until, latencies, errors) for _ in range(users)))
    elapsed = time.monotonic() - started
    if errors:
        print(f"  {len(errors)} failed requests, e.g. {errors[:3]}", file=sys.stderr)
    p95 = statistics.quantiles(latencies, n=20)[-1] if len(latencies) >= 20 else max(latencies, default=0.0)
    return {"requests": len(latencies), "rps": len(latencies) / elapsed, "p95_ms": p95 * 1000, "errors": len(errors)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--takes", type=int, default=200)
    parser.add_argument("--database-url", help="postgresql://... (default: one shared SQLite data folder)")
    args = parser.parse_args()
    users = max(1, min(args.users, MAX_USERS))
    seconds = max(1.0, min(args.seconds, MAX_SECONDS))
    with tempfile.TemporaryDirectory(prefix="bench-replicas-") as tmp:
        cluster = Cluster(Path(tmp), replicas=2, database_url=args.database_url, latency=1.0)
        try:
            cluster.start()
            share = seed(cluster, args.takes)
            cluster.start_proxy("proxy1", targets=("a",))
            results = {}
            for name, proxy in (("1 replica", "proxy1"), ("2 replicas", "proxy")):
                asyncio.run(round_of(cluster.url(proxy), share, 2, 2.0))  # warm-up: caches, connections
                results[name] = asyncio.run(round_of(cluster.url(proxy), share, users, seconds))
        finally:
            cluster.stop()
    print(f"{users} users for {seconds:.0f} s each, {args.takes} takes, through haproxy (deploy/haproxy.cfg)")
    print(f"{'':12} {'requests/s':>11} {'p95 ms':>8} {'requests':>9} {'errors':>7}")
    for name, r in results.items():
        print(f"{name:12} {r['rps']:11.1f} {r['p95_ms']:8.1f} {r['requests']:9.0f} {r['errors']:7.0f}")
    one, two = results["1 replica"], results["2 replicas"]
    print(
        f"users={users} seconds={seconds:.0f} rps_1={one['rps']:.1f} rps_2={two['rps']:.1f} "
        f"p95_ms_1={one['p95_ms']:.1f} p95_ms_2={two['p95_ms']:.1f} speedup={two['rps'] / one['rps']:.2f}"
    )


if __name__ == "__main__":
    main()
