"""Compare: one prompt across resolutions × aspect ratios (and durations, audio, prompt variants),
side by side; pick the best cell, mark a winner, and look at two takes A/B.

URLs: /compare?grid=<id> reopens a saved comparison; /compare?a=<id>&b=<id> shows an A/B view.
The planning, launching and curation are services (studio/services/grids.py); this page reads
the widgets, calls one service per action and renders what it returns.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

from studio import diffs, ui
from studio import format as fmt
from studio import services as svc
from studio.errors import StudioError
from studio.models import ASPECT_RATIOS, DURATIONS, PROMPT_MAX_CHARS, RESOLUTIONS, Generation

RECENT_GRIDS = 12
NAME_MAX_CHARS = 80
PLACEHOLDER_PX = 200  # a cell still running keeps this much room, so the grid does not jump much
AB_VIDEO_PX = 320  # the two A/B takes share one height, whatever their shapes
GRID_TALL_MAX_PX = 420  # a square or tall take in a wide column stops here instead of filling the screen
GRID_VIDEO_MAX_VH = 70  # and no take (an auto ratio may come out tall) is taller than most of the screen
PHONE_PX = 640  # below this width Streamlit stacks columns: the axis labels hide, each cell names itself
FORM_KEYS = {
    "prompt": "compare_prompt",
    "resolutions": "compare_resolutions",
    "aspect_ratios": "compare_aspect_ratios",
    "durations": "compare_durations",
    "audio": "compare_audio",
    "variants": "compare_variants",
    "name": "compare_name",
}
LAUNCH_TOKEN = "compare_launch_token"  # one per rendered Launch button; the store dedupes a token's launch
GRID_LIVE_KEY = "compare_grid_live"  # the comparison on screen, live, and watched by the sidebar under this name
LAUNCH_ERRORS = "compare_launch_errors"  # what the last Launch click found wrong, by field
DIFF_STYLE = "background-color: #ffe08a; color: #1a1a1a; font-weight: 700"
SAFE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _ratio_class(ratio: str) -> str:
    return ratio.replace(":", "x")


def _is_tall(ratio: str) -> bool:
    width, height = ratio.split(":")
    return int(height) >= int(width)


# A row of the grid holds one aspect ratio, and every video in it takes the row's exact shape, so a
# row lines up at one height even where Seedance's sizes are not exactly the ratio (480p 16:9 is
# 864×496); `contain` shows the whole picture, with nothing painted around it. Square and tall takes
# stop at a height and sit centred. Phones drop the axis labels (every cell's title says which
# resolution and ratio it is) and the A/B's shared height, since the two takes stack there.
PAGE_CSS = (
    "<style>"
    ".st-key-compare_grid_live video { width: 100% !important; height: auto !important; "
    f"max-height: {GRID_VIDEO_MAX_VH}vh; object-fit: contain; background: transparent; display: block; }}"
    + "".join(
        f"[class*='st-key-grid_frame_{_ratio_class(r)}_'] video {{ aspect-ratio: {r.replace(':', ' / ')}; "
        + (f"max-height: {GRID_TALL_MAX_PX}px; }}" if _is_tall(r) else "}")
        for r in ASPECT_RATIOS
        if r != "auto"
    )
    + f"[class*='st-key-compare_ab_'] video {{ width: 100% !important; height: {AB_VIDEO_PX}px !important; "
    "object-fit: contain; background: transparent; display: block; }"
    f"@media (max-width: {PHONE_PX}px) {{ [data-testid='stColumn']:has([class*='st-key-compare_axis_']) "
    "{ display: none; } "
    f"[class*='st-key-compare_ab_'] video {{ height: auto !important; max-height: {GRID_VIDEO_MAX_VH}vh; }} }}"
    "</style>"
)


# ---------------------------------------------------------------------- new comparison


def _form() -> svc.GridForm:
    "The form's widgets as the service reads them."
    state = st.session_state
    return svc.GridForm(
        prompt=state[FORM_KEYS["prompt"]] or "",
        resolutions=tuple(state[FORM_KEYS["resolutions"]]),
        aspect_ratios=tuple(state[FORM_KEYS["aspect_ratios"]]),
        durations=tuple(state[FORM_KEYS["durations"]]),
        audio=state[FORM_KEYS["audio"]],
        variants=state[FORM_KEYS["variants"]] or "",
        name=state[FORM_KEYS["name"]] or "",
    )


def _fill_form(form: svc.GridForm) -> None:
    for name, key in FORM_KEYS.items():
        value = getattr(form, name)
        st.session_state[key] = list(value) if isinstance(value, tuple) else value


def _launch(studio: svc.Services, token: str) -> None:
    """Launch button callback. It runs once per click with the token of the button that was drawn,
    so a second click on the same button carries the same token and the store returns the first
    comparison instead of making another; a launch then draws a new button with a new token."""
    plan = svc.plan_grid(studio, _form())
    try:
        grid_id, ids = svc.launch_grid(
            studio,
            plan,
            confirmed=bool(st.session_state.get(f"compare_confirm_{plan.count}")),
            launch_key=token,
            author=ui.who(),
        )
    except StudioError as err:
        field = getattr(err, "field", None)
        st.session_state[LAUNCH_ERRORS] = {**plan.errors, "launch": str(err) if field in (None, "confirm") else ""}
        return
    st.session_state[LAUNCH_TOKEN] = secrets.token_hex(8)
    ui.watch_runs(GRID_LIVE_KEY, ids)  # watched from the click on, even if the person leaves at once
    st.session_state["compare_flash"] = (
        f"Launched {len(ids)} cells. The comparison is saved: this page's link reopens it any time."
    )
    st.query_params.from_dict({"grid": grid_id})


def _prompt_length(prompt: str) -> None:
    "The prompt's length against the limit, as Create shows it (a long paste is kept, and said so)."
    length = len(prompt)
    over = length - PROMPT_MAX_CHARS
    if over > 0:
        st.error(
            f"The prompt is {length:,} characters, {over:,} over the {PROMPT_MAX_CHARS:,} limit: "
            "shorten it before launching. Your text is kept as pasted.",
            icon="✂️",
        )
    else:
        st.caption(f"{length:,} / {PROMPT_MAX_CHARS:,} characters")


def _plan_cells(studio: svc.Services, plan: svc.GridPlan) -> None:
    "Each cell's estimate before launch: seconds, tokens, credits (with a rate) and how long it takes."
    per_prompt = max(1, len(plan.cells) // max(1, len(plan.prompts)))
    labels = [
        (f"Prompt {n // per_prompt + 1} · " if plan.prompts else "")
        + f"{c.resolution} · {c.aspect_ratio} · {fmt.duration_name(c.duration)} · "
        + ("audio" if c.generate_audio else "no audio")
        for n, c in enumerate(plan.cells)
    ]
    rows = []
    for cost in svc.cell_costs(studio, plan.cells, labels):
        row: dict[str, Any] = {"Cell": cost.label, "Seconds": cost.seconds, "Tokens": round(cost.tokens)}
        if cost.credits is not None:
            row["Credits"] = round(cost.credits, 2)
        row["Time"] = svc.time_range(cost.time_s)
        rows.append(row)
    with st.expander(f"💰 Each cell's cost and time ({len(rows)})", key="compare_plan_cells"):
        tokens = st.column_config.NumberColumn(format="localized")
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", column_config={"Tokens": tokens})
        st.caption("Before the run: the seconds asked for (an automatic length at its longest, 10 s).")


def _new_comparison(studio: svc.Services) -> None:
    for name, key in FORM_KEYS.items():
        default = getattr(svc.GridForm(), name)
        st.session_state.setdefault(key, list(default) if isinstance(default, tuple) else default)
    clicked: dict[str, str] = st.session_state.pop(LAUNCH_ERRORS, {})
    # No max_chars: the browser would drop a paste over the limit without a word.
    prompt = st.text_area(
        "Prompt",
        key=FORM_KEYS["prompt"],
        height=100,
        placeholder="Describe the shot, e.g. A paper boat drifting down a rainy street at dusk",
    )
    prompt_slot = st.empty()
    left, right = st.columns(2)
    left.multiselect("Resolutions — the grid's columns", RESOLUTIONS, key=FORM_KEYS["resolutions"])
    res_slot = left.empty()
    right.multiselect(
        "Aspect ratios — the grid's rows",
        ASPECT_RATIOS,
        key=FORM_KEYS["aspect_ratios"],
        format_func=lambda r: "auto (model picks)" if r == "auto" else r,
    )
    ratio_slot = right.empty()
    left, right = st.columns(2)
    left.multiselect(
        "Durations (seconds)",
        DURATIONS,
        key=FORM_KEYS["durations"],
        placeholder="auto — the model picks the length",
        format_func=lambda d: "auto (model picks)" if d == "auto" else f"{d} s",
        help="More than one duration gives one grid per duration, in tabs.",
    )
    right.radio(
        "Audio",
        list(svc.AUDIO_CHOICES),
        key=FORM_KEYS["audio"],
        horizontal=True,
        help="Both: one grid with audio and one without, in tabs.",
    )
    st.text_area(
        "Prompt variants (optional) — other wordings to compare with the prompt, one per line",
        key=FORM_KEYS["variants"],
        height=80,
        help="Each line is run with every setting above and shown in its own tab next to the main prompt.",
    )
    variants_slot = st.empty()
    st.text_input(
        "Name (optional)",
        key=FORM_KEYS["name"],
        max_chars=NAME_MAX_CHARS,
        placeholder="e.g. Boat — format check for the launch cut",
    )

    plan = svc.plan_grid(studio, _form())
    with prompt_slot.container():
        _prompt_length(prompt or "")
    if plan.estimate is not None:
        st.container(key="compare_summary").markdown(
            f"**{plan.count} cell{'s' if plan.count != 1 else ''}** ({plan.breakdown}) · {plan.estimate.describe()}"
        )
        st.caption("Per second of video: " + "; ".join(plan.cost_notes) + " (Seedance 2's token model).")
        _plan_cells(studio, plan)
        if plan.needs_confirm:
            # The key carries the count, so changing the grid's size asks again.
            st.checkbox(
                f"Yes, run all {plan.count} cells ({plan.estimate.seconds_text} s of video)",
                key=f"compare_confirm_{plan.count}",
            )
    elif "cells" in plan.errors:
        st.error(plan.errors["cells"], icon="⚠️")
    token = st.session_state.setdefault(LAUNCH_TOKEN, secrets.token_hex(8))
    with st.container(key="compare_launch"):
        st.button(
            f"🚀 Launch {plan.count} cell{'s' if plan.count != 1 else ''}" if plan.count else "🚀 Launch",
            type="primary",
            key=f"compare_launch_{token}",
            on_click=_launch,
            args=(studio, token),
        )
    if not clicked:
        return
    for field, slot in (
        ("prompt", prompt_slot),
        ("resolutions", res_slot),
        ("aspect_ratios", ratio_slot),
        ("variants", variants_slot),
    ):
        if clicked.get(field):
            slot.error(clicked[field], icon="⚠️")
    st.error(clicked.get("launch") or "Nothing was launched: fix the fields marked above.", icon="⚠️")


# ---------------------------------------------------------------------- one cell


def _act(action: Callable[..., Any], gen_id: str, *args: Any) -> None:
    """Run a curation use-case, then redraw the whole page: the grid and the A/B panel are separate
    live panels, and both must show the store's new state (not only the panel clicked)."""
    try:
        action(ui.services(), *args)
    except StudioError as err:
        st.session_state[f"compare_refused_{gen_id}"] = str(err)
    st.rerun()


