"""Review: blind votes. Two finished takes of the same prompt that differ in settings, side by side
at one height in the synchronized player (`ui.review_player`, labelled only A and B), with no
settings, authors or file names; "A is better", "No preference" or "B is better" (keys ← ↓ →;
inside the player ← → step a frame). After a vote the previous pair's settings are revealed
(`ui.prompt_diff`) and the next pair is already there.

URLs: /review (every finished take), /review?collection=<id>, /review?comparison=<id>,
/review?tag=<name>: a lead sends a link and the reviewer's queue is restricted to it. The queue and
the votes are services (studio/services/reviews.py); the voter is `ui.who()`.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from studio import format as fmt
from studio import services as svc
from studio import ui
from studio.errors import StudioError

RECENT_COMPARISONS = 50  # the comparisons the scope picker offers
SCOPE_LABELS = {
    "everything": "Everything",
    "collection": "A collection",
    "comparison": "A comparison",
    "tag": "A tag",
}
CURRENT_KEY = "review_current"  # session: (scope key, A's id, B's id) of the pair on screen
LAST_KEY = "review_last"  # session: the vote just made, with its two takes, for the reveal
REFUSED_KEY = "review_refused"  # session: why the last vote was refused
KIND_KEY, COLLECTION_KEY, COMPARISON_KEY, TAG_KEY = (
    "review_scope_kind",
    "review_scope_collection",
    "review_scope_comparison",
    "review_scope_tag",
)
BUTTONS = (  # choice, label, keyboard shortcut (names from Streamlit's shortcut_utils)
    ("a", "A is better", "Left"),
    ("none", "No preference", "Down"),
    ("b", "B is better", "Right"),
)
PICKED = {"a": "A", "b": "B", "none": "no preference"}


# ---------------------------------------------------------------------- scope (in the URL)


def _scope_from_url() -> tuple[svc.ReviewScope, str | None]:
    "The scope the link names, or everything and why the link's scope cannot be used."
    try:
        return svc.ReviewScope.from_params(st.query_params.to_dict()), None
    except StudioError as err:
        return svc.ReviewScope(), str(err)


def _to_url() -> None:
    "The picker changed: put its scope in the URL (a link to send), keeping nothing else."
    kind = st.session_state.get(KIND_KEY, "everything")
    ref = {
        "collection": st.session_state.get(COLLECTION_KEY),
        "comparison": st.session_state.get(COMPARISON_KEY),
        "tag": (st.session_state.get(TAG_KEY) or "").strip(),
    }.get(kind)
    st.query_params.from_dict({kind: ref} if kind != "everything" and ref else {})


def scope_picker(studio: svc.Services, scope: svc.ReviewScope) -> None:
    "Everything, a collection, a comparison or a tag; starts from the URL, writes back to it."
    if KIND_KEY not in st.session_state:
        st.session_state[KIND_KEY] = scope.kind or "everything"
        if scope.kind == "collection":
            st.session_state[COLLECTION_KEY] = scope.ref
        elif scope.kind == "comparison":
            st.session_state[COMPARISON_KEY] = scope.ref
        elif scope.kind == "tag":
            st.session_state[TAG_KEY] = scope.ref
    cols = st.columns([3, 4], vertical_alignment="bottom")
    with cols[0]:
        kind = st.segmented_control(
            "Review",
            list(SCOPE_LABELS),
            format_func=SCOPE_LABELS.__getitem__,
            key=KIND_KEY,
            on_change=_to_url,
            required=True,
        )
    with cols[1]:
        if kind == "collection":
            boards = {b.id: f"{b.name} ({fmt.plural(b.items, 'take')})" for b in svc.collections(studio)}
            _choice("Collection", boards, COLLECTION_KEY, "No collections yet: make one on Collections")
        elif kind == "comparison":
            grids = {
                g["id"]: f"{g.get('name') or fmt.shorten(g['prompt'], 60)} ({g['done']} of {g['cells']} done)"
                for g in svc.grids(studio, limit=RECENT_COMPARISONS)
            }
            _choice("Comparison", grids, COMPARISON_KEY, "No comparisons yet: make one on Compare")
        elif kind == "tag":
            st.text_input("Tag", key=TAG_KEY, on_change=_to_url, placeholder="e.g. product, client-a")


def _choice(label: str, options: dict[str, str], key: str, empty: str) -> None:
    if not options and not st.session_state.get(key):
        st.caption(empty)
        return
    chosen = st.session_state.get(key)
    if chosen and chosen not in options:  # from a link: a collection or comparison the list does not show
        options = {chosen: chosen, **options}
    st.selectbox(
        label,
        list(options),
        format_func=lambda k: options.get(k, k),
        key=key,
        on_change=_to_url,
        index=None,
        placeholder=f"Pick a {label.lower()}",
    )


def describe(studio: svc.Services, scope: svc.ReviewScope) -> str:
    "The scope in words, for the counts and the empty queue."
    if scope.kind == "collection":
        try:
            return f"the collection “{svc.collection(studio, scope.ref).name}”"
        except StudioError:
            return "this collection"
    if scope.kind == "comparison":
        found, _ = svc.grid(studio, scope.ref)
        return f"the comparison “{(found or {}).get('name') or fmt.shorten((found or {}).get('prompt', ''), 40)}”"
    if scope.kind == "tag":
        return f"takes tagged “{scope.ref}”"
    return "the studio"


# ---------------------------------------------------------------------- voting


def _vote(choice: str) -> None:
    "A button's callback: record the vote, keep it for the reveal, and let the next pair come."
    studio = ui.services()
    current = st.session_state.get(CURRENT_KEY)
    if not current:
        return
    scope_key, a_id, b_id = current
    st.session_state.pop(CURRENT_KEY, None)
    try:
        vote = svc.record_vote(studio, ui.who(), a_id, b_id, choice, scope_key)
    except StudioError as err:
        st.session_state[REFUSED_KEY] = str(err)
        return
    takes = {g.id: g for g in svc.get_many(studio, [a_id, b_id])}
    st.session_state[LAST_KEY] = (vote, takes.get(a_id), takes.get(b_id))


def reveal() -> None:
    "The pair just voted on, unmasked: which settings differed, and what you picked."
    last = st.session_state.get(LAST_KEY)
    if not last:
        return
    vote, a, b = last
    names = svc.REVIEW_SETTING_NAMES
    differed = " · ".join(
        f"{names[s]}: A {_value(s, values[0])}, B {_value(s, values[1])}" for s, values in vote.differed.items()
    )
    picked = PICKED[vote.choice]
    with st.container(border=True, key="review_reveal"):
        st.markdown(f"**Vote saved: you picked {picked}.** The last pair differed in {ui.plain(differed)}.")
        if a is not None and b is not None:  # (either may have been deleted since: the text above stays)
            ui.prompt_diff(a, b)


def _value(setting: str, value: Any) -> str:
    if setting == "generate_audio":
        return "audio on" if value else "audio off"
    if setting == "prompt":
        return f"“{fmt.shorten(str(value), 60)}”"
    if setting == "duration":
        return fmt.duration_name(str(value))
    return str(value)


def pair_view(pair: svc.ReviewPair) -> None:
    "Two takes, A and B, the same height, side by side; nothing that gives their settings away."
    a, b = pair.a, pair.b
    with st.container(key="review_pair"):
        ui.review_player([a, b], key=f"review_player_{pair.pair_key}", labels=["A", "B"])
    cols = st.columns(3)
    for col, (choice, label, key) in zip(cols, BUTTONS, strict=True):
        with col:
            st.button(
                label,
                key=f"review_vote_{choice}",
                on_click=_vote,
                args=(choice,),
                shortcut=key,
                width="stretch",
                type="primary" if choice != "none" else "secondary",
            )


def empty(studio: svc.Services, queue: svc.ReviewQueue) -> None:
    "Why there is nothing to judge, and what to do about it."
    where = describe(studio, queue.scope)
    wider = " or review everything" if queue.scope.kind else ""
    if queue.takes == 0:
        st.info(
            f"No finished takes in {where} yet. Make a comparison on **Compare** (one prompt across aspect "
            f"ratios, resolutions or durations){wider}; its takes come here to be judged once they finish.",
            icon="⚖️",
        )
    elif queue.pairs == 0:
        st.info(
            f"The {fmt.plural(queue.takes, 'finished take')} in {where} make no pair: a pair is two takes of the "
            f"same prompt that differ in a setting. Make a comparison of one prompt on **Compare**{wider}.",
            icon="⚖️",
        )
    else:
        st.success(
            f"You have voted on all {fmt.plural(queue.pairs, 'pair')} in {where}. Widen the scope, or make a "
            "new comparison on **Compare** to judge more.",
            icon="✅",
        )
    st.page_link("pages/compare.py", label="Make a comparison", icon="🔀")


# ---------------------------------------------------------------------- the page

studio: svc.Services = ui.services()
st.title("⚖️ Review")
st.caption(
    "Blind votes: two takes of the same prompt, with no labels. Pick the better one (keys ← ↓ →; "
    "inside the player they step a frame); what differed is shown after you vote. One vote per "
    "person per pair."
)
scope, link_problem = _scope_from_url()
if link_problem:
    st.error(f"{ui.plain(link_problem)}. Showing everything instead: pick a scope below.", icon="⚠️")
scope_picker(studio, scope)
if refused := st.session_state.pop(REFUSED_KEY, None):
    st.error(ui.plain(refused), icon="⚠️")
reveal()

try:
    current = st.session_state.get(CURRENT_KEY)
    keep = (current[1], current[2]) if current and current[0] == scope.key else None
    queue = svc.review_queue(studio, ui.who(), scope, current=keep)
except StudioError as err:
    ui.error_box(err)
    st.stop()

st.caption(
    f"{fmt.plural(queue.voted, 'pair')} voted · {queue.left:,} left in this scope "
    f"({describe(studio, queue.scope)}) · voting as **{ui.plain(ui.who())}**"
)
if queue.pair is None:
    st.session_state.pop(CURRENT_KEY, None)
    empty(studio, queue)
else:
    st.session_state[CURRENT_KEY] = (queue.scope.key, queue.pair.a.id, queue.pair.b.id)
    pair_view(queue.pair)
