"""Small Streamlit helpers shared by the entry scripts and pages; the only studio module that
imports streamlit. Settings come from `studio.settings.load` (which reads secrets.toml itself),
never from `st.secrets`. Prompts are always shown as text (never markdown or HTML).
"""

from __future__ import annotations

import functools
import html
import json
import logging
import re
import secrets
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import timedelta
from typing import ParamSpec
from urllib.parse import unquote, urlsplit

import streamlit as st

from . import diffs, people, player
from . import format as fmt
from . import services as svc
from .errors import ParamsError, StudioError
from .models import ASPECT_RATIOS, DURATIONS, FINAL_STATUSES, RESOLUTIONS, Generation
from .services.selections import KIND_LABELS
from .settings import Settings

log = logging.getLogger(__name__)
P = ParamSpec("P")

POLL_EVERY_S = 2.0  # page refresh while jobs run: cheap on 2 cores (streamlit-notes.md §2)
WATCH_EVERY_S = 3.0  # the sidebar's look at this session's runs, only while some are in flight
WATCHING_KEY = "studio_watching"  # session: launch key -> run ids this browser session waits for
NOTES_KEY = "studio_watch_notes"  # session: news of ended launches, shown by the next full run
WATCH_SEEN_KEY = "studio_watch_seen"  # session: the watch's last look (svc.look_again)
NOTIFY_TITLE = "Mosaic Prompt Studio"
FALLBACK_ORIGIN = "http://localhost:8501"
# Characters that mean something to Streamlit's markdown anywhere in a line (":" for :emoji: and
# :color[...] directives); a line that starts like a list item is escaped separately.
MARKDOWN_SPECIALS = "\\`*_{}[]()#<>~$:|"
LIST_START = re.compile(r"^(\s*)([-+]|\d+[.)])", re.M)
# Said under a studio error that stopped a page (a database or media store away for a while).
TRY_AGAIN = "Try again in a moment, or reload the page."


def warm_up() -> None:
    """Pay Streamlit's one-time costs when the server starts, not on the first visitor's page.

    Measured on the first script run of a process (issue 6, §7 item 10): the first element sent
    walks the call stack (`inspect.stack()`, which resolves the file of every loaded module:
    0.05–1.2 s under load), and the first `set_page_config` with an emoji icon imports
    `streamlit.emojis`, which compiles one very large pattern (0.05–0.6 s). Both caches are
    process-wide, so filling them at boot makes the first paint as fast as the next ones.
    """
    import inspect

    import streamlit.emojis  # noqa: F401  (compiled on import)

    inspect.stack()


CANNOT_START_TITLE = "The studio cannot start"


def start_studio(settings_factory: Callable[[], Settings]) -> svc.Services:
    """The process-wide studio for this session. A setting or a history database it cannot use is a
    clear page saying which and what to do (never a traceback), and the script stops there; the
    next visit tries again, so a database moved aside is picked up without a restart."""
    try:
        return svc.shared_services(settings_factory)
    except StudioError as err:
        st.title(CANNOT_START_TITLE)
        error_box(err)
        st.caption(
            "Settings are read when the server starts: after changing one (the environment or "
            "`.streamlit/secrets.toml`), restart the studio. See the README's configuration table."
        )
        st.stop()
        raise  # st.stop() ends the script; this line is never reached


def services() -> svc.Services:
    "The studio the entry script put in the session."
    return st.session_state["services"]


def who() -> str:
    """The display name of the person using this session: what new generations, comparisons,
    collections and share links record as their author (`person()`; the settings' author for
    someone the studio does not know yet)."""
    return person().name


# ---------------------------------------------------------------------- who is who (studio.people)

TYPED_NAME_KEY = "studio_person_name"  # session: the name typed here (the cookie is read on the next visit)
NAME_EDIT_KEY = "studio_person_editing"
NAME_ERROR_KEY = "studio_person_error"
NAME_INPUT_KEY = "studio_person_input"
# Test seam: {"headers": {...}, "cookies": {...}} in session_state stands in for st.context, which
# AppTest cannot set (a real browser sends them with the websocket's first request).
REQUEST_KEY = "studio_request"


def login_configured() -> bool:
    "True when secrets.toml has an [auth] section: Streamlit's login (any OpenID Connect provider)."
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets.toml anywhere: StreamlitSecretNotFoundError (streamlit-notes.md §1)
        return False


def person() -> people.Person:
    "Who uses this session: the login, the trusted proxy's header, the typed name, else the settings' author."
    settings = services().settings
    request = st.session_state.get(REQUEST_KEY) or {}
    return people.resolve(
        user=dict(st.user.to_dict()),  # counts only with is_logged_in (absent without [auth])
        headers=request.get("headers", st.context.headers),
        cookies=request.get("cookies", st.context.cookies),
        trusted_header=settings.trusted_user_header,
        typed=st.session_state.get(TYPED_NAME_KEY),
        fallback=settings.author,
    )


def login_screen() -> None:
    """With login configured, someone not logged in sees only a login button: the script stops
    here, before the studio is built (the web app's LoginGate keeps /files and the rest shut)."""
    if not login_configured() or st.user.get("is_logged_in"):
        return
    st.title("Mosaic Prompt Studio")
    st.write("This studio is for the team: log in to make, compare and share videos.")
    auth = st.secrets["auth"]
    named = [k for k, v in auth.items() if isinstance(v, Mapping)]  # [auth.<provider>] sections
    provider = None if "client_id" in auth or not named else named[0]
    st.button("Log in", key="studio_login", type="primary", on_click=st.login, args=(provider,) if provider else ())
    st.stop()


def _save_name() -> None:
    try:
        st.session_state[TYPED_NAME_KEY] = people.clean_name(st.session_state.get(NAME_INPUT_KEY, ""))
    except StudioError as err:
        st.session_state[NAME_ERROR_KEY] = str(err)
        return
    st.session_state.pop(NAME_ERROR_KEY, None)
    st.session_state[NAME_EDIT_KEY] = False