def _cell(
    view: svc.RunWait, *, prefix: str, title: str, in_player: bool = False, player_key: str | None = None
) -> None:
    """One take: what it is, its video (or progress), its settings and time, and what to do with it.
    `in_player`: its video plays in the review player above (under `player_key`, which its comments
    pin to and seek), so the card keeps only the rest."""
    gen = view.gen
    with st.container(border=True, key=f"{prefix}_cell_{gen.id}"):
        head = st.container(horizontal=True, vertical_alignment="center")
        head.markdown(f"**{title}**")
        if gen.winner:
            head.badge("Winner", icon="🏆", color="orange")
        if gen.starred:
            head.badge("Starred", icon="⭐", color="yellow")
        with st.container(key=f"{prefix}_frame_{_ratio_class(gen.aspect_ratio)}_{gen.id}"):
            if gen.is_active:
                with st.container(height=PLACEHOLDER_PX, border=False):
                    ui.run_progress(view)  # phase, elapsed, time left, stuck: as on every page
            elif not (in_player and gen.status == "done"):
                ui.video(gen)
        st.caption(fmt.settings_line(gen))
        if not gen.is_active:  # while it runs, the progress line above says what it is doing
            st.caption(fmt.facts_line(gen))
        st.caption(svc.cost_line(ui.services(), gen, view.expected_s))
        bar = st.container(horizontal=True)
        if gen.status == "done":
            if bar.button(
                "★ Starred" if gen.starred else "☆ Star",
                key=f"{prefix}_star_{gen.id}",
                help="Star the takes you like; the gallery can filter on stars.",
            ):
                _act(svc.set_starred, gen.id, gen.id, not gen.starred)
            if gen.grid_id and gen.winner:
                if bar.button("✖ Not the winner", key=f"{prefix}_unwin_{gen.id}", help="Leave the comparison open."):
                    _act(svc.clear_winner, gen.id, gen.grid_id)
            elif gen.grid_id and bar.button(
                "🏆 Winner",
                key=f"{prefix}_winner_{gen.id}",
                help="The one this comparison picked (one per comparison). It is not starred by this.",
            ):
                _act(svc.mark_winner, gen.id, gen.id)
        with bar:
            ui.promote_button(gen, key=f"{prefix}_promote_{gen.id}")
        if svc.can_retry(gen) and bar.button("↻ Retry", key=f"{prefix}_retry_{gen.id}"):
            _act(svc.retry, gen.id, gen.id)  # a full run, so polling starts again
        if bar.button(
            "✏️ New draft", key=f"{prefix}_draft_{gen.id}", help="Open these exact settings in Create as a new draft."
        ):
            st.switch_page("pages/create.py", query_params={"from": gen.id, "keep": "all"})
        if gen.status == "done":
            ui.collection_picker(ui.services(), [gen.id], key=f"{prefix}_pick_{gen.id}")
        if gen.status == "done" and prefix == "grid":  # a cell's comments (A/B shows them below each take)
            n = svc.comment_counts(ui.services(), [gen.id]).get(gen.id, 0)
            with bar.popover(f"Comments ({n})" if n else "Comments", icon="💬", key=f"grid_comments_{gen.id}"):
                ui.comments(ui.services(), gen, key=f"grid_comments_{gen.id}", player_key=player_key)
        if refused := st.session_state.pop(f"compare_refused_{gen.id}", None):
            st.error(refused, icon="⚠️")


