"""Benchmark: how long a first visit to each page takes in Chromium, split into what Streamlit's
frontend needs before it can draw anything and what the studio adds, on a warm server.

For each page, a fresh browser context (no cache, a new session) opens the link and times:
- `frontend`: until Streamlit's main area exists (its own JavaScript bundle, websocket, config);
- `heading`: until the page's title is drawn (the first script run has sent its first elements);
- `complete`: until no skeleton or running indicator is left.
It prints the medians and the share of the wait after the frontend is up,
`(complete - frontend) / complete`: the session's start, the first script run and drawing its
elements (the studio's script run itself takes 20-150 ms of it on a warm server).

    .venv/bin/python bench/first_paint.py [--runs 3]

Needs Debian's /usr/bin/chromium (scripts/test installs it). The last line holds key=value pairs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "e2e"))
from browser import CHROMIUM, CHROMIUM_ARGS, StudioServer  # the browser tests' server: the studio as a person starts it

PAGES = ("/", "/compare", "/gallery", "/status")
SETTLED = (
    "() => document.querySelector('h1') && !document.querySelector('[data-testid=stStatusWidget]')"
    " && !document.querySelector('[data-testid=stSkeleton]')"
)


def visit(browser, url: str) -> tuple[float, float, float]:
    "Seconds until the frontend, the heading and the whole page, for one first visit."
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    try:
        started = time.perf_counter()
        page.goto(url)
        page.wait_for_selector("[data-testid=stMain]")
        frontend = time.perf_counter() - started
        page.wait_for_selector("h1")
        heading = time.perf_counter() - started
        page.wait_for_function(SETTLED)
        return frontend, heading, time.perf_counter() - started
    finally:
        context.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="first visits per page (medians are printed)")
    args = parser.parse_args()
    server = StudioServer(Path(tempfile.mkdtemp(prefix="bench-first-paint-"))).start()
    results: dict[str, list[tuple[float, float, float]]] = {p: [] for p in PAGES}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            visit(browser, server.base)  # the server's first page view, not counted
            for _ in range(args.runs):
                for path in PAGES:
                    results[path].append(visit(browser, server.base + path))
            browser.close()
    finally:
        server.stop()
    print(f"first visit, medians of {args.runs} (fresh browser context each)")
    print(f"{'page':10s} {'frontend s':>11s} {'heading s':>10s} {'complete s':>11s} {'after frontend':>15s}")
    summary = []
    for path, runs in results.items():
        frontend, heading, complete = (statistics.median(r[i] for r in runs) for i in range(3))
        share = (complete - frontend) / complete
        print(f"{path:10s} {frontend:11.2f} {heading:10.2f} {complete:11.2f} {share:15.2f}")
        name = path.strip("/") or "create"
        summary.append(f"{name}_complete_s={complete:.2f} {name}_after_frontend={share:.2f}")
    print(" ".join(summary))


if __name__ == "__main__":
    main()