def identity() -> None:
    """The sidebar's who you are: the login (with log out), the proxy's name, or the typed name
    (with change). With none, it asks for a name; the studio stays usable meanwhile and signs new
    work with the settings' author. A typed name is kept by the browser (a 400-day cookie)."""
    me = person()
    with st.container(key="studio_identity"):
        if me.source == "login":
            st.caption(f"👤 Logged in as **{plain(me.name)}**")
            st.button("Log out", key="studio_logout", on_click=st.logout)
            return
        if me.source == "header":
            st.caption(f"👤 **{plain(me.name)}** (from your company sign-in)")
            return
        if me.source == "name":
            cookies = (st.session_state.get(REQUEST_KEY) or {}).get("cookies", st.context.cookies)
            if unquote(cookies.get(people.NAME_COOKIE, "")) != me.name:  # typed here: the browser keeps it
                st.html(people.remember_script(me.name), unsafe_allow_javascript=True)
            if not st.session_state.get(NAME_EDIT_KEY):
                st.caption(f"👤 You are **{plain(me.name)}**")
                st.button(
                    "Change name",
                    key="studio_change_name",
                    on_click=st.session_state.update,
                    args=({NAME_EDIT_KEY: True},),
                )
                return
        with st.form("studio_name_form", border=False):
            st.text_input(
                "Who are you?",
                value=me.name if me.source == "name" else "",
                key=NAME_INPUT_KEY,  # no max_chars: Streamlit drops a longer paste silently; the save says why
                placeholder="e.g. Ada",
                help="Your name as the team knows you: shown on what you make; this browser remembers it.",
            )
            st.form_submit_button("Remember me", on_click=_save_name)
        if error := st.session_state.get(NAME_ERROR_KEY):
            st.error(plain(error), icon="⚠️")
        if me.source == "settings":
            st.caption(
                f"Until then, what you make is signed “{plain(me.name)}”."
                if me.name
                else "Until then, what you make is unsigned."
            )


def media_url(name: str | None) -> str | None:
    """Absolute URL of a saved media file: the media store's (studio.media_store): the app's
    `/files` route for a folder, a presigned S3 URL for a bucket; Range requests work on both.

    st.video reads any non-http string as a local path (the whole file into server memory), so
    the URL must be absolute; the origin is the one the browser used to reach this page.
    """
    if not name:
        return None
    url = services().media.url(name)
    if not url.startswith("/"):
        return url
    parts = urlsplit(st.context.url or "")
    origin = f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else FALLBACK_ORIGIN
    return f"{origin}{url}"


def plain(text: object) -> str:
    "Text people or Mosaic wrote, made safe inside markdown (captions, messages): shown as typed."
    escaped = "".join("\\" + c if c in MARKDOWN_SPECIALS else c for c in str(text))
    # "- x" becomes "\- x"; "1. x" becomes "1\. x": each stays a line of text, not a list.
    return LIST_START.sub(lambda m: m.group(1) + (m.group(2)[:-1] + "\\" + m.group(2)[-1]), escaped)


def show_prompt(text: str) -> None:
    "A prompt exactly as written: plain text, wrapped, with a copy button."
    st.code(text, language=None, wrap_lines=True)


def video(gen: Generation, *, muted: bool = False) -> None:
    "The generation's video, streamed from disk, or its status while it is not ready."
    if gen.status == "done" and gen.video_path:
        st.video(media_url(gen.video_path), muted=muted)
    elif gen.status == "failed":
        st.error(plain(gen.error or "Failed"), icon="❌")
    elif gen.status == "cancelled":
        st.warning(plain(gen.error or "Cancelled"), icon="⏹️")
    else:
        st.info(f"{fmt.status_label(gen.status)}…")


def letterbox(height_px: int) -> None:
    "Make every video on the page the same height, letterboxed, so mixed aspect ratios line up."
    st.html(
        f"<style>[data-testid='stVideo'] video, video {{ height: {height_px}px !important; "
        "width: 100% !important; object-fit: contain; background: #111; }}</style>"
    )


def all_finished(gens: Sequence[Generation]) -> bool:
    return all(g.status in FINAL_STATUSES for g in gens)


def mode_banner(studio: svc.Services) -> None:
    "Always visible in the sidebar: which API the studio talks to."
    if studio.mode == "simulator":
        st.warning(
            "**Simulator mode** — no API key is set, so a local stand-in for Mosaic makes sample "
            "videos (free). Set MOSAIC_API_KEY to use Mosaic.",
            icon="🧪",
        )
    else:
        st.success(f"**Mosaic** — {studio.mode_label}", icon="🔑")


def mode_badge(studio: svc.Services) -> None:
    """The API mode in one line above every page: on a phone the sidebar, and its banner, are
    folded away. A plain caption (no CSS to inject), so the first paint waits for nothing."""
    with st.container(key="studio_mode_badge"):
        if studio.mode == "simulator":
            st.caption("🧪 **Simulator mode**: free sample videos, no API key set.")
        else:
            st.caption("🔑 **Mosaic**: runs use your API key and credits.")


def queue_note(studio: svc.Services) -> None:
    "How many runs the whole studio has in flight (anyone's), with the way to the Status page."
    active = svc.active_count(studio)
    if active:
        st.caption(f"{fmt.plural(active, 'generation')} in progress in the studio — see Status")


def error_box(err: Exception) -> None:
    "A studio error where the user is, in words."
    st.error(plain(err), icon="⚠️")


@contextmanager
def errors_shown() -> Iterator[None]:
    """The pages' boundary: a `StudioError` that a page (or a fragment, or the sidebar) did not
    handle itself is shown where it stopped, as the plain reason and what to do, never a
    traceback; the rest of the script (sidebar, navigation) still runs. Streamlit's own control
    flow (st.stop, st.rerun) passes through."""
    try:
        yield
    except StudioError as err:
        log.warning("a page stopped on a studio error: %s", err)
        st.error(f"{plain(err)}\n\n{TRY_AGAIN}", icon="⚠️")


def errors_shown_in(body: Callable[P, None]) -> Callable[P, None]:
    "`body` with `errors_shown` around it: for a fragment, whose reruns do not pass the page's boundary."

    @functools.wraps(body)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> None:
        with errors_shown():
            body(*args, **kwargs)

    return guarded


def watch_runs(key: str, ids: Sequence[str]) -> None:
    """Make these runs this session's: when they have all ended, `watch` says so (a toast and a
    browser notification) on whatever page the person is on. A launch calls it at once, so leaving
    the page right after the click still gets the news; `live` calls it again with the same key."""
    st.session_state.setdefault(WATCHING_KEY, {})[key] = list(ids)


