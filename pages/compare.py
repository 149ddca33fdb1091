"""Compare: one prompt across resolutions × aspect ratios (and durations, audio, prompt variants),
side by side; pick the best cell, mark a winner, and look at two takes A/B.

URLs: /compare?grid=<id> reopens a saved comparison; /compare?a=<id>&b=<id> shows an A/B view.
"""

from __future__ import annotations

import re
import time
from typing import Any

import pandas as pd
import streamlit as st

from studio import format as fmt
from studio import services as svc
from studio import ui
from studio.errors import StudioError
from studio.models import ASPECT_RATIOS, DURATIONS, PROMPT_MAX_CHARS, RESOLUTIONS, Generation, VideoGenerationParams

MAX_CELLS = 60  # one comparison stays reviewable on a screen (and in a budget)
RECENT_GRIDS = 12
VIDEO_PX = 260  # every video on the page is letterboxed to this height so mixed ratios line up
NAME_MAX_CHARS = 80
DOUBLE_CLICK_S = 3.0  # the same launch again this soon is a double click, not a second grid
AUDIO_CHOICES = {"On": [True], "Off": [False], "Both (compare on and off)": [True, False]}
DEFAULTS: dict[str, Any] = {
    "compare_prompt": "",
    "compare_resolutions": ["720p"],
    "compare_aspect_ratios": ["16:9", "9:16"],
    "compare_durations": ["5"],
    "compare_audio": "On",
    "compare_variants": "",
    "compare_name": "",
}
DIFF_STYLE = "background-color: #ffe08a; color: #1a1a1a; font-weight: 700"
SAFE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


# ---------------------------------------------------------------------- new comparison


def _variants(text: str, prompt: str) -> tuple[list[str], str | None]:
    "Prompt variants, one per line, and the first problem with them (blank, too long or repeated)."
    if not text.strip():
        return [], None
    lines = text.strip("\n").splitlines()
    seen = {prompt.strip(): "the main prompt"}
    out = []
    for number, line in enumerate(lines, start=1):
        line = line.strip()
        if not line:
            return [], f"Line {number} is blank: write a variant there or delete the line."
        if len(line) > PROMPT_MAX_CHARS:
            return [], f"Line {number} is {len(line)} characters; the limit is {PROMPT_MAX_CHARS}."
        if line in seen:
            return [], f"Line {number} repeats {seen[line]}; each variant must be different."
        seen[line] = f"line {number}"
        out.append(line)
    return out, None


def _plan(values: dict[str, Any]) -> dict[str, Any]:
    "What the form asks for: the axes, the cell count and a message per field that is wrong."
    errors: dict[str, str] = {}
    try:
        VideoGenerationParams.parse(prompt=values["prompt"])
    except StudioError as err:
        errors["prompt"] = str(err)
    if not values["resolutions"]:
        errors["resolutions"] = "Pick at least one resolution: each one becomes a column."
    if not values["aspect_ratios"]:
        errors["aspect_ratios"] = "Pick at least one aspect ratio: each one becomes a row."
    variants, problem = _variants(values["variants"], values["prompt"])
    if problem:
        errors["variants"] = problem
    audio = AUDIO_CHOICES[values["audio"]]
    n_prompts = 1 + len(variants)
    count = (
        len(values["resolutions"])
        * len(values["aspect_ratios"])
        * max(1, len(values["durations"]))
        * len(audio)
        * n_prompts
    )
    if count > MAX_CELLS:
        errors["cells"] = (
            f"That is {count} cells; one comparison holds at most {MAX_CELLS}. "
            "Pick fewer resolutions, ratios, durations or variants."
        )
    return {
        "count": count,
        "audio": audio,
        "variants": variants,
        "errors": errors,
        "prompts": [values["prompt"].strip(), *variants] if variants else [],
    }


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' if n != 1 else ''}"


