"""Benchmark: one rerun of the Gallery page with 24 cards, before and after issue 8's cards (a tick
per card, the bulk bar, hover-preview thumbnails, comparisons stacked), side by side.

"Before" is the page as it was at BEFORE_COMMIT (read with `git show`, run from a scratch file);
"after" is pages/gallery.py. Both run in AppTest over the same history, timed alternately
(medians after a warm-up), for two histories: 24 single takes, and 24 comparisons of 6 cells
(before: 24 look-alike cells on the first page; after: 24 stacked cards, each with its cells'
ids and axes). A second figure times the same page with a selection of 24 takes, so the bulk bar
and its collection picker are drawn. Target: every ratio at most 1.5.

    .venv/bin/python bench/gallery_cards.py [--runs 15]

The last line holds key=value pairs for scripts.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from studio import services as svc  # noqa: E402
from studio.models import VideoGenerationParams  # noqa: E402
from studio.settings import Settings  # noqa: E402

BEFORE_COMMIT = "ceb9779"  # main before issue 8's gallery work
TARGET = 1.5
CARDS = 24
CELLS = 6


def _done(studio: svc.Services, ids: list[str]) -> None:
    for gen_id in ids:
        studio.store.update(gen_id, status="done", video_path=f"{gen_id}.mp4", thumb_path=f"{gen_id}.jpg")


def history(folder: Path, grids: bool) -> svc.Services:
    "A studio (worker off, no network) holding 24 finished takes, or 24 finished 6-cell comparisons."
    settings = Settings(api_key="mk_bench", base_url="http://127.0.0.1:9", data_dir=folder)
    studio = svc.build_services(settings, start_worker=False)
    for i in range(CARDS):
        prompt = f"A kite over the sea, take {i}"
        if grids:
            cells = [
                (VideoGenerationParams(prompt=prompt, resolution=r, aspect_ratio=a), f"{r} · {a}")
                for r in ("480p", "720p")
                for a in ("16:9", "9:16", "1:1")
            ]
            axes = {"resolutions": ["480p", "720p"], "aspect_ratios": ["16:9", "9:16", "1:1"]}
            _done(studio, studio.store.add_grid(prompt=prompt, axes=axes, cells=cells)[1])
        else:
            _done(studio, [studio.store.add_generation(VideoGenerationParams(prompt=prompt))])
    return studio


def page(path: Path, studio: svc.Services, *, select: bool = False):
    "A Gallery page file run alone in AppTest; each call is one rerun."
    at = AppTest.from_file(str(path), default_timeout=60)
    at.session_state["services"] = studio
    if select:
        at.session_state["gallery_selected"] = dict.fromkeys(g.id for g in studio.store.page(limit=CARDS))
    at.run()
    if at.exception or len(at.text) != CARDS:
        raise SystemExit(f"{path.name} did not render {CARDS} cards: {at.exception or len(at.text)}")

    def call() -> None:
        at.run()

    return call


def paired_ms(before, after, runs: int) -> tuple[float, float]:
    "Median milliseconds of two calls, timed alternately after a warm-up of each."
    before(), after()
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(runs):
        for fn, out in ((before, times[0]), (after, times[1])):
            started = time.perf_counter()
            fn()
            out.append((time.perf_counter() - started) * 1000)
    return statistics.median(times[0]), statistics.median(times[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="timed reruns per side and case")
    args = parser.parse_args()
    old = subprocess.run(
        ["git", "show", f"{BEFORE_COMMIT}:pages/gallery.py"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        before_page = ROOT / "pages" / f"_bench_gallery_before_{BEFORE_COMMIT}.py"  # beside it: same imports
        before_page.write_text(old)
        try:
            rows = []
            for name, grids in (("24 takes", False), (f"24 comparisons of {CELLS}", True)):
                studio = history(scratch / name.replace(" ", "_"), grids)
                b, a = paired_ms(page(before_page, studio), page(ROOT / "pages" / "gallery.py", studio), args.runs)
                rows.append((name, b, a))
                if not grids:
                    b2, a2 = paired_ms(
                        page(before_page, studio), page(ROOT / "pages" / "gallery.py", studio, select=True), args.runs
                    )
                    rows.append(("24 takes, all ticked", b2, a2))
                studio.close()
        finally:
            before_page.unlink(missing_ok=True)
    print(f"{'one rerun of the Gallery page':32}{'before ms':>12}{'after ms':>12}{'ratio':>8}")
    for name, b, a in rows:
        print(f"{name:32}{b:12.1f}{a:12.1f}{a / b:8.2f}")
    worst = max(a / b for _name, b, a in rows)
    print(f"verdict: worst ratio {worst:.2f} ({'within' if worst <= TARGET else 'over'} the target {TARGET})")
    print(" ".join(f"{name.replace(' ', '_').replace(',', '')}_ratio={a / b:.2f}" for name, b, a in rows))


if __name__ == "__main__":
    main()