def live(ids: Sequence[str], render, *, key: str, follow: bool = True, queue: bool = False) -> None:
    """Render these runs (as `svc.RunWait`s: phase, elapsed, time left), and again every
    POLL_EVERY_S while any is unfinished. With `queue`, every other unfinished run too (Status).

    With `follow` (Create and Compare), unfinished runs become this session's: when they all end,
    a toast and a browser notification say so on whatever page the person is on (`watch`).
    Polling stops by itself: when the last job finishes, one full rerun redraws the page with
    run_every off, so a finished page costs nothing (streamlit-notes.md §1). Each look reads rows
    only when the change feed says something was written since the last (`svc.follow_waits`).
    """
    studio = services()
    seen_key = f"{key}_seen"

    def look() -> list[svc.RunWait]:
        seen, views = svc.follow_waits(studio, ids, st.session_state.get(seen_key), queue=queue)
        st.session_state[seen_key] = seen
        return views

    active = not all_finished([v.gen for v in look()])
    if follow and active:
        watch_runs(key, ids)

    @st.fragment(run_every=POLL_EVERY_S if active else None)
    @errors_shown_in
    def panel() -> None:
        views = look()
        render(views)
        if active and all_finished([v.gen for v in views]):
            st.rerun()

    with st.container(key=key):
        panel()


def run_progress(wait: svc.RunWait) -> None:
    """One run's progress, the same on every page: a bar driven by time while the model works and
    a line saying what is happening, for how long, and the time left ('🎬 generating · 3 min ·
    about 1 min to 3 min left'); a stuck run says so."""
    if wait.active:
        st.progress(wait.progress, text=wait.describe())
        if wait.last_error:
            st.caption(f"Retrying after a hiccup: {plain(wait.last_error)}")
    else:
        st.caption(fmt.status_label(wait.gen.status))


def _notify_html(title: str, body: str, tag: str) -> str:
    "A script showing one browser notification when the person allowed them (text JSON-escaped)."
    note = json.dumps({"title": title, "body": body, "tag": tag}).replace("<", "\\u003c")
    return (
        "<script>(() => { const n = " + note + "; "
        "if ('Notification' in window && Notification.permission === 'granted') "
        "new Notification(n.title, {body: n.body, tag: n.tag}); })();</script>"
    )


ASK_NOTIFY_HTML = """<div id="studio-notify-ask" style="display:none">
<button id="studio-notify-button" type="button" style="font-size:0.85rem;padding:0.2rem 0.6rem;border-radius:0.4rem;
border:1px solid rgba(128,128,128,0.5);background:transparent;color:inherit;cursor:pointer">
🔔 Notify me in this browser when they end</button></div>
<script>(() => {
  const box = document.getElementById("studio-notify-ask");
  if (!box || !("Notification" in window) || Notification.permission !== "default") return;
  box.style.display = "block";
  document.getElementById("studio-notify-button").addEventListener("click", () =>
    Notification.requestPermission().then(() => box.remove()));
})();</script>"""


def watch() -> None:
    """The sidebar's watch over this session's runs, on every page: how many are in flight, and a
    toast plus a browser notification when a launch (a run, takes or a comparison) has ended.
    One small query every WATCH_EVERY_S, only while some of them are in flight and only when the
    change feed says runs changed since the last look."""
    # The news is dropped only once it is out: a rerun that interrupts this run (a click, a
    # component reporting in) stops it at the next element, and the next run says it instead.
    notes = st.session_state.get(NOTES_KEY, [])
    for message, ok, tag in notes:
        st.toast(message, icon="✅" if ok else "⚠️", duration="long")
        st.html(_notify_html(NOTIFY_TITLE, message, tag), unsafe_allow_javascript=True)
    if notes:
        st.session_state[NOTES_KEY] = []
    if not st.session_state.get(WATCHING_KEY):
        return

    @st.fragment(run_every=WATCH_EVERY_S)
    @errors_shown_in
    def look() -> None:
        watching: dict[str, list[str]] = st.session_state.get(WATCHING_KEY, {})
        asked = tuple((k, tuple(v)) for k, v in watching.items())
        last = st.session_state.get(WATCH_SEEN_KEY)
        seen = svc.look_again(services(), last, asked, lambda: svc.ended(services(), watching), "generations")
        st.session_state[WATCH_SEEN_KEY] = seen
        ended, in_flight = seen.value
        if ended:
            # A toast sent just before a rerun is lost: keep the news for the full rerun, which
            # also switches this timer off when nothing is left to watch.
            notes = st.session_state.setdefault(NOTES_KEY, [])
            for launch in ended:
                watching.pop(launch.key, None)
                if launch.gens:
                    notes.append((launch.message(), launch.ok, launch.key))
            st.rerun()
        st.caption(f"⏳ {fmt.plural(in_flight, 'run')} of yours in flight")
        st.html(ASK_NOTIFY_HTML, unsafe_allow_javascript=True)

    with st.container(key="studio_watch"):
        look()


def act(action, gen_id: str) -> None:
    "Cancel or retry a job, then redraw the whole page so polling switches on or off with it."
    try:
        action(services(), gen_id)
    except StudioError as err:
        error_box(err)
        return
    st.rerun()


# ---------------------------------------------------------------------- collections (issue 8 §2)

COLLECTIONS_PAGE = "pages/collections.py"
PICKED_KEY = "studio_picked"  # session: picker key -> (take ids, what happened, collection id or None)


def _pick(studio: svc.Services, key: str, gen_ids: list[str], new: bool) -> None:
    """The picker's buttons (a callback, so the list it draws next already has a new collection):
    add the takes to the chosen collection, or to a new one, and keep what happened to say."""
    said: tuple[str, str | None]
    try:
        if new:
            board = svc.create_collection(studio, st.session_state.get(f"{key}_new_name", ""), owner=who())
            st.session_state[f"{key}_choice"] = board.id
            st.session_state[f"{key}_new_name"] = ""
            st.session_state[f"{key}_made"] = True
        else:
            board = svc.collection(studio, st.session_state.get(f"{key}_choice"))
        added = svc.add_to_collection(studio, board.id, gen_ids, added_by=who())
    except StudioError as err:
        said = (str(err), None)
    else:
        name = f"“{board.name}”"
        if added == len(gen_ids):
            said = (f"Added {fmt.plural(added, 'take')} to {name}.", board.id)
        elif added == 0:
            had = "it" if len(gen_ids) == 1 else f"all {len(gen_ids)}"
            said = (f"{name} already has {had}; nothing changed.", board.id)
        else:
            said = (f"Added {fmt.plural(added, 'take')} to {name}; {len(gen_ids) - added} already in it.", board.id)
    st.session_state.setdefault(PICKED_KEY, {})[key] = (tuple(gen_ids), *said)


