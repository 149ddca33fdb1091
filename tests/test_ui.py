"""studio.ui: text people or Mosaic wrote is shown as typed, never as markdown."""

from __future__ import annotations

import pytest

from studio import services as svc
from studio.models import VideoGenerationParams
from studio.ui import plain


@pytest.mark.parametrize(
    "text,shown",
    [
        ("blank.png is empty", "blank.png is empty"),
        ("**BIG** [click](http://evil.example)", "\\*\\*BIG\\*\\* \\[click\\]\\(http\\://evil.example\\)"),
        (":red[alarm] :rocket:", "\\:red\\[alarm\\] \\:rocket\\:"),
        ("<b>html</b>", "\\<b\\>html\\</b\\>"),
        ("- a list\n1. item\n  + more", "\\- a list\n1\\. item\n  \\+ more"),
        ("a-b 3.5 ok", "a-b 3.5 ok"),
    ],
)
def test_plain_escapes_markdown(text, shown):
    assert plain(text) == shown


def test_cell_labels_never_carry_prompt_text():
    cells = svc.grid_cells(
        VideoGenerationParams(prompt="**BIG** one"),
        resolutions=["720p"],
        aspect_ratios=["9:16"],
        prompts=["**BIG** one", "[x](http://e) two"],
    )
    assert [label for _, label in cells] == ["prompt 1 · 720p · 9:16", "prompt 2 · 720p · 9:16"]