# ---------------------------------------------------------------------- a saved grid


def _tab_player(tab: svc.GridTab, views: dict[str, svc.RunWait], n: int) -> set[str]:
    "Every finished take of the tab in one review player (rows of ratios, by resolution); the ids it plays."
    cells = [(f"{res} · {ratio}", tab.at(ratio, res)) for ratio in tab.aspect_ratios for res in tab.resolutions]
    done = [(label, views[i].gen) for label, i in cells if i in views and views[i].gen.status == "done"]
    if not done:
        return set()
    with st.container(key=f"compare_player_wrap_{n}"):
        ui.commented_player(
            ui.services(), [g for _, g in done], key=f"compare_player_{n}", labels=[lb for lb, _ in done], dense=True
        )
    return {g.id for _, g in done}


def _grid_table(tab: svc.GridTab, views: dict[str, svc.RunWait], n: int) -> None:
    "Resolutions as columns, aspect ratios as rows; on a phone the labels hide and each cell names itself."
    playing = _tab_player(tab, views, n)
    spec = [0.45] + [3] * len(tab.resolutions)
    header = st.columns(spec)
    header[0].container(key=f"compare_axis_{n}_corner")
    for col, res in zip(header[1:], tab.resolutions, strict=False):
        col.container(key=f"compare_axis_{n}_{res}").markdown(f"**{res}**")
    for ratio in tab.aspect_ratios:
        row = st.columns(spec, vertical_alignment="top")
        row[0].container(key=f"compare_axis_{n}_{_ratio_class(ratio)}").markdown(f"**{ratio}**")
        for col, res in zip(row[1:], tab.resolutions, strict=False):
            with col:
                gen_id = tab.at(ratio, res)
                if gen_id is None or gen_id not in views:
                    st.caption("—")
                else:
                    _cell(
                        views[gen_id],
                        prefix="grid",
                        title=f"{res} · {ratio}",
                        in_player=gen_id in playing,
                        player_key=f"compare_player_{n}",
                    )