def _breakdown(values: dict[str, Any], plan: dict[str, Any]) -> str:
    parts = [_count(len(values["resolutions"]), "resolution"), _count(len(values["aspect_ratios"]), "aspect ratio")]
    if len(values["durations"]) > 1:
        parts.append(f"{len(values['durations'])} durations")
    if len(plan["audio"]) > 1:
        parts.append("audio on/off")
    if plan["variants"]:
        parts.append(f"{1 + len(plan['variants'])} prompts")
    return " × ".join(parts)


def _new_comparison(studio: svc.Services) -> None:
    for key, value in DEFAULTS.items():
        st.session_state.setdefault(key, value)
    prompt = st.text_area(
        "Prompt",
        key="compare_prompt",
        height=100,
        max_chars=PROMPT_MAX_CHARS,
        placeholder="Describe the shot, e.g. A paper boat drifting down a rainy street at dusk",
    )
    prompt_err = st.empty()
    left, right = st.columns(2)
    resolutions = left.multiselect("Resolutions — the grid's columns", RESOLUTIONS, key="compare_resolutions")
    res_err = left.empty()
    ratios = right.multiselect(
        "Aspect ratios — the grid's rows",
        ASPECT_RATIOS,
        key="compare_aspect_ratios",
        format_func=lambda r: "auto (model picks)" if r == "auto" else r,
    )
    ratio_err = right.empty()
    left, right = st.columns(2)
    durations = left.multiselect(
        "Durations (seconds)",
        DURATIONS,
        key="compare_durations",
        placeholder="auto — the model picks the length",
        format_func=lambda d: "auto (model picks)" if d == "auto" else f"{d} s",
        help="More than one duration gives one grid per duration, in tabs.",
    )
    audio = right.radio(
        "Audio",
        list(AUDIO_CHOICES),
        key="compare_audio",
        horizontal=True,
        help="Both: one grid with audio and one without, in tabs.",
    )
    variants = st.text_area(
        "Prompt variants (optional) — other wordings to compare with the prompt, one per line",
        key="compare_variants",
        height=80,
        help="Each line is run with every setting above and shown in its own tab next to the main prompt.",
    )
    variants_err = st.empty()
    name = st.text_input(
        "Name (optional)",
        key="compare_name",
        max_chars=NAME_MAX_CHARS,
        placeholder="e.g. Boat — format check for the launch cut",
    )

    values = {
        "prompt": prompt,
        "resolutions": resolutions,
        "aspect_ratios": ratios,
        "durations": durations,
        "audio": audio,
        "variants": variants,
    }
    plan = _plan(values)
    count, errors = plan["count"], plan["errors"]
    cells_err = st.empty()
    confirmed = True
    if count and "cells" not in errors:
        cells = svc.grid_cells(
            VideoGenerationParams(prompt="estimate"),
            resolutions=resolutions,
            aspect_ratios=ratios,
            durations=durations,
            audio=plan["audio"],
        )
        estimate = svc.estimate(studio, [p for p, _ in cells] * (1 + len(plan["variants"])))
        st.container(key="compare_summary").markdown(
            f"**{_count(count, 'cell')}** ({_breakdown(values, plan)}) · {estimate.describe()}"
        )
        if count > studio.settings.confirm_above_cells:
            # The key carries the count, so changing the grid's size asks again.
            confirmed = st.checkbox(
                f"Yes, run all {count} cells ({estimate.seconds_text} s of video)", key=f"compare_confirm_{count}"
            )
    elif "cells" in errors:
        cells_err.error(errors["cells"], icon="⚠️")
    launch = st.button(
        f"🚀 Launch {count} cell{'s' if count != 1 else ''}" if count else "🚀 Launch",
        type="primary",
        key="compare_launch",
    )
    if not launch:
        return
    if not confirmed:
        errors["confirm"] = (
            f"This comparison runs {count} cells, more than "
            f"{studio.settings.confirm_above_cells}: tick the box above to confirm."
        )
    if errors:
        for field, slot in (
            ("prompt", prompt_err),
            ("resolutions", res_err),
            ("aspect_ratios", ratio_err),
            ("variants", variants_err),
        ):
            if field in errors:
                slot.error(errors[field], icon="⚠️")
        st.error(errors.get("confirm") or "Nothing was launched: fix the fields marked above.", icon="⚠️")
        return
    signature = repr((values, name.strip()))
    last = st.session_state.get("compare_last_launch")
    if last and last[0] == signature and time.monotonic() - last[1] < DOUBLE_CLICK_S:
        return  # the same launch clicked twice: the first click's grid is already shown
    try:
        base = VideoGenerationParams.parse(prompt=prompt.strip(), generate_audio=plan["audio"][0])
        grid_id, ids = svc.start_grid(
            studio,
            base,
            resolutions=sorted(resolutions, key=RESOLUTIONS.index),
            aspect_ratios=sorted(ratios, key=ASPECT_RATIOS.index),
            durations=sorted(durations, key=DURATIONS.index),
            audio=plan["audio"],
            prompts=plan["prompts"],
            name=name.strip(),
        )
    except StudioError as err:
        ui.error_box(err)
        return
    st.session_state["compare_last_launch"] = (signature, time.monotonic())
    st.session_state["compare_flash"] = (
        f"Launched {len(ids)} cells. The comparison is saved: this page's link reopens it any time."
    )
    st.query_params.from_dict({"grid": grid_id})
    st.rerun()


