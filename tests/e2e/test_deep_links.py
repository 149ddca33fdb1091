"""Journey: a deep link to each page (as bookmarked or shared) loads with no failed request: the
frontend no longer probes /<page>/_stcore/health and /<page>/_stcore/host-config (404 each)."""

from __future__ import annotations

from browser import wait_for_app
from playwright.sync_api import Page

DEEP_LINKS = ("/gallery?q=zebra", "/status", "/compare", "/create")


def test_deep_links_make_no_failing_request(page: Page, studio_server):
    answers: list[tuple[int, str]] = []
    page.on("response", lambda r: answers.append((r.status, r.url)))
    for link in DEEP_LINKS:
        answers.clear()
        page.goto(studio_server + link)
        wait_for_app(page)
        failed = [(status, url) for status, url in answers if status >= 400]
        assert not failed, f"{link}: {failed}"
        page_path = link.split("?")[0]
        assert (200, studio_server + link) in answers
        assert not [url for _, url in answers if f"{page_path}/_stcore/" in url]