def collection_picker(
    studio: svc.Services, gen_ids: Sequence[str], *, key: str, label: str = "Add to collection"
) -> None:
    """A popover that puts these takes into a collection: one that exists (the most recently changed
    first) or a new one named here, owned by `who()`. Adding a take that is already in it is not an
    error: it says so. Below the button: what happened, with a link to the collection."""
    ids = list(dict.fromkeys(gen_ids))
    if st.session_state.pop(f"{key}_made", False):
        # A picker inside a fragment (a live grid, a dialog) reruns only that fragment: redraw the
        # whole page so every other picker on it offers the new collection too.
        st.rerun()
    with st.popover(label, icon="📚", key=f"{key}_popover"):
        boards = {c.id: c for c in svc.collections(studio)}
        if len(ids) == 1 and (holding := svc.collections(studio, containing=ids[0])):
            st.caption("Already in " + ", ".join(f"“{plain(c.name)}”" for c in holding))
        if boards:
            st.selectbox(
                "Collection",
                list(boards),
                key=f"{key}_choice",
                format_func=lambda i: f"{boards[i].name} · {fmt.plural(boards[i].items, 'take')}",
            )
            st.button(
                "Add", key=f"{key}_add", type="primary", width="stretch", on_click=_pick, args=(studio, key, ids, False)
            )
        st.text_input(
            "Or a new collection" if boards else "New collection",
            key=f"{key}_new_name",
            placeholder="Its name, e.g. Client picks",
            help=f"At most {svc.MAX_COLLECTION_NAME_CHARS} characters. You become its owner.",
        )
        st.button("Create and add", key=f"{key}_create", width="stretch", on_click=_pick, args=(studio, key, ids, True))
    shown = st.session_state.get(PICKED_KEY, {}).get(key)
    if shown is None or shown[0] != tuple(ids):  # news of other takes (a new run shown in the same place)
        return
    _ids, said, coll_id = shown
    with st.container(key=f"{key}_said"):
        if coll_id is None:
            st.error(plain(said), icon="⚠️")
            return
        st.success(plain(said), icon="📚")
        st.page_link(COLLECTIONS_PAGE, label="Open the collection", icon="📚", query_params={"id": coll_id})


# ---------------------------------------------------------------------- share links (issue 8 §3)

SHARE_DATE_CHOICE = "date"  # the expiry select's last option: a date picked below it
SHARE_DEFAULT_DAYS = 7  # what the date picker starts at


def _share_base(studio: svc.Services) -> str:
    "Where share links point: STUDIO_SHARE_URL, else the address this page was opened at."
    if studio.settings.share_url:
        return studio.settings.share_url
    parts = urlsplit(st.context.url or "")
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else FALLBACK_ORIGIN


def _share_action(key: str, action: Callable[[], svc.NewShareLink | None], note: str) -> None:
    """Button callback: run a share action and keep, for the popover, its note and the new link (its
    token is shown in this session only, once made) or the error."""
    state = st.session_state
    state.pop(f"{key}_error", None)
    try:
        made = action()
    except StudioError as err:
        state[f"{key}_error"] = str(err)
        return
    state[f"{key}_made"] = made.token if made else None
    state[f"{key}_note"] = note


def _share_create(studio: svc.Services, selection: svc.Selection, key: str) -> svc.NewShareLink:
    "A link with the options the popover holds now."
    state = st.session_state
    expiry = state.get(f"{key}_expiry", "never")
    chosen = state.get(f"{key}_date") if expiry == SHARE_DATE_CHOICE else expiry
    return svc.ShareLinks(studio).create(
        selection, expires=chosen, allow_download=bool(state.get(f"{key}_download", True)), created_by=who()
    )


def _share_revoke(studio: svc.Services, link_id: str) -> None:
    svc.ShareLinks(studio).revoke(link_id, by=who())


def share_controls(studio: svc.Services, selection: svc.Selection, *, key: str) -> None:
    """A "Share" popover for a selection: choose the expiry and downloads, create a read-only link
    (its full URL is shown here, to copy: the studio keeps only its hash), and revoke or regenerate
    the links this selection already has."""
    links = svc.ShareLinks(studio)
    state = st.session_state
    label = KIND_LABELS.get(selection.kind, "selection")
    if state.get(f"{key}_for") != selection:  # another search (or take) than the link shown was made for
        for part in ("made", "note", "error"):
            state.pop(f"{key}_{part}", None)
        state[f"{key}_for"] = selection
    with st.popover("Share", icon="🔗", key=f"{key}_popover"):
        st.caption(f"A read-only page of this {label} that anyone with the link can open, without logging in.")
        expiry = st.selectbox(
            "Link expires",
            [*svc.EXPIRY_CHOICES, SHARE_DATE_CHOICE],
            key=f"{key}_expiry",
            format_func=lambda c: svc.EXPIRY_LABELS.get(c, "On a date…"),
        )
        if expiry == SHARE_DATE_CHOICE:
            today = links.now().date()
            st.date_input(
                "Works through (UTC)",
                value=today + timedelta(days=SHARE_DEFAULT_DAYS),
                min_value=today,
                key=f"{key}_date",
            )
        st.checkbox("Allow downloads", value=True, key=f"{key}_download")
        st.button(
            "Create link",
            key=f"{key}_create",
            type="primary",
            on_click=_share_action,
            args=(key, lambda: _share_create(studio, selection, key), "Link created: copy it now."),
        )
        if error := state.get(f"{key}_error"):
            st.error(plain(error), icon="⚠️")
        if note := state.get(f"{key}_note"):
            st.success(note, icon="🔗")
        if token := state.get(f"{key}_made"):
            st.code(svc.share_url(_share_base(studio), token), language=None, wrap_lines=True)
        now = links.now()
        existing = links.list(selection=selection)
        if existing:
            st.markdown(f"**Links to this {label}**")
        for link in existing:
            row = st.container(horizontal=True, vertical_alignment="center", key=f"{key}_link_{link.id}")
            row.caption(plain(link.describe(now)))
            if link.state(now) != "live" or (link.created_by and link.created_by != who()):
                continue  # only its maker ends or replaces a link (the service says so too)
            row.button(
                "Revoke",
                key=f"{key}_revoke_{link.id}",
                on_click=_share_action,
                args=(key, lambda link_id=link.id: _share_revoke(studio, link_id), "Revoked: that link now says so."),
            )
            row.button(
                "Regenerate",
                key=f"{key}_regen_{link.id}",
                help="A new link with the same options; this one stops working at once.",
                on_click=_share_action,
                args=(
                    key,
                    lambda link_id=link.id: links.regenerate(link_id, by=who()),
                    "New link made; the old one is dead.",
                ),
            )