def _use_settings(grid: dict[str, Any]) -> None:
    "Fill the new-comparison form from a saved comparison (a callback, so it runs before the widgets)."
    axes = grid.get("axes") or {}
    audio = axes.get("audio") or [True]
    state = st.session_state
    state["compare_prompt"] = grid.get("prompt") or ""
    state["compare_resolutions"] = [r for r in axes.get("resolutions", []) if r in RESOLUTIONS]
    state["compare_aspect_ratios"] = [r for r in axes.get("aspect_ratios", []) if r in ASPECT_RATIOS]
    state["compare_durations"] = [d for d in axes.get("durations", []) if d in DURATIONS]
    state["compare_audio"] = next(k for k, v in AUDIO_CHOICES.items() if v == sorted(set(audio), reverse=True))
    state["compare_variants"] = "\n".join(p for p in axes.get("prompts", []) if p != grid.get("prompt"))
    state["compare_name"] = ""
    st.query_params.clear()


# ---------------------------------------------------------------------- one cell


def _act(action, studio: svc.Services, gen_id: str, *args: Any) -> None:
    "Run a curation use-case from a button callback; keep the reason if it was refused."
    # Callbacks of widgets in a fragment must not draw anything, so the cell shows the error.
    try:
        action(studio, gen_id, *args)
    except StudioError as err:
        st.session_state[f"compare_refused_{gen_id}"] = str(err)


