"""Create: write a prompt, choose every Video Generation setting, run it 1–4 times and watch it finish.

Form values live in session state (persisted across page switches). The last run's ids live both in
the session and in the URL (`?jobs=a,b`), so navigating away and back, or refreshing, keeps showing
them. `?from=<id>&keep=all|prompt|settings` opens an earlier generation as a draft, once.

Run launches once per click: the button carries a launch token (in its key and its callback's
args) that the store keeps with the rows, so a double click or a resent click returns the takes
already made. The token is replaced only after the page has been drawn with it, so a second click
on the button as drawn is always the same launch.
"""

from __future__ import annotations

import uuid
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
    NodeSettings,
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
LIVE_KEY = "create_live"  # the runs on screen, live, and watched by the sidebar under this name
ERRORS_KEY = "create_errors"  # {where: message}; where is prompt | settings | references | run
NOTICE_KEY = "create_notice"  # (kind, message) about the draft that was opened
UPLOADER_ROUND = "create_uploader_round"  # bumped to empty the uploader once its files are taken
UPLOAD_NOTES = "create_upload_notes"  # (notes, refusals) from the last upload
REFUSED_SEEN = "create_refused_seen"  # Run was pressed once with refusals showing: the next press runs
REFUSED_MESSAGE = (
    "Nothing was run: the files refused above are not among the references. Press Run again to go ahead without them."
)
PRESET_NOTE = "create_preset_note"  # (kind, message) from the last preset action
PRESET_CONFIRM = "create_preset_confirm"  # ("delete" | "replace", name) waiting for a second click
LAUNCH_TOKEN = "create_launch_token"  # the launch key the Run button carries now
LAUNCHED_TOKEN = "create_launched_token"  # the last token that launched; replaced once drawn
RUN_ANYWAY = "create_run_anyway"  # confirmation to run although Mosaic refused the key
MAX_VIDEO_VH = 75  # a tall take never fills more than this much of the window


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
    state.setdefault(LAUNCH_TOKEN, uuid.uuid4().hex)


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


def restore_last_run(studio: svc.Services) -> None:
    "After a browser refresh (a new session) on ?jobs=..., the form shows what that run asked for."
    if st.query_params.get("from"):
        return
    found = svc.last_run_draft(studio, (st.query_params.get("jobs") or "").split(","))
    if found is not None:
        values, takes = found
        fill_form(values)
        st.session_state[TAKES_KEY] = takes


def open_draft(studio: svc.Services) -> None:
    "Read ?from=<id>&keep=... once: fill the form, say what happened, and drop them from the URL."
    src = st.query_params.get("from")
    if not src:
        return
    draft = svc.open_draft(studio, src, st.query_params.get("keep"))
    del st.query_params["from"]
    if "keep" in st.query_params:
        del st.query_params["keep"]
    if draft.values is None:
        reset_form()
    else:
        fill_form(draft.values)
        st.session_state[ERRORS_KEY] = {}
    st.session_state[NOTICE_KEY] = (draft.kind, draft.message)


# ---------------------------------------------------------------------- callbacks


def run_clicked(token: str) -> None:
    "Queue the takes once for this click's token, or put the reason next to the field."
    studio = ui.services()
    state = st.session_state
    state[ERRORS_KEY] = {}
    _notes, refused = state.get(UPLOAD_NOTES) or ([], [])
    if refused and not state.get(REFUSED_SEEN):
        state[REFUSED_SEEN] = True
        state[ERRORS_KEY] = {"references": REFUSED_MESSAGE}
        return
    state[UPLOAD_NOTES] = None  # the upload notice belonged to the form before this run
    try:
        ids = svc.generate(studio, form_values(), takes=int(state[TAKES_KEY]), launch_key=token, author=ui.who())
    except StudioError as err:
        state[ERRORS_KEY] = {where(getattr(err, "field", None)): str(err)}
        return
    again = state.get(LAUNCHED_TOKEN) == token
    state[LAUNCHED_TOKEN] = token
    state[JOBS_KEY] = ids
    ui.watch_runs(LIVE_KEY, ids)  # watched from the click on, even if the person leaves before the page redraws
    state[NOTICE_KEY] = None
    st.query_params["jobs"] = ",".join(ids)
    if not again:
        st.toast(f"Started {len(ids)} generation{'s' if len(ids) > 1 else ''}", icon="🎬")


def take_uploads() -> None:
    "Hand the new files to the library (checked by content, uploaded once, selected), then empty the uploader."
    state = st.session_state
    files = [(f.name, f.getvalue()) for f in state.get(uploader_key()) or []]
    selected = {group: list(state[key]) for group, (_, key, _) in REF_GROUPS.items()}
    result = svc.add_references(ui.services(), files, selected)
    for group, (_, key, _) in REF_GROUPS.items():
        state[key] = result.selected[group]
    state[UPLOAD_NOTES] = (result.notes, result.errors)
    state[REFUSED_SEEN] = False
    state[UPLOADER_ROUND] += 1  # a new key empties the uploader: the files now live in the library


def rotate_launch_token() -> None:
    "A new token once the page has been drawn with the one that launched: the next click is a new launch."
    state = st.session_state
    if LAUNCH_TOKEN not in state or state.get(LAUNCHED_TOKEN) == state[LAUNCH_TOKEN]:
        state[LAUNCH_TOKEN] = uuid.uuid4().hex


