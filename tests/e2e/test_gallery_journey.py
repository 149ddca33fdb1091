"""Journey: a producer makes a video on Create, finds it in the Gallery by a word of its prompt
(the search lands in the URL), opens its details, then opens a bookmarked filtered link in a
fresh page and a link with a bad value, all in a real Chromium."""

from __future__ import annotations

from browser import screenshot, videos_ready, wait_for_app
from playwright.sync_api import Page, expect

PROMPT = "A zebra crossing a neon bridge, slow pan"
RUN_TIMEOUT_MS = 45_000
CARD = "[class*='st-key-gallery_card_']"
DIALOG = "[role=dialog]"


def href(page: Page) -> str:
    return page.evaluate("location.href")  # page.url can lag behind Streamlit's history updates


def wait_for_url(page: Page, *parts: str, absent: tuple[str, ...] = ()) -> str:
    "Wait until the address bar holds every part (and none of `absent`); returns it."
    page.wait_for_function(
        "([parts, absent]) => parts.every(p => location.href.includes(p))"
        " && !absent.some(p => location.href.includes(p))",
        arg=[list(parts), list(absent)],
        timeout=10_000,
    )
    return href(page)


def settle(page: Page) -> None:
    "Wait for the script run, the search box and every thumbnail to be loaded."
    wait_for_app(page)
    expect(page.locator(".st-key-q input")).to_be_visible(timeout=20_000)  # widgets draw after the text when loaded
    page.wait_for_function(
        # Thumbnails are hover-preview videos whose poster is the picture: every card has one.
        "() => [...document.querySelectorAll(\"[class*='st-key-gallery_card_']\")]"
        ".every(c => c.querySelector('video.studio-hover')?.poster)",
        timeout=10_000,
    )


def zebra_card(page: Page):
    return page.locator(CARD, has_text=PROMPT).first


def test_find_a_video_by_its_prompt_open_it_and_share_a_filtered_link(page: Page, studio_server):
    # Make the video the way a person does: Create, type, Run, wait for the player.
    page.goto(studio_server)
    wait_for_app(page)
    box = page.locator(".st-key-create_prompt textarea")
    box.fill(PROMPT)
    box.press("Control+Enter")
    wait_for_app(page)
    page.locator(".st-key-create_run button").click()
    page.wait_for_function(
        "() => document.querySelector('.st-key-create_results video')?.readyState >= 1", timeout=RUN_TIMEOUT_MS
    )

    # Gallery: search for a word of the prompt; the URL carries the search; the card shows.
    page.get_by_test_id("stSidebarNavItems").get_by_role("link", name="Gallery").click()
    wait_for_app(page)
    expect(page.get_by_role("heading", name="Gallery")).to_be_visible()
    search = page.locator(".st-key-q input")
    search.fill("zebra")
    search.press("Enter")
    wait_for_url(page, "q=zebra")
    settle(page)
    card = zebra_card(page)
    expect(card).to_be_visible()
    expect(page.locator(CARD)).to_have_count(1)
    thumb = card.locator("video.studio-hover").get_attribute("poster")
    assert thumb.startswith(f"{studio_server}/files/") and thumb.endswith(".jpg")
    assert page.evaluate("(src) => fetch(src).then(r => r.status)", thumb) == 200
    screenshot(page, "gallery-search")

    # Details: the video plays from /files, the prompt is there as written; the search stays in the URL.
    card.get_by_role("button", name="Open").click()
    dialog = page.locator(DIALOG)
    expect(dialog).to_be_visible()
    url = wait_for_url(page, "id=", "q=zebra")
    gen_id = url.split("id=")[1].split("&")[0]
    page.wait_for_function(videos_ready(1, within=DIALOG), timeout=15_000)  # in the review player
    assert (dialog.locator("video").get_attribute("src") or "").startswith(f"{studio_server}/files/")
    expect(dialog.locator("[data-testid=stCode]").first).to_contain_text(PROMPT)
    dialog.get_by_text("Ids and checksum").click()
    expect(dialog).to_contain_text(gen_id)
    expect(dialog).to_contain_text("SHA-256")
    page.wait_for_timeout(400)  # let the expander finish opening before the picture
    screenshot(page, "gallery-detail")
    dialog.get_by_text("Copy as API request").scroll_into_view_if_needed()
    expect(dialog.locator("[data-testid=stCode]").last).to_contain_text("mk_your_api_key")
    screenshot(page, "gallery-detail-actions")
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    wait_for_url(page, "q=zebra", absent=("id=",))

    # A bookmarked filtered link, opened in a fresh page: the widgets are filled in and the card shows.
    fresh = page.context.new_page()
    fresh.goto(f"{studio_server}/gallery?q=zebra&resolution=720p")
    settle(fresh)
    expect(fresh.locator(".st-key-q input")).to_have_value("zebra")
    fresh.get_by_text("Filters · 1 on: resolution").click()  # folded by default; the label says what is on
    expect(fresh.locator(".st-key-resolution")).to_contain_text("720p")
    expect(zebra_card(fresh)).to_be_visible()
    screenshot(fresh, "gallery-filtered")

    # A link with a value the gallery can't use says so, in words.
    fresh.goto(f"{studio_server}/gallery?q=zebra&resolution=4k")
    settle(fresh)
    expect(fresh.get_by_text("Ignored resolution=4k: use 480p, 720p or 1080p.")).to_be_visible()
    expect(zebra_card(fresh)).to_be_visible()  # the valid part of the link still applies
    screenshot(fresh, "gallery-bad-link")

    # The page number is in the link: a reload stays on it (one page here, so ?page=5 comes back as 1).
    fresh.goto(f"{studio_server}/gallery?q=zebra&page=5")
    settle(fresh)
    wait_for_url(fresh, "q=zebra", absent=("page=",))
    expect(zebra_card(fresh)).to_be_visible()
    fresh.close()