# ---------------------------------------------------------------------- exports (issue 8 §4)

EXPORT_POLL_S = 1.5  # an export's progress, while it is being built
EXPORT_KIND_LABELS = {
    "zip": "ZIP: videos, thumbnails, metadata (JSON, CSV) and an index.html that plays offline",
    "sheet": "Contact sheet: one PNG of labelled thumbnails",
    "video": "Comparison video: every cell side by side in one MP4",
}


def export_links(job: svc.ExportJob) -> None:
    "Download links to a finished export's files (plain links: the files stream from disk, never via memory)."
    items = "".join(
        f'<li><a href="{html.escape(job.url(name))}" download="{html.escape(name)}">⬇️ {html.escape(name)}</a></li>'
        for name in job.files
    )
    st.html(f'<ul class="studio-export-links" style="margin:0">{items}</ul>')


def export_state(job: svc.ExportJob) -> None:
    "One export's state: a progress bar while it is built, links when ready, the reason when it failed."
    if job.active:
        st.progress(job.progress, text=job.describe())
    elif job.status == "done":
        st.success(f"{job.describe()} ({fmt.size(job.bytes)}); kept {svc.KEEP_EXPORTS_DAYS} days.", icon="📦")
        export_links(job)
    elif job.status == "expired":
        st.caption(job.describe())
    else:
        st.error(plain(job.describe()), icon="⚠️")


def export_controls(studio: svc.Services, selection: svc.Selection, *, key: str, label: str = "Export") -> None:
    """Export this selection: pick the ZIP, the contact sheet and (for a comparison) the comparison
    video, start it, follow its progress (the page stays usable: it is built in the background) and
    download the files when they are ready."""
    kinds = [k for k in EXPORT_KIND_LABELS if k != "video" or selection.kind == "grid"]
    current_key = f"{key}_export_id"
    with st.expander(label, icon="📦", key=f"{key}_export"):
        chosen = [k for k in kinds if st.checkbox(EXPORT_KIND_LABELS[k], value=k == "zip", key=f"{key}_kind_{k}")]
        if st.button("Start export", key=f"{key}_start", disabled=not chosen):
            try:
                job = svc.start_export(studio, selection, chosen, created_by=who())
                st.session_state[current_key] = job.id
            except StudioError as err:
                error_box(err)
        export_id = st.session_state.get(current_key)
        if not export_id:
            return
        first = svc.export_job(studio, export_id)
        if first is None:
            return

        @st.fragment(run_every=EXPORT_POLL_S if first.active else None)
        @errors_shown_in
        def follow() -> None:
            last = st.session_state.get(f"{key}_export_seen")
            seen = svc.look_again(studio, last, export_id, lambda: svc.export_job(studio, export_id), "exports")
            st.session_state[f"{key}_export_seen"] = seen
            job = seen.value
            if job is None:
                return
            export_state(job)
            if first.active and not job.active:
                st.rerun()  # one full run switches the timer off

        with st.container(key=f"{key}_export_state"):
            follow()


# ---------------------------------------------------------------------- comments (issue 9 §3)

# The review player (studio.player) seeks when its `seek_to` changes from the last render; a second
# click on the same time nudges it by this much (far under a frame), so it seeks there again.
SEEK_NUDGE_S = 1e-4
PIN_NONE, PIN_PLAYER, PIN_TYPED = "none", "player", "typed"
PIN_LABELS = {PIN_NONE: "Not pinned", PIN_PLAYER: "Where the player is", PIN_TYPED: "At a time I type"}
MARKER_LABEL_CHARS = 60  # a marker's tooltip: the author and the start of the comment


def seek_key(player_key: str) -> str:
    "The session-state key holding where the review player under `player_key` should go next."
    return f"{player_key}_seek_to"


def seek(player_key: str, at_s: float) -> None:
    """Ask the review player under `player_key` to move to `at_s` seconds on its next render (a page
    passes `seek_to=ui.seek_to(player_key)` to `ui.review_player`)."""
    key = seek_key(player_key)
    st.session_state[key] = at_s + SEEK_NUDGE_S if st.session_state.get(key) == at_s else at_s


def seek_to(player_key: str) -> float | None:
    "Where a comment's time link last asked the player under `player_key` to go (None: nowhere yet)."
    return st.session_state.get(seek_key(player_key))


def _player_value(player_key: str | None, name: str) -> float | None:
    "A number the review player under `player_key` keeps in its session state (None: no such value)."
    state = st.session_state.get(player_key) if player_key else None
    value = state.get(name) if isinstance(state, Mapping) else getattr(state, name, None)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def player_position(player_key: str | None) -> float | None:
    """The review player's position (`PlayerState.position`, seconds) as its session state holds it
    under `player_key`; None with no player, or before it has said where it is."""
    return _player_value(player_key, "position")


def comment_markers(found: Sequence[svc.Comment]) -> list[player.Marker]:
    "Scrub-bar markers for pinned comments, for `review_player(markers=...)`: the author and the text's start."
    return [
        player.Marker(at_s=c.at_s, label=f"{c.author}: {c.body[:MARKER_LABEL_CHARS]}", gen_id=c.gen_id)
        for c in found
        if c.at_s is not None
    ]


def _comment_action(key: str, slot: str, action: Callable[[], object], *clear: str) -> None:
    "Button callback: run a comment action; on success empty the boxes in `clear`, else keep the error for `slot`."
    errors = st.session_state.setdefault(f"{key}_comment_errors", {})
    errors.pop(slot, None)
    try:
        action()
    except StudioError as err:
        errors[slot] = str(err)
        return
    for box in clear:
        st.session_state[box] = ""