def _render_grid(views: list[svc.RunWait]) -> None:
    "Overall progress, then one resolution × ratio grid, or one per tab when more axes vary."
    gens = [v.gen for v in views]
    done = sum(g.status == "done" for g in gens)
    failed = sum(svc.can_retry(g) for g in gens)
    text = f"{done} of {len(gens)} cells done" + (f" · {failed} failed" if failed else "")
    st.progress(done / len(gens) if gens else 1.0, text=text)
    by_id = {v.gen.id: v for v in views}
    tabs = svc.grid_layout(gens)
    if len(tabs) == 1:
        _grid_table(tabs[0], by_id, 0)
        return
    first = next((t.prompt for t in tabs if t.prompt is not None), None)
    for n, (shown, tab) in enumerate(zip(st.tabs([t.title for t in tabs]), tabs, strict=False)):
        with shown:
            if tab.prompt is not None:
                ui.show_prompt(tab.prompt)
                if tab.prompt != first and (pair := _variant_pair(gens, tab, first)) is not None:
                    ui.prompt_diff(*pair, labels=("Prompt 1", tab.title.split(" · ")[0]))
            _grid_table(tab, by_id, n)


def _variant_pair(
    gens: list[Generation], tab: svc.GridTab, prompt_1: str | None
) -> tuple[Generation, Generation] | None:
    "A cell of this variant's tab and the first prompt's cell at the same settings (or its first cell)."
    mine = next((g for g in gens if g.prompt == tab.prompt), None)
    if mine is None:
        return None
    same = [g for g in gens if g.prompt == prompt_1]
    twin = next((g for g in same if not diffs.setting_changes(g, mine)), same[0] if same else None)
    return (twin, mine) if twin is not None else None