def _cell(studio: svc.Services, view: svc.JobView, *, prefix: str, title: str) -> None:
    "One take: what it is, its video (or progress), its settings and time, and what to do with it."
    gen = view.gen
    with st.container(border=True, key=f"{prefix}_cell_{gen.id}"):
        head = st.container(horizontal=True, vertical_alignment="center")
        head.markdown(f"**{title}**")
        if gen.winner:
            head.badge("Winner", icon="🏆", color="orange")
        if gen.starred:
            head.badge("Starred", icon="⭐", color="yellow")
        if gen.is_active:
            with st.container(height=VIDEO_PX, border=False):
                st.progress(view.progress, text=f"{fmt.status_label(gen.status)}")
                if view.last_error:
                    st.caption(f"Retrying: {ui.plain(view.last_error)}")
        else:
            ui.video(gen)
        st.caption(fmt.settings_line(gen))
        st.caption(fmt.facts_line(gen))
        bar = st.container(horizontal=True)
        if gen.status == "done":
            bar.button(
                "★ Starred" if gen.starred else "☆ Star",
                key=f"{prefix}_star_{gen.id}",
                on_click=_act,
                args=(svc.set_starred, studio, gen.id, not gen.starred),
                help="Star the takes you like; the gallery can filter on stars.",
            )
            if gen.grid_id:
                bar.button(
                    "🏆 Winner",
                    key=f"{prefix}_winner_{gen.id}",
                    disabled=gen.winner,
                    on_click=_act,
                    args=(svc.mark_winner, studio, gen.id),
                    help="The one this comparison picked (one per comparison).",
                )
        if svc.can_retry(gen) and bar.button("↻ Retry", key=f"{prefix}_retry_{gen.id}"):
            try:
                svc.retry(studio, gen.id)
            except StudioError as err:
                ui.error_box(err)
            else:
                st.rerun()  # a full run, so polling starts again
        if bar.button(
            "✏️ New draft", key=f"{prefix}_draft_{gen.id}", help="Open these exact settings in Create as a new draft."
        ):
            st.switch_page("pages/create.py", query_params={"from": gen.id, "keep": "all"})
        if refused := st.session_state.pop(f"compare_refused_{gen.id}", None):
            st.error(refused, icon="⚠️")


# ---------------------------------------------------------------------- a saved grid


def _layout_order(gen: Generation, cells: list[Generation]) -> tuple:
    "Where a cell sits on screen: its tab (in launch order), then row by column."
    tabs = list(dict.fromkeys((c.prompt, c.duration, c.generate_audio) for c in cells))
    return (
        tabs.index((gen.prompt, gen.duration, gen.generate_audio)),
        ASPECT_RATIOS.index(gen.aspect_ratio),
        RESOLUTIONS.index(gen.resolution),
    )


def _group_title(gen: Generation, prompts: list[str], vary: dict[str, bool]) -> str:
    parts = []
    if vary["prompt"]:
        parts.append(f"Prompt {prompts.index(gen.prompt) + 1}")
    if vary["duration"]:
        parts.append("auto length" if gen.duration == "auto" else f"{gen.duration} s")
    if vary["audio"]:
        parts.append("audio on" if gen.generate_audio else "audio off")
    return " · ".join(parts)


def _grid_table(studio: svc.Services, views: list[svc.JobView], prefix: str) -> None:
    "Resolutions as columns, aspect ratios as rows."
    by_cell = {(v.gen.aspect_ratio, v.gen.resolution): v for v in views}
    resolutions = sorted({v.gen.resolution for v in views}, key=RESOLUTIONS.index)
    ratios = sorted({v.gen.aspect_ratio for v in views}, key=ASPECT_RATIOS.index)
    spec = [0.45] + [3] * len(resolutions)
    header = st.columns(spec)
    for col, res in zip(header[1:], resolutions, strict=False):
        col.markdown(f"**{res}**")
    for ratio in ratios:
        row = st.columns(spec, vertical_alignment="top")
        row[0].markdown(f"**{ratio}**")
        for col, res in zip(row[1:], resolutions, strict=False):
            with col:
                view = by_cell.get((ratio, res))
                if view is None:
                    st.caption("—")
                else:
                    _cell(studio, view, prefix=prefix, title=f"{res} · {ratio}")