def _comment_error(key: str, slot: str) -> None:
    if said := st.session_state.get(f"{key}_comment_errors", {}).get(slot):
        st.error(plain(said), icon="⚠️")


def _new_moment(gen: Generation, key: str, player_key: str | None) -> float | None:
    "The moment the new comment's pin controls say, read when it is sent."
    choice = st.session_state.get(f"{key}_pin", PIN_NONE)
    if choice == PIN_TYPED:
        return st.session_state.get(f"{key}_pin_at")
    if choice == PIN_PLAYER:
        at = player_position(player_key)
        if at is None:
            raise ParamsError("The player has not said where it is yet: play or scrub the video, or type a time")
        return at
    return None


def _one_comment(
    studio: svc.Services,
    c: svc.Comment,
    *,
    key: str,
    player_key: str | None,
    me: str,
    reply: Callable[[st.delta_generator.DeltaGenerator], None] | None = None,
) -> None:
    """A comment: its author, date and pinned time (a link that seeks the player), its text, its
    author's buttons and (`reply`, drawn into the same row) the thread's reply box."""
    head = st.container(horizontal=True, vertical_alignment="center", gap="small", key=f"{key}_c_{c.id}")
    edited = " · edited" if c.edited_at else ""
    head.markdown(f"**{plain(c.author)}** · :gray[{fmt.when(c.created_at)}{edited}]")
    if c.moment is not None:
        head.button(
            f"at {c.moment}",
            key=f"{key}_at_{c.id}",
            type="tertiary",
            icon="⏱️",
            help="Show this moment in the player" if player_key else "The moment this comment is about",
            on_click=seek if player_key else None,
            args=(player_key, c.at_s) if player_key else None,
        )
    st.markdown(plain(c.body))
    mine = me and c.author == me
    if not mine and reply is None:
        return
    actions = st.container(horizontal=True, gap="small", vertical_alignment="center")
    if reply is not None:
        reply(actions)
    if mine:
        with actions.popover("Edit", icon="✏️", key=f"{key}_edit_{c.id}"):
            st.text_area("Your comment", value=c.body, key=f"{key}_edit_text_{c.id}")
            st.button(
                "Save",
                key=f"{key}_edit_save_{c.id}",
                type="primary",
                on_click=_comment_action,
                args=(
                    key,
                    c.id,
                    lambda: svc.edit_comment(studio, c.id, me, st.session_state.get(f"{key}_edit_text_{c.id}", "")),
                ),
            )
        actions.button(
            "Delete",
            key=f"{key}_delete_{c.id}",
            icon="🗑️",
            type="tertiary",
            on_click=_comment_action,
            args=(key, c.id, lambda: svc.delete_comment(studio, c.id, me)),
        )
        _comment_error(key, c.id)


def _reply_box(
    studio: svc.Services, gen: Generation, row: st.delta_generator.DeltaGenerator, *, key: str, thread_id: str, me: str
) -> None:
    "A thread's Reply popover, drawn into `row`."
    box = f"{key}_reply_text_{thread_id}"
    with row.popover("Reply", icon="↩️", key=f"{key}_reply_to_{thread_id}"):
        st.text_area("Your reply", key=box)
        st.button(
            "Send reply",
            key=f"{key}_reply_send_{thread_id}",
            type="primary",
            on_click=_comment_action,
            args=(
                key,
                f"reply_{thread_id}",
                lambda: svc.add_comment(studio, gen.id, me, st.session_state.get(box, ""), parent_id=thread_id),
                box,
            ),
        )


def comments(studio: svc.Services, gen: Generation, *, key: str, player_key: str | None = None) -> None:
    """The comment threads of a take: author, date, text, and the pinned moment as a link that moves
    the review player under `player_key` there; replies; edit and delete for their author (`who()`);
    and a box for a new comment, pinned to where the player is, a typed time, or nothing."""
    me = who()
    threads = svc.threads(studio, gen.id)
    with st.container(key=f"{key}_comments"):
        st.markdown(f"**💬 Comments** · {fmt.plural(sum(len(t.comments) for t in threads), 'comment')}")
        for thread in threads:
            with st.container(border=True, key=f"{key}_thread_{thread.id}"):
                if thread.root is None:
                    st.caption(f"🗑️ _{svc.DELETED_PLACEHOLDER}_")
                else:

                    def replying(row: st.delta_generator.DeltaGenerator, tid: str = thread.id) -> None:
                        _reply_box(studio, gen, row, key=key, thread_id=tid, me=me)

                    _one_comment(studio, thread.root, key=key, player_key=player_key, me=me, reply=replying)
                for answer in thread.replies:
                    with st.container(key=f"{key}_reply_{answer.id}"):
                        st.html('<div style="border-top:1px dashed rgba(128,128,128,0.35);height:0"></div>')
                        _one_comment(studio, answer, key=key, player_key=player_key, me=me)
                _comment_error(key, f"reply_{thread.id}")
        box = f"{key}_new_text"
        st.text_area(
            "Add a comment",
            key=box,
            placeholder="What works, what does not, and when",
            help=f"At most {svc.MAX_COMMENT_CHARS} characters; signed with your name.",
        )
        if gen.status == "done" and gen.duration_s:
            marked = _player_value(player_key, "marked")  # "Mark" (M) in the player: pin the new comment there
            if marked is not None:
                st.session_state[f"{key}_pin"] = PIN_TYPED
                st.session_state[f"{key}_pin_at"] = min(max(marked, 0.0), float(gen.duration_s))
            pins = [PIN_NONE, *([PIN_PLAYER] if player_key else []), PIN_TYPED]
            choice = st.radio("Pin it to a moment", pins, key=f"{key}_pin", horizontal=True, format_func=PIN_LABELS.get)
            if choice == PIN_PLAYER:
                at = player_position(player_key)
                st.caption(f"The player is at {fmt.clock(at)}." if at is not None else "Play or scrub the video first.")
            elif choice == PIN_TYPED:
                st.number_input(
                    "Seconds from the start",
                    min_value=0.0,
                    max_value=float(gen.duration_s),
                    value=0.0,
                    step=0.1,
                    format="%.1f",
                    key=f"{key}_pin_at",
                )
        st.button(
            "Comment",
            key=f"{key}_send",
            icon="💬",
            on_click=_comment_action,
            args=(
                key,
                "new",
                lambda: svc.add_comment(
                    studio, gen.id, me, st.session_state.get(box, ""), at_s=_new_moment(gen, key, player_key)
                ),
                box,
            ),
        )
        _comment_error(key, "new")