def _saved_grid(grid_id: str, grid: dict[str, Any] | None, cells: list[Generation]) -> None:
    if grid is None:
        shown = f"“{grid_id}”" if SAFE_ID.fullmatch(grid_id) else "in this link"
        st.error(
            f"There is no saved comparison {shown}. It may have been deleted, or the link is incomplete. "
            "Open one from Saved comparisons below, or start a new one.",
            icon="🔎",
        )
        return
    st.subheader(f"Comparison · {len(cells)} cell{'s' if len(cells) != 1 else ''}")
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
        "🧩 Use these settings for a new comparison",
        key="compare_reuse",
        on_click=_use_settings,
        args=(svc.form_of(grid),),
    )
    actions.button("➕ New comparison", key="compare_new", on_click=st.query_params.clear)
    with actions:
        ui.share_controls(studio, svc.Selection("grid", grid["id"]), key="compare_share")
    # Below the row, not in it: what the picker says (added, or why not) needs the page's width.
    ui.collection_picker(
        studio, [c.id for c in cells], key=f"compare_pick_all_{grid_id}", label="Add the whole comparison"
    )
    ui.export_controls(studio, svc.Selection("grid", grid_id), key="compare_grid", label="Export this comparison")
    ui.live([c.id for c in cells], _render_grid, key=GRID_LIVE_KEY)
    if len(cells) >= 2:
        st.subheader("A/B: two takes side by side")
        names = dict(svc.ab_candidates(cells))
        ids = list(names)
        left, right = st.columns(2)
        a = left.selectbox("Take A", ids, index=0, key="compare_ab_a", format_func=lambda i: names[i])
        b = right.selectbox("Take B", ids, index=1, key="compare_ab_b", format_func=lambda i: names[i])
        if a == b:
            st.warning("Pick two different takes to compare.", icon="↔️")
        else:
            _ab(a, b, key="compare_ab_grid")


