"""Prompt diffs (studio/diffs.py): word runs, setting chips, and their HTML (studio.ui.prompt_diff)."""

from __future__ import annotations

import re

import pytest
from streamlit.testing.v1 import AppTest

from studio import diffs
from studio.diffs import changed_words, chip, setting_changes, word_diff
from studio.models import Generation, VideoGenerationParams


def joined(runs):
    return "".join(text for text, _ in runs)


@pytest.mark.parametrize(
    ("a", "b", "only_a", "only_b"),
    [
        ("A boat at dusk", "A boat at dawn", ["dusk"], ["dawn"]),
        ("a red kite, flying", "a red kite. flying", [","], ["."]),  # punctuation is its own token
        ("street, at night", "street at night", [","], []),
        ("a slow pan", "a slow pan across the bay", [], ["across the bay"]),  # a phrase is one run
        ("Ein Café in Köln", "Ein Café in Zürich", ["Köln"], ["Zürich"]),
        ("雨の街を紙の船", "晴れの街を紙の船", ["雨"], ["晴れ"]),  # CJK: a character is a word
        ("a cat 🐱 sleeps", "a cat 🐶 sleeps", ["🐱"], ["🐶"]),
        ("", "a new prompt", [], ["a new prompt"]),
        ("same words", "same words", [], []),
        ("Neon city", "neon city", ["Neon"], ["neon"]),  # case is a difference a prompt makes
    ],
)
def test_word_diff_marks_only_the_words_that_differ(a, b, only_a, only_b):
    runs_a, runs_b = word_diff(a, b)
    assert joined(runs_a) == a and joined(runs_b) == b  # nothing lost, nothing added
    assert changed_words(runs_a) == only_a
    assert changed_words(runs_b) == only_b


def test_whitespace_alone_is_no_difference_and_is_kept_as_written():
    runs_a, runs_b = word_diff("a  boat\nat dusk", "a boat at dusk")
    assert runs_a == [("a  boat\nat dusk", False)] and runs_b == [("a boat at dusk", False)]


def test_the_spaces_around_a_changed_word_are_not_highlighted():
    runs_a, _ = word_diff("one two three", "one 2 three")
    assert runs_a == [("one ", False), ("two", True), (" three", False)]


def test_empty_against_empty():
    assert word_diff("", "") == ([], [])


def gen(**fields) -> Generation:
    base = {"id": "g", "created_at": "2026-12-02T10:00:00+00:00", "prompt": "A boat"}
    return Generation.model_validate({**base, **fields})


def test_setting_changes_lists_each_differing_setting_in_order():
    a = gen(aspect_ratio="16:9", resolution="480p", duration="5", generate_audio=True)
    b = gen(aspect_ratio="9:16", resolution="1080p", duration="auto", generate_audio=False)
    changes = setting_changes(a, b)
    assert [c[0] for c in changes] == ["aspect_ratio", "resolution", "duration", "generate_audio"]
    assert [chip(c) for c in changes] == ["16:9 → 9:16", "480p → 1080p", "5 s → auto length", "audio on → audio off"]
    assert setting_changes(a, a) == []


def test_references_are_compared_by_file_and_shown_by_count():
    one = {"images": ["up_1"], "videos": [], "audio": []}
    other = {"images": ["up_2"], "videos": [], "audio": []}
    a, b, c = gen(selected_context={}), gen(selected_context=one), gen(selected_context=other)
    assert [chip(x) for x in setting_changes(a, b)] == ["References: none → 1 image"]
    assert [chip(x) for x in setting_changes(b, c)] == ["References: 1 image → 1 image (other files)"]


def test_setting_changes_reads_params_too():
    a = VideoGenerationParams(prompt="x", resolution="720p")
    b = VideoGenerationParams(prompt="y", resolution="1080p")
    assert setting_changes(a, b) == [("resolution", "720p", "1080p")]


# ---------------------------------------------------------------------- the HTML ui.prompt_diff draws


def draw_diff(a_prompt: str, b_prompt: str, b_ratio: str = "16:9") -> str:
    "The HTML ui.prompt_diff sends for two takes, as a browser would get it."

    def app(a_prompt: str, b_prompt: str, b_ratio: str) -> None:
        from studio import ui
        from studio.models import Generation

        def take(prompt: str, ratio: str) -> Generation:
            return Generation(id="x", created_at="2026-12-02T10:00:00+00:00", prompt=prompt, aspect_ratio=ratio)

        ui.prompt_diff(take(a_prompt, "16:9"), take(b_prompt, b_ratio))

    at = AppTest.from_function(app, kwargs={"a_prompt": a_prompt, "b_prompt": b_prompt, "b_ratio": b_ratio})
    at.run(timeout=30)
    assert not at.exception
    return "".join(
        h.proto.body for h in at.get("html") if "studio-diff" in h.proto.body and "<style>" not in h.proto.body
    )


def test_prompt_diff_highlights_words_and_shows_settings_as_chips():
    body = draw_diff("A boat at dusk", "A boat at dawn", "9:16")
    assert "<mark>dusk</mark>" in body and "<mark>dawn</mark>" in body
    assert "<span>16:9 → 9:16</span>" in body


def test_prompt_diff_escapes_html_and_markdown_so_prompts_show_as_typed():
    body = draw_diff("A <script>alert(1)</script> **bold** _x_", "A <b>tag</b> **bold** _x_")
    assert "<script" not in body and "<b>" not in body and "</b>" not in body
    text = body.replace("<mark>", "").replace("</mark>", "")
    # Escaped, and markdown characters as written (st.html renders no markdown).
    assert "A &lt;script&gt;alert(1)&lt;/script&gt; **bold** _x_" in text
    assert "A &lt;b&gt;tag&lt;/b&gt; **bold** _x_" in text
    assert re.search(r"<mark>[^<]*tag[^<]*</mark>", body) and re.search(r"<mark>[^<]*alert[^<]*</mark>", body)


def test_prompt_diff_of_the_same_prompt_and_settings_says_so():
    body = draw_diff("Same", "Same")
    assert "Same prompt in A and B" in body and "Same settings" in body and "<mark>" not in body


def test_tokens_join_back_to_the_text():
    text = 'Dialogue: "Hello, world!" — 2 cats\tand\n3 dogs 🐱🐶'
    assert "".join(diffs.tokens(text)) == text