def _render_grid(studio: svc.Services, views: list[svc.JobView]) -> None:
    "Overall progress, then one resolution × ratio grid, or one per tab when more axes vary."
    gens = [v.gen for v in views]
    done = sum(g.status == "done" for g in gens)
    failed = sum(svc.can_retry(g) for g in gens)
    text = f"{done} of {len(gens)} cells done" + (f" · {failed} failed" if failed else "")
    st.progress(done / len(gens) if gens else 1.0, text=text)
    prompts = list(dict.fromkeys(g.prompt for g in gens))
    vary = {
        "prompt": len(prompts) > 1,
        "duration": len({g.duration for g in gens}) > 1,
        "audio": len({g.generate_audio for g in gens}) > 1,
    }
    groups: dict[str, list[svc.JobView]] = {}
    for view in views:
        groups.setdefault(_group_title(view.gen, prompts, vary), []).append(view)
    if len(groups) == 1:
        _grid_table(studio, views, "grid")
        return
    for tab, (_title, members) in zip(st.tabs(list(groups)), groups.items(), strict=False):
        with tab:
            if vary["prompt"]:
                ui.show_prompt(members[0].gen.prompt)
            _grid_table(studio, members, "grid")


def _saved_grid(studio: svc.Services, grid_id: str, grid: dict[str, Any] | None, cells: list[Generation]) -> None:
    if grid is None:
        shown = f"“{grid_id}”" if SAFE_ID.fullmatch(grid_id) else "in this link"
        st.error(
            f"There is no saved comparison {shown}. It may have been deleted, or the link is incomplete. "
            "Open one from Saved comparisons below, or start a new one.",
            icon="🔎",
        )
        return
    st.subheader(f"Comparison · {_count(len(cells), 'cell')}")
    st.caption(
        f"Saved {fmt.when(grid['created_at'])} · id {grid['id']} · "
        "bookmark or share this page's link to come back to it"
    )
    if grid.get("name"):
        st.text(grid["name"])
    if not cells:
        st.info("This comparison has no cells left: they were deleted from the gallery.")
        return
    if len({c.prompt for c in cells}) == 1:
        ui.show_prompt(cells[0].prompt)
    actions = st.container(horizontal=True)
    actions.button(
        "🧩 Use these settings for a new comparison", key="compare_reuse", on_click=_use_settings, args=(grid,)
    )
    actions.button("➕ New comparison", key="compare_new", on_click=st.query_params.clear)
    ui.live([c.id for c in cells], lambda views: _render_grid(studio, views), key="compare_grid_live")
    if len(cells) >= 2:
        st.subheader("A/B: two takes side by side")
        by_id = {c.id: c for c in cells}
        names = {c.id: fmt.settings_line(c) for c in cells}
        if len({c.prompt for c in cells}) > 1:
            prompts = list(dict.fromkeys(c.prompt for c in cells))
            names = {c.id: f"Prompt {prompts.index(c.prompt) + 1} · {names[c.id]}" for c in cells}
        ids = sorted(names, key=lambda gid: _layout_order(by_id[gid], cells))
        left, right = st.columns(2)
        a = left.selectbox("Take A", ids, index=0, key="compare_ab_a", format_func=names.get)
        b = right.selectbox("Take B", ids, index=1, key="compare_ab_b", format_func=names.get)
        if a == b:
            st.warning("Pick two different takes to compare.", icon="↔️")
        else:
            _ab(studio, a, b, key="compare_ab_grid")


# ---------------------------------------------------------------------- A/B


def _plain(value: Any) -> str:
    "A param or fact as table text."
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.1f}"
    if isinstance(value, dict):
        found = [f"{len(v)} {k}" for k, v in value.items() if v]
        return ", ".join(found) or "none"
    return str(value)


def _differences(a: Generation, b: Generation) -> pd.DataFrame:
    "svc.compare_params as table text; a row is marked only when the difference shows (2.61 vs 2.63 s does not)."
    # st.table renders cells as markdown: every value goes through ui.plain to show as written.
    rows = [
        (label, ui.plain(_plain(va)), ui.plain(_plain(vb)), differs)
        for label, va, vb, differs in svc.compare_params(a, b)
    ]
    return pd.DataFrame(
        [
            {"Setting": label, "A": ta, "B": tb, "Differs": "≠" if differs and ta != tb else ""}
            for label, ta, tb, differs in rows
        ]
    )


