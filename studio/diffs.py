"""Prompt diffs: what differs between two takes, in words a person reads at a glance.

`word_diff(a, b)` splits both prompts into words, whitespace and single punctuation marks (so
"street," against "street." differs only in the mark) and matches them with difflib; each prompt
comes back as runs of (text, changed) that join to exactly the prompt. `setting_changes(a, b)`
lists the node settings that differ (aspect ratio, resolution, duration, audio, references,
model), and `chip(change)` says one of them as "16:9 → 9:16". Pure: no Streamlit, no HTML (the
page escapes, `studio.ui.prompt_diff`).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from typing import Any

from .models import NodeParamFields, NodeSettings

Run = tuple[str, bool]  # (text, changed)
Change = tuple[str, Any, Any]  # (setting, value in A, value in B)

# A word (letters, digits, underscore; any script), one CJK or kana/hangul character (those
# scripts put no spaces between words, so a character is the unit), a run of whitespace, or one
# other character (punctuation, a symbol, an emoji's code point).
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
TOKEN = re.compile(rf"[{_CJK}]|(?:(?![{_CJK}])\w)+|\s+|[^\w\s]")
# The settings a diff compares, in the order chips show them, with their names.
SETTING_NAMES = {
    "aspect_ratio": "Aspect ratio",
    "resolution": "Resolution",
    "duration": "Duration",
    "generate_audio": "Audio",
    "references": "References",
    "model": "Model",
}
REFERENCE_KINDS = (("images", "image"), ("videos", "video"), ("audio", "audio"))


# What a diff reads of a take: a Generation (NodeParamFields), VideoGenerationParams or NodeSettings.
Take = NodeParamFields | NodeSettings


def tokens(text: str) -> list[str]:
    "The text as words, whitespace runs and single other characters; they join to the text."
    return TOKEN.findall(text)


def _mark(toks: Sequence[str], changed: list[bool]) -> list[Run]:
    """Runs of equal flag. Whitespace counts as changed only between two changed tokens, so a
    changed phrase is one highlight and the spaces around a changed word are not."""
    flags = list(changed)
    for i, tok in enumerate(toks):
        if tok.isspace():
            before = next((flags[j] for j in range(i - 1, -1, -1) if not toks[j].isspace()), False)
            after = next((flags[j] for j in range(i + 1, len(toks)) if not toks[j].isspace()), False)
            flags[i] = before and after
    runs: list[Run] = []
    for tok, flag in zip(toks, flags, strict=True):
        if runs and runs[-1][1] == flag:
            runs[-1] = (runs[-1][0] + tok, flag)
        else:
            runs.append((tok, flag))
    return runs


def word_diff(a: str, b: str) -> tuple[list[Run], list[Run]]:
    """Both prompts as runs of (text, changed): the words of A not in B, and of B not in A, are
    changed. Joining a side's texts gives that prompt back exactly. Whitespace alone never counts
    as a difference (a double space, a line break for a space)."""
    ta, tb = tokens(a), tokens(b)
    # Whitespace is compared as one space, so reflowing a prompt changes nothing.
    ka = [" " if t.isspace() else t for t in ta]
    kb = [" " if t.isspace() else t for t in tb]
    changed_a, changed_b = [False] * len(ta), [False] * len(tb)
    matcher = difflib.SequenceMatcher(None, ka, kb, autojunk=False)
    for op, a0, a1, b0, b1 in matcher.get_opcodes():
        if op != "equal":
            for i in range(a0, a1):
                changed_a[i] = True
            for j in range(b0, b1):
                changed_b[j] = True
    return _mark(ta, changed_a), _mark(tb, changed_b)


def changed_words(runs: Sequence[Run]) -> list[str]:
    "The changed stretches of one side, stripped (for tests and short summaries)."
    return [text.strip() for text, changed in runs if changed and text.strip()]


def references_summary(context: Any) -> str:
    "A take's references in words: 'none', '2 images, 1 video'."
    data = context.model_dump() if hasattr(context, "model_dump") else dict(context or {})
    parts = []
    for key, noun in REFERENCE_KINDS:
        n = len(data.get(key) or [])
        if n:
            parts.append(f"{n} {noun}{'s' if n != 1 and noun != 'audio' else ''}")
    return ", ".join(parts) or "none"


def _references(take: Take) -> Any:
    context = take.selected_context
    return context.model_dump() if hasattr(context, "model_dump") else dict(context or {})


def setting_changes(a: Take, b: Take) -> list[Change]:
    """The settings that differ between two takes, as (setting, value in A, value in B), in the
    order of SETTING_NAMES. References are compared by what they are (which files), and shown
    by count ('1 image'); two different sets of the same size say so ('1 image (other files)')."""
    out: list[Change] = []
    for name in SETTING_NAMES:
        if name == "references":
            ra, rb = _references(a), _references(b)
            if ra != rb:
                sa, sb = references_summary(ra), references_summary(rb)
                if sa == sb:
                    sb = f"{sb} (other files)"
                out.append((name, sa, sb))
            continue
        va, vb = getattr(a, name), getattr(b, name)
        if va != vb:
            out.append((name, va, vb))
    return out


def value_text(setting: str, value: Any) -> str:
    "One side of a chip: '16:9', '5 s', 'auto length', 'audio on'."
    if setting == "duration":
        return "auto length" if value == "auto" else f"{value} s"
    if setting == "aspect_ratio" and value == "auto":
        return "auto ratio"
    if setting == "generate_audio":
        return "audio on" if value else "audio off"
    return str(value)


def chip(change: Change) -> str:
    "A setting that differs, as a chip says it: '16:9 → 9:16', 'References: none → 1 image'."
    setting, va, vb = change
    text = f"{value_text(setting, va)} → {value_text(setting, vb)}"
    return f"{SETTING_NAMES[setting]}: {text}" if setting in ("references", "model") else text