def _use_settings(form: svc.GridForm) -> None:
    "Fill the new-comparison form from a saved comparison (a callback, so it runs before the widgets)."
    _fill_form(form)
    st.query_params.clear()


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


def _ab(a_id: str, b_id: str, *, key: str) -> None:
    "Two takes side by side, then every setting with the differing rows highlighted."

    def render(views: list[svc.RunWait]) -> None:
        if len(views) < 2:
            st.error("One of these takes no longer exists: it was deleted from the gallery.", icon="🔎")
            return
        labels = [f"{tag} · {fmt.settings_line(v.gen)}" for tag, v in zip(("A", "B"), views, strict=False)]
        with st.container(key=f"{key}_player_wrap"):
            ui.commented_player(ui.services(), [v.gen for v in views], key=f"{key}_player", labels=labels)
        for col, tag, view in zip(st.columns(2), ("A", "B"), views, strict=False):
            with col:
                _cell(view, prefix=f"{key}_{tag}", title=f"{tag} · {fmt.settings_line(view.gen)}", in_player=True)
                ui.show_prompt(view.gen.prompt)
                ui.comments(ui.services(), view.gen, key=f"{key}_{tag}_comments", player_key=f"{key}_player")
        st.markdown("**Prompt and settings: what differs**")
        ui.prompt_diff(views[0].gen, views[1].gen)
        table = _differences(views[0].gen, views[1].gen)
        different = int((table["Differs"] != "").sum())
        st.markdown(f"**What differs** — {different} of {len(table)} rows, highlighted")
        st.table(
            table.style.apply(lambda row: [DIFF_STYLE if row["Differs"] else ""] * len(row), axis=1), hide_index=True
        )

    # Not followed: the two takes are already watched as part of their comparison (or their own
    # launch), so their ending is said once, by that.
    ui.live([a_id, b_id], render, key=key, follow=False)


def _ab_from_link(studio: svc.Services, a_id: str | None, b_id: str | None) -> None:
    st.subheader("A/B")
    found = {g.id for g in svc.get_many(studio, [gid for gid in (a_id, b_id) if gid])}
    missing = [tag for tag, gid in (("A", a_id), ("B", b_id)) if gid not in found]
    if missing or not a_id or not b_id:
        st.error(
            f"Take {' and '.join(missing)} of this A/B link was not found: it may have been deleted, or the "
            "link is incomplete (it needs both: `/compare?a=…&b=…`).",
            icon="🔎",
        )
        return
    _ab(a_id, b_id, key="compare_ab_link")
    shared = svc.shared_grid(studio, a_id, b_id)
    if shared and st.button("🔀 Open their whole comparison", key="compare_ab_open_grid"):
        st.query_params.from_dict({"grid": shared})
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
st.html(PAGE_CSS)
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
    _saved_grid(grid_param, saved, saved_cells)
st.divider()
_recent(studio, grid_param)
ui.promote_dialog(studio)