def _ab(studio: svc.Services, a_id: str, b_id: str, *, key: str) -> None:
    "Two takes side by side, then every setting with the differing rows highlighted."

    def render(views: list[svc.JobView]) -> None:
        if len(views) < 2:
            st.error("One of these takes no longer exists: it was deleted from the gallery.", icon="🔎")
            return
        for col, tag, view in zip(st.columns(2), ("A", "B"), views, strict=False):
            with col:
                _cell(studio, view, prefix=f"{key}_{tag}", title=f"{tag} · {fmt.settings_line(view.gen)}")
                ui.show_prompt(view.gen.prompt)
        table = _differences(views[0].gen, views[1].gen)
        different = int((table["Differs"] != "").sum())
        st.markdown(f"**What differs** — {different} of {len(table)} rows, highlighted")
        st.table(
            table.style.apply(lambda row: [DIFF_STYLE if row["Differs"] else ""] * len(row), axis=1), hide_index=True
        )

    ui.live([a_id, b_id], render, key=key)


def _ab_from_link(studio: svc.Services, a_id: str | None, b_id: str | None) -> None:
    st.subheader("A/B")
    missing = [tag for tag, gid in (("A", a_id), ("B", b_id)) if not gid or svc.get(studio, gid) is None]
    if missing:
        st.error(
            f"Take {' and '.join(missing)} of this A/B link was not found: it may have been deleted, or the "
            "link is incomplete (it needs both: `/compare?a=…&b=…`).",
            icon="🔎",
        )
        return
    _ab(studio, a_id, b_id, key="compare_ab_link")
    a = svc.get(studio, a_id)
    same_grid = a.grid_id and a.grid_id == svc.get(studio, b_id).grid_id
    if same_grid and st.button("🔀 Open their whole comparison", key="compare_ab_open_grid"):
        st.query_params.from_dict({"grid": a.grid_id})
        st.rerun()


# ---------------------------------------------------------------------- saved comparisons


def _open_grid(grid_id: str) -> None:
    st.query_params.from_dict({"grid": grid_id})


def _recent(studio: svc.Services, current: str | None) -> None:
    st.subheader("Saved comparisons")
    rows = svc.grids(studio, limit=RECENT_GRIDS)
    if not rows:
        st.caption("None yet: launch one above. Every comparison is saved here, and by its link.")
        return
    for row in rows:
        with st.container(border=True, key=f"compare_saved_{row['id']}"):
            cols = st.columns([2, 6, 1.4, 1.2], vertical_alignment="center")
            cols[0].caption(fmt.when(row["created_at"]))
            cols[1].text((row.get("name") or row.get("prompt") or "")[:140])
            cols[2].caption(f"{row['done']}/{row['cells']} done")
            if row["id"] == current:
                cols[3].caption("open above")
            else:
                cols[3].button("Open", key=f"compare_open_{row['id']}", on_click=_open_grid, args=(row["id"],))


# ---------------------------------------------------------------------- page

studio = ui.services()
st.title("🔀 Compare")
st.caption(
    "Run one prompt across resolutions × aspect ratios (and durations, audio, wordings), judge the takes "
    "side by side, star the best and mark a winner. Every comparison is saved."
)
ui.letterbox(VIDEO_PX)
if flash := st.session_state.pop("compare_flash", None):
    st.success(flash, icon="🚀")

grid_param = st.query_params.get("grid")
a_param, b_param = st.query_params.get("a"), st.query_params.get("b")
saved, saved_cells = svc.grid(studio, grid_param) if grid_param else (None, [])
# The form folds away while a comparison or an A/B is on screen, and opens when the link leads nowhere.
with st.expander("➕ New comparison", expanded=not (saved or a_param or b_param)):
    _new_comparison(studio)
if a_param or b_param:
    _ab_from_link(studio, a_param, b_param)
if grid_param:
    _saved_grid(studio, grid_param, saved, saved_cells)
st.divider()
_recent(studio, grid_param)
