"""Create: write a prompt, choose every Video Generation setting, run it 1–4 times and watch it finish.

Form values live in session state (persisted across page switches). The last run's ids live both in
the session and in the URL (`?jobs=a,b`), so navigating away and back, or refreshing, keeps showing
them. `?from=<id>&keep=all|prompt|settings` opens an earlier generation as a draft, once.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from studio import format as fmt
from studio import services as svc
from studio import ui
from studio.errors import ParamsError, StudioError
from studio.models import (
    ASPECT_RATIOS,
    DEFAULT_ASPECT_RATIO,
    DEFAULT_DURATION,
    DEFAULT_GENERATE_AUDIO,
    DEFAULT_MODEL,
    DEFAULT_RESOLUTION,
    DURATIONS,
    MODELS,
    PROMPT_MAX_CHARS,
    RESOLUTIONS,
    VideoGenerationParams,
)

# Widget keys (tests address widgets by these).
FIELDS = {
    "prompt": "create_prompt",
    "model": "create_model",
    "resolution": "create_resolution",
    "duration": "create_duration",
    "aspect_ratio": "create_aspect_ratio",
    "generate_audio": "create_audio",
}
DEFAULTS = {
    "prompt": "",
    "model": DEFAULT_MODEL,
    "resolution": DEFAULT_RESOLUTION,
    "duration": DEFAULT_DURATION,
    "aspect_ratio": DEFAULT_ASPECT_RATIO,
    "generate_audio": DEFAULT_GENERATE_AUDIO,
}
# selected_context group -> (library kind, widget key, label)
REF_GROUPS = {
    "images": ("image", "create_refs_images", "Images"),
    "videos": ("video", "create_refs_videos", "Videos"),
    "audio": ("audio", "create_refs_audio", "Audio clips"),
}
TAKES_KEY = "create_takes"
JOBS_KEY = "create_jobs"  # ids of the last run (also ?jobs= in the URL)
ERRORS_KEY = "create_errors"  # {where: message}; where is prompt | settings | references | run
NOTICE_KEY = "create_notice"  # (kind, message) about the draft that was opened
UPLOADER_ROUND = "create_uploader_round"  # bumped to empty the uploader once its files are taken
UPLOAD_NOTES = "create_upload_notes"  # (added names, error messages) from the last upload
PRESET_NOTE = "create_preset_note"  # (kind, message) from the last preset action
PRESET_CONFIRM = "create_preset_confirm"  # ("delete" | "replace", name) waiting for a second click
MAX_COLUMNS = 4
VIDEO_HEIGHT_PX = 420


def where(field: str | None) -> str:
    "Which part of the page an error belongs next to, from ParamsError.field."
    head = (field or "").split(".")[0]
    if head == "prompt":
        return "prompt"
    if head in ("selected_context", "references"):
        return "references"
    if head in FIELDS:
        return "settings"
    return "run"


def init_state() -> None:
    "Defaults for every form widget, set once per session (widgets then take them from the state)."
    state = st.session_state
    for name, key in FIELDS.items():
        state.setdefault(key, DEFAULTS[name])
    for _, key, _ in REF_GROUPS.values():
        state.setdefault(key, [])
    state.setdefault(TAKES_KEY, 1)
    state.setdefault(UPLOADER_ROUND, 0)
    state.setdefault(ERRORS_KEY, {})


def form_values() -> dict[str, Any]:
    "The node params as the form holds them now."
    state = st.session_state
    values = {name: state[key] for name, key in FIELDS.items()}
    values["selected_context"] = {group: list(state[key]) for group, (_, key, _) in REF_GROUPS.items()}
    return values


def fill_form(values: dict[str, Any]) -> None:
    "Put node params into the form; fields not given keep what the form has."
    state = st.session_state
    for name, key in FIELDS.items():
        if name in values:
            state[key] = values[name]
    context = values.get("selected_context")
    if isinstance(context, dict):
        for group, (_, key, _) in REF_GROUPS.items():
            state[key] = list(context.get(group, []))


def reset_form() -> None:
    fill_form({**DEFAULTS, "selected_context": {}})


# ---------------------------------------------------------------------- draft from ?from=&keep=


def safe(text: str) -> str:
    "A value from the URL, quoted in a message only if it is plain (messages render markdown)."
    return text if text.isalnum() and len(text) <= 40 else "given in the link"


def restore_last_run(studio: svc.Services) -> None:
    "After a browser refresh (a new session) on ?jobs=..., the form shows what that run asked for."
    ids = [i for i in (st.query_params.get("jobs") or "").split(",") if i.strip()]
    gens = svc.get_many(studio, ids) if ids and not st.query_params.get("from") else []
    if gens:
        fill_form(svc.draft_from(gens[0], "all"))
        st.session_state[TAKES_KEY] = max(1, min(len(gens), svc.MAX_TAKES))


def open_draft(studio: svc.Services) -> None:
    "Read ?from=<id>&keep=... once: fill the form, say what happened, and drop them from the URL."
    src = st.query_params.get("from")
    if not src:
        return
    keep = st.query_params.get("keep") or "all"
    del st.query_params["from"]
    if "keep" in st.query_params:
        del st.query_params["keep"]
    gen = svc.get(studio, src)
    if gen is None:
        reset_form()
        st.session_state[NOTICE_KEY] = (
            "error",
            f"There is no generation with id “{safe(src)}”, so the form starts empty.",
        )
        return
    try:
        values = svc.draft_from(gen, keep)
    except ParamsError:
        reset_form()
        st.session_state[NOTICE_KEY] = (
            "error",
            f"“{safe(keep)}” is not a way to open a draft (use {', '.join(svc.DRAFT_KEEP)}), so the form starts empty.",
        )
        return
    fill_form(values)
    what = {"all": "its prompt and settings", "prompt": "its prompt", "settings": "its settings (not the prompt)"}[keep]
    st.session_state[NOTICE_KEY] = (
        "success",
        f"Draft opened from generation {gen.id} with {what}. Change anything, then press Run.",
    )
    st.session_state[ERRORS_KEY] = {}


# ---------------------------------------------------------------------- callbacks


def run_clicked() -> None:
    "Queue the takes, or put the reason next to the field; nothing is submitted on bad input."
    studio = ui.services()
    state = st.session_state
    state[ERRORS_KEY] = {}
    values = form_values()
    try:
        svc.check_reference_counts(values["selected_context"])
        ids = svc.generate(studio, values, takes=int(state[TAKES_KEY]))
    except StudioError as err:
        state[ERRORS_KEY] = {where(getattr(err, "field", None)): str(err)}
        return
    state[JOBS_KEY] = ids
    state[NOTICE_KEY] = None
    st.query_params["jobs"] = ",".join(ids)
    st.toast(f"Started {len(ids)} generation{'s' if len(ids) > 1 else ''}", icon="🎬")


def take_uploads() -> None:
    "Check each new file (type, size, count) before uploading it once into the library, then select it."
    studio = ui.services()
    state = st.session_state
    files = state.get(uploader_key()) or []
    added: list[str] = []
    problems: list[str] = []
    for file in files:
        try:
            kind = svc.check_reference(file.name, file.size)
        except ParamsError as err:
            problems.append(str(err))
            continue
        group = next(g for g, (k, _, _) in REF_GROUPS.items() if k == kind)
        key = REF_GROUPS[group][1]
        try:
            ref = svc.upload_reference(studio, file.name, file.getvalue())
        except StudioError as err:
            problems.append(f"{file.name} could not be uploaded: {err}")
            continue
        added.append(ref.filename)
        chosen = list(state[key])
        if ref.upload_id in chosen:
            continue
        try:
            svc.check_reference_counts({group: [*chosen, ref.upload_id]})
        except ParamsError as err:
            problems.append(f"{ref.filename} is in the library but not selected. {err}")
            continue
        state[key] = [*chosen, ref.upload_id]
    state[UPLOAD_NOTES] = (added, problems)
    state[UPLOADER_ROUND] += 1  # a new key empties the uploader: the files now live in the library


def preset_values() -> dict[str, Any]:
    state = st.session_state
    values = form_values()
    if not state.get("create_preset_with_prompt"):
        values.pop("prompt")
    if not state.get("create_preset_with_refs"):
        values.pop("selected_context")
    return values


def save_preset_clicked() -> None:
    studio = ui.services()
    state = st.session_state
    name = (state.get("create_preset_name") or "").strip()
    exists = name in {p.name for p in svc.presets(studio)}
    if exists and state.get(PRESET_CONFIRM) != ("replace", name):
        state[PRESET_CONFIRM] = ("replace", name)
        state[PRESET_NOTE] = (
            "warning",
            f"A preset named “{ui.plain(name)}” already exists. Press Save again to replace it.",
        )
        return
    state[PRESET_CONFIRM] = None
    try:
        svc.save_preset(studio, name, preset_values())
    except StudioError as err:
        state[PRESET_NOTE] = ("error", ui.plain(err))
        return
    state[PRESET_NOTE] = ("success", f"Saved preset “{ui.plain(name)}”.")
    state["create_preset_pick"] = name


def load_preset_clicked() -> None:
    studio = ui.services()
    state = st.session_state
    name = state.get("create_preset_pick")
    try:
        values = svc.load_preset(studio, name)
    except ParamsError as err:
        state[PRESET_NOTE] = ("error", ui.plain(err))
        return
    fill_form(values)
    state[ERRORS_KEY] = {}
    state[PRESET_NOTE] = ("success", f"Loaded preset “{ui.plain(name)}”.")


def delete_preset_clicked(confirmed: bool) -> None:
    studio = ui.services()
    state = st.session_state
    name = state.get("create_preset_pick")
    if not name:
        state[PRESET_NOTE] = ("error", "Choose a saved preset to delete.")
        return
    if not confirmed:
        state[PRESET_CONFIRM] = ("delete", name)
        state[PRESET_NOTE] = None
        return
    state[PRESET_CONFIRM] = None
    try:
        svc.delete_preset(studio, name)
    except StudioError as err:
        state[PRESET_NOTE] = ("error", ui.plain(err))
        return
    state["create_preset_pick"] = None
    state[PRESET_NOTE] = ("success", f"Deleted preset “{ui.plain(name)}”.")


def cancel_confirm() -> None:
    st.session_state[PRESET_CONFIRM] = None


def clear_results() -> None:
    st.session_state[JOBS_KEY] = []
    if "jobs" in st.query_params:
        del st.query_params["jobs"]


# ---------------------------------------------------------------------- sections


def uploader_key() -> str:
    return f"create_ref_upload_{st.session_state[UPLOADER_ROUND]}"


def field_error(name: str) -> None:
    message = st.session_state[ERRORS_KEY].get(name)
    if message:
        st.error(message, icon="⚠️")


def note(value: tuple[str, str] | None) -> None:
    if value:
        kind, message = value
        getattr(st, kind)(message)


def presets_section(studio: svc.Services) -> None:
    state = st.session_state
    saved = [p.name for p in svc.presets(studio)]
    if state.get("create_preset_pick") not in saved:
        state["create_preset_pick"] = None
    with st.expander(f"Presets: reuse saved settings ({len(saved)} saved)", expanded=bool(state.get(PRESET_NOTE))):
        left, right = st.columns(2, gap="large")
        with left:
            st.selectbox(
                "Saved presets",
                saved,
                index=None,
                key="create_preset_pick",
                placeholder="Choose a preset" if saved else "No presets yet",
            )
            b1, b2 = st.columns(2)
            b1.button(
                "Load into the form",
                key="create_preset_load",
                on_click=load_preset_clicked,
                disabled=not saved,
                width="stretch",
            )
            b2.button(
                "Delete…",
                key="create_preset_delete",
                on_click=delete_preset_clicked,
                args=(False,),
                disabled=not saved,
                width="stretch",
            )
            confirm = state.get(PRESET_CONFIRM)
            if confirm and confirm[0] == "delete":
                st.warning(f"Delete preset “{ui.plain(confirm[1])}”? This can't be undone.")
                c1, c2 = st.columns(2)
                c1.button(
                    "Yes, delete it",
                    key="create_preset_delete_confirm",
                    on_click=delete_preset_clicked,
                    args=(True,),
                    type="primary",
                    width="stretch",
                )
                c2.button("Keep it", key="create_preset_delete_cancel", on_click=cancel_confirm, width="stretch")
        with right:
            st.text_input(
                "Save the current settings as",
                key="create_preset_name",
                placeholder="e.g. Vertical social, 480p",
                max_chars=svc.MAX_PRESET_NAME_CHARS,
            )
            st.checkbox(
                "Include the prompt",
                key="create_preset_with_prompt",
                help="Off: the preset keeps only the settings, so it works with any prompt.",
            )
            st.checkbox("Include the selected references", key="create_preset_with_refs")
            st.button("Save preset", key="create_preset_save", on_click=save_preset_clicked)
        note(state.get(PRESET_NOTE))


def prompt_section() -> None:
    st.text_area(
        "Prompt: describe the shot",
        key=FIELDS["prompt"],
        height=140,
        persist_state="session",
        placeholder="A paper boat drifts down a rainy street at dusk, neon reflections, slow dolly-in",
        help="Plain text. Describe the subject, action, camera and mood. Press Ctrl+Enter or click "
        "outside the box to update the character count.",
    )
    length = len(st.session_state[FIELDS["prompt"]] or "")
    over = length > PROMPT_MAX_CHARS
    st.caption(
        f"{'🔴 ' if over else ''}{length:,} / {PROMPT_MAX_CHARS:,} characters"
        + (f" — {length - PROMPT_MAX_CHARS:,} over the limit" if over else "")
    )
    field_error("prompt")


def settings_section() -> None:
    cols = st.columns([1, 1.7, 1.2, 1.3, 1.3], gap="medium", vertical_alignment="bottom")
    cols[0].selectbox("Model", MODELS, key=FIELDS["model"], persist_state="session")
    cols[1].radio(
        "Resolution",
        RESOLUTIONS,
        key=FIELDS["resolution"],
        horizontal=True,
        persist_state="session",
        help="Higher resolutions take longer.",
    )
    cols[2].selectbox(
        "Duration",
        DURATIONS,
        key=FIELDS["duration"],
        format_func=fmt.duration_name,
        persist_state="session",
        help="4 to 15 seconds, or Auto to let the model choose.",
    )
    cols[3].selectbox(
        "Aspect ratio",
        ASPECT_RATIOS,
        key=FIELDS["aspect_ratio"],
        format_func=lambda v: fmt.ASPECT_NAMES.get(v, v),
        persist_state="session",
    )
    cols[4].toggle("Generate audio", key=FIELDS["generate_audio"], persist_state="session")
    field_error("settings")


def reference_label(ref) -> str:
    return (
        f"{ref.filename} ({ref.size / 1024:,.1f} KB)"
        if ref.size < 1024**2
        else f"{ref.filename} ({ref.size / 1024**2:,.1f} MB)"
    )


def preview(ref) -> None:
    url = ui.media_url(ref.local_name)
    if url is None:
        st.text(ref.filename)
    elif ref.kind == "image":
        st.image(url, caption=ref.filename, width=160)
    elif ref.kind == "video":
        st.video(url, muted=True)
        st.text(ref.filename)
    else:
        st.audio(url)
        st.text(ref.filename)


def references_section(studio: svc.Services) -> None:
    state = st.session_state
    chosen = sum(len(state[key]) for _, key, _ in REF_GROUPS.values())
    with st.expander(
        f"References: images, videos and audio that guide the video ({chosen} selected)",
        expanded=bool(chosen or state[ERRORS_KEY].get("references") or state.get(UPLOAD_NOTES)),
    ):
        st.file_uploader(
            "Add files to the reference library",
            accept_multiple_files=True,
            key=uploader_key(),
            on_change=take_uploads,
            help="Images (PNG, JPG, GIF, WEBP, SVG) up to 50 MB, videos (MP4, MOV, WEBM, …) and audio "
            f"(MP3, WAV, M4A, …) up to {svc.BROWSER_UPLOAD_MAX_MB:,} MB. Each file is uploaded once "
            "and kept for later.",
        )
        added, problems = state.get(UPLOAD_NOTES) or ([], [])
        if added:
            st.success(f"Added to the library and selected: {ui.plain(', '.join(added))}")
        for problem in problems:  # file names and Mosaic's words: shown as written
            st.error(ui.plain(problem), icon="⚠️")
        field_error("references")
        cols = st.columns(3, gap="medium")
        for col, (_group, (kind, key, label)) in zip(cols, REF_GROUPS.items(), strict=False):
            library = {r.upload_id: r for r in svc.references(studio, kind)}
            options = list(library) + [i for i in state[key] if i not in library]
            limit = svc.REFERENCE_MAX_COUNT[kind]
            with col:
                st.multiselect(
                    f"{label} (up to {limit})",
                    options,
                    key=key,
                    max_selections=limit,
                    persist_state="session",
                    format_func=lambda i, lib=library: (
                        reference_label(lib[i]) if i in lib else f"upload {i} (not in this library)"
                    ),
                    placeholder="Pick from the library" if library else "Nothing in the library yet",
                )
                for upload_id in state[key]:
                    if upload_id in library:
                        preview(library[upload_id])


def estimate_text(studio: svc.Services, values: dict[str, Any], takes: int) -> str:
    try:
        params = VideoGenerationParams.parse({**values, "prompt": "estimate", "selected_context": {}})
    except ParamsError:
        return "Fix the settings above to see what this will request."
    est = svc.estimate(studio, [params] * takes)
    text = est.describe()
    if est.credits is None:
        text += (
            " · no credits used"
            if studio.mode == "simulator"
            else " · credit cost unknown (set STUDIO_CREDITS_PER_SECOND to estimate it)"
        )
    return text


def run_section(studio: svc.Services) -> None:
    with st.container(border=True, key="create_run_box"):
        c1, c2, c3 = st.columns([1, 4, 1.3], vertical_alignment="center")
        c1.number_input(
            "Takes",
            min_value=1,
            max_value=svc.MAX_TAKES,
            step=1,
            key=TAKES_KEY,
            persist_state="session",
            help=f"Run the same settings 1 to {svc.MAX_TAKES} times at once and keep the best.",
        )
        takes = int(st.session_state[TAKES_KEY])
        with c2:
            st.markdown(f"**This will request:** {estimate_text(studio, form_values(), takes)}")
            where_to = (
                "🧪 the local simulator (no API key; free, made-up videos)"
                if studio.mode == "simulator"
                else "🔑 the Mosaic API (uses credits)"
            )
            st.caption(f"Runs on {where_to}")
        c3.button("▶ Run", key="create_run", type="primary", on_click=run_clicked, width="stretch")
        field_error("run")


# ---------------------------------------------------------------------- results


def job_ids(studio: svc.Services) -> list[str]:
    "The last run's ids: from the session, else from ?jobs=, kept in both; unknown ids dropped."
    state = st.session_state
    ids = list(state.get(JOBS_KEY) or [])
    if not ids:
        ids = [i for i in (st.query_params.get("jobs") or "").split(",") if i.strip()]
    if not ids:
        return []
    found = [g.id for g in svc.get_many(studio, ids)]
    if not found:
        st.info("The generations in this link no longer exist. Start a new one above.")
    state[JOBS_KEY] = found
    if found and st.query_params.get("jobs") != ",".join(found):
        st.query_params["jobs"] = ",".join(found)
    elif not found and "jobs" in st.query_params:
        del st.query_params["jobs"]
    return found


def render_jobs(views: list[svc.JobView]) -> None:
    cols = st.columns(max(2, min(len(views), MAX_COLUMNS)), gap="medium")
    for i, view in enumerate(views):
        gen = view.gen
        with cols[i % len(cols)].container(border=True, key=f"create_job_{gen.id}"):
            title = gen.cell_label.capitalize() if gen.cell_label else "Result"
            st.markdown(f"**{ui.plain(title)}** · {fmt.settings_line(gen)}")
            if gen.is_active:
                st.progress(view.progress, text=f"{fmt.status_label(gen.status)} · {view.progress:.0%}")
                if view.last_error:
                    st.caption(f"Retrying after a hiccup: {ui.plain(view.last_error)}")
                if svc.can_cancel(gen) and st.button("Cancel", key=f"create_cancel_{gen.id}"):
                    ui.act(svc.cancel, gen.id)
            else:
                ui.video(gen)
                if gen.status == "done":
                    st.caption(fmt.facts_line(gen))
                    st.page_link("pages/gallery.py", label="Open in the Gallery", icon="🖼️", query_params={"id": gen.id})
                elif st.button("Retry", key=f"create_retry_{gen.id}", type="primary"):
                    ui.act(svc.retry, gen.id)


def results_section(studio: svc.Services) -> None:
    ids = job_ids(studio)
    if not ids:
        return
    head, button = st.columns([5, 1], vertical_alignment="bottom")
    head.subheader(f"Latest run: {len(ids)} take{'s' if len(ids) > 1 else ''}")
    button.button("Clear results", key="create_clear_results", on_click=clear_results, width="stretch")
    first = svc.get(studio, ids[0])
    if first is not None:
        ui.show_prompt(first.prompt)
    ui.letterbox(VIDEO_HEIGHT_PX)  # vertical and wide results line up without a 9:16 take filling the screen
    ui.live(ids, render_jobs, key="create_live")


# ---------------------------------------------------------------------- page

studio = ui.services()
fresh_session = FIELDS["prompt"] not in st.session_state
init_state()
if fresh_session:
    restore_last_run(studio)
open_draft(studio)

st.title("Create")
st.caption("Write what you want to see, pick the settings, and press **Run**. Every result is saved to the Gallery.")
note(st.session_state.get(NOTICE_KEY))

with st.container(key="create_presets_box"):
    presets_section(studio)
with st.container(key="create_prompt_box"):
    prompt_section()
with st.container(key="create_settings_box"):
    settings_section()
with st.container(key="create_refs_box"):
    references_section(studio)
run_section(studio)
with st.container(key="create_results"):
    results_section(studio)
