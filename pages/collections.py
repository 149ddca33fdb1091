"""Collections: the boards a team gathers its takes on. Without `?id=`, every collection (cover,
name, how many takes, owner, last change) and a form to start one. With `?id=<collection>`, one
collection: its name, description and owner, its takes in order (video, settings, who made and who
added each), and the controls to rename, describe, pick the cover, reorder, remove and delete.
Deleting a collection never deletes its takes: they stay in the Gallery.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from studio import format as fmt
from studio import services as svc
from studio import ui
from studio.errors import StudioError
from studio.models import Collection, Generation

LIST_COLUMNS = 4
ITEM_COLUMNS = 3
THUMB_HEIGHT_PX = 150
VIDEO_HEIGHT_PX = 220
PLAYER_MAX = 9  # takes played together in the review player (a 3 × 3 grid); later ones keep their own video
PLAYER_DENSE_FROM = 4  # more than this many: the dense layout, so all fit on one screen
PROMPT_PREVIEW_CHARS = 120
ID_PARAM = svc.COLLECTION_PARAM
FLASH_KEY = "collections_flash"
REFUSED_KEY = "collections_refused"


def _open(coll_id: str) -> None:
    st.query_params.from_dict({ID_PARAM: coll_id})


def _do(action: Callable[..., Any], *args: Any) -> None:
    "Run a use-case from a button's callback; keep its refusal to show at the top of the page."
    try:
        action(ui.services(), *args)
    except StudioError as err:
        st.session_state[REFUSED_KEY] = str(err)


def _refusal() -> None:
    if refused := st.session_state.pop(REFUSED_KEY, None):
        st.error(ui.plain(refused), icon="⚠️")


# ---------------------------------------------------------------------- the list


def new_collection(studio: svc.Services, *, first: bool) -> None:
    "A form to start a collection (open when there is none yet); the collection opens once made."
    with (
        st.expander("➕ New collection", expanded=first, key="collections_new_box"),
        st.form("collections_new", border=False),
    ):
        name = st.text_input("Name", key="collections_new_name", placeholder="e.g. Client picks, Friday review")
        description = st.text_area("Description (optional)", key="collections_new_description", height=80)
        made = st.form_submit_button("Create collection", type="primary")
    if made:
        try:
            board = svc.create_collection(studio, name, description=description, owner=ui.who())
        except StudioError as err:
            ui.error_box(err)
            return
        st.session_state[FLASH_KEY] = f"Created “{board.name}”. Add takes from Create, Compare or the Gallery."
        _open(board.id)
        st.rerun()


def thumbnail(gen: Generation | None, height_px: int) -> None:
    "The take's thumbnail, or a box saying why there is none."
    thumb = ui.media_url(gen.thumb_path) if gen is not None and gen.status == "done" else None
    if thumb:
        st.image(thumb, width="stretch")
    else:
        with st.container(height=height_px, border=False):
            st.caption("No picture yet" if gen is not None else "Empty: add takes from Create, Compare or the Gallery")


def collection_card(studio: svc.Services, board: Collection) -> None:
    with st.container(border=True, key=f"collections_card_{board.id}"):
        thumbnail(svc.cover(studio, board), THUMB_HEIGHT_PX)
        st.markdown(f"**{ui.plain(board.name)}**")
        by = f" · by {ui.plain(board.owner)}" if board.owner else ""
        st.caption(f"{fmt.plural(board.items, 'take')}{by} · updated {fmt.when(board.updated_at)}")
        st.button("Open", key=f"collections_open_{board.id}", on_click=_open, args=(board.id,), width="stretch")


def collection_list(studio: svc.Services) -> None:
    st.title("📚 Collections")
    st.caption(
        "Boards of the takes that matter: gather them from Create, Compare and the Gallery with "
        "**Add to collection**. Removing a take from a collection, or deleting the collection, "
        "leaves the take in the Gallery."
    )
    if flash := st.session_state.pop(FLASH_KEY, None):
        st.success(ui.plain(flash), icon="📚")
    boards = svc.collections(studio)
    new_collection(studio, first=not boards)
    if not boards:
        st.info("No collections yet. Name one above, or use **Add to collection** under any take.", icon="📚")
        return
    st.subheader(f"{fmt.plural(len(boards), 'collection')}, the most recently changed first")
    st.html(
        f"<style>.st-key-collections_list [data-testid='stImage'] img {{ height: {THUMB_HEIGHT_PX}px; "
        "width: 100%; object-fit: contain; background: #111; border-radius: 4px; }</style>"
    )
    with st.container(key="collections_list"):
        for start in range(0, len(boards), LIST_COLUMNS):
            for col, board in zip(st.columns(LIST_COLUMNS), boards[start : start + LIST_COLUMNS], strict=False):
                with col:
                    collection_card(studio, board)


# ---------------------------------------------------------------------- one collection


def edit(studio: svc.Services, board: Collection) -> None:
    "Rename and describe, in one form."
    with st.expander("✏️ Rename or describe", key="collection_edit"):
        with st.form(f"collection_edit_{board.id}", border=False):
            name = st.text_input("Name", value=board.name, key=f"collection_name_{board.id}")
            description = st.text_area(
                "Description", value=board.description, key=f"collection_description_{board.id}", height=100
            )
            saved = st.form_submit_button("Save", type="primary")
        if saved:
            try:
                if name != board.name:
                    svc.rename_collection(studio, board.id, name)
                if description != board.description:
                    svc.describe_collection(studio, board.id, description)
            except StudioError as err:
                ui.error_box(err)
                return
            st.session_state[FLASH_KEY] = "Saved."
            st.rerun()


def item_card(
    board: Collection, gen: Generation, *, at: int, last: int, cover_id: str | None, adder: str, in_player: bool
) -> None:
    """One take of the collection: its video (unless the review player above plays it), prompt,
    settings, who made and added it, and its controls."""
    with st.container(border=True, key=f"collection_item_{gen.id}"):
        head = st.container(horizontal=True, vertical_alignment="center")
        head.markdown(f"**{at + 1}.**")
        if gen.id == cover_id:
            head.badge("Cover", icon="🖼️", color="blue")
        if not in_player:
            ui.video(gen, muted=True)
        preview = gen.prompt if len(gen.prompt) <= PROMPT_PREVIEW_CHARS else gen.prompt[:PROMPT_PREVIEW_CHARS] + "…"
        st.text(preview)
        st.caption(f"{fmt.settings_line(gen)} · {gen.model}")
        people = [f"by {ui.plain(gen.author)}" if gen.author else "author unknown"]
        if adder:
            people.append(f"added by {ui.plain(adder)}")
        st.caption(" · ".join(people) + f" · made {fmt.when(gen.created_at)}")  # when the take was made
        moves = st.container(horizontal=True, gap="small")
        for name, label, steps, tip, off in (
            ("first", "⏮", -last, "Move to the front", at == 0),
            ("up", "◀", -1, "Move one place earlier", at == 0),
            ("down", "▶", 1, "Move one place later", at == last),
            ("last", "⏭", last, "Move to the end", at == last),
        ):
            moves.button(
                label,
                key=f"collection_{name}_{gen.id}",
                help=tip,
                disabled=off,
                on_click=_do,
                args=(svc.move_item, board.id, gen.id, steps),
            )
        acts = st.container(horizontal=True, gap="small")
        acts.button(
            "🖼️ Make cover",
            key=f"collection_cover_{gen.id}",
            disabled=gen.id == cover_id,
            help="Show this take on the collection's card.",
            on_click=_do,
            args=(svc.set_cover, board.id, gen.id),
        )
        acts.button(
            "✖ Remove",
            key=f"collection_remove_{gen.id}",
            help="Take it out of this collection; it stays in the Gallery.",
            on_click=_do,
            args=(svc.remove_from_collection, board.id, [gen.id]),
        )
        acts.page_link("pages/gallery.py", label="Details", icon="🔎", query_params={"id": gen.id})


def items(studio: svc.Services, board: Collection) -> None:
    gens = svc.collection_items(studio, board.id)
    if not gens:
        st.info(
            "This collection is empty. Use **Add to collection** under a take in Create, Compare or the Gallery.",
            icon="📚",
        )
        return
    adders = svc.added_by(studio, board.id)
    shown_cover = svc.cover(studio, board)
    # The first PLAYER_MAX finished takes play together, in the collection's order.
    together = [(n, g) for n, g in enumerate(gens) if g.status == "done" and g.video_path][:PLAYER_MAX]
    if together:
        ui.review_player(
            [g for _, g in together],
            key=f"collection_player_{board.id}",
            labels=[f"{fmt.settings_line(g)} (#{n + 1})" for n, g in together],  # its place in the collection
            dense=len(together) > PLAYER_DENSE_FROM,
        )
    playing = {g.id for _, g in together}
    ui.letterbox(VIDEO_HEIGHT_PX)
    last = len(gens) - 1
    for start in range(0, len(gens), ITEM_COLUMNS):
        for offset, (col, gen) in enumerate(
            zip(st.columns(ITEM_COLUMNS), gens[start : start + ITEM_COLUMNS], strict=False)
        ):
            with col:
                item_card(
                    board,
                    gen,
                    at=start + offset,
                    last=last,
                    cover_id=shown_cover.id if shown_cover else None,
                    adder=adders.get(gen.id, ""),
                    in_player=gen.id in playing,
                )


def _deleted(name: str) -> None:
    st.session_state[FLASH_KEY] = f"Deleted the collection “{name}”. Its takes are still in the Gallery."
    st.query_params.clear()


def delete(studio: svc.Services, board: Collection) -> None:
    "Delete the collection, after a tick; the takes stay."
    with st.expander("🗑️ Delete this collection", key="collection_delete_box"):
        sure = st.checkbox(
            "Yes, delete this collection (its takes stay in the Gallery)", key=f"collection_delete_sure_{board.id}"
        )
        if st.button("Delete collection", key=f"collection_delete_{board.id}", type="primary", disabled=not sure):
            try:
                svc.delete_collection(studio, board.id)
            except StudioError as err:
                ui.error_box(err)
                return
            _deleted(board.name)
            st.rerun()


def one_collection(studio: svc.Services, coll_id: str) -> None:
    # A button, not st.page_link: a link to the page already open redraws the list but leaves
    # ?id= in the address bar, so a reload would bring the collection back.
    st.button("All collections", key="collection_back", icon="⬅️", type="tertiary", on_click=st.query_params.clear)
    try:
        board = svc.collection(studio, coll_id)
    except StudioError as err:
        st.title("📚 Collection")
        ui.error_box(err)
        st.button("See every collection", key="collection_gone_back", icon="📚", on_click=st.query_params.clear)
        return
    st.title(f"📚 {ui.plain(board.name)}")
    if flash := st.session_state.pop(FLASH_KEY, None):
        st.success(ui.plain(flash), icon="📚")
    _refusal()
    if board.description:
        st.text(board.description)
    owner = f"Owner: {ui.plain(board.owner)} · " if board.owner else ""
    st.caption(
        f"{owner}{fmt.plural(board.items, 'take')} · created {fmt.when(board.created_at)} · "
        f"updated {fmt.when(board.updated_at)}"
    )
    tools = st.container(horizontal=True)
    tools.page_link("pages/gallery.py", label="Show in the Gallery", icon="🖼️", query_params={"collection": board.id})
    with tools:
        ui.share_controls(studio, svc.Selection("collection", board.id), key=f"collection_share_{board.id}")
    ui.export_controls(
        studio,
        svc.Selection("collection", board.id),
        key=f"collection_export_{board.id}",
        label="Export this collection",
    )
    edit(studio, board)
    items(studio, board)
    st.divider()
    delete(studio, board)


# ---------------------------------------------------------------------- page

studio = ui.services()
wanted = st.query_params.get(ID_PARAM)
if wanted is None:
    collection_list(studio)
else:
    one_collection(studio, wanted)