def recheck_key() -> None:
    svc.api_status(ui.services(), refresh=True)


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
    name = state.get("create_preset_pick") or ""  # nothing picked: load_preset says to choose one
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
    return f"{ref.filename} ({fmt.size(ref.size)})"


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
            type=svc.UPLOAD_TYPES,
            accept_multiple_files=True,
            key=uploader_key(),
            on_change=take_uploads,
            help="Images (JPEG, PNG, WebP, BMP, TIFF, GIF; 300–6000 px a side, under 30 MB), videos "
            "(MP4 or MOV, H.264/H.265, 2–15 s, up to 50 MB) and audio (WAV or MP3, 2–15 s, up to 15 MB). "
            "Each file is checked by its content, uploaded once and kept for later.",
        )
        notes, problems = state.get(UPLOAD_NOTES) or ([], [])
        for text in notes:  # file names: shown as written
            st.success(ui.plain(text))
        for problem in problems:
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
        params = NodeSettings.parse({k: v for k, v in values.items() if k != "prompt"})
    except ParamsError:
        return "Fix the settings above to see what this will request."
    text = svc.estimate(studio, [params] * takes).describe()
    if studio.settings.credits_per_second is None:
        text += (
            " · no credits used"
            if studio.mode == "simulator"
            else " · credits unknown (set STUDIO_CREDITS_PER_SECOND to estimate them)"
        )
    return text


def key_warning(studio: svc.Services) -> bool:
    "Warn above Run when Mosaic refused the key at the last check; True while Run waits for a confirmation."
    status = svc.api_status(studio)
    if status["key_ok"] is not False:
        return False
    st.warning(
        f"**Mosaic did not accept the API key**, so a run would fail at once: {ui.plain(status['error'] or '')}. "
        "Check MOSAIC_API_KEY (the Status page shows the details), then check again.",
        icon="🔑",
    )
    a, b = st.columns([1, 2], vertical_alignment="center")
    a.button("Check the key again", key="create_key_recheck", on_click=recheck_key)
    b.checkbox("Run anyway", key=RUN_ANYWAY, help="Mosaic may have been unreachable rather than refusing the key.")
    return not st.session_state.get(RUN_ANYWAY)


def run_section(studio: svc.Services) -> None:
    with st.container(border=True, key="create_run_box"):
        blocked = key_warning(studio)
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
        token = st.session_state[LAUNCH_TOKEN]
        with c3.container(key="create_run"):
            st.button(
                "▶ Run",
                key=f"create_run_{token}",
                type="primary",
                on_click=run_clicked,
                args=(token,),
                disabled=blocked,
                width="stretch",
            )
        field_error("run")


# ---------------------------------------------------------------------- results


def job_ids(studio: svc.Services) -> list[str]:
    "The last run's ids: from the session, else from ?jobs=, kept in both; unknown ids dropped."
    state = st.session_state
    ids = list(state.get(JOBS_KEY) or []) or (st.query_params.get("jobs") or "").split(",")
    found = svc.existing(studio, ids)
    if any(i.strip() for i in ids) and not found:
        st.info("The generations in this link no longer exist. Start a new one above.")
    state[JOBS_KEY] = found
    if found and st.query_params.get("jobs") != ",".join(found):
        st.query_params["jobs"] = ",".join(found)
    elif not found and "jobs" in st.query_params:
        del st.query_params["jobs"]
    return found


def take_boxes(layout: svc.TakeLayout) -> None:
    "Each take's video at its own shape: full column width, natural height, never taller than the window."
    st.html(
        f"<style>.st-key-create_results video {{ aspect-ratio: {layout.ratio:.4f}; width: 100% !important; "
        f"height: auto !important; max-height: {MAX_VIDEO_VH}vh; object-fit: contain; background: #111; }}</style>"
    )


def render_jobs(views: list[svc.RunWait]) -> None:
    layout = svc.take_layout([v.gen for v in views])
    take_boxes(layout)
    cols: list[Any] = []
    for i, view in enumerate(views):
        if i % layout.columns == 0:  # a row at a time, so takes read (and stack on a phone) in order
            cols = st.columns(layout.columns, gap="medium")
        gen = view.gen
        with cols[i % layout.columns].container(border=True, key=f"create_job_{gen.id}"):
            title = gen.cell_label.capitalize() if gen.cell_label else "Result"
            st.markdown(f"**{ui.plain(title)}** · {fmt.settings_line(gen)}")
            if gen.is_active:
                ui.run_progress(view)  # phase, elapsed, time left, stuck: as on every page
                if svc.can_cancel(gen) and st.button("Cancel", key=f"create_cancel_{gen.id}"):
                    ui.act(svc.cancel, gen.id)
            else:
                ui.video(gen)
                if gen.status == "done":
                    st.caption(fmt.facts_line(gen))
                    st.page_link("pages/gallery.py", label="Open in the Gallery", icon="🖼️", query_params={"id": gen.id})
                    ui.collection_picker(ui.services(), [gen.id], key=f"create_pick_{gen.id}")
                elif st.button("Retry", key=f"create_retry_{gen.id}", type="primary"):
                    ui.act(svc.retry, gen.id)
            st.caption(svc.cost_line(ui.services(), gen, view.expected_s))  # the estimate, then what it cost


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
    ui.live(ids, render_jobs, key=LIVE_KEY)


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
rotate_launch_token()