def commented_video(studio: svc.Services, gen: Generation, *, key: str) -> None:
    """A take's video in the review player under `key` (its pinned comments as markers on the scrub
    bar; comment time links seek it), or `video` when the take has no video."""
    if gen.status != "done" or not gen.video_path:
        video(gen)
        return
    commented_player(studio, [gen], key=key)


def commented_player(
    studio: svc.Services,
    gens: Sequence[Generation],
    *,
    key: str,
    labels: Sequence[str] | None = None,
    dense: bool = False,
) -> player.PlayerState:
    """`review_player` for takes that have comments: their pinned comments as markers on the scrub
    bar, and comment time links (`seek(key, t)`) move it."""
    pinned = svc.pinned_comments(studio, [g.id for g in gens])
    return review_player(
        gens, key=key, labels=labels, markers=comment_markers(pinned), seek_to=seek_to(key), dense=dense
    )


# ---------------------------------------------------------------------- draft → final (issue 9 §4)

PROMOTE_KEY = "studio_promote"  # session: the take whose Promote dialog is open
PROMOTED_KEY = "studio_promoted"  # session: draft id -> the final its dialog launched
PROMOTE_TOKEN_KEY = "studio_promote_token"  # the launch key the dialog's Launch button carries now
PROMOTE_ERROR_KEY = "studio_promote_error"  # why the last Launch click launched nothing
PROMOTE_FULL_RUN_KEY = "studio_promote_full_run"  # a launch happened in the dialog: redraw the page once
GALLERY_PAGE = "pages/gallery.py"


def promote_button(gen: Generation, *, key: str, before_open: Callable[[], None] | None = None) -> None:
    """A Promote button on a finished take; it opens the Promote dialog over the whole page (a
    dialog cannot open inside another, so `before_open` closes the one it sits in)."""
    if gen.status != "done":
        return
    if st.button(
        "⬆️ Promote",
        key=key,
        help="Make a final of this take: the same prompt and references at other settings, priced before launch.",
    ):
        if before_open is not None:
            before_open()
        st.session_state[PROMOTE_KEY] = gen.id
        st.session_state.get(PROMOTED_KEY, {}).pop(gen.id, None)  # a new dialog, not the last launch's news
        st.rerun()


def promote_dialog(studio: svc.Services) -> None:
    "Open the Promote dialog when a Promote button asked for it (call once per page, outside dialogs)."
    if gen_id := st.session_state.get(PROMOTE_KEY):
        _promote(studio, gen_id)


def _close_promote() -> None:
    st.session_state.pop(PROMOTE_KEY, None)


def _launch_final(studio: svc.Services, gen_id: str, target: dict[str, object], token: str) -> None:
    """Launch button callback: once per token (a second click on the same button returns the same
    final from the store), then a new token for the next launch; the sidebar watches the run."""
    try:
        final_id = svc.promote(studio, gen_id, target, who(), launch_key=token)
    except StudioError as err:
        st.session_state[PROMOTE_ERROR_KEY] = str(err)
        return
    st.session_state.setdefault(PROMOTED_KEY, {})[gen_id] = final_id
    watch_runs(f"promote:{final_id}", [final_id])
    st.session_state[PROMOTE_TOKEN_KEY] = secrets.token_hex(8)
    st.session_state[PROMOTE_FULL_RUN_KEY] = True


def _launched(studio: svc.Services, final_id: str) -> None:
    "What the dialog says once the final is launched: what it is, and where to watch it."
    final = svc.get(studio, final_id)
    what = fmt.settings_line(final) if final else "the final"
    st.success(
        f"Launched the final ({what}). While it runs, the sidebar counts it among your runs in flight and "
        "says when it is done. It is in the Gallery now, linked to its draft.",
        icon="🚀",
    )
    if st.button("Open the final in the Gallery", key=f"promote_open_{final_id}", type="primary"):
        _close_promote()
        st.switch_page(GALLERY_PAGE, query_params={svc.DETAIL_PARAM: final_id})


@st.dialog("⬆️ Promote to a final", on_dismiss=_close_promote)
def _promote(studio: svc.Services, gen_id: str) -> None:
    "The target settings, the cost difference before launch, the seed note, and Launch."
    if st.session_state.pop(PROMOTE_FULL_RUN_KEY, False):
        st.rerun()  # the whole page: the sidebar's watch starts following the final
    if final_id := st.session_state.get(PROMOTED_KEY, {}).get(gen_id):
        _launched(studio, final_id)
        return
    draft = svc.get(studio, gen_id)
    if draft is None:  # deleted in another tab: this says more than the launch's refusal would
        st.session_state.pop(PROMOTE_ERROR_KEY, None)
        st.error("This take no longer exists: it was deleted, so there is nothing to promote.", icon="🔎")
        return
    st.caption(f"From the draft: {fmt.settings_line(draft)} · {plain(fmt.one_line(draft.prompt)[:80])}")
    start = svc.default_target(draft)
    key = f"promote_{gen_id}"
    left, right = st.columns(2)
    resolution = left.selectbox(
        "Resolution", RESOLUTIONS, index=RESOLUTIONS.index(start.resolution), key=f"{key}_resolution"
    )
    duration = right.selectbox(
        "Duration (seconds)", DURATIONS, index=DURATIONS.index(start.duration), key=f"{key}_duration"
    )
    ratio = left.selectbox(
        "Aspect ratio", ASPECT_RATIOS, index=ASPECT_RATIOS.index(start.aspect_ratio), key=f"{key}_aspect_ratio"
    )
    with right:
        st.space("small")
        audio = st.toggle("Audio", value=start.generate_audio, key=f"{key}_audio")
    target: dict[str, object] = {
        "model": draft.model,
        "resolution": resolution,
        "duration": duration,
        "aspect_ratio": ratio,
        "generate_audio": audio,
    }
    plan = svc.plan_promotion(studio, gen_id, target)
    if plan.problem:
        st.warning(plain(plan.problem), icon="⚠️")
    else:
        st.info(plan.describe(), icon="💰")
    st.caption(svc.SEED_NOTE)
    token = st.session_state.setdefault(PROMOTE_TOKEN_KEY, secrets.token_hex(8))
    st.button(
        "🚀 Launch the final",
        type="primary",
        key=f"promote_launch_{token}",
        disabled=plan.problem is not None,
        on_click=_launch_final,
        args=(studio, gen_id, target, token),
    )
    if error := st.session_state.pop(PROMOTE_ERROR_KEY, None):
        st.error(plain(error), icon="⚠️")


