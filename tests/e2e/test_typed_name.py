"""The typed name in Chromium: with no login, the sidebar asks for a name once; the browser keeps
it (a reload, and a new tab of the same browser, still know it); a take made afterwards shows its
author in the Gallery, and the Gallery's whose-takes filter keeps it in the link. Behind a trusted
proxy (STUDIO_TRUSTED_USER_HEADER), the header it adds names the person and nothing is asked."""

from __future__ import annotations

import time

from browser import StudioServer, screenshot, type_name, wait_for_app
from playwright.sync_api import Page, expect

RUN_TIMEOUT_MS = 45_000


def test_a_typed_name_is_remembered_and_signs_the_take(page: Page, tmp_path):
    server = StudioServer(tmp_path / "data").start()
    try:
        base = server.base
        page.goto(base)
        wait_for_app(page)
        who = page.locator(".st-key-studio_identity")
        expect(who).to_contain_text("Who are you?")
        type_name(page, "Ada Lovelace")
        expect(who).to_contain_text("You are Ada Lovelace")
        page.wait_for_function("() => document.cookie.includes('studio_name=')", timeout=10_000)
        cookie = [c for c in page.context.cookies() if c["name"] == "studio_name"]
        assert cookie and cookie[0]["value"] == "Ada%20Lovelace"
        assert cookie[0]["expires"] > time.time() + 390 * 24 * 3600  # kept for 400 days

        page.reload()
        wait_for_app(page)
        expect(page.locator(".st-key-studio_identity")).to_contain_text("You are Ada Lovelace")
        other = page.context.new_page()
        other.goto(f"{base}/gallery")
        wait_for_app(other)
        expect(other.locator(".st-key-studio_identity")).to_contain_text("You are Ada Lovelace")
        other.close()

        box = page.locator(".st-key-create_prompt textarea")
        box.fill("A heron lands on a pier at dawn")
        box.press("Control+Enter")
        wait_for_app(page)
        page.locator(".st-key-create_run button").click()
        page.wait_for_selector(".st-key-create_results video", timeout=RUN_TIMEOUT_MS)

        page.goto(f"{base}/gallery?whose=mine")
        wait_for_app(page)
        card = page.locator("[class*=st-key-gallery_card_]").first
        expect(card).to_contain_text("by Ada Lovelace", timeout=RUN_TIMEOUT_MS)
        expect(page.locator(".st-key-whose [role=combobox]")).to_have_value("mine")
        screenshot(page, "typed-name-gallery")
    finally:
        server.stop()


def test_behind_a_trusted_proxy_its_header_names_the_person(browser, tmp_path):
    server = StudioServer(tmp_path / "data", STUDIO_TRUSTED_USER_HEADER="X-Forwarded-Email").start()
    try:
        # What a proxy that signs people in adds to every request, the websocket's included.
        context = browser.new_context(extra_http_headers={"X-Forwarded-Email": "grace@example.com"})
        page = context.new_page()
        page.goto(server.base)
        wait_for_app(page)
        who = page.locator(".st-key-studio_identity")
        expect(who).to_contain_text("grace@example.com (from your company sign-in)")
        expect(page.get_by_role("textbox", name="Who are you?")).to_have_count(0)
        context.close()
    finally:
        server.stop()
