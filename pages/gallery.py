"""Gallery: every generation as a thumbnail card, newest first, 24 to a page; a comparison is one
stacked card that opens into its cells (`?grid_id=`). The search box and filters live in the URL
(bound widgets), so a filtered view can be bookmarked or sent; `?id=<generation>` opens one
generation's detail view in a dialog over the grid. Cards can be ticked and acted on together
(the bulk bar); a thumbnail plays a short muted preview while the pointer is over it.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import streamlit as st

from studio import format as fmt
from studio import services as svc
from studio import ui
from studio.errors import StudioError
from studio.models import ASPECT_RATIOS, DURATIONS, MODELS, RESOLUTIONS, STATUSES, Generation

COLUMNS = 4
THUMB_HEIGHT_PX = 150
DETAIL_VIDEO_PX = 420
PROMPT_PREVIEW_CHARS = 90
WHOSE_WIDTH_PX = 320  # the whose-takes box: names are short, a full-width box reads as a second search
DETAIL_PARAM = svc.DETAIL_PARAM
PAGE_PARAM = svc.PAGE_PARAM
NOTICES_KEY = "gallery_url_notices"
DISMISSED_KEY = "gallery_url_notices_dismissed"
SELECTED_KEY = "gallery_selected"  # session: the ticked takes' ids (a dict used as an ordered set)
PICKED_KEY = "gallery_pick_changed"  # session: a tick changed inside the cards' fragment
BULK_NOTE_KEY = "gallery_bulk_note"  # session: what the last bulk action did, shown once
PICK_PREFIX = "gallery_pick_"
STACK_OFFSET_PX = 5  # how far each sheet behind a stacked card shows
# Hover previews: thumbnails are <video preload="none" poster=...>, so nothing loads until the pointer
# is over one. One script for the page, listening on the document (mouseenter does not bubble, but
# it does pass through the capture phase), so 24 cards cost no script each.
HOVER_JS = """<script>(() => {
  if (window.__studioHover) return;
  window.__studioHover = true;
  const doc = window.parent?.document || document;
  const isThumb = (el) => el instanceof Element && el.matches("video.studio-hover");
  doc.addEventListener("mouseenter", (e) => {
    if (!isThumb(e.target)) return;
    const v = e.target; v.muted = true; v.playsInline = true;
    v.play().catch(() => {});
  }, true);
  doc.addEventListener("mouseleave", (e) => {
    if (!isThumb(e.target)) return;
    const v = e.target; v.pause(); v.currentTime = 0; v.load();  // back to the poster
  }, true);
})();</script>"""
COLLECTION_SYNCED_KEY = "gallery_collection_in_url"  # the ?collection= value the filter last saw or wrote
KEEP_LABELS = {"all": "Prompt and all settings", "prompt": "Prompt only", "settings": "All settings, new prompt"}
FLOW_LABELS = {"one_call": "The studio's way (one call per video)", "three_call": "The documented three calls"}


def _clear_filters() -> None:
    "Back to the whole gallery (bound widgets change through session_state, never st.query_params)."
    cleared: dict[str, object] = {key: [] for key in svc.FILTER_CHOICES} | {
        "audio": None,
        "stage": None,
        "since": None,
        "until": None,
        "starred": False,
        svc.COLLECTION_FILTER: None,
    }
    st.session_state.update(cleared | dict.fromkeys(svc.TEXT_PARAMS, "") | {svc.WHOSE_PARAM: svc.WHOSE_EVERYONE})


# ---------------------------------------------------------------------- search and filters


def filters() -> list[str]:
    """Search box and filters, each bound to its URL parameter. Returns the filters the link asks
    for that the gallery cannot apply (an unknown collection or person): what it shows is then more
    than the link meant, so it must not be shared or exported as that search."""
    st.text_input(
        "Search",
        key="q",
        bind="query-params",
        type="search",
        live=True,
        placeholder="Words from prompts, notes or tags, e.g. zebra neon",
        help="Every word must appear; each word also matches longer words (neon → neons).",
    )
    unapplied = whose()
    url = {k: st.query_params.get_all(k) for k in st.query_params}
    on = svc.active_filters(svc.gallery_query(st.session_state, me=ui.who()), url)
    label = f"Filters · {len(on)} on: {', '.join(on)}" if on else "Filters"
    # Folded by default: on a phone the open panel fills two screens before the first card.
    with st.expander(label, icon="🎛️", key="gallery_filters"):
        row = st.columns(4)
        row[0].multiselect(
            "Resolution", RESOLUTIONS, key="resolution", bind="query-params", placeholder="Any", wrap=True
        )
        row[1].multiselect(
            "Aspect ratio", ASPECT_RATIOS, key="aspect_ratio", bind="query-params", placeholder="Any", wrap=True
        )
        row[2].multiselect(
            "Duration (seconds)", DURATIONS, key="duration", bind="query-params", placeholder="Any", wrap=True
        )
        row[3].multiselect("Status", STATUSES, key="status", bind="query-params", placeholder="Any", wrap=True)
        row = st.columns(4)
        row[0].selectbox(
            "Audio", svc.GALLERY_AUDIO_CHOICES, index=None, key="audio", bind="query-params", placeholder="Any"
        )
        row[1].multiselect("Model", MODELS, key="model", bind="query-params", placeholder="Any", wrap=True)
        row[2].text_input(
            "Author", key="author", bind="query-params", placeholder="Any", help="Exact names, separated by commas."
        )
        row[3].text_input(
            "Comparison id",
            key="grid_id",
            bind="query-params",
            placeholder="Any",
            help="Only the cells of one comparison (its id is in a cell's details).",
        )
        row = st.columns(4, vertical_alignment="bottom")
        row[0].date_input("From", value=None, key="since", bind="query-params", help="Created on or after (UTC).")
        row[1].date_input("To", value=None, key="until", bind="query-params", help="Created on or before (UTC).")
        row[2].checkbox("Starred only", key="starred", bind="query-params")
        row[3].button("Clear filters", key="gallery_clear", on_click=_clear_filters, width="stretch")
        row = st.columns(4)
        known = collection_filter(row=row)
        row[1].selectbox(
            "Drafts / finals",
            svc.STAGE_CHOICES,
            index=None,
            key="stage",
            bind="query-params",
            placeholder="Any",
            help="drafts: takes promoted to a final; finals: takes promoted from a draft.",
        )
    if (wanted := st.query_params.get(svc.COLLECTION_FILTER)) and wanted not in known:
        st.warning(
            f"There is no collection “{ui.plain(wanted)}” (deleted?), so the gallery shows everything.", icon="📚"
        )
        unapplied.append("collection")
    since, until = st.session_state.get("since"), st.session_state.get("until")
    if since and until and since > until:
        st.warning(f"The From date ({since}) is after the To date ({until}), so nothing can match.", icon="📅")
    return unapplied


def whose() -> list[str]:
    """Whose takes: everyone's, mine, or one person's (bound to ?whose=, like the filters). Returns
    ["whose"] when the link names somebody who has made nothing here (everyone's are shown)."""
    me = ui.who()
    people = [a for a in svc.authors(ui.services()) if a not in (svc.WHOSE_EVERYONE, svc.WHOSE_MINE)]
    wanted = st.query_params.get(svc.WHOSE_PARAM)
    if wanted and wanted not in (svc.WHOSE_EVERYONE, svc.WHOSE_MINE, *people):
        st.info(f"Nobody called “{ui.plain(wanted)}” has made anything here yet: showing everyone's.", icon="👥")
        unapplied = ["whose"]
    else:
        unapplied = []
    # The options are shown as they are: a bound widget puts the shown text in the link (?whose=mine).
    st.selectbox(
        "Whose takes",
        [svc.WHOSE_EVERYONE, svc.WHOSE_MINE, *people],
        key=svc.WHOSE_PARAM,
        bind="query-params",
        width=WHOSE_WIDTH_PX,
        help=f"mine: what you made (signed “{me}”); or one person's."
        if me
        else "mine: what you made; or one person's.",
    )
    return unapplied


def collection_filter(row) -> set[str]:
    """Only the takes of one collection, still newest first; returns the ids it offers.

    The link says `?collection=<id>`. A bound selectbox would put the option's label (the name) in
    the URL, so this one keeps the URL itself: a link opened (or the back button) sets the widget,
    and a pick writes the URL. An unknown id stays in the URL, and a notice says so.
    """
    boards = {c.id: c.name for c in svc.collections(ui.services())}
    url = st.query_params.get(svc.COLLECTION_FILTER)
    meant = url if url in boards else None
    if url != st.session_state.get(COLLECTION_SYNCED_KEY):
        st.session_state[svc.COLLECTION_FILTER] = meant
        st.session_state[COLLECTION_SYNCED_KEY] = url
    row[0].selectbox(
        "Collection",
        list(boards),
        index=None,
        key=svc.COLLECTION_FILTER,
        placeholder="Any",
        format_func=lambda i: boards.get(i, i),
    )
    value = st.session_state.get(svc.COLLECTION_FILTER)
    if value != meant:  # picked or cleared here
        if value:
            st.query_params[svc.COLLECTION_FILTER] = value
        else:
            st.query_params.pop(svc.COLLECTION_FILTER, None)
        st.session_state[COLLECTION_SYNCED_KEY] = value
    return set(boards)


def url_notices() -> None:
    "Explain the URL values that were ignored; they stay until dismissed."
    found = svc.url_problems({k: st.query_params.get_all(k) for k in st.query_params})
    seen = st.session_state.setdefault(DISMISSED_KEY, set())
    notices = list(dict.fromkeys([*st.session_state.get(NOTICES_KEY, []), *(n for n in found if n not in seen)]))
    st.session_state[NOTICES_KEY] = notices
    if notices:
        with st.container(key="gallery_notices"):
            lines = "\n".join(f"- {ui.plain(n)}" for n in notices)
            st.warning(f"This link had values the gallery can't use:\n\n{lines}", icon="🔗")
            st.button("Dismiss", key="gallery_dismiss_notices", on_click=_dismiss_notices)


def _dismiss_notices() -> None:
    "Forget the notices (and drop unknown parameters, which Streamlit leaves in the URL)."
    st.session_state[DISMISSED_KEY] |= set(st.session_state.pop(NOTICES_KEY, []))
    for key in [k for k in st.query_params if k not in svc.URL_PARAMS]:
        del st.query_params[key]


# ---------------------------------------------------------------------- cards


def _open(gen_id: str) -> None:
    st.query_params[DETAIL_PARAM] = gen_id


def selected() -> dict[str, None]:
    "The ticked takes (ids in the order ticked); kept for the session, across pages and searches."
    return st.session_state.setdefault(SELECTED_KEY, {})


def _pick(key: str, ids: Sequence[str]) -> None:
    "A card's tick changed: add its takes to the selection, or take them out."
    chosen = selected()
    ticked = bool(st.session_state.get(key))  # a tick forgotten by Clear (its callback may still come) is off
    for gen_id in ids:
        if ticked:
            chosen[gen_id] = None
        else:
            chosen.pop(gen_id, None)
    st.session_state[PICKED_KEY] = True  # the count above the cards is outside their fragment


def _tick(ids: Sequence[str], key: str, label: str) -> None:
    "A card's checkbox, ticked when all its takes are selected."
    if key not in st.session_state:  # drawn again after paging: it shows what is selected now
        st.session_state[key] = all(i in selected() for i in ids)
    st.checkbox(label, key=key, on_change=_pick, args=(key, list(ids)))


def thumb_html(gen: Generation, *, stack: svc.GridStack | None = None) -> str:
    "A thumbnail that previews its video on hover (muted, nothing loaded before); stacked for a comparison."
    poster = html.escape(ui.media_url(gen.thumb_path) or "")
    video_url = ui.media_url(gen.video_path)
    src = f' src="{html.escape(video_url)}"' if video_url else ""  # no file: the poster alone
    video = (
        f'<video class="studio-hover" poster="{poster}"{src} preload="none" muted playsinline loop '
        f'style="display:block;width:100%;height:{THUMB_HEIGHT_PX}px;object-fit:contain;background:#111;'
        'border-radius:4px"></video>'
    )
    if stack is None:
        return video
    d = STACK_OFFSET_PX
    return (
        f'<div class="studio-stack" style="position:relative;margin:{2 * d}px {2 * d}px 0 0;border-radius:4px;'
        f'box-shadow:{d}px -{d}px 0 -1px #555,{2 * d}px -{2 * d}px 0 -2px #333">{video}'
        '<span style="position:absolute;right:6px;bottom:6px;background:rgba(0,0,0,.7);color:#fff;'
        f'font-size:.8rem;padding:1px 6px;border-radius:8px">🔀 {stack.size} cells</span></div>'
    )


def _preview(view: svc.RunWait, stack: svc.GridStack | None = None) -> None:
    gen = view.gen
    if gen.status == "done" and gen.thumb_path:
        st.html(thumb_html(gen, stack=stack))
    elif gen.is_active:
        ui.run_progress(view)
    else:
        st.error(fmt.status_label(gen.status))


def _shorten(text: str) -> str:
    return text if len(text) <= PROMPT_PREVIEW_CHARS else text[:PROMPT_PREVIEW_CHARS] + "…"


def card(view: svc.RunWait, comments: int = 0) -> None:
    "One generation as a card: tick, thumbnail (or progress), prompt preview, settings, open button."
    gen = view.gen
    with st.container(border=True, key=f"gallery_card_{gen.id}"):
        _tick([gen.id], f"{PICK_PREFIX}{gen.id}", "Select")
        _preview(view)
        st.text(_shorten(gen.prompt))
        marks = ("⭐ " if gen.starred else "") + ("★" * (gen.rating or 0))
        st.caption(f"{marks} {fmt.settings_line(gen)}".strip())
        extra = [fmt.when(gen.created_at)]
        if gen.author:
            extra.append(f"by {ui.plain(gen.author)}")
        if gen.cell_label:  # a comparison's cell, or one of several takes
            extra.append(f"{'cell ' if gen.grid_id else ''}{ui.plain(gen.cell_label)}")
        if gen.tags:
            extra.append("🏷 " + ui.plain(gen.tags))
        if gen.draft_id:
            extra.append("⬆️ final of a draft")
        if comments:
            extra.append(f"💬 {fmt.plural(comments, 'comment')}")
        st.caption(" · ".join(extra))
        if st.button("Open", key=f"gallery_open_{gen.id}", width="stretch"):
            _open(gen.id)
            st.rerun()


def _open_stack(grid_id: str) -> None:
    "Show the cells of this comparison (the search and filters stay on)."
    st.session_state["grid_id"] = grid_id
    _go_to(1)


def _close_stack() -> None:
    st.session_state["grid_id"] = ""
    _go_to(1)


def stack_card(view: svc.RunWait, stack: svc.GridStack) -> None:
    "A comparison as one stacked card: its cell count and axes, a tick for all its cells, and a way in."
    gen = view.gen
    with st.container(border=True, key=f"gallery_stack_{stack.grid_id}"):
        _tick(stack.cell_ids, f"{PICK_PREFIX}grid_{stack.grid_id}", f"Select its {stack.size} cells")
        _preview(view, stack)
        st.text(_shorten(stack.name or stack.prompt or gen.prompt))
        st.caption(f"🔀 Comparison · {stack.describe()}")
        extra = [fmt.when(gen.created_at)]
        if gen.author:
            extra.append(f"by {ui.plain(gen.author)}")
        extra.append(f"{stack.done} of {stack.size} done")
        st.caption(" · ".join(extra))
        st.button(
            f"Open its {stack.matching if stack.matching < stack.size else stack.size} cells",
            key=f"gallery_open_stack_{stack.grid_id}",
            width="stretch",
            on_click=_open_stack,
            args=(stack.grid_id,),
        )


def cards(views: list[svc.RunWait], stacks: svc.GalleryPage | None = None, *, in_fragment: bool = False) -> None:
    comments = svc.comment_counts(ui.services(), [v.gen.id for v in views])  # one query for the page
    for start in range(0, len(views), COLUMNS):
        for col, view in zip(st.columns(COLUMNS), views[start : start + COLUMNS], strict=False):
            with col:
                stack = stacks.stack(view.gen) if stacks is not None else None
                if stack is not None:
                    stack_card(view, stack)
                else:
                    card(view, comments.get(view.gen.id, 0))
    if st.session_state.pop(PICKED_KEY, False) and in_fragment:
        st.rerun()  # a tick changed only the fragment: redraw the whole page, so the bar's count follows


# ---------------------------------------------------------------------- the bulk bar


def _page_ids(result: svc.GalleryPage) -> list[str]:
    "Every take on this page: the cards, and each stacked comparison's cells."
    out: list[str] = []
    for gen in result.gens:
        stack = result.stack(gen)
        out.extend(stack.cell_ids if stack is not None else [gen.id])
    return out


def _forget_ticks() -> None:
    "Drop the checkboxes' own state, so they are drawn again from the selection."
    for key in [k for k in st.session_state if isinstance(k, str) and k.startswith(PICK_PREFIX)]:
        del st.session_state[key]


def _select_page(ids: list[str]) -> None:
    selected().update(dict.fromkeys(ids))
    _forget_ticks()


def _clear_selection() -> None:
    selected().clear()
    _forget_ticks()


def _bulk(action, *args) -> None:
    "Run a bulk action on the selection from a button's callback; keep what it did to say next."
    studio = ui.services()
    ids = list(selected())
    try:
        note = action(studio, ids, *args)
    except StudioError as err:
        st.session_state[BULK_NOTE_KEY] = ("error", str(err))
        return
    st.session_state[BULK_NOTE_KEY] = ("success", note)


def _star(studio: svc.Services, ids: list[str], starred: bool) -> str:
    n = svc.star_many(studio, ids, starred)
    return f"{'Starred' if starred else 'Unstarred'} {fmt.plural(n, 'take')}."


def _tag(studio: svc.Services, ids: list[str], add: bool) -> str:
    tag = st.session_state.get("gallery_bulk_tag", "")
    n = (svc.tag_many if add else svc.untag_many)(studio, ids, tag)
    st.session_state["gallery_bulk_tag"] = ""
    return f"{'Tagged' if add else 'Untagged'} {fmt.plural(n, 'take')} “{tag.strip()}”."


def _delete(studio: svc.Services, ids: list[str]) -> str:
    done = svc.delete_many(studio, ids)
    for gen_id in ids:  # the ones still running stay selected
        if svc.get(studio, gen_id) is None:
            selected().pop(gen_id, None)
    st.session_state["gallery_bulk_sure"] = False
    _forget_ticks()
    return done.message()


def _bulk_note() -> None:
    "What the last bulk action did (or why it could not), once."
    if kind_note := st.session_state.pop(BULK_NOTE_KEY, None):
        kind, note = kind_note
        (st.error if kind == "error" else st.success)(ui.plain(note), icon="⚠️" if kind == "error" else "✅")


def select_page_button(result: svc.GalleryPage) -> None:
    st.button(
        "☑️ Select all on this page",
        key="gallery_select_page",
        on_click=_select_page,
        args=(_page_ids(result),),
        help="Or tick cards one by one: then star, tag, collect, export or delete them together.",
    )


def bulk_bar(studio: svc.Services, result: svc.GalleryPage) -> None:
    "The selection's count and what can be done to every selected take at once."
    chosen = list(selected())
    if not chosen:  # select_page_button stands beside Share instead
        _bulk_note()
        return
    with st.container(border=True, key="gallery_bulk"):
        count, page_all, clear = st.columns([4, 2, 1], vertical_alignment="center")
        count.markdown(f"**{fmt.plural(len(chosen), 'take')} selected** (kept while you page and search)")
        with page_all:
            select_page_button(result)
        clear.button("Clear", key="gallery_select_clear", on_click=_clear_selection)
        _bulk_note()
        star, unstar, tag, add, drop = st.columns([1, 1, 2, 1, 1], vertical_alignment="bottom")
        star.button("⭐ Star", key="gallery_bulk_star", on_click=_bulk, args=(_star, True), width="stretch")
        unstar.button("Unstar", key="gallery_bulk_unstar", on_click=_bulk, args=(_star, False), width="stretch")
        tag.text_input("Tag", key="gallery_bulk_tag", placeholder="e.g. client A")  # too long: the action says so
        add.button("🏷 Add tag", key="gallery_bulk_tag_add", on_click=_bulk, args=(_tag, True), width="stretch")
        drop.button("Remove tag", key="gallery_bulk_tag_remove", on_click=_bulk, args=(_tag, False), width="stretch")
        collect, delete = st.columns(2)
        with collect:
            ui.collection_picker(studio, chosen, key="gallery_bulk_collection")
        ui.export_controls(
            studio, svc.Selection.of_takes(chosen), key="gallery_bulk_export", label="Export these takes"
        )
        with delete.popover(f"🗑️ Delete {len(chosen)}…", width="stretch"):
            sure = st.checkbox(
                (
                    f"Yes, delete these {len(chosen):,} takes and their files"
                    if len(chosen) > 1
                    else "Yes, delete this take and its files"
                )
                + " for good (nothing else is touched; running ones are left)",
                key="gallery_bulk_sure",
            )
            st.button(
                f"Delete {fmt.plural(len(chosen), 'take')}",
                key="gallery_bulk_delete",
                type="primary",
                disabled=not sure,
                on_click=_bulk,
                args=(_delete,),
            )


def _go_to(page: int) -> None:
    "Show page `page` (1-based); the number lives in the URL, so a reload stays on it."
    if page > 1:
        st.query_params[PAGE_PARAM] = str(page)
    else:
        st.query_params.pop(PAGE_PARAM, None)


def pager(result: svc.GalleryPage, where: str) -> None:
    "Previous / next buttons and where we are."
    left, prev, nxt = st.columns([6, 1, 1], vertical_alignment="center")
    left.caption(result.where())
    prev.button(
        "← Previous",
        key=f"gallery_prev_{where}",
        disabled=result.page == 1,
        width="stretch",
        on_click=_go_to,
        args=(result.page - 1,),
    )
    nxt.button(
        "Next →",
        key=f"gallery_next_{where}",
        disabled=not result.has_next,
        width="stretch",
        on_click=_go_to,
        args=(result.page + 1,),
    )


# ---------------------------------------------------------------------- detail


def _close_detail() -> None:
    st.query_params.pop(DETAIL_PARAM, None)


def _filter_grid(grid_id: str) -> None:
    "Close the detail and show only the cells of this comparison."
    _clear_filters()
    st.session_state["grid_id"] = grid_id
    _close_detail()


def _save(action, studio: svc.Services, gen_id: str, value) -> None:
    "Run a curation call from a widget callback; keep its error to show next to the widget."
    try:
        action(studio, gen_id, value)
        st.session_state.pop(f"gallery_detail_error_{gen_id}", None)
    except StudioError as err:
        st.session_state[f"gallery_detail_error_{gen_id}"] = str(err)


def _facts_rows(gen: Generation) -> list[tuple[str, str]]:
    refs = gen.selected_context
    return [
        ("Model", gen.model),
        ("Resolution", gen.resolution),
        ("Aspect ratio", gen.aspect_ratio),
        ("Duration", "auto" if gen.duration == "auto" else f"{gen.duration} s"),
        ("Audio", "on" if gen.generate_audio else "off"),
        ("References", f"{len(refs.images)} images, {len(refs.videos)} videos, {len(refs.audio)} audio"),
        ("Author", gen.author or "—"),
        (
            "Status",
            fmt.status_label(gen.status) + (f" (attempt {gen.attempt})" if gen.attempt > 1 else ""),
        ),
        ("Created", fmt.when(gen.created_at)),
        ("Submitted", fmt.when(gen.submitted_at)),
        ("Finished", fmt.when(gen.finished_at)),
        ("Time taken", f"{gen.elapsed_s:.1f} s" if gen.elapsed_s is not None else "—"),
        ("Video size", f"{gen.width}×{gen.height}" if gen.width else "—"),
        ("Seconds", f"{gen.duration_s:.2f}" if gen.duration_s is not None else "—"),
        ("Has audio", "—" if gen.has_audio is None else "yes" if gen.has_audio else "no"),
        ("File", fmt.size_exact(gen.file_size)),
    ]


def _ids_rows(gen: Generation) -> list[tuple[str, str]]:
    return [
        ("Generation", gen.id),
        ("Run", gen.run_id or "—"),
        ("Agent", gen.agent_id or "—"),
        ("Node", gen.node_id or "—"),
        ("Render", gen.render_id or "—"),
        ("Comparison", f"{gen.grid_id} ({gen.cell_label})" if gen.grid_id else "—"),
        ("SHA-256", gen.sha256 or "—"),
    ]


def _table(rows: list[tuple[str, str]]) -> None:
    st.markdown("\n".join(f"- **{label}:** {ui.plain(value)}" for label, value in rows))


def _curation(studio: svc.Services, gen: Generation) -> None:
    "Star, rating, tags and notes; star and rating save at once, tags and notes with a button."
    star, stars = st.columns([1, 2], vertical_alignment="center")
    star.toggle(
        "⭐ Starred",
        value=gen.starred,
        key=f"detail_star_{gen.id}",
        on_change=lambda: _save(svc.set_starred, studio, gen.id, st.session_state[f"detail_star_{gen.id}"]),
    )
    with stars:
        st.feedback(
            "stars",
            key=f"detail_rating_{gen.id}",
            default=gen.rating - 1 if gen.rating else None,
            on_change=lambda: _save(svc.set_rating, studio, gen.id, _rating(gen.id)),
        )
    with st.form(key=f"detail_form_{gen.id}", border=False):
        st.text_input(
            "Tags",
            value=", ".join(gen.tag_list),
            key=f"detail_tags_{gen.id}",
            placeholder="e.g. hero shot, client A",
            help="Separate tags with commas.",
        )
        st.text_area(
            "Notes", value=gen.notes or "", key=f"detail_notes_{gen.id}", height=90, max_chars=svc.MAX_NOTES_CHARS
        )
        saved = st.form_submit_button("Save tags and notes", key=f"detail_save_{gen.id}")
    if saved:
        try:
            svc.set_tags(studio, gen.id, st.session_state[f"detail_tags_{gen.id}"])
            svc.set_notes(studio, gen.id, st.session_state[f"detail_notes_{gen.id}"])
            st.success("Tags and notes saved.", icon="✅")
        except StudioError as err:
            ui.error_box(err)
    if error := st.session_state.get(f"gallery_detail_error_{gen.id}"):
        st.error(error, icon="⚠️")


def _rating(gen_id: str) -> int | None:
    value = st.session_state.get(f"detail_rating_{gen_id}")
    return None if value is None else value + 1


def _reuse(studio: svc.Services, gen: Generation, others: list[Generation]) -> None:
    "Open as a new draft, compare, copy as an API request."
    st.markdown("**Open as a new draft**")
    keep = st.radio(
        "Keep",
        svc.DRAFT_KEEP,
        format_func=KEEP_LABELS.get,
        key=f"detail_keep_{gen.id}",
        horizontal=True,
        label_visibility="collapsed",
    )
    if st.button("✏️ Open in Create", key=f"detail_draft_{gen.id}"):
        st.switch_page("pages/create.py", query_params={"from": gen.id, "keep": keep})
    st.markdown("**Compare**")
    if gen.grid_id:
        link, cells = st.columns(2)
        link.page_link(
            "pages/compare.py",
            label=f"Open its comparison ({gen.cell_label or 'cell'})",
            icon="🔀",
            query_params={"grid": gen.grid_id},
        )
        if cells.button(
            "🖼️ Show all its cells here", key=f"detail_grid_{gen.id}", on_click=_filter_grid, args=(gen.grid_id,)
        ):
            st.rerun()
    siblings = svc.grid(studio, gen.grid_id)[1] if gen.grid_id else []
    recent = svc.history(studio, svc.GalleryQuery(status=["done"]), limit=svc.GALLERY_PAGE_SIZE)
    candidates = {g.id: g for g in [*siblings, *others, *recent] if g.id != gen.id and g.status == "done"}
    if not candidates:
        st.caption("There is no other finished generation to compare this one with yet.")
    else:
        other = st.selectbox(
            "Compare A/B with",
            list(candidates),
            key=f"detail_ab_{gen.id}",
            format_func=lambda i: f"{candidates[i].prompt[:50]} · {fmt.settings_line(candidates[i])}",
        )
        if st.button("🔀 Compare A/B", key=f"detail_compare_{gen.id}"):
            st.switch_page("pages/compare.py", query_params={"a": gen.id, "b": other})
    st.markdown("**Copy as API request**")
    flow = st.radio(
        "Flow",
        svc.FLOWS,
        key=f"detail_flow_{gen.id}",
        horizontal=True,
        format_func=FLOW_LABELS.get,
        label_visibility="collapsed",
    )
    lang = st.radio(
        "Language",
        ("curl", "python"),
        key=f"detail_lang_{gen.id}",
        horizontal=True,
        format_func={"curl": "curl", "python": "Python"}.get,
        label_visibility="collapsed",
    )
    st.code(
        svc.api_request(gen.params, language=lang, flow=flow, base_url=studio.settings.base_url),
        language="bash" if lang == "curl" else "python",
    )
    st.caption(
        f"A complete program: it creates the agent, runs it, polls until the run ends and saves "
        f"{svc.SNIPPET_OUTPUT}. {svc.SNIPPET_KEY} is a placeholder: put your own key there. "
        "Your key is never shown here."
    )


def _lifecycle(studio: svc.Services, gen: Generation) -> None:
    "Cancel a running one, run a failed one again, or delete a finished one (with confirmation)."
    try:
        if gen.is_active:
            st.info("This generation is still running, so it can't be deleted yet. Cancel it first.", icon="🎬")
            if svc.can_cancel(gen) and st.button("⏹️ Cancel this run", key=f"detail_cancel_{gen.id}"):
                svc.cancel(studio, gen.id)
                st.rerun()
            return
        if svc.can_retry(gen) and st.button("🔁 Run again", key=f"detail_retry_{gen.id}"):
            svc.retry(studio, gen.id)
            st.rerun()
        sure = st.checkbox("Yes, delete this video and its record for good", key=f"detail_delete_sure_{gen.id}")
        if st.button("🗑️ Delete", key=f"detail_delete_{gen.id}", disabled=not sure, type="primary"):
            svc.delete_generation(studio, gen.id)
            _close_detail()
            st.session_state["gallery_toast"] = "Deleted the generation and its files."
            st.rerun()
    except StudioError as err:
        ui.error_box(err)


@st.dialog("Generation", width="large", on_dismiss=_close_detail)
def detail(gen_id: str, others: list[Generation]) -> None:
    "Everything about one generation, and what can be done with it."
    studio = ui.services()
    gen = svc.get(studio, gen_id)
    if gen is None:
        st.error(f"Generation {ui.plain(gen_id)} no longer exists.")
        return
    left, right = st.columns([3, 2])
    with left:
        ui.letterbox(DETAIL_VIDEO_PX)  # a 9:16 take stays on screen with its prompt and notes
        ui.commented_video(studio, gen, key=f"detail_player_{gen.id}")
        st.markdown("**Prompt**")
        ui.show_prompt(gen.prompt)
        _curation(studio, gen)
        ui.comments(studio, gen, key=f"detail_comments_{gen.id}", player_key=f"detail_player_{gen.id}")
    with right:
        if gen.status != "done" or gen.duration_s is not None:  # facts_line needs a probed file when done
            st.caption(fmt.facts_line(gen))
        _table(_facts_rows(gen))
        with st.expander("Ids and checksum"):
            _table(_ids_rows(gen))
        ui.collection_picker(studio, [gen.id], key=f"detail_pick_{gen.id}")
        ui.share_controls(studio, svc.Selection("generation", gen.id), key=f"detail_share_{gen.id}")
        ui.promote_button(gen, key=f"detail_promote_{gen.id}", before_open=_close_detail)
        if gen.error:
            st.markdown("**Error**")
            st.text(gen.error)
    ui.lineage_chain(studio, gen, key=f"detail_lineage_{gen.id}")
    _reuse(studio, gen, others)
    st.divider()
    _lifecycle(studio, gen)


# ---------------------------------------------------------------------- page


def main() -> None:
    studio = ui.services()
    st.title("Gallery")
    st.caption(
        "Every video made here, newest first. Click Open for the details. The search and filters are part "
        "of the page's link, so you can bookmark a view or send it to someone."
    )
    if msg := st.session_state.pop("gallery_toast", None):
        st.toast(msg, icon="🗑️")
    url_notices()
    wanted = st.query_params.get(DETAIL_PARAM)
    unapplied = filters()
    query = svc.gallery_query(st.session_state, me=ui.who())
    signature = query.model_dump_json()
    previous = st.session_state.get("gallery_query")
    st.session_state["gallery_query"] = signature
    if previous is not None and previous != signature:  # a new search starts on the first page
        _go_to(1)
    asked = svc.page_number(st.query_params.get(PAGE_PARAM)) or 1
    # A comparison is one card, until it is opened into its cells; a collection's takes were picked one
    # by one, so filtered to a collection each shows as itself.
    stacked = not query.grid_id and not query.collection
    try:
        result = svc.gallery_page(studio, query, asked, stacked=stacked)
        target = svc.get(studio, wanted) if wanted else None
    except StudioError as err:
        ui.error_box(err)
        return
    if PAGE_PARAM in st.query_params and st.query_params.get(PAGE_PARAM) != str(result.page):
        _go_to(result.page)  # past the last page, or not a number: the link says where we are
    gens, total = result.gens, result.total
    if wanted and target is None:
        st.error(
            f"There is no generation with id “{ui.plain(wanted)}”; it may have been deleted. "
            "Showing the gallery instead.",
            icon="🔎",
        )
        st.button("OK", key="gallery_unknown_ok", on_click=_close_detail)
    if unapplied:  # the cards show more than the link meant: sharing or exporting them would say otherwise
        st.caption(
            f"Sharing and exporting this search are off until its {' and '.join(unapplied)} filter can be applied "
            "(see above), or is cleared."
        )
    else:
        ui.export_controls(studio, svc.Selection.of_query(query), key="gallery", label="Export these results")
    if total.n == 0:
        if query == svc.GalleryQuery() or svc.count(studio) == 0:
            st.info(
                "No videos yet. Write a prompt on the Create page and press Run: every result "
                "lands here, newest first.",
                icon="🎬",
            )
            st.page_link("pages/create.py", label="Go to Create", icon="✏️")
        else:
            st.info("Nothing matches this search and these filters. Try fewer words or clear the filters.", icon="🔍")
    if query.grid_id:
        back, about = st.columns([1, 3], vertical_alignment="center")
        back.button("← Back to the gallery", key="gallery_back", on_click=_close_stack)
        about.caption(f"The cells of comparison {ui.plain(query.grid_id)} that match the search and filters.")
    if total.n:
        st.html(HOVER_JS, unsafe_allow_javascript=True)
        # One row (a horizontal container does not stack on a phone, where columns do): the first
        # card still starts on a phone's first screen.
        with st.container(horizontal=True, key="gallery_actions"):
            if not unapplied:
                ui.share_controls(studio, svc.Selection.of_query(query), key="gallery_share")  # as filtered
            if not selected():
                select_page_button(result)
        bulk_bar(studio, result)
        pager(result, "top")
        if ui.all_finished(gens):  # nothing to follow: no fragment, so a tick costs one run, not two
            with st.container(key="gallery_cards"):
                # Finished takes need no time estimate (svc.waits prices every take: ~10 ms each).
                cards([svc.RunWait(g, 1.0, None, phase=g.status) for g in gens], result)
        else:
            ui.live(
                [g.id for g in gens],
                lambda views: cards(views, result, in_fragment=True),
                key="gallery_cards",
                follow=False,
            )
        if result.pages > 1 or not total.exact:
            pager(result, "bottom")
    if target is not None:
        detail(target.id, gens)
    else:  # one dialog at a time: Promote closes the detail before it opens
        ui.promote_dialog(studio)


main()