def lineage_chain(studio: svc.Services, gen: Generation, *, key: str) -> None:
    """A take's chain, draft → final(s), as small linked cards (a deleted link says so), then the
    draft beside its final in the review player, with what differs between them (`prompt_diff`).
    Nothing for a take never promoted."""
    chain = svc.lineage(studio, gen.id)
    if len(chain) < 2:
        return
    st.markdown("**Draft → final**")
    here = next(n for n, link in enumerate(chain) if link.id == gen.id)
    with st.container(horizontal=True, vertical_alignment="center", key=f"{key}_chain"):
        for n, link in enumerate(chain):
            if n:
                st.markdown("→")
            with st.container(border=True, key=f"{key}_link_{n}", width=220):
                if isinstance(link, svc.DeletedTake):
                    st.caption(f"🗑️ {'Draft' if n < here else 'Final'}: {link.label}")
                    continue
                role = "This take" if n == here else "Draft" if n < here else "Final"
                st.markdown(f"**{role}**")
                st.caption(f"{fmt.settings_line(link)} · {fmt.status_label(link.status)}")
                if n != here and st.button("Open", key=f"{key}_open_{link.id}"):
                    st.query_params[svc.DETAIL_PARAM] = link.id
                    st.rerun()  # the whole page: a dialog's own rerun would keep showing this take
    pair = svc.draft_and_final(chain, gen)
    if pair is None:
        return
    draft, final = pair
    st.caption(f"**Draft** · {fmt.settings_line(draft)} → **Final** · {fmt.settings_line(final)}")
    review_player([draft, final], key=f"{key}_pair", labels=["Draft", "Final"])
    prompt_diff(draft, final, labels=("Draft", "Final"))


# ---------------------------------------------------------------------- the review player (issue 9 §1)

# Declared once, at import: Streamlit registers the component under this name for the process.
_PLAYER = st.components.v2.component(player.COMPONENT_NAME, css=player.CSS, js=player.JS)


def review_player(
    gens: Sequence[Generation],
    *,
    key: str,
    labels: Sequence[str] | None = None,
    markers: Sequence[player.Marker] = (),
    seek_to: float | None = None,
    dense: bool = False,
) -> player.PlayerState:
    """These takes in one synchronized player (studio.player): one transport for every cell, audio
    solo, markers on the scrub bar. Takes without a finished video are left out (`labels[i]` names
    `gens[i]`). `seek_to` moves every cell there each time the value changes between runs. Returns
    the leader's position (sent on pause, seek and frame step) and the moment marked this run."""
    clips = player.clips_for(gens, media_url, labels)
    if not clips:
        st.caption("No finished take to play yet.")
        return player.PlayerState()
    last_key = f"{key}__seek"
    last_to, seq = st.session_state.get(last_key, (None, 0))
    if seek_to is not None and seek_to != last_to:
        seq += 1
    st.session_state[last_key] = (seek_to, seq)
    data = player.player_data(clips, key=key, markers=markers, seek_to=seek_to, seek_seq=seq, dense=dense)
    # No default position: until the browser says where it is, session state holds none (ui.comments
    # tells "play or scrub first" apart from a real 0:00).
    result = _PLAYER(key=key, data=data, on_position_change=lambda: None, on_marked_change=lambda: None)
    position, marked = result.get("position"), result.get("marked")
    return player.PlayerState(float(position or 0.0), float(marked) if marked is not None else None)


# ---------------------------------------------------------------------- prompt diffs (issue 9 §5)

DIFF_CSS = (
    "<style>.studio-prompt-diff { display: grid; grid-template-columns: 1fr 1fr; gap: 0.75rem; }"
    ".studio-prompt-diff .side { border: 1px solid rgba(128,128,128,.35); border-radius: 0.5rem; "
    "padding: 0.5rem 0.75rem; }"
    ".studio-prompt-diff .label { font-size: 0.8rem; opacity: 0.7; margin-bottom: 0.25rem; }"
    ".studio-prompt-diff .text { white-space: pre-wrap; overflow-wrap: anywhere; }"
    ".studio-prompt-diff mark { background: #ffe08a; color: #1a1a1a; font-weight: 700; border-radius: 2px; }"
    ".studio-diff-chips { display: flex; flex-wrap: wrap; gap: 0.4rem; margin-top: 0.5rem; }"
    ".studio-diff-chips span { background: rgba(255,224,138,.35); border: 1px solid #e0b84a; "
    "border-radius: 1rem; padding: 0.1rem 0.6rem; font-size: 0.85rem; }"
    "@media (max-width: 640px) { .studio-prompt-diff { grid-template-columns: 1fr; } }</style>"
)


def _diff_side(label: str, runs: Sequence[tuple[str, bool]]) -> str:
    text = "".join(f"<mark>{html.escape(t)}</mark>" if changed else html.escape(t) for t, changed in runs)
    return f'<div class="side"><div class="label">{html.escape(label)}</div><div class="text">{text}</div></div>'


def prompt_diff(a: Generation, b: Generation, *, labels: tuple[str, str] = ("A", "B")) -> None:
    """Two takes' prompts side by side (stacked on a phone) with the words that differ highlighted,
    and the settings that differ as chips ('16:9 → 9:16'). Escaped HTML: a prompt shows as typed."""
    st.html(DIFF_CSS)
    changes = [diffs.chip(c) for c in diffs.setting_changes(a, b)]
    if a.prompt == b.prompt:
        body = (
            f'<div class="studio-diff-note">Same prompt in {html.escape(labels[0])} and {html.escape(labels[1])}.</div>'
        )
    else:
        runs_a, runs_b = diffs.word_diff(a.prompt, b.prompt)
        body = f'<div class="studio-prompt-diff">{_diff_side(labels[0], runs_a)}{_diff_side(labels[1], runs_b)}</div>'
    chips = "".join(f"<span>{html.escape(c)}</span>" for c in changes) or "<em>Same settings</em>"
    st.html(f'<div class="studio-diff">{body}<div class="studio-diff-chips">{chips}</div></div>')
